"""Log checks: judge stored CloudTrail and auth-log evidence. Each event of concern fails the resource
it touched (a user, a trail, a security group, a source address), with exact counts; a check that finds
nothing passes one summary resource, saying how much it read. Missing and unreadable evidence (a CloudWatch
Logs group AWS refused, a configured path that does not exist) and resource names follow
tools/checks_common.py.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from tools.catalog import EvidenceView, check
from tools.checks_common import (
    CLOUDTRAIL_EVENTS,
    FAILED_LOGINS,
    NEW_IDENTITIES,
    finding,
    missing_evidence,
    nothing_to_judge,
    read_error,
    unreadable,
)
from tools.findings import Finding, Severity, Status
from tools.logs.queries import (
    AUDIT_LOGGING_CHANGES,
    CONSOLE_LOGIN,
    CONSOLE_LOGINS,
    CONTROL_QUERIES,
    FAILED_LOGIN_KINDS,
    FAILED_PRIVILEGE_KINDS,
    IAM_CHANGES,
    NEW_USERS_AND_KEYS,
    ROOT_ACTIVITY,
    SECURITY_GROUP_INGRESS,
    EventQuery,
)

# The collectors that read CloudTrail files whole with the one-pass engine (local files, a trail's S3 bucket).
CLOUDTRAIL_FILE_TOOLS = ("logs.cloudtrail_events", "logs.cloudtrail_s3")
CLOUDTRAIL_TOOLS = (*CLOUDTRAIL_FILE_TOOLS, "logs.cloudwatch_events")
ALL_LOG_TOOLS = ("logs.auth_events", *CLOUDTRAIL_TOOLS)
DEFAULT_FAILED_LOGIN_THRESHOLD = 5  # tools.config LogsConfig's default, for evidence that lacks one
EVENTS_LISTED = 5  # events spelled out in a reason; the count covers all
# Calls the root user may make without it counting as use: AWS has root create a service's service-linked
# role when root turns on that service in the console.
ROOT_CALLS_ALLOWED = frozenset({"CreateServiceLinkedRole"})


@dataclass(frozen=True)
class Event:
    evidence_id: str
    location: str
    record: dict[str, Any]


@dataclass(frozen=True)
class UnreadableSource:
    evidence_id: str
    name: str  # the file path, or "<region>:<log group>"
    what: str
    error: str


@dataclass
class Collected:
    """What a set of log evidence items holds, gathered across collectors."""

    evidence_ids: list[str] = field(default_factory=list)
    sources: int = 0  # those read; the unreadable ones are listed in `unreadable`
    records_scanned: int = 0
    problem_count: int = 0
    cloudtrail: list[Event] = field(default_factory=list)  # each answered one query or more
    by_query: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))
    # The queries every CloudTrail evidence item answered: a check whose query one of them did not run
    # cannot judge (None: no CloudTrail evidence).
    queries_answered: set[str] | None = None
    record_times: list[str] = field(default_factory=list)  # the first and last eventTime of each source read
    auth: list[Event] = field(default_factory=list)
    threshold: int | None = None
    truncated: bool = False  # CloudWatch Logs stopped at its event cap: what is here is part of the log
    duplicates: int = 0  # CloudTrail events seen twice (same eventID): delivered twice, or files overlapping
    unreadable: list[UnreadableSource] = field(default_factory=list)


def _collect(view: EvidenceView, tools: Iterable[str]) -> Collected | None:
    collected = Collected()
    found = False
    event_ids: set[str] = set()
    for tool_name in tools:
        for item in view.all(tool_name):
            found = True
            data = item.data
            collected.evidence_ids.append(item.id)
            collected.sources += sum(read_error(source) is None for source in data.get("sources", []))
            collected.records_scanned += data.get("records_scanned", 0)
            collected.problem_count += data.get("problem_count", 0)
            collected.threshold = collected.threshold or data.get("failed_login_threshold")
            collected.truncated |= bool(data.get("truncated")) or any(
                source.get("truncated") for source in data.get("sources", [])
            )
            collected.unreadable += _unreadable_sources(item.id, data)
            if tool_name in CLOUDTRAIL_FILE_TOOLS:
                cloudtrail, auth = data.get("events", []), []
                answered = set(data.get("queries", {}))
            elif tool_name == "logs.auth_events":
                cloudtrail, auth, answered = [], data.get("events", []), None
            else:
                cloudtrail, auth = data.get("cloudtrail_events", []), data.get("auth_events", [])
                answered = {query.name for query in CONTROL_QUERIES}
            if answered is not None:
                known = collected.queries_answered
                collected.queries_answered = answered if known is None else known & answered
            for source in data.get("sources", []):
                collected.record_times += [source[key] for key in ("first_event", "last_event") if source.get(key)]
            for e in cloudtrail:
                # CloudTrail may deliver an event more than once, and configured paths may overlap: an
                # event is counted once, by its eventID.
                event_id = e["event"].get("eventID")
                if event_id is not None and event_id in event_ids:
                    collected.duplicates += 1
                    continue
                if event_id is not None:
                    event_ids.add(event_id)
                event = Event(item.id, e["location"], e["event"])
                collected.cloudtrail.append(event)
                for query in e.get("queries", []):
                    collected.by_query[query].append(event)
                if tool_name == "logs.cloudwatch_events" and e["event"].get("eventTime"):
                    collected.record_times.append(str(e["event"]["eventTime"]))
            collected.auth += [Event(item.id, e["location"], e) for e in auth]
    return collected if found else None


def _unreadable_sources(evidence_id: str, data: dict[str, Any]) -> list[UnreadableSource]:
    """The configured paths that do not exist, the files without one readable record and the CloudWatch Logs
    groups AWS refused to read."""
    missing = [UnreadableSource(evidence_id, path, path, "it does not exist") for path in data.get("missing_paths", [])]
    unread = []
    for source in data.get("sources", []):
        error = read_error(source)
        if error is not None and "file" in source:
            unread.append(UnreadableSource(evidence_id, source["file"], source["file"], error))
        elif error is not None:
            group, region = source["log_group"], source["region"]
            what = f"CloudWatch Logs group {group} in {region}"
            unread.append(UnreadableSource(evidence_id, f"{region}:{group}", what, error))
    return missing + unread


def _on_whole_log(check_id: str, collected: Collected, findings: list[Finding]) -> list[Finding]:
    """No pass on part of a log. Where CloudWatch Logs stopped at its event cap, a pass becomes an error (what
    was cut off may hold the failure) and a failure's counts are marked as lower bounds. Each source that
    could not be read adds its error finding."""
    unread = [unreadable(check_id, s.name, s.error, [s.evidence_id], s.what) for s in collected.unreadable]
    if not collected.truncated:
        return findings + unread
    cut = "the log evidence was cut at its collector's event cap (max_events)"
    judged = []
    for found in findings:
        if found.status == Status.PASS:
            reason = (
                f"Cannot pass: {cut}, so the events not collected may hold a failure; raise max_events and "
                f"collect again. In what was collected: {found.reason}"
            )
            judged.append(found.model_copy(update={"status": Status.ERROR, "reason": reason}))
        elif found.status == Status.FAIL:
            judged.append(found.model_copy(update={"reason": f"{found.reason} Counts are lower bounds: {cut}."}))
        else:
            judged.append(found)
    return judged + unread


def _log_check(
    check_id: str,
    title: str,
    needs: tuple[str, ...],
    configured: str,
    cloudtrail_only: bool = False,
    *,
    severity: Severity,
    query: EventQuery | None = None,
) -> Callable[[Callable[[str, Collected], list[Finding]]], Any]:
    """Register a check whose judge(check_id, collected) judges the log evidence of the tools it needs, reading
    the CloudTrail events of `query`. Missing evidence is an error finding; no configured source, a
    not-applicable one (the `configured` sources named); a CloudTrail check on logs without one readable record,
    or on evidence that did not answer its query, an error finding."""

    def register(judge: Callable[[str, Collected], list[Finding]]) -> Any:
        @wraps(judge)
        def run(view: EvidenceView) -> list[Finding]:
            collected = _collect(view, needs)
            if collected is None:
                return missing_evidence(check_id, *needs)
            if collected.sources == 0 and not collected.unreadable:
                reason = f"No {configured} are configured ([logs] paths, cloudwatch_log_groups, cloudtrail_from_s3)."
                return nothing_to_judge(check_id, needs[0], reason, collected.evidence_ids)
            if collected.sources == 0:
                findings = []  # what was configured could not be read: only its error findings
            elif cloudtrail_only and collected.records_scanned == 0:
                problems = collected.problem_count
                reason = f"The configured logs held no readable CloudTrail records ({problems} parse problems)."
                findings = [finding(check_id, Status.ERROR, CLOUDTRAIL_EVENTS, reason, collected.evidence_ids)]
            elif (
                query is not None
                and collected.queries_answered is not None
                and query.name not in collected.queries_answered
            ):
                reason = f"The CloudTrail evidence did not answer the query {query.name!r} this check reads."
                findings = [finding(check_id, Status.ERROR, CLOUDTRAIL_EVENTS, reason, collected.evidence_ids)]
            else:
                findings = judge(check_id, collected)
            return _on_whole_log(check_id, collected, findings)

        return check(check_id, title=title, needs=needs, severity=severity)(run)

    return register


def _cloudtrail_check(
    check_id: str, title: str, query: EventQuery, *, severity: Severity
) -> Callable[[Callable[[str, Collected], list[Finding]]], Any]:
    configured = "CloudTrail log files or CloudWatch log groups"
    return _log_check(check_id, title, CLOUDTRAIL_TOOLS, configured, True, severity=severity, query=query)


def _fail_each_target(
    check_id: str,
    collected: Collected,
    targets: dict[str, list[Event]],
    describe: Callable[[str, list[Event]], tuple[str, dict[str, Any]]],
    passed: str,
    **pass_facts: Any,
) -> list[Finding]:
    """One failure per target with the events about it, describe(target, events) -> (reason, facts); with no
    target, one pass on the CloudTrail events read."""
    failures = []
    for target, events in targets.items():
        reason, facts = describe(target, events)
        failures.append(finding(check_id, Status.FAIL, target, reason, [e.evidence_id for e in events], **facts))
    return failures or [
        finding(
            check_id,
            Status.PASS,
            CLOUDTRAIL_EVENTS,
            passed,
            collected.evidence_ids,
            **pass_facts,
            records_scanned=collected.records_scanned,
            **_records_span(collected),
        )
    ]


def _records_span(collected: Collected) -> dict[str, Any]:
    """The time span of the CloudTrail records read, all of them (first_record, last_record): the period a pass
    speaks for."""
    times = collected.record_times
    return {"first_record": min(times), "last_record": max(times)} if times else {}


def _scope(collected: Collected) -> str:
    duplicates = f", {collected.duplicates:,} duplicate events counted once" if collected.duplicates else ""
    return f"{collected.records_scanned:,} records read from {collected.sources} source(s){duplicates}"


# -- CloudTrail record fields -------------------------------------------------------------------


def _succeeded(record: dict[str, Any]) -> bool:
    """The call went through: no error code, and not a console sign-in that failed (those carry none)."""
    failed_sign_in = (record.get("responseElements") or {}).get("ConsoleLogin") == "Failure"
    return not record.get("errorCode") and not failed_sign_in


def _identity(record: dict[str, Any]) -> dict[str, Any]:
    return record.get("userIdentity") or {}


def _account(record: dict[str, Any]) -> str:
    """The account the event happened in: the account of the resources it touched."""
    return str(record.get("recipientAccountId") or _identity(record).get("accountId") or "unknown")


def _principal_account(record: dict[str, Any]) -> str:
    """The account of whoever made the call; a principal from another account belongs to that account."""
    return str(_identity(record).get("accountId") or record.get("recipientAccountId") or "unknown")


def _principal_arn(record: dict[str, Any]) -> str:
    identity = _identity(record)
    if identity.get("arn"):
        return str(identity["arn"])
    account, kind = _principal_account(record), identity.get("type")
    if kind == "Root":
        return f"arn:aws:iam::{account}:root"
    if kind == "IAMUser" and identity.get("userName"):
        return f"arn:aws:iam::{account}:user/{identity['userName']}"
    if kind == "AWSAccount":  # another account's principal, which CloudTrail names by its account only
        return f"account:{account}"
    return str(identity.get("userName") or identity.get("principalId") or "unknown principal")


def _actor(record: dict[str, Any]) -> str:
    """Who made the call, as a reason names them: with their account when it is not the event's account."""
    identity = _identity(record)
    arn = str(identity.get("arn") or "")
    name = (
        "root"
        if identity.get("type") == "Root"
        else str(identity.get("userName") or arn.rsplit("/", 1)[-1] or identity.get("principalId") or "unknown")
    )
    account = _principal_account(record)
    return name if account == _account(record) else f"{name} (account {account})"


