"""Log checks: judge stored CloudTrail and auth-log evidence. Each event of concern fails the resource
it touched (a user, a trail, a security group, a source address), with exact counts; a check that finds
nothing passes one summary resource, saying how much it read.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tools.catalog import EvidenceView, check
from tools.findings import Finding, Status
from tools.logs.queries import (
    AUDIT_LOGGING_EVENTS,
    CONSOLE_LOGIN,
    FAILED_LOGIN_KINDS,
    IAM_CHANGE_EVENTS,
    NEW_IDENTITY_EVENTS,
    SECURITY_GROUP_INGRESS_EVENTS,
)

CLOUDTRAIL_TOOLS = ("logs.cloudtrail_events", "logs.cloudwatch_events")
AUTH_TOOLS = ("logs.auth_events", "logs.cloudwatch_events")
DEFAULT_FAILED_LOGIN_THRESHOLD = 5  # agent.config LogsConfig's default, for evidence that lacks one
EVENTS_LISTED = 5  # events spelled out in a reason; the count covers all


@dataclass(frozen=True)
class Event:
    evidence_id: str
    location: str
    record: dict[str, Any]


@dataclass
class Collected:
    """What a set of log evidence items holds, gathered across collectors."""

    evidence_ids: list[str] = field(default_factory=list)
    sources: int = 0
    records_scanned: int = 0
    problem_count: int = 0
    cloudtrail: list[Event] = field(default_factory=list)
    auth: list[Event] = field(default_factory=list)
    threshold: int | None = None
    truncated: bool = False  # a collector stopped at its event cap: what is here is part of the log
    duplicates: int = 0  # CloudTrail events seen twice (same eventID): delivered twice, or files overlapping


def _collect(view: EvidenceView, tools: Iterable[str]) -> Collected | None:
    collected = Collected()
    found = False
    event_ids: set[str] = set()
    for tool_name in tools:
        for item in view.all(tool_name):
            found = True
            data = item.data
            collected.evidence_ids.append(item.id)
            collected.sources += len(data.get("sources", []))
            collected.records_scanned += data.get("records_scanned", 0)
            collected.problem_count += data.get("problem_count", 0)
            collected.threshold = collected.threshold or data.get("failed_login_threshold")
            collected.truncated |= bool(data.get("truncated")) or any(
                source.get("truncated") for source in data.get("sources", [])
            )
            if tool_name == "logs.cloudtrail_events":
                cloudtrail, auth = data.get("events", []), []
            elif tool_name == "logs.auth_events":
                cloudtrail, auth = [], data.get("events", [])
            else:
                cloudtrail, auth = data.get("cloudtrail_events", []), data.get("auth_events", [])
            for e in cloudtrail:
                # CloudTrail may deliver an event more than once, and configured paths may overlap: an
                # event is counted once, by its eventID.
                event_id = e["event"].get("eventID")
                if event_id is not None and event_id in event_ids:
                    collected.duplicates += 1
                    continue
                if event_id is not None:
                    event_ids.add(event_id)
                collected.cloudtrail.append(Event(item.id, e["location"], e["event"]))
            collected.auth += [Event(item.id, e["location"], e) for e in auth]
    return collected if found else None


def _on_whole_log(collected: Collected, findings: list[Finding]) -> list[Finding]:
    """No pass on part of a log. Where a collector stopped at its event cap, a pass becomes an error (what
    was cut off may hold the failure) and a failure's counts are marked as lower bounds."""
    if not collected.truncated:
        return findings
    cut = "the log evidence was cut at its collector's event cap (max_events)"
    judged = []
    for finding in findings:
        if finding.status == Status.PASS:
            reason = (f"Cannot pass: {cut}, so the events not collected may hold a failure; raise max_events and "
                      f"collect again. In what was collected: {finding.reason}")
            judged.append(finding.model_copy(update={"status": Status.ERROR, "reason": reason}))
        elif finding.status == Status.FAIL:
            judged.append(finding.model_copy(update={"reason": f"{finding.reason} Counts are lower bounds: {cut}."}))
        else:
            judged.append(finding)
    return judged


def _finding(
    check_id: str, status: Status, resource: str, reason: str, evidence_ids: Iterable[str], **facts: Any
) -> Finding:
    return Finding(
        check=check_id, status=status, resource=resource, reason=reason,
        evidence_ids=sorted(set(evidence_ids)), facts=facts,
    )  # fmt: skip


