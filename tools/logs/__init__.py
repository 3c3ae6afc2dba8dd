"""Log evidence: CloudTrail files, syslog/auth.log and CloudWatch Logs, read as streams (read-only)."""