def _when(record: dict[str, Any]) -> str:
    return str(record.get("eventTime") or "an unknown time")


def _params(record: dict[str, Any]) -> dict[str, Any]:
    return record.get("requestParameters") or {}


def _listed(events: list[Event], describe: Callable[[dict[str, Any]], str]) -> str:
    shown = "; ".join(describe(e.record) for e in events[:EVENTS_LISTED])
    more = len(events) - EVENTS_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def _event_facts(events: list[Event]) -> dict[str, Any]:
    """Who made the CloudTrail events and when: the report correlates these across checks (possible incidents).
    Events without an eventTime count, but give no time."""
    times = sorted(str(e.record["eventTime"]) for e in events if e.record.get("eventTime"))
    principals = ", ".join(sorted({_principal_arn(e.record) for e in events}))
    facts = {
        "events": len(events),
        "first": times[0] if times else None,
        "last": times[-1] if times else None,
        "principal": principals,
    }
    if len(times) < len(events):
        facts["events_without_time"] = len(events) - len(times)
    return facts


def _span(facts: dict[str, Any]) -> str:
    """When the events of _event_facts happened, as a reason says it."""
    first, last, untimed = facts["first"], facts["last"], facts.get("events_without_time")
    if first is None:
        return "at an unknown time"
    when = f"at {first}" if first == last else f"between {first} and {last}"
    return when + (f" ({untimed} without an eventTime)" if untimed else "")