def _unjudgeable(check_id: str, collected: Collected | None, tools: tuple[str, ...], what: str) -> list[Finding] | None:
    """A finding when there is nothing to judge: no evidence (error), nothing configured (n/a), nothing readable."""
    if collected is None:
        return [_finding(check_id, Status.ERROR, tools[0], f"No evidence from {' or '.join(tools)} was collected.", [])]
    if collected.sources == 0:
        reason = f"No {what} are configured ([logs] paths, cloudwatch_log_groups)."
        return [_finding(check_id, Status.NOT_APPLICABLE, tools[0], reason, collected.evidence_ids)]
    return None


def _cloudtrail_checked(
    check_id: str, view: EvidenceView, judge: Callable[[Collected], list[Finding]]
) -> list[Finding]:
    collected = _collect(view, CLOUDTRAIL_TOOLS)
    early = _unjudgeable(check_id, collected, CLOUDTRAIL_TOOLS, "CloudTrail log files or CloudWatch log groups")
    if early is not None:
        return early
    assert collected is not None
    if collected.records_scanned == 0:
        reason = f"The configured logs held no readable CloudTrail records ({collected.problem_count} parse problems)."
        return [_finding(check_id, Status.ERROR, "cloudtrail-events", reason, collected.evidence_ids)]
    return _on_whole_log(collected, judge(collected))


def _scope(collected: Collected) -> str:
    duplicates = f", {collected.duplicates:,} duplicate events counted once" if collected.duplicates else ""
    return f"{collected.records_scanned:,} records read from {collected.sources} source(s){duplicates}"


# -- CloudTrail record fields -------------------------------------------------------------------


def _succeeded(record: dict[str, Any]) -> bool:
    return not record.get("errorCode")


def _identity(record: dict[str, Any]) -> dict[str, Any]:
    return record.get("userIdentity") or {}


def _account(record: dict[str, Any]) -> str:
    return str(record.get("recipientAccountId") or _identity(record).get("accountId") or "unknown")


def _principal_arn(record: dict[str, Any]) -> str:
    identity = _identity(record)
    if identity.get("arn"):
        return str(identity["arn"])
    if identity.get("type") == "Root":
        return f"arn:aws:iam::{_account(record)}:root"
    return str(identity.get("userName") or identity.get("principalId") or "unknown principal")


def _actor(record: dict[str, Any]) -> str:
    identity = _identity(record)
    if identity.get("type") == "Root":
        return "root"
    arn = str(identity.get("arn") or "")
    return str(identity.get("userName") or arn.rsplit("/", 1)[-1] or identity.get("principalId") or "unknown")


def _params(record: dict[str, Any]) -> dict[str, Any]:
    return record.get("requestParameters") or {}


def _listed(events: list[Event], describe: Callable[[dict[str, Any]], str]) -> str:
    shown = "; ".join(describe(e.record) for e in events[:EVENTS_LISTED])
    more = len(events) - EVENTS_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def _time_facts(events: list[Event]) -> dict[str, Any]:
    times = sorted(str(e.record.get("eventTime")) for e in events)
    return {"events": len(events), "first": times[0], "last": times[-1]}


def _grouped(events: Iterable[Event], key: Callable[[dict[str, Any]], str | None]) -> dict[str, list[Event]]:
    groups: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        resource = key(event.record)
        if resource is not None:
            groups[resource].append(event)
    return dict(sorted(groups.items()))


# -- console logins and root -------------------------------------------------------------------


@check(
    "logs.console_login_without_mfa",
    title="Console sign-ins use multi-factor authentication",
    needs=CLOUDTRAIL_TOOLS,
)
def console_login_without_mfa(view: EvidenceView) -> list[Finding]:
    check_id = "logs.console_login_without_mfa"

    def judge(collected: Collected) -> list[Finding]:
        # CIS AWS Foundations 4.2's filter, widened to root: a successful sign-in of an IAM user or root
        # with MFAUsed other than "Yes". Federated (SSO) sign-ins do MFA at the identity provider.
        logins = [
            e for e in collected.cloudtrail
            if e.record["eventName"] == CONSOLE_LOGIN
            and (e.record.get("responseElements") or {}).get("ConsoleLogin") == "Success"
            and _identity(e.record).get("type") in ("IAMUser", "Root")
        ]  # fmt: skip
        without_mfa = [e for e in logins if (e.record.get("additionalEventData") or {}).get("MFAUsed") != "Yes"]
        findings = []
        for principal, events in _grouped(without_mfa, _principal_arn).items():
            facts = _time_facts(events)
            sources = sorted({str(e.record.get("sourceIPAddress")) for e in events})
            reason = (
                f"{principal} signed in to the AWS console without MFA {len(events)} time(s) "
                f"(first {facts['first']}, last {facts['last']}, from {', '.join(sources)})."
            )
            findings.append(
                _finding(check_id, Status.FAIL, principal, reason, [e.evidence_id for e in events], **facts)
            )
        if findings:
            return findings
        reason = f"All {len(logins)} successful console sign-ins of IAM users and root used MFA ({_scope(collected)})."
        return [
            _finding(check_id, Status.PASS, "cloudtrail-events", reason, collected.evidence_ids,
                     console_logins=len(logins), records_scanned=collected.records_scanned)
        ]  # fmt: skip

    return _cloudtrail_checked(check_id, view, judge)


