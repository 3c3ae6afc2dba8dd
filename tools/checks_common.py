"""What every check module shares: how a finding is made, what missing or unreadable evidence gives, and
how findings name the resource they judge.

Missing or unreadable evidence is never a pass:
- no stored evidence from a tool a check needs: one ERROR finding on that tool (`missing_evidence`);
- evidence that lists nothing of the kind the check judges: one NOT_APPLICABLE finding on that tool;
- an entry stored as ``{"error": ...}`` (a region, a repository, a log group, a setting AWS refused to
  give): an ERROR finding on that source, saying what could not be read and the error (`unreadable`).

Resource names, one scheme for all checks:
- AWS: the resource's ARN where the evidence stores one or it follows exactly from stored fields (IAM
  users, roles and policies; the root user as ``arn:aws:iam::<account>:root``; CloudTrail trails; RDS
  instances; buckets as ``arn:aws:s3:::<bucket>``). Resources AWS knows only by a random id (security
  groups, VPCs, EBS volumes, KMS keys, backup plans) are ``<region>/<name or ->/<id>``, so that readers,
  and the demo's expected findings, tell them apart by name. A per-region setting or service is its region
  (``us-east-1``); an account-wide setting that has no ARN (password policy, S3 account public access
  block, alarm coverage, backup plan existence) is ``aws-account``.
- Log events: the ARN of the principal or AWS resource an event is about, built from the record's account
  and region (a principal's from the caller's own account, a resource's from the account the event happened
  in); a caller CloudTrail names only by its other account as ``account:<id>``; other subjects as
  ``ip:<address>``, ``user:<user>@<host>`` and ``host:<host>/user:<user>``.
  A log source is its file path, or ``<region>:<log group>`` for a CloudWatch Logs group. A finding over
  all events read names what was searched for (``cloudtrail-events``, ``failed-logins``, ``new-identities``).
- Repositories: as the collectors name them, ``owner/name`` (a GitHub repository, or a local one by its
  origin remote) or the folder name of a local repository without one; a part of one as
  ``<repo>:<branch>``, ``<repo>#<pull request>``, ``<repo>@<commit>:<path>``, ``<repo>/<alert kind>/<number>``;
  an organisation member as ``<org>/<login>``.
- Missing evidence, or evidence that lists nothing to judge: the tool that should have produced it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from tools.findings import Finding, Status

ACCOUNT = "aws-account"  # an account-wide AWS setting that has no ARN of its own
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")  # an AWS region, e.g. us-east-1
# What the log checks' findings over all events read are named after: what was searched for.
CLOUDTRAIL_EVENTS = "cloudtrail-events"
FAILED_LOGINS = "failed-logins"
NEW_IDENTITIES = "new-identities"
ALL_EVENTS = (CLOUDTRAIL_EVENTS, FAILED_LOGINS, NEW_IDENTITIES)


def finding(
    check_id: str, status: Status, resource: str, reason: str, evidence_ids: Iterable[str] = (), **facts: Any
) -> Finding:
    """A finding; the evidence it rests on is listed once per item, sorted."""
    return Finding(
        check=check_id,
        status=status,
        resource=resource,
        reason=reason,
        evidence_ids=sorted(set(evidence_ids)),
        facts=facts,
    )


def passed_if(ok: bool) -> Status:
    return Status.PASS if ok else Status.FAIL


def missing_evidence(check_id: str, *tools: str) -> list[Finding]:
    """No stored evidence from the tool (or any of the alternative tools) that should have produced it."""
    reason = f"No stored evidence from {' or '.join(tools)}, so this cannot be judged."
    return [finding(check_id, Status.ERROR, tools[0], reason, tool=tools[0])]


def nothing_to_judge(check_id: str, tool: str, reason: str, evidence_ids: Iterable[str]) -> list[Finding]:
    """Evidence from the tool is there but lists nothing of the kind the check judges."""
    return [finding(check_id, Status.NOT_APPLICABLE, tool, reason, evidence_ids)]


def read_error(entry: Any, absent: str | None = None) -> str | None:
    """The error an evidence entry was stored with; `absent` is the error that only means 'not set'."""
    if isinstance(entry, dict) and "error" in entry and entry["error"] != absent:
        return str(entry["error"])
    return None


def cannot_read(what: str, error: str) -> str:
    """The reason of a finding on something that could not be read."""
    return f"{what} could not be read: {error.rstrip('.')}."


def unreadable(
    check_id: str, resource: str, error: str, evidence_ids: Iterable[str], what: str | None = None, **facts: Any
) -> Finding:
    """An ERROR finding on a source whose evidence entry holds an error instead of data."""
    return finding(
        check_id, Status.ERROR, resource, cannot_read(what or resource, error), evidence_ids, error=error, **facts
    )


def short_name(resource: str) -> str:
    """What a reader calls a resource: the name at the end of an ARN, the name in region/name/id labels."""
    if resource.startswith("arn:"):
        tail = resource.split(":", 5)[-1]
        return re.split(r"[/:]", tail)[-1] or resource
    parts = resource.split("/")
    if len(parts) == 3 and REGION.match(parts[0]):
        return parts[1] if parts[1] not in ("", "-") else parts[2]
    if len(parts) == 4 and REGION.match(parts[0]) and parts[1] == "alias":
        return f"alias/{parts[2]}"  # a KMS key by its alias: "us-east-1/alias/<name>/<key id>"
    return resource