def _grouped(events: Iterable[Event], key: Callable[[dict[str, Any]], str | None]) -> dict[str, list[Event]]:
    groups: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        resource = key(event.record)
        if resource is not None:
            groups[resource].append(event)
    return dict(sorted(groups.items()))


# -- console logins and root -------------------------------------------------------------------


@_cloudtrail_check(
    "logs.console_login_without_mfa",
    "Console sign-ins use multi-factor authentication",
    CONSOLE_LOGINS,
    severity=Severity.HIGH,
)
def console_login_without_mfa(check_id: str, collected: Collected) -> list[Finding]:
    # CIS AWS Foundations 4.2's filter, widened to root: a successful sign-in of an IAM user or root
    # with MFAUsed other than "Yes". Federated sign-ins (SAML, IAM Identity Center: an assumed role, or a
    # SamlProviderArn) do MFA at the identity provider, which CloudTrail does not see: they are not judged.
    signed_in = [
        e
        for e in collected.by_query[CONSOLE_LOGINS.name]
        if e.record["eventName"] == CONSOLE_LOGIN
        and (e.record.get("responseElements") or {}).get("ConsoleLogin") == "Success"
    ]
    logins = [
        e
        for e in signed_in
        if _identity(e.record).get("type") in ("IAMUser", "Root")
        and not (e.record.get("additionalEventData") or {}).get("SamlProviderArn")
    ]
    federated = len(signed_in) - len(logins)
    without_mfa = [e for e in logins if (e.record.get("additionalEventData") or {}).get("MFAUsed") != "Yes"]

    def describe(principal: str, events: list[Event]) -> tuple[str, dict[str, Any]]:
        facts = _event_facts(events)
        sources = sorted({str(e.record.get("sourceIPAddress")) for e in events})
        reason = (
            f"{principal} signed in to the AWS console without MFA {len(events)} time(s) "
            f"({_span(facts)}, from {', '.join(sources)})."
        )
        return reason, facts

    passed = (
        f"All {len(logins)} successful console sign-ins of IAM users and root used MFA ({federated} federated "
        f"sign-in(s) left to the identity provider's MFA; {_scope(collected)})."
    )
    targets = _grouped(without_mfa, _principal_arn)
    return _fail_each_target(
        check_id, collected, targets, describe, passed, console_logins=len(logins), federated_logins=federated
    )