@check("logs.root_account_use", title="The root user is not used", needs=CLOUDTRAIL_TOOLS)
def root_account_use(view: EvidenceView) -> list[Finding]:
    check_id = "logs.root_account_use"

    def judge(collected: Collected) -> list[Finding]:
        # CIS AWS Foundations 4.3's filter: root calls not made by an AWS service on root's behalf.
        root_events = [
            e for e in collected.cloudtrail
            if _identity(e.record).get("type") == "Root"
            and not _identity(e.record).get("invokedBy")
            and e.record.get("eventType") != "AwsServiceEvent"
        ]  # fmt: skip
        findings = []
        for root, events in _grouped(root_events, _principal_arn).items():
            facts = _time_facts(events)
            names = Counter(e.record["eventName"] for e in events)
            listed = ", ".join(f"{name} x{n}" for name, n in sorted(names.items()))
            reason = f"The root user {root} made {len(events)} call(s) ({listed}) between {facts['first']} and {facts['last']}."
            findings.append(
                _finding(
                    check_id,
                    Status.FAIL,
                    root,
                    reason,
                    [e.evidence_id for e in events],
                    event_names=", ".join(sorted(names)),
                    **facts,
                )
            )
        if findings:
            return findings
        reason = f"No call by the root user was found ({_scope(collected)})."
        return [
            _finding(
                check_id,
                Status.PASS,
                "cloudtrail-events",
                reason,
                collected.evidence_ids,
                records_scanned=collected.records_scanned,
            )
        ]

    return _cloudtrail_checked(check_id, view, judge)


# -- failed logins -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedLogin:
    evidence_id: str
    kind: str
    source_ip: str | None
    user_key: str | None  # "user@host" (auth logs) or "user@aws:<account>" (console)
    timestamp: str


def _failed_logins(collected: Collected) -> list[FailedLogin]:
    failures = []
    for e in collected.auth:
        event = e.record
        if event["kind"] in FAILED_LOGIN_KINDS:
            user_key = f"{event['user']}@{event['host']}" if event.get("user") else None
            failures.append(
                FailedLogin(e.evidence_id, event["kind"], event.get("source_ip"), user_key, event["timestamp"])
            )
    for e in collected.cloudtrail:
        record = e.record
        if (
            record["eventName"] == CONSOLE_LOGIN
            and (record.get("responseElements") or {}).get("ConsoleLogin") == "Failure"
        ):
            name = _identity(record).get("userName")
            user_key = f"{name}@aws:{_account(record)}" if name else None
            failures.append(
                FailedLogin(
                    e.evidence_id, "console_login_failure", record.get("sourceIPAddress"), user_key, record["eventTime"]
                )
            )
    return failures


