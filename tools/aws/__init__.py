"""Read-only AWS evidence: one session factory, raw collectors, rule-based checks."""