@_cloudtrail_check("logs.root_account_use", "The root user is not used", ROOT_ACTIVITY, severity=Severity.HIGH)
def root_account_use(check_id: str, collected: Collected) -> list[Finding]:
    # CIS AWS Foundations 4.3's filter: root calls not made by an AWS service on root's behalf. A call that
    # failed (refused, or a failed sign-in) is a failed attempt, not use; ROOT_CALLS_ALLOWED are not use either.
    root_calls = [
        e
        for e in collected.by_query[ROOT_ACTIVITY.name]
        if _identity(e.record).get("type") == "Root"
        and not _identity(e.record).get("invokedBy")
        and e.record.get("eventType") != "AwsServiceEvent"
        and e.record["eventName"] not in ROOT_CALLS_ALLOWED
    ]
    root_events = [e for e in root_calls if _succeeded(e.record)]
    failed = Counter(_principal_arn(e.record) for e in root_calls if not _succeeded(e.record))

    def describe(root: str, events: list[Event]) -> tuple[str, dict[str, Any]]:
        facts = _event_facts(events)
        names = Counter(e.record["eventName"] for e in events)
        listed = ", ".join(f"{name} x{n}" for name, n in sorted(names.items()))
        reason = f"The root user {root} made {len(events)} call(s) ({listed}) {_span(facts)}."
        return reason, {"event_names": ", ".join(sorted(names)), **facts, "failed_attempts": failed[root]}

    attempts = sum(failed.values())
    passed = f"No successful call by the root user was found ({attempts} failed attempt(s); {_scope(collected)})."
    targets = _grouped(root_events, _principal_arn)
    return _fail_each_target(check_id, collected, targets, describe, passed, failed_attempts=attempts)


