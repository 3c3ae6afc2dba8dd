"""Which log files to read and which events to keep: parameterised queries, no judgement.

The event-name groups here are shared by the collectors (what to fetch) and the checks (what each
group means), so the two never drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tools.logs.readers import READ_ERRORS, ParseProblem, sniff

CONSOLE_LOGIN = "ConsoleLogin"
# Turning off or narrowing audit logging: CloudTrail, AWS Config, VPC flow logs, DNS query logs.
AUDIT_LOGGING_EVENTS = frozenset(
    {
        "StopLogging",
        "DeleteTrail",
        "UpdateTrail",
        "PutEventSelectors",
        "StopConfigurationRecorder",
        "DeleteConfigurationRecorder",
        "DeleteDeliveryChannel",
        "DeleteFlowLogs",
        "DeleteResolverQueryLogConfig",
    }
)
# The IAM policy changes CIS AWS Foundations 4.4's metric filter catches (tools/aws/checks.py looks for them).
CIS_IAM_POLICY_CHANGE_EVENTS = (
    "DeleteGroupPolicy",
    "DeleteRolePolicy",
    "DeleteUserPolicy",
    "PutGroupPolicy",
    "PutRolePolicy",
    "PutUserPolicy",
    "CreatePolicy",
    "DeletePolicy",
    "AttachUserPolicy",
    "DetachUserPolicy",
)
# Changes to who may do what: CIS AWS Foundations 4.4 (IAM policy changes) plus trust policies, group
# membership, permission boundaries and other users' passwords.
IAM_CHANGE_EVENTS = frozenset(
    {
        *CIS_IAM_POLICY_CHANGE_EVENTS,
        "CreatePolicyVersion",
        "DeletePolicyVersion",
        "SetDefaultPolicyVersion",
        "AttachRolePolicy",
        "DetachRolePolicy",
        "AttachGroupPolicy",
        "DetachGroupPolicy",
        "AddUserToGroup",
        "RemoveUserFromGroup",
        "CreateRole",
        "DeleteRole",
        "UpdateAssumeRolePolicy",
        "PutRolePermissionsBoundary",
        "PutUserPermissionsBoundary",
        "DeleteRolePermissionsBoundary",
        "DeleteUserPermissionsBoundary",
        "UpdateLoginProfile",
        "DeleteLoginProfile",
    }
)
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
    """Files of one kind under the given (existing) files and folders (folders walked recursively, sorted).

    A link inside a folder that leads out of it is reported and not read: the configuration names what is read.
    """
    found: list[Path] = []
    for path in paths:
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for candidate in candidates:
            if candidate != path and not candidate.resolve().is_relative_to(path.resolve()):
                reason = f"a link to {candidate.resolve()}, outside the configured folder {path}: not read"
                problems.append(ParseProblem(str(candidate), "0", reason))
                continue
            try:
                if sniff(candidate) == kind:
                    found.append(candidate)
            except READ_ERRORS as error:
                problems.append(ParseProblem(str(candidate), "0", f"cannot read file: {error}"))
    return found


@dataclass(frozen=True)
class EventQuery:
    """A named CloudTrail query: the events with one of these names, or made by one of these identity types.
    The collector answers every query in one pass over each file; each check reads the events of its query."""

    name: str
    description: str
    event_names: frozenset[str] = frozenset()
    identity_types: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "event_names": sorted(self.event_names),
            "identity_types": sorted(self.identity_types),
        }


CONSOLE_LOGINS = EventQuery("console_logins", "AWS console sign-ins, successful or not", frozenset({CONSOLE_LOGIN}))
ROOT_ACTIVITY = EventQuery("root_activity", "Every call of the root user", identity_types=CONTROL_IDENTITY_TYPES)
AUDIT_LOGGING_CHANGES = EventQuery(
    "audit_logging_changes", "Calls that stop, delete or change audit logging", AUDIT_LOGGING_EVENTS
)
IAM_CHANGES = EventQuery("iam_changes", "Changes to IAM permissions", IAM_CHANGE_EVENTS)
NEW_USERS_AND_KEYS = EventQuery(
    "new_users_and_keys", "New IAM users, access keys and console passwords", NEW_IDENTITY_EVENTS
)
SECURITY_GROUP_INGRESS = EventQuery(
    "security_group_ingress", "Security group ingress rules added", SECURITY_GROUP_INGRESS_EVENTS
)
CONTROL_QUERIES = (
    CONSOLE_LOGINS,
    ROOT_ACTIVITY,
    AUDIT_LOGGING_CHANGES,
    IAM_CHANGES,
    NEW_USERS_AND_KEYS,
    SECURITY_GROUP_INGRESS,
)


class QueryIndex:
    """Which queries an event answers, by its name and its identity type: the engine's inner loop."""

    def __init__(self, queries: Iterable[EventQuery]) -> None:
        self.queries = tuple(queries)
        by_name: dict[str, list[str]] = {}
        by_identity: dict[str, list[str]] = {}
        for query in self.queries:
            for name in query.event_names:
                by_name.setdefault(name, []).append(query.name)
            for identity_type in query.identity_types:
                by_identity.setdefault(identity_type, []).append(query.name)
        self._by_name = {name: tuple(found) for name, found in by_name.items()}
        self._by_identity = {kind: tuple(found) for kind, found in by_identity.items()}

    def answered(self, event_name: Any, identity_type: Any) -> tuple[str, ...]:
        by_name = self._by_name.get(event_name, ()) if isinstance(event_name, str) else ()
        by_identity = self._by_identity.get(identity_type, ()) if isinstance(identity_type, str) else ()
        if not by_identity:
            return by_name
        return tuple(dict.fromkeys(by_name + by_identity))

    def answered_by_record(self, record: dict[str, Any]) -> tuple[str, ...]:
        identity = record.get("userIdentity")
        return self.answered(record.get("eventName"), identity.get("type") if isinstance(identity, dict) else None)


CONTROL_QUERY_INDEX = QueryIndex(CONTROL_QUERIES)
