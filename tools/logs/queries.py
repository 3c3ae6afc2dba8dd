"""Which log files to read and which events to keep: parameterised queries, no judgement.

The event-name groups here are shared by the collectors (what to fetch) and the checks (what each
group means), so the two never drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from tools.logs.readers import READ_ERRORS, ParseProblem, sniff

CONSOLE_LOGIN = "ConsoleLogin"
# Turning off or narrowing audit logging: CloudTrail, AWS Config, VPC flow logs, DNS query logs.
AUDIT_LOGGING_EVENTS = frozenset(
    {
        "StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors",
        "StopConfigurationRecorder", "DeleteConfigurationRecorder", "DeleteDeliveryChannel",
        "DeleteFlowLogs", "DeleteResolverQueryLogConfig",
    }
)  # fmt: skip
# Changes to who may do what: CIS AWS Foundations 4.4 (IAM policy changes) plus trust policies, group
# membership, permission boundaries and other users' passwords.
IAM_CHANGE_EVENTS = frozenset(
    {
        "DeleteGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy", "PutGroupPolicy", "PutRolePolicy",
        "PutUserPolicy", "CreatePolicy", "DeletePolicy", "CreatePolicyVersion", "DeletePolicyVersion",
        "SetDefaultPolicyVersion", "AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy",
        "AttachGroupPolicy", "DetachGroupPolicy", "AddUserToGroup", "RemoveUserFromGroup", "CreateRole",
        "DeleteRole", "UpdateAssumeRolePolicy", "PutRolePermissionsBoundary", "PutUserPermissionsBoundary",
        "DeleteRolePermissionsBoundary", "DeleteUserPermissionsBoundary", "UpdateLoginProfile",
        "DeleteLoginProfile",
    }
)  # fmt: skip
# New identities and credentials.
NEW_IDENTITY_EVENTS = frozenset({"CreateUser", "CreateAccessKey", "CreateLoginProfile"})
SECURITY_GROUP_INGRESS_EVENTS = frozenset({"AuthorizeSecurityGroupIngress"})

CONTROL_EVENT_NAMES = frozenset(
    {CONSOLE_LOGIN} | AUDIT_LOGGING_EVENTS | IAM_CHANGE_EVENTS | NEW_IDENTITY_EVENTS | SECURITY_GROUP_INGRESS_EVENTS
)
# Root is kept whatever it did: any use of the root user matters.
CONTROL_IDENTITY_TYPES = frozenset({"Root"})

# Auth log kinds that record a failed authentication (one line each).
FAILED_LOGIN_KINDS = frozenset({"ssh_failed_login", "ssh_invalid_user", "auth_failure"})
# Auth log kinds that record a failed attempt at privilege: sudo refused ("NOT in sudoers"), PAM locking an
# account out after too many failures.
FAILED_PRIVILEGE_KINDS = frozenset({"sudo_denied", "account_locked"})
AUTH_EVENT_KINDS = frozenset(
    FAILED_LOGIN_KINDS
    | FAILED_PRIVILEGE_KINDS
    | {"ssh_accepted_login", "session_opened", "sudo_command", "password_changed"}
    | {"user_created", "group_created", "user_added_to_group", "user_deleted"}
)

FileKind = Literal["json", "text"]


def log_files(paths: Iterable[Path], kind: FileKind, problems: list[ParseProblem]) -> list[Path]:
    """Files of one kind under the given (existing) files and folders (folders walked recursively, sorted)."""
    found: list[Path] = []
    for path in paths:
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for candidate in candidates:
            try:
                if sniff(candidate) == kind:
                    found.append(candidate)
            except READ_ERRORS as error:
                problems.append(ParseProblem(str(candidate), "0", f"cannot read file: {error}"))
    return found


def is_selected(record: dict[str, Any], event_names: frozenset[str], identity_types: frozenset[str]) -> bool:
    identity_type = (record.get("userIdentity") or {}).get("type")
    return record.get("eventName") in event_names or identity_type in identity_types