# -- failed logins -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedLogin:
    """A failed login or privilege attempt (sudo refused, an account locked out)."""

    evidence_id: str
    kind: str
    source_ip: str | None
    user_key: str | None  # "user@host" (auth logs) or "user@aws:<account>" (console)
    timestamp: str
    principal: str | None = None  # the account tried, as other log findings name principals


def _failed_logins(collected: Collected) -> list[FailedLogin]:
    failures = []
    for e in collected.auth:
        event = e.record
        if event["kind"] in FAILED_LOGIN_KINDS | FAILED_PRIVILEGE_KINDS:
            user_key = f"{event['user']}@{event['host']}" if event.get("user") else None
            failures.append(
                FailedLogin(
                    e.evidence_id, event["kind"], event.get("source_ip"), user_key, event["timestamp"], user_key
                )
            )
    for e in collected.by_query[CONSOLE_LOGINS.name]:
        record = e.record
        if (
            record["eventName"] == CONSOLE_LOGIN
            and (record.get("responseElements") or {}).get("ConsoleLogin") == "Failure"
        ):
            name = _identity(record).get("userName")
            user_key = f"{name}@aws:{_principal_account(record)}" if name else None
            principal = _principal_arn(record) if name else None
            failures.append(
                FailedLogin(
                    e.evidence_id,
                    "console_login_failure",
                    record.get("sourceIPAddress"),
                    user_key,
                    _when(record),
                    principal,
                )
            )
    return failures