@check(
    "logs.repeated_failed_logins",
    title="No source or account shows repeated failed logins",
    needs=("logs.auth_events", "logs.cloudtrail_events", "logs.cloudwatch_events"),
)
def repeated_failed_logins(view: EvidenceView) -> list[Finding]:
    """Failed logins are counted per line, as fail2ban and CrowdSec do: sshd 'Failed <method>' and 'Invalid
    user' lines, PAM 'authentication failure' lines, and failed console sign-ins. One attempt can log more
    than one line (e.g. 'Invalid user' then 'Failed password'); the facts break counts down by kind.
    """
    check_id = "logs.repeated_failed_logins"
    tools = ("logs.auth_events", "logs.cloudtrail_events", "logs.cloudwatch_events")
    collected = _collect(view, tools)
    early = _unjudgeable(check_id, collected, tools, "log files or CloudWatch log groups")
    if early is not None:
        return early
    assert collected is not None
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
        if len(found) < threshold:
            continue
        kinds = Counter(f.kind for f in found)
        breakdown = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        subject = f"from {resource[3:]}" if resource.startswith("ip:") else f"for {resource[5:]}"
        reason = (
            f"{len(found)} failed logins {subject} ({breakdown}), first {found[0].timestamp}, last {found[-1].timestamp}: "
            f"at or above the threshold of {threshold}."
        )
        facts = {
            "failed_logins": len(found),
            "threshold": threshold,
            "first": found[0].timestamp,
            "last": found[-1].timestamp,
        }
        facts.update({kind: n for kind, n in sorted(kinds.items())})
        findings.append(_finding(check_id, Status.FAIL, resource, reason, [f.evidence_id for f in found], **facts))
    if findings:
        return _on_whole_log(collected, findings)
    most = max(groups.items(), key=lambda item: len(item[1]), default=None)
    peak = f"; the most from one source or user: {len(most[1])} ({most[0]})" if most else ""
    reason = (
        f"No source address or user reached {threshold} failed logins ({len(failures)} failed logins in all{peak})."
    )
    return _on_whole_log(collected, [
        _finding(check_id, Status.PASS, "failed-logins", reason, collected.evidence_ids,
                 failed_logins=len(failures), threshold=threshold, most_from_one=len(most[1]) if most else 0)
    ])  # fmt: skip


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
    return f"{what} by {_actor(record)} at {record['eventTime']}"


@check(
    "logs.iam_changes",
    title="IAM permission changes are visible for review",
    needs=CLOUDTRAIL_TOOLS,
)
def iam_changes(view: EvidenceView) -> list[Finding]:
    check_id = "logs.iam_changes"

    def judge(collected: Collected) -> list[Finding]:
        changes = [
            e for e in collected.cloudtrail if e.record["eventName"] in IAM_CHANGE_EVENTS and _succeeded(e.record)
        ]
        findings = []
        for target, events in _grouped(changes, _iam_target).items():
            reason = (
                f"{len(events)} IAM permission change(s) to {target}: {_listed(events, _describe_iam_change)}; "
                "each needs a matching approved change request."
            )
            names = ", ".join(sorted({e.record["eventName"] for e in events}))
            findings.append(
                _finding(
                    check_id,
                    Status.FAIL,
                    target,
                    reason,
                    [e.evidence_id for e in events],
                    event_names=names,
                    **_time_facts(events),
                )
            )
        if findings:
            return findings
        reason = f"No IAM permission change was found ({_scope(collected)})."
        return [
            _finding(
                check_id,
                Status.PASS,
                "cloudtrail-events",
                reason,
                collected.evidence_ids,
                records_scanned=collected.records_scanned,
            )
        ]

    return _cloudtrail_checked(check_id, view, judge)


def _new_identity_target(record: dict[str, Any]) -> str:
    # CreateAccessKey without a userName makes a key for the caller itself.
    name = _params(record).get("userName") or _identity(record).get("userName")
    return f"arn:aws:iam::{_account(record)}:user/{name}"


NEW_IDENTITY_LABELS = {
    "CreateUser": "user created",
    "CreateAccessKey": "access key created",
    "CreateLoginProfile": "console password created",
}