@_log_check(
    "logs.repeated_failed_logins",
    "No source or account shows repeated failed logins",
    ALL_LOG_TOOLS,
    "log files or CloudWatch log groups",
    severity=Severity.MEDIUM,
    query=CONSOLE_LOGINS,
)
def repeated_failed_logins(check_id: str, collected: Collected) -> list[Finding]:
    """Failed logins are counted per line, as fail2ban and CrowdSec do: sshd 'Failed <method>' and 'Invalid
    user' lines, PAM 'authentication failure' lines, and failed console sign-ins. One attempt can log more
    than one line (e.g. 'Invalid user' then 'Failed password'); the facts break counts down by kind. Failed
    privilege attempts count with them: sudo's 'NOT in sudoers', and PAM locking an account out, which fails
    the account whatever the count (PAM's own limit was reached).
    """
    threshold = collected.threshold or DEFAULT_FAILED_LOGIN_THRESHOLD
    failures = _failed_logins(collected)
    groups: dict[str, list[FailedLogin]] = defaultdict(list)
    for failure in failures:
        if failure.source_ip:
            groups[f"ip:{failure.source_ip}"].append(failure)
        if failure.user_key:
            groups[f"user:{failure.user_key}"].append(failure)
    findings = []
    for resource, found in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        kinds = Counter(f.kind for f in found)
        why = []
        if len(found) >= threshold:
            why.append(f"at or above the threshold of {threshold}")
        if kinds["account_locked"]:
            why.append("PAM locked the account")
        if not why:
            continue
        breakdown = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        subject = f"from {resource[3:]}" if resource.startswith("ip:") else f"for {resource[5:]}"
        what = "failed logins" if FAILED_PRIVILEGE_KINDS.isdisjoint(kinds) else "failed login or privilege attempts"
        reason = (
            f"{len(found)} {what} {subject} ({breakdown}), first {found[0].timestamp}, "
            f"last {found[-1].timestamp}: {' and '.join(why)}."
        )
        facts: dict[str, Any] = {
            "failed_logins": len(found),
            "threshold": threshold,
            "first": found[0].timestamp,
            "last": found[-1].timestamp,
        }
        principals = sorted({f.principal for f in found if f.principal}) if resource.startswith("user:") else []
        if principals:  # the account tried: the report correlates it with what that principal did
            facts["principal"] = ", ".join(principals)
        facts.update({kind: n for kind, n in sorted(kinds.items())})
        findings.append(finding(check_id, Status.FAIL, resource, reason, [f.evidence_id for f in found], **facts))
    if findings:
        return findings
    most = max(groups.items(), key=lambda item: len(item[1]), default=None)
    peak = f"; the most from one source or user: {len(most[1])} ({most[0]})" if most else ""
    reason = (
        f"No source address or user reached {threshold} failed logins or privilege attempts, and PAM locked no "
        f"account ({len(failures)} in all{peak})."
    )
    return [
        finding(
            check_id,
            Status.PASS,
            FAILED_LOGINS,
            reason,
            collected.evidence_ids,
            failed_logins=len(failures),
            threshold=threshold,
            most_from_one=len(most[1]) if most else 0,
        )
    ]


# -- IAM changes, new identities ------------------------------------------------------------------


def _iam_target(record: dict[str, Any]) -> str:
    params = _params(record)
    account = _account(record)
    for key, kind in (("userName", "user"), ("roleName", "role"), ("groupName", "group")):
        if params.get(key):
            return f"arn:aws:iam::{account}:{kind}/{params[key]}"
    if params.get("policyArn"):
        return str(params["policyArn"])
    if params.get("policyName"):
        return f"arn:aws:iam::{account}:policy/{params['policyName']}"
    return f"arn:aws:iam::{account}"


def _describe_iam_change(record: dict[str, Any]) -> str:
    policy = str(_params(record).get("policyArn") or _params(record).get("policyName") or "")
    what = f"{record['eventName']} {policy.rsplit('/', 1)[-1]}".strip()
    return f"{what} by {_actor(record)} at {_when(record)}"


def _event_names(events: list[Event]) -> str:
    return ", ".join(sorted({e.record["eventName"] for e in events}))


@_cloudtrail_check(
    "logs.iam_changes", "IAM permission changes are visible for review", IAM_CHANGES, severity=Severity.MEDIUM
)
def iam_changes(check_id: str, collected: Collected) -> list[Finding]:
    changes = [e for e in collected.by_query[IAM_CHANGES.name] if _succeeded(e.record)]

    def describe(target: str, events: list[Event]) -> tuple[str, dict[str, Any]]:
        reason = (
            f"{len(events)} IAM permission change(s) to {target}: {_listed(events, _describe_iam_change)}; "
            "each needs a matching approved change request."
        )
        return reason, {"event_names": _event_names(events), **_event_facts(events)}

    passed = f"No IAM permission change was found ({_scope(collected)})."
    return _fail_each_target(check_id, collected, _grouped(changes, _iam_target), describe, passed)


def _new_identity_target(record: dict[str, Any]) -> str:
    # CreateAccessKey without a userName makes a key for the caller itself, in the caller's own account.
    if _params(record).get("userName"):
        return f"arn:aws:iam::{_account(record)}:user/{_params(record)['userName']}"
    return f"arn:aws:iam::{_principal_account(record)}:user/{_identity(record).get('userName')}"


NEW_IDENTITY_LABELS = {
    "CreateUser": "user created",
    "CreateAccessKey": "access key created",
    "CreateLoginProfile": "console password created",
}


@_log_check(
    "logs.new_users_and_keys",
    "New users and access keys are visible for review",
    ("logs.cloudtrail_events", "logs.auth_events", "logs.cloudtrail_s3", "logs.cloudwatch_events"),
    "log files or CloudWatch log groups",
    severity=Severity.MEDIUM,
    query=NEW_USERS_AND_KEYS,
)
def new_users_and_keys(check_id: str, collected: Collected) -> list[Finding]:
    findings = []
    created = [e for e in collected.by_query[NEW_USERS_AND_KEYS.name] if _succeeded(e.record)]
    for target, events in _grouped(created, _new_identity_target).items():
        counts = Counter(e.record["eventName"] for e in events)
        what = ", ".join(f"{n} {NEW_IDENTITY_LABELS[name]}" for name, n in sorted(counts.items()))
        actors = ", ".join(sorted({_actor(e.record) for e in events}))
        facts = _event_facts(events)
        reason = (
            f"New IAM credentials for {target}: {what}, by {actors} {_span(facts)}; "
            "each needs a matching approved access request."
        )
        facts.update({name: n for name, n in sorted(counts.items())})
        findings.append(finding(check_id, Status.FAIL, target, reason, [e.evidence_id for e in events], **facts))
    for e in (e for e in collected.auth if e.record["kind"] == "user_created"):
        user, host, at = e.record["user"], e.record["host"], e.record["timestamp"]
        reason = (
            f"A new local user {user} was created on {host} at {at} ({e.record['location']}); "
            "it needs a matching approved access request."
        )
        resource = f"host:{host}/user:{user}"
        findings.append(finding(check_id, Status.FAIL, resource, reason, [e.evidence_id], events=1, first=at, last=at))
    if findings:
        return findings
    reason = f"No new IAM user, access key, console password or local user was found ({_scope(collected)})."
    return [
        finding(
            check_id,
            Status.PASS,
            NEW_IDENTITIES,
            reason,
            collected.evidence_ids,
            records_scanned=collected.records_scanned,
            **_records_span(collected),
        )
    ]


# -- audit logging, network exposure --------------------------------------------------------------


def _audit_target(record: dict[str, Any]) -> str:
    params = _params(record)
    account, region = _account(record), record.get("awsRegion", "unknown")
    trail = params.get("name") or params.get("trailName")
    if trail:
        trail = str(trail)
        return trail if trail.startswith("arn:") else f"arn:aws:cloudtrail:{region}:{account}:trail/{trail}"
    for key in ("configurationRecorderName", "deliveryChannelName", "resolverQueryLogConfigId"):
        if params.get(key):
            return f"{key.removesuffix('Name').removesuffix('Id')}:{params[key]}@{account}/{region}"
    flow_log = ((params.get("DeleteFlowLogsRequest") or {}).get("FlowLogId") or {}).get("content")
    flow_logs = flow_log or ",".join(
        (params.get("flowLogIds") or {}).get("item", []) if isinstance(params.get("flowLogIds"), dict) else []
    )
    if flow_logs:
        return f"flow-log:{flow_logs}@{account}/{region}"
    return f"{record['eventName']}@{account}/{region}"


@_cloudtrail_check(
    "logs.audit_logging_tampered",
    "Audit logging was not stopped, deleted or narrowed",
    AUDIT_LOGGING_CHANGES,
    severity=Severity.CRITICAL,
)
def audit_logging_tampered(check_id: str, collected: Collected) -> list[Finding]:
    relevant = collected.by_query[AUDIT_LOGGING_CHANGES.name]
    changed = [e for e in relevant if _succeeded(e.record)]
    # New event selectors narrow audit logging only when they drop management events, or some of them.
    tampering = [e for e in changed if e.record["eventName"] != "PutEventSelectors" or _narrows_management(e.record)]

    def describe(target: str, events: list[Event]) -> tuple[str, dict[str, Any]]:
        listed = _listed(events, lambda r: f"{r['eventName']} by {_actor(r)} at {_when(r)}")
        reason = f"Audit logging of {target} was changed {len(events)} time(s): {listed}."
        return reason, {"event_names": _event_names(events), **_event_facts(events)}

    denied, kept = len(relevant) - len(changed), len(changed) - len(tampering)
    passed = (
        f"No audit logging was stopped, deleted or narrowed ({denied} denied attempt(s); {kept} event selector "
        f"change(s) that kept every management event; {_scope(collected)})."
    )
    targets = _grouped(tampering, _audit_target)
    return _fail_each_target(
        check_id, collected, targets, describe, passed, denied_attempts=denied, selector_changes_kept=kept
    )