@check(
    "logs.new_users_and_keys",
    title="New users and access keys are visible for review",
    needs=("logs.cloudtrail_events", "logs.auth_events", "logs.cloudwatch_events"),
)
def new_users_and_keys(view: EvidenceView) -> list[Finding]:
    check_id = "logs.new_users_and_keys"
    tools = ("logs.cloudtrail_events", "logs.auth_events", "logs.cloudwatch_events")
    collected = _collect(view, tools)
    early = _unjudgeable(check_id, collected, tools, "log files or CloudWatch log groups")
    if early is not None:
        return early
    assert collected is not None
    findings = []
    created = [e for e in collected.cloudtrail if e.record["eventName"] in NEW_IDENTITY_EVENTS and _succeeded(e.record)]
    for target, events in _grouped(created, _new_identity_target).items():
        counts = Counter(e.record["eventName"] for e in events)
        what = ", ".join(f"{n} {NEW_IDENTITY_LABELS[name]}" for name, n in sorted(counts.items()))
        actors = ", ".join(sorted({_actor(e.record) for e in events}))
        facts = _time_facts(events)
        reason = (
            f"New IAM credentials for {target}: {what}, by {actors} between {facts['first']} and {facts['last']}; "
            "each needs a matching approved access request."
        )
        facts.update({name: n for name, n in sorted(counts.items())})
        findings.append(_finding(check_id, Status.FAIL, target, reason, [e.evidence_id for e in events], **facts))
    host_users = [e for e in collected.auth if e.record["kind"] == "user_created"]
    for e in host_users:
        event = e.record
        resource = f"host:{event['host']}/user:{event['user']}"
        reason = f"A new local user {event['user']} was created on {event['host']} at {event['timestamp']} ({event['location']}); it needs a matching approved access request."
        findings.append(
            _finding(
                check_id,
                Status.FAIL,
                resource,
                reason,
                [e.evidence_id],
                events=1,
                first=event["timestamp"],
                last=event["timestamp"],
            )
        )
    if findings:
        return _on_whole_log(collected, findings)
    reason = f"No new IAM user, access key, console password or local user was found ({_scope(collected)})."
    return _on_whole_log(collected, [
        _finding(check_id, Status.PASS, "new-identities", reason, collected.evidence_ids,
                 records_scanned=collected.records_scanned)
    ])  # fmt: skip


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


@check(
    "logs.audit_logging_tampered",
    title="Audit logging was not stopped, deleted or narrowed",
    needs=CLOUDTRAIL_TOOLS,
)
def audit_logging_tampered(view: EvidenceView) -> list[Finding]:
    check_id = "logs.audit_logging_tampered"

    def judge(collected: Collected) -> list[Finding]:
        relevant = [e for e in collected.cloudtrail if e.record["eventName"] in AUDIT_LOGGING_EVENTS]
        tampering = [e for e in relevant if _succeeded(e.record)]
        findings = []
        for target, events in _grouped(tampering, _audit_target).items():
            listed = _listed(events, lambda r: f"{r['eventName']} by {_actor(r)} at {r['eventTime']}")
            reason = f"Audit logging of {target} was changed {len(events)} time(s): {listed}."
            names = ", ".join(sorted({e.record["eventName"] for e in events}))
            findings.append(
                _finding(
                    check_id,
                    Status.FAIL,
                    target,
                    reason,
                    [e.evidence_id for e in events],
                    event_names=names,
                    **_time_facts(events),
                )
            )
        if findings:
            return findings
        denied = len(relevant) - len(tampering)
        reason = (
            f"No audit logging was stopped, deleted or reconfigured ({denied} denied attempt(s); {_scope(collected)})."
        )
        return [
            _finding(check_id, Status.PASS, "cloudtrail-events", reason, collected.evidence_ids,
                     denied_attempts=denied, records_scanned=collected.records_scanned)
        ]  # fmt: skip

    return _cloudtrail_checked(check_id, view, judge)


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


@check(
    "logs.sg_opened_to_world",
    title="No security group was opened to the whole internet",
    needs=CLOUDTRAIL_TOOLS,
)
def sg_opened_to_world(view: EvidenceView) -> list[Finding]:
    check_id = "logs.sg_opened_to_world"

    def judge(collected: Collected) -> list[Finding]:
        ingress = [
            e
            for e in collected.cloudtrail
            if e.record["eventName"] in SECURITY_GROUP_INGRESS_EVENTS and _succeeded(e.record)
        ]
        opened = [e for e in ingress if world_open_rules(e.record)]
        findings = []
        for group, events in _grouped(opened, _security_group).items():
            rules = sorted({f"{ports} from {cidr}" for e in events for ports, cidr in world_open_rules(e.record)})
            actors = ", ".join(sorted({_actor(e.record) for e in events}))
            facts = _time_facts(events)
            reason = f"{group} was opened to the internet ({'; '.join(rules)}) by {actors} at {facts['first']}."
            findings.append(
                _finding(
                    check_id, Status.FAIL, group, reason, [e.evidence_id for e in events], rules=len(rules), **facts
                )
            )
        if findings:
            return findings
        reason = f"None of {len(ingress)} security group ingress change(s) opened a port to 0.0.0.0/0 or ::/0 ({_scope(collected)})."
        return [
            _finding(check_id, Status.PASS, "cloudtrail-events", reason, collected.evidence_ids,
                     ingress_changes=len(ingress), records_scanned=collected.records_scanned)
        ]  # fmt: skip

    return _cloudtrail_checked(check_id, view, judge)