def _narrows_management(record: dict[str, Any]) -> bool:
    """Whether a PutEventSelectors call leaves any management event unrecorded. Management events are all
    recorded when one basic selector includes them, read and write, excluding no event source; or one advanced
    selector picks eventCategory Management and nothing narrower. Selectors not in the record count as
    narrowing: what cannot be seen is not taken to be harmless."""
    params = _params(record)
    basic, advanced = params.get("eventSelectors"), params.get("advancedEventSelectors")
    if isinstance(basic, list) and basic:
        return not any(
            selector.get("includeManagementEvents", True) is not False
            and selector.get("readWriteType", "All") == "All"
            and not selector.get("excludeManagementEventSources")
            for selector in basic
        )
    if isinstance(advanced, list) and advanced:
        return not any(
            [(f.get("field"), f.get("equals")) for f in selector.get("fieldSelectors", [])]
            == [("eventCategory", ["Management"])]
            for selector in advanced
        )
    return True


def world_open_rules(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(port range, CIDR) of each rule an ingress call opened to every address (a /0 CIDR)."""
    params = _params(record)
    rules = []
    if params.get("cidrIp"):
        rules.append((params.get("ipProtocol"), params.get("fromPort"), params.get("toPort"), params["cidrIp"]))
    for permission in (params.get("ipPermissions") or {}).get("items", []):
        protocol, low, high = permission.get("ipProtocol"), permission.get("fromPort"), permission.get("toPort")
        for ranges, key in (("ipRanges", "cidrIp"), ("ipv6Ranges", "cidrIpv6")):
            for entry in (permission.get(ranges) or {}).get("items", []):
                rules.append((protocol, low, high, entry.get(key)))
    # Any prefix length of 0 covers every address, whatever address is written before it.
    return [
        (_ports(protocol, low, high), str(cidr))
        for protocol, low, high, cidr in rules
        if str(cidr).strip().endswith("/0")
    ]


def _ports(protocol: Any, low: Any, high: Any) -> str:
    if str(protocol) in ("-1", "all"):
        return "all traffic"
    return f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}"


def _security_group(record: dict[str, Any]) -> str:
    group = _params(record).get("groupId") or _params(record).get("groupName") or "unknown"
    return f"arn:aws:ec2:{record.get('awsRegion', 'unknown')}:{_account(record)}:security-group/{group}"


@_cloudtrail_check(
    "logs.sg_opened_to_world",
    "No security group was opened to the whole internet",
    SECURITY_GROUP_INGRESS,
    severity=Severity.HIGH,
)
def sg_opened_to_world(check_id: str, collected: Collected) -> list[Finding]:
    ingress = [e for e in collected.by_query[SECURITY_GROUP_INGRESS.name] if _succeeded(e.record)]
    opened = [e for e in ingress if world_open_rules(e.record)]

    def describe(group: str, events: list[Event]) -> tuple[str, dict[str, Any]]:
        rules = sorted({f"{ports} from {cidr}" for e in events for ports, cidr in world_open_rules(e.record)})
        actors = ", ".join(sorted({_actor(e.record) for e in events}))
        facts = _event_facts(events)
        reason = f"{group} was opened to the internet ({'; '.join(rules)}) by {actors} {_span(facts)}."
        return reason, {"rules": len(rules), **facts}

    passed = (
        f"None of {len(ingress)} security group ingress change(s) opened a port to 0.0.0.0/0 or ::/0 "
        f"({_scope(collected)})."
    )
    targets = _grouped(opened, _security_group)
    return _fail_each_target(check_id, collected, targets, describe, passed, ingress_changes=len(ingress))
