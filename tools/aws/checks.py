"""AWS checks: judge stored AWS evidence, one finding per resource.

Each check reads only the EvidenceView it is given. Missing and unreadable evidence, and the names of
resources, follow tools/checks_common.py. Thresholds are the module constants below (CIS AWS Foundations
Benchmark values where CIS has one).

Most checks judge each resource of one `Kind` (`Kind.check`) or each region (`_per_region`) with a judge that
returns a Verdict for one resource; `_flag` and `_at_least` make the judges of plain yes/no and minimum rules.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from tools.catalog import EvidenceView, StoredEvidence, check, tag_reader
from tools.checks_common import (
    ACCOUNT,
    cannot_read,
    finding,
    missing_evidence,
    nothing_to_judge,
    passed_if,
    read_error,
    unreadable,
)
from tools.findings import Finding, Severity, Status
from tools.logs.queries import CIS_IAM_POLICY_CHANGE_EVENTS

MAX_ACCESS_KEY_AGE_DAYS = 90
MAX_UNUSED_CREDENTIAL_DAYS = 45
MIN_PASSWORD_LENGTH = 14
MIN_PASSWORD_REUSE_PREVENTION = 24
MAX_PASSWORD_AGE_DAYS = 90
MIN_BACKUP_RETENTION_DAYS = 7
ADMIN_PORTS = (22, 3389)
WORLD_CIDRS = ("0.0.0.0/0", "::/0")

Facts = dict[str, str | int | float | bool | None]
# What a judge says of one resource: pass (True), fail (False) or another status; the reason; the facts.
Verdict = tuple[bool | Status, str, Facts]
Judge = Callable[[dict[str, Any]], Verdict]


# -- how checks read evidence ----------------------------------------------------------------


def aws_check(
    check_id: str, title: str, needs: tuple[str, ...], *, severity: Severity
) -> Callable[[Callable[..., Iterable[Finding]]], Any]:
    """Register a check whose body(check_id, items of each needed tool...) yields findings. Missing evidence
    is one error finding; evidence that lists nothing to judge, one not-applicable finding."""

    def register(body: Callable[..., Iterable[Finding]]) -> Any:
        @wraps(body)
        def run(view: EvidenceView) -> list[Finding]:
            items = [view.all(tool) for tool in needs]
            for tool, found in zip(needs, items, strict=True):
                if not found:
                    return missing_evidence(check_id, tool)
            evidence = [item.id for group in items for item in group]
            nothing = "The evidence lists no resources of this kind."
            return list(body(check_id, *items)) or nothing_to_judge(check_id, needs[0], nothing, evidence)

        return check(check_id, title=title, needs=needs, severity=severity)(run)

    return register


def _status(verdict: bool | Status) -> Status:
    return verdict if isinstance(verdict, Status) else passed_if(verdict)


def by_region(
    check_id: str, items: list[StoredEvidence], judge: Callable[[str, str, Any], Iterable[Finding]]
) -> Iterator[Finding]:
    """judge(evidence id, region, data) for every region read; a region AWS refused is an error finding."""
    for item in items:
        for region, data in (item.data or {}).items():
            error = read_error(data)
            if error is None:
                yield from judge(item.id, region, data)
            else:
                yield unreadable(check_id, region, error, [item.id], f"{item.tool} in {region}", region=region)


@dataclass(frozen=True)
class Kind:
    """One kind of resource in stored evidence: the tool that lists it, and how findings name each one."""

    tool: str
    resource: Callable[[str | None, dict[str, Any]], str]  # (region, resource) -> the finding's resource
    names: Callable[[dict[str, Any]], Facts] = lambda _: {}  # facts naming it, first in each finding
    listed: Callable[[Any], Iterable[dict[str, Any]]] = lambda data: data  # the resources in one region's data
    regional: bool = True  # the evidence is {region: data}; otherwise data for the whole account
    tags: str = "Tags"  # the field holding a resource's tags, where the evidence has them

    def resource_tags(self, data: Any) -> dict[str, dict[str, str]]:
        """Each listed resource's tags, by the name its findings carry (a region AWS refused lists none)."""
        regions = (data or {}).items() if self.regional else [(None, data)]
        return {
            self.resource(region, listed): _tags(listed.get(self.tags))
            for region, in_region in regions
            if read_error(in_region) is None
            for listed in self.listed(in_region)
        }

    def judged(
        self,
        check_id: str,
        items: list[StoredEvidence],
        judge: Judge,
        reads: str | None = None,
        absent: str | None = None,
        cited: tuple[str, ...] = (),
    ) -> Iterable[Finding]:
        """A finding from judge(resource) on each resource of this kind. `reads`: a field the judge needs, an
        error finding where AWS refused it (but for `absent`, the error that only means 'not set');
        `cited`: more evidence the findings rest on."""

        def each(evidence_id: str, region: str | None, data: Any) -> Iterator[Finding]:
            for listed in self.listed(data):
                resource, evidence, names = self.resource(region, listed), [evidence_id, *cited], self.names(listed)
                error = read_error(listed.get(reads), absent) if reads else None
                if error is not None:
                    yield unreadable(check_id, resource, error, evidence, f"{reads} of {resource}", **names)
                    continue
                status, reason, facts = judge(listed)
                yield finding(check_id, _status(status), resource, reason, evidence, **names, **facts)

        if self.regional:
            return by_region(check_id, items, each)
        return (found for item in items for found in each(item.id, None, item.data))

    def check(
        self, check_id: str, title: str, *, severity: Severity, reads: str | None = None, absent: str | None = None
    ) -> Callable[[Judge], Any]:
        """Register a check that judges each resource of this kind with judge(resource) -> Verdict."""

        def register(judge: Judge) -> Any:
            @wraps(judge)
            def body(check_id: str, items: list[StoredEvidence]) -> Iterable[Finding]:
                return self.judged(check_id, items, judge, reads, absent)

            return aws_check(check_id, title, (self.tool,), severity=severity)(body)

        return register


def _per_region(
    check_id: str, title: str, tool: str, *, severity: Severity
) -> Callable[[Callable[[str, Any], Verdict]], Any]:
    """Register a check that judges each region once with judge(region, data) -> Verdict."""

    def register(judge: Callable[[str, Any], Verdict]) -> Any:
        @wraps(judge)
        def body(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
            def judged(evidence_id: str, region: str, data: Any) -> Iterator[Finding]:
                status, reason, facts = judge(region, data)
                yield finding(check_id, _status(status), region, reason, [evidence_id], region=region, **facts)

            return by_region(check_id, items, judged)

        return aws_check(check_id, title, (tool,), severity=severity)(body)

    return register


def _flag(field: str, fact: str, sentence: str, states: tuple[str, str], passes_when: bool = True) -> Judge:
    """A judge of one yes/no field: the resource passes when it is `passes_when`. The sentence may name the
    resource's own fields, and {state}: states[False] or states[True]."""

    def judge(resource: dict[str, Any]) -> Verdict:
        value = bool(resource.get(field))
        return value == passes_when, sentence.format_map({**resource, "state": states[value]}), {fact: value}

    return judge


def _at_least(field: str, minimum: int, sentence: str, facts: tuple[str, str]) -> Judge:
    """A judge of one number: the resource passes at `minimum` or more. The sentence may name the resource's
    own fields, {value} and {minimum}; `facts` names the two."""

    def judge(resource: dict[str, Any]) -> Verdict:
        value = int(resource.get(field) or 0)
        reason = sentence.format_map({**resource, "value": value, "minimum": minimum})
        return value >= minimum, reason, {facts[0]: value, facts[1]: minimum}

    return judge


def _days_since(timestamp: str | None, now: datetime | None = None) -> int | None:
    if not timestamp or timestamp in ("N/A", "no_information", "not_supported"):
        return None
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return ((now or datetime.now(UTC)) - moment).days


def _tags(listed: Any) -> dict[str, str]:
    """Tags as AWS lists them ({Key, Value}; KMS: {TagKey, TagValue}) as a dict; none when they could not be read."""
    if not isinstance(listed, list):
        return {}
    return {str(tag.get("Key", tag.get("TagKey"))): str(tag.get("Value", tag.get("TagValue", ""))) for tag in listed}


def _tag(resource: dict[str, Any], key: str = "Name") -> str | None:
    return _tags(resource.get("Tags")).get(key)


def _label(region: str | None, name: str | None, resource_id: str) -> str:
    """A readable, unique name for resources whose ids are random: region/name/id."""
    return f"{region}/{name or '-'}/{resource_id}"


# -- IAM: root and account -------------------------------------------------------------------

ROOT = Kind(
    "aws.iam.account_summary",
    resource=lambda _, account: f"arn:aws:iam::{account.get('account_id', 'unknown')}:root",
    listed=lambda account: [account],
    regional=False,
)


@ROOT.check("aws.iam.root_mfa", "The root user has MFA enabled", severity=Severity.CRITICAL)
def root_mfa(account: dict[str, Any]) -> Verdict:
    enabled = account["summary"].get("AccountMFAEnabled") == 1
    reason = "The root user has MFA enabled."
    if not enabled:
        reason = "The root user has no MFA device (AccountMFAEnabled is 0)."
    return enabled, reason, {"account_mfa_enabled": enabled}


@ROOT.check("aws.iam.root_access_keys", "The root user has no access keys", severity=Severity.CRITICAL)
def root_access_keys(account: dict[str, Any]) -> Verdict:
    present = account["summary"].get("AccountAccessKeysPresent", 0)
    reason = "The root user has no access keys." if not present else "The root user has access keys."
    return not present, reason, {"root_access_keys_present": present}


def _password_rule(check_id: str, title: str, *, severity: Severity) -> Callable[[Judge], Any]:
    """Register a check that judges the account's password policy with judge(policy) -> Verdict."""

    def register(judge: Judge) -> Any:
        @wraps(judge)
        def body(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
            item = items[0]
            if "policy" in item.data:
                ok, reason, facts = judge(item.data["policy"])
                yield finding(check_id, _status(ok), ACCOUNT, reason, [item.id], **facts)
            elif item.data.get("error") == "NoSuchEntity":
                reason = "The account has no password policy."
                yield finding(check_id, Status.FAIL, ACCOUNT, reason, [item.id], policy_set=False)
            else:
                error = read_error(item.data) or "no data"
                yield unreadable(check_id, ACCOUNT, error, [item.id], "The password policy")

        return aws_check(check_id, title, ("aws.iam.password_policy",), severity=severity)(body)

    return register


_password_rule(
    "aws.iam.password_policy_length",
    f"Passwords are at least {MIN_PASSWORD_LENGTH} characters",
    severity=Severity.MEDIUM,
)(
    _at_least(
        "MinimumPasswordLength",
        MIN_PASSWORD_LENGTH,
        "The minimum password length is {value}; at least {minimum} is required.",
        ("minimum_length", "required_length"),
    )
)
_password_rule(
    "aws.iam.password_policy_reuse",
    f"The last {MIN_PASSWORD_REUSE_PREVENTION} passwords cannot be reused",
    severity=Severity.MEDIUM,
)(
    _at_least(
        "PasswordReusePrevention",
        MIN_PASSWORD_REUSE_PREVENTION,
        "The password policy prevents reuse of the last {value} passwords; {minimum} is required.",
        ("reuse_prevention", "required"),
    )
)

COMPLEXITY_RULES = {
    "RequireUppercaseCharacters": "uppercase letters",
    "RequireLowercaseCharacters": "lowercase letters",
    "RequireNumbers": "numbers",
    "RequireSymbols": "symbols",
}


@_password_rule(
    "aws.iam.password_policy_complexity",
    "Passwords need upper and lower case, numbers and symbols",
    severity=Severity.MEDIUM,
)
def password_policy_complexity(policy: dict[str, Any]) -> Verdict:
    missing = [label for key, label in COMPLEXITY_RULES.items() if not policy.get(key)]
    reason = (
        f"The password policy does not require {', '.join(missing)}."
        if missing
        else "The password policy requires uppercase and lowercase letters, numbers and symbols."
    )
    required = {key: bool(policy.get(key)) for key in COMPLEXITY_RULES}
    return not missing, reason, {"missing_requirements": len(missing), **required}


@_password_rule(
    "aws.iam.password_policy_expiry",
    f"Passwords expire within {MAX_PASSWORD_AGE_DAYS} days",
    severity=Severity.MEDIUM,
)
def password_policy_expiry(policy: dict[str, Any]) -> Verdict:
    max_age = policy.get("MaxPasswordAge")
    facts: Facts = {"max_password_age_days": max_age or None, "limit_days": MAX_PASSWORD_AGE_DAYS}
    if not max_age:
        return False, "Passwords never expire.", facts
    reason = f"Passwords expire after {max_age} days; the limit is {MAX_PASSWORD_AGE_DAYS}."
    return max_age <= MAX_PASSWORD_AGE_DAYS, reason, facts


# -- IAM: users and policies -----------------------------------------------------------------

REPORT_USERS = Kind(
    "aws.iam.credential_report",
    resource=lambda _, row: row["arn"],
    names=lambda row: {"user": row["user"]},
    # Each row with the user's tags, which the report lists beside its rows.
    listed=lambda report: [
        {**row, "Tags": report.get("tags", {}).get(row["user"])}
        for row in report.get("rows", [])
        if row.get("user") != "<root_account>"
    ],
    regional=False,
)
USERS = Kind("aws.iam.users", lambda _, user: user["Arn"], lambda user: {"user": user["UserName"]}, regional=False)


@REPORT_USERS.check("aws.iam.console_user_mfa", "Every console user has MFA", severity=Severity.HIGH)
def console_user_mfa(row: dict[str, Any]) -> Verdict:
    user = row["user"]
    if row.get("password_enabled") != "true":
        return Status.NOT_APPLICABLE, f"{user} has no console password.", {}
    mfa = row.get("mfa_active") == "true"
    reason = f"Console user {user} has MFA enabled." if mfa else f"Console user {user} has no MFA device."
    return mfa, reason, {"mfa_active": mfa}


@REPORT_USERS.check(
    "aws.iam.access_key_age",
    f"Active access keys are rotated within {MAX_ACCESS_KEY_AGE_DAYS} days",
    severity=Severity.MEDIUM,
)
def access_key_age(row: dict[str, Any]) -> Verdict:
    user = row["user"]
    active = [n for n in (1, 2) if row.get(f"access_key_{n}_active") == "true"]
    ages = [age for n in active if (age := _days_since(row.get(f"access_key_{n}_last_rotated"))) is not None]
    if not ages:
        return Status.NOT_APPLICABLE, f"{user} has no active access keys.", {}
    oldest = max(ages)
    return (
        oldest <= MAX_ACCESS_KEY_AGE_DAYS,
        f"{user}'s oldest active access key is {oldest} days old; the limit is {MAX_ACCESS_KEY_AGE_DAYS}.",
        {"key_age_days": oldest, "active_keys": len(ages), "limit_days": MAX_ACCESS_KEY_AGE_DAYS},
    )


@REPORT_USERS.check(
    "aws.iam.unused_credentials",
    f"Credentials unused for {MAX_UNUSED_CREDENTIAL_DAYS} days are disabled",
    severity=Severity.MEDIUM,
)
def unused_credentials(row: dict[str, Any]) -> Verdict:
    user = row["user"]
    # Idle days per credential: since last use, or since it was issued when never used.
    idle: dict[str, int] = {}
    if row.get("password_enabled") == "true":
        days = _days_since(row.get("password_last_used"))
        idle["password"] = days if days is not None else _days_since(row.get("password_last_changed")) or 0
    for n in (1, 2):
        if row.get(f"access_key_{n}_active") == "true":
            days = _days_since(row.get(f"access_key_{n}_last_used_date"))
            issued = _days_since(row.get(f"access_key_{n}_last_rotated")) or 0
            idle[f"access_key_{n}"] = days if days is not None else issued
    if not idle:
        return Status.NOT_APPLICABLE, f"{user} has no password or active access key.", {}
    stale = sorted(name for name, days in idle.items() if days > MAX_UNUSED_CREDENTIAL_DAYS)
    most_idle = max(idle.values())
    reason = (
        f"{user}'s credentials ({', '.join(stale)}) have been unused for up to {most_idle} days; "
        f"the limit is {MAX_UNUSED_CREDENTIAL_DAYS}."
        if stale
        else f"{user}'s credentials were all used or issued within {MAX_UNUSED_CREDENTIAL_DAYS} days."
    )
    limit = MAX_UNUSED_CREDENTIAL_DAYS
    return not stale, reason, {"max_idle_days": most_idle, "stale_credentials": len(stale), "limit_days": limit}


@USERS.check(
    "aws.iam.user_direct_policies",
    "Users get permissions through groups or roles only",
    severity=Severity.LOW,
)
def user_direct_policies(user: dict[str, Any]) -> Verdict:
    name = user["UserName"]
    inline, attached = len(user.get("InlinePolicies", [])), len(user.get("AttachedPolicies", []))
    reason = (
        f"{name} has {attached} attached and {inline} inline policies directly on the user."
        if inline + attached
        else f"{name} has no policies of its own."
    )
    return inline + attached == 0, reason, {"attached_policies": attached, "inline_policies": inline}


def _as_list(value: Any) -> list[Any]:
    """A policy element as a list: IAM writes one value (an action, a statement) bare, several as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _grants_full_admin(document: Any) -> bool:
    if isinstance(document, str):
        document = json.loads(document)
    return any(
        statement.get("Effect") == "Allow"
        and "*" in _as_list(statement.get("Action"))
        and "*" in _as_list(statement.get("Resource"))
        for statement in _as_list(document.get("Statement"))
    )


def _managed_policy(check_id: str, item: StoredEvidence, name: str) -> dict[str, Any] | Finding:
    """Who holds one AWS-managed policy, or the error finding when that could not be read."""
    holders = item.data.get("aws_managed_attachments", {}).get(name)
    error = read_error(holders) or (None if holders else "no data")
    if error is None:
        return holders
    return unreadable(check_id, f"arn:aws:iam::aws:policy/{name}", error, [item.id], f"Attachments of {name}")


@aws_check(
    "aws.iam.admin_privileges",
    "No attached or inline policy grants full *:* administrator rights",
    ("aws.iam.policies", "aws.iam.inline_policies"),
    severity=Severity.CRITICAL,
)
def admin_privileges(check_id: str, policies: list[StoredEvidence], inline: list[StoredEvidence]) -> Iterator[Finding]:
    yield from _inline_admin(check_id, inline)
    for item in policies:
        for policy in item.data.get("customer_managed", []):
            attached = policy.get("AttachmentCount", 0)
            full = _grants_full_admin(policy.get("Document", {}))
            name = policy["PolicyName"]
            if full and attached:
                reason = f"Policy {name} allows every action on every resource and has {attached} attachments."
            elif full:
                reason = f"Policy {name} allows every action on every resource but is not attached."
            else:
                reason = f"Policy {name} does not grant full administrator rights."
            yield finding(
                check_id,
                passed_if(not (full and attached)),
                policy["Arn"],
                reason,
                [item.id],
                policy=name,
                full_admin=full,
                attachment_count=attached,
            )
        admin = _managed_policy(check_id, item, "AdministratorAccess")
        if isinstance(admin, Finding):
            yield admin
            continue
        users = [user["UserName"] for user in admin.get("PolicyUsers", [])]
        reason = (
            f"AdministratorAccess is attached directly to users: {', '.join(users)}."
            if users
            else "AdministratorAccess is not attached directly to any user."
        )
        yield finding(
            check_id,
            passed_if(not users),
            admin["arn"],
            reason,
            [item.id],
            users_with_admin=len(users),
            groups_with_admin=len(admin.get("PolicyGroups", [])),
            roles_with_admin=len(admin.get("PolicyRoles", [])),
        )


def _inline_admin(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    """One finding per user, role and group with inline policies: it fails when one allows everything.
    With no inline policy anywhere, one not-applicable finding says so."""
    for item in items:
        with_policies = 0
        for holder in item.data:
            kind, name, arn = holder["Kind"], holder["Name"], holder["Arn"]
            policies, names = holder.get("Policies"), {"holder": name, "holder_kind": kind}
            error = read_error(policies)
            if error is not None:
                yield unreadable(check_id, arn, error, [item.id], f"Inline policies of {kind} {name}", **names)
                continue
            if not policies:
                continue
            with_policies += 1
            documents = {policy["PolicyName"]: policy["Document"] for policy in policies}
            unread = {policy: problem for policy, document in documents.items() if (problem := read_error(document))}
            admin = sorted(
                policy
                for policy, document in documents.items()
                if policy not in unread and _grants_full_admin(document)
            )
            if unread and not admin:  # a policy that allows everything fails the holder, read or not the rest
                policy, problem = next(iter(unread.items()))
                yield unreadable(check_id, arn, problem, [item.id], f"Inline policy {policy} of {kind} {name}", **names)
                continue
            reason = (
                f"Inline policies of {kind} {name} allow every action on every resource: {', '.join(admin)}."
                if admin
                else f"None of the {len(policies)} inline policies of {kind} {name} grants full administrator rights."
            )
            yield finding(
                check_id,
                passed_if(not admin),
                arn,
                reason,
                [item.id],
                **names,
                inline_policies=len(policies),
                full_admin_policies=", ".join(admin) or None,
            )
        if not with_policies:
            reason = f"None of the {len(item.data)} users, roles and groups has an inline policy."
            yield from nothing_to_judge(check_id, item.tool, reason, [item.id])


@aws_check(
    "aws.iam.support_role",
    "A role can manage incidents with AWS Support",
    ("aws.iam.policies",),
    severity=Severity.LOW,
)
def support_role(check_id: str, policies: list[StoredEvidence]) -> Iterator[Finding]:
    support = _managed_policy(check_id, policies[0], "AWSSupportAccess")
    if isinstance(support, Finding):
        yield support
        return
    holders = sum(len(support.get(kind, [])) for kind in ("PolicyUsers", "PolicyGroups", "PolicyRoles"))
    reason = (
        f"AWSSupportAccess has {holders} attachments to users, groups or roles."
        if holders
        else "AWSSupportAccess is attached to no user, group or role."
    )
    yield finding(check_id, passed_if(holders > 0), support["arn"], reason, [policies[0].id], attachments=holders)


# -- CloudTrail ------------------------------------------------------------------------------

TRAILS = Kind("aws.cloudtrail.trails", lambda _, trail: trail["TrailARN"], lambda trail: {"trail": trail["Name"]})


@TRAILS.check("aws.cloudtrail.multi_region", "CloudTrail records every region", severity=Severity.HIGH)
def cloudtrail_multi_region(trail: dict[str, Any]) -> Verdict:
    multi = bool(trail.get("IsMultiRegionTrail"))
    where = "every region" if multi else f"only {trail.get('HomeRegion')}"
    return multi, f"Trail {trail['Name']} records {where}.", {"multi_region": multi}


TRAILS.check("aws.cloudtrail.log_file_validation", "CloudTrail log file validation is on", severity=Severity.MEDIUM)(
    _flag(
        "LogFileValidationEnabled",
        "log_file_validation",
        "Trail {Name} has log file validation {state}.",
        ("off", "on"),
    )
)


@TRAILS.check("aws.cloudtrail.logging_on", "CloudTrail trails are logging", reads="Status", severity=Severity.HIGH)
def cloudtrail_logging_on(trail: dict[str, Any]) -> Verdict:
    logging = bool((trail.get("Status") or {}).get("IsLogging"))
    return logging, f"Trail {trail['Name']} is {'logging' if logging else 'not logging'}.", {"is_logging": logging}


@TRAILS.check("aws.cloudtrail.kms_encryption", "CloudTrail logs are encrypted with a KMS key", severity=Severity.MEDIUM)
def cloudtrail_kms_encryption(trail: dict[str, Any]) -> Verdict:
    name, key = trail["Name"], trail.get("KmsKeyId")
    reason = f"Trail {name} encrypts its logs with KMS key {key}." if key else f"Trail {name} has no KMS key."
    return bool(key), reason, {"kms_key_id": key}


# -- S3 --------------------------------------------------------------------------------------

BLOCK_SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
NO_BLOCK = "NoSuchPublicAccessBlockConfiguration"  # the error that only means the block was never set
BUCKETS = Kind("aws.s3.buckets", lambda _, bucket: bucket["Arn"], lambda b: {"bucket": b["Name"]}, regional=False)


def _blocks_all(configuration: Any) -> bool:
    return isinstance(configuration, dict) and all(configuration.get(setting) is True for setting in BLOCK_SETTINGS)


@aws_check(
    "aws.s3.account_public_access_block",
    "S3 Block Public Access is on for the account",
    ("aws.s3.account_public_access_block",),
    severity=Severity.HIGH,
)
def s3_account_public_access_block(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    item = items[0]
    configuration = item.data.get("configuration") or {}
    error = read_error(configuration, absent=NO_BLOCK)
    if error is not None:
        yield unreadable(check_id, ACCOUNT, error, [item.id], "The account's public access block")
        return
    off = [setting for setting in BLOCK_SETTINGS if configuration.get(setting) is not True]
    reason = (
        "All four account-level S3 Block Public Access settings are on."
        if not off
        else "The account-level S3 Block Public Access is not set."
        if "error" in configuration
        else f"Account-level S3 Block Public Access settings off: {', '.join(off)}."
    )
    yield finding(check_id, passed_if(not off), ACCOUNT, reason, [item.id], settings_off=len(off))


@aws_check(
    "aws.s3.bucket_public_access_block",
    "Every bucket blocks public access (itself or through the account)",
    ("aws.s3.buckets", "aws.s3.account_public_access_block"),
    severity=Severity.HIGH,
)
def s3_bucket_public_access_block(
    check_id: str, buckets: list[StoredEvidence], accounts: list[StoredEvidence]
) -> Iterable[Finding]:
    account_blocks = _blocks_all(accounts[0].data.get("configuration"))

    def judge(bucket: dict[str, Any]) -> Verdict:
        name, bucket_blocks = bucket["Name"], _blocks_all(bucket.get("PublicAccessBlock"))
        if bucket_blocks:
            reason = f"Bucket {name} blocks all public access."
        elif account_blocks:
            reason = f"Bucket {name} has no full block of its own, but the account blocks all public access."
        else:
            reason = f"Neither bucket {name} nor the account blocks all public access."
        facts: Facts = {"bucket_blocks_all": bucket_blocks, "account_blocks_all": account_blocks}
        return bucket_blocks or account_blocks, reason, facts

    return BUCKETS.judged(check_id, buckets, judge, "PublicAccessBlock", NO_BLOCK, cited=(accounts[0].id,))


@BUCKETS.check(
    "aws.s3.bucket_encryption",
    "Every bucket has default encryption",
    reads="Encryption",
    absent="ServerSideEncryptionConfigurationNotFoundError",
    severity=Severity.MEDIUM,
)
def s3_bucket_encryption(bucket: dict[str, Any]) -> Verdict:
    rules = (bucket.get("Encryption") or {}).get("Rules", [])
    defaults = (rule.get("ApplyServerSideEncryptionByDefault", {}) for rule in rules)
    algorithms = sorted({default.get("SSEAlgorithm", "") for default in defaults} - {""})
    if algorithms:
        reason = f"Bucket {bucket['Name']} encrypts new objects by default with {', '.join(algorithms)}."
        return True, reason, {"algorithm": ", ".join(algorithms)}
    return False, f"Bucket {bucket['Name']} has no default encryption configured.", {"algorithm": None}


@BUCKETS.check(
    "aws.s3.bucket_versioning",
    "Every bucket has versioning enabled",
    reads="Versioning",
    severity=Severity.MEDIUM,
)
def s3_bucket_versioning(bucket: dict[str, Any]) -> Verdict:
    state = (bucket.get("Versioning") or {}).get("Status") or "Never enabled"
    return state == "Enabled", f"Bucket {bucket['Name']} versioning status is {state}.", {"versioning": state}


@BUCKETS.check(
    "aws.s3.bucket_access_logging",
    "Every bucket has server access logging",
    reads="Logging",
    severity=Severity.MEDIUM,
)
def s3_bucket_access_logging(bucket: dict[str, Any]) -> Verdict:
    target = ((bucket.get("Logging") or {}).get("LoggingEnabled") or {}).get("TargetBucket")
    if target:
        return True, f"Bucket {bucket['Name']} logs access to bucket {target}.", {"target_bucket": target}
    return False, f"Bucket {bucket['Name']} has no server access logging.", {"target_bucket": None}


def _denies_insecure_transport(policy: dict[str, Any]) -> bool:
    for statement in _as_list(policy.get("Statement")):
        condition = statement.get("Condition", {}).get("Bool", {})
        if statement.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport", "")).lower() == "false":
            return True
    return False


@BUCKETS.check(
    "aws.s3.bucket_tls_only",
    "Every bucket policy refuses requests without TLS",
    reads="Policy",
    absent="NoSuchBucketPolicy",
    severity=Severity.MEDIUM,
)
def s3_bucket_tls_only(bucket: dict[str, Any]) -> Verdict:
    name, policy = bucket["Name"], bucket.get("Policy")
    if not isinstance(policy, dict) or "error" in policy:
        return False, f"Bucket {name} has no bucket policy, so requests without TLS are allowed.", {"has_policy": False}
    denies = _denies_insecure_transport(policy)
    reason = (
        f"Bucket {name}'s policy denies requests where aws:SecureTransport is false."
        if denies
        else f"Bucket {name}'s policy does not deny requests without TLS."
    )
    return denies, reason, {"has_policy": True}


# ACL grantee groups that open a bucket to everyone, or to anyone with an AWS account.
PUBLIC_ACL_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers",
}
# Condition keys that pin a wildcard principal down to known accounts, networks or sources (AWS, "The meaning
# of public" in the S3 Block Public Access guide). Keys are case-insensitive.
RESTRICTING_CONDITION_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:SourceIp",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:SourceArn",
        "aws:SourceAccount",
        "aws:SourceOwner",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:userid",
        "s3:DataAccessPointAccount",
        "s3:DataAccessPointArn",
    )
)


def _restricts(condition: Any) -> bool:
    """Whether a statement's Condition narrows who may use it (a restricting key with no wildcard value)."""
    blocks = condition.values() if isinstance(condition, dict) else []
    return any(
        key.lower() in RESTRICTING_CONDITION_KEYS and not {"*", *WORLD_CIDRS} & {str(v) for v in _as_list(values)}
        for block in blocks
        if isinstance(block, dict)
        for key, values in block.items()
    )


def _public_statements(policy: dict[str, Any]) -> list[str]:
    """The statements (by Sid, else position) that allow any principal with no restricting Condition."""
    public = []
    for number, statement in enumerate(_as_list(policy.get("Statement")), 1):
        principal = statement.get("Principal")
        anyone = principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS")))
        if statement.get("Effect") == "Allow" and anyone and not _restricts(statement.get("Condition")):
            public.append(str(statement.get("Sid") or f"statement {number}"))
    return public


def _public_grants(acl: dict[str, Any]) -> list[str]:
    """The ACL's grants to everyone or to any AWS account, as 'AllUsers READ'."""
    return sorted(
        {
            f"{PUBLIC_ACL_GROUPS[uri]} {grant.get('Permission')}"
            for grant in acl.get("Grants", [])
            if (uri := (grant.get("Grantee") or {}).get("URI")) in PUBLIC_ACL_GROUPS
        }
    )


@aws_check(
    "aws.s3.bucket_public",
    "No bucket is public through its policy or its ACL",
    ("aws.s3.buckets", "aws.s3.account_public_access_block"),
    severity=Severity.CRITICAL,
)
def s3_bucket_public(check_id: str, buckets: list[StoredEvidence], accounts: list[StoredEvidence]) -> Iterable[Finding]:
    account_block = accounts[0].data.get("configuration")

    def judge(bucket: dict[str, Any]) -> Verdict:
        name, acl = bucket["Name"], bucket.get("Acl", {"error": "not in the stored evidence"})
        if (error := read_error(acl)) is not None:
            return Status.ERROR, cannot_read(f"The ACL of bucket {name}", error), {"error": error}
        policy = bucket.get("Policy")
        statements = _public_statements(policy) if read_error(policy) is None and isinstance(policy, dict) else []
        # AWS's own evaluation of the policy knows conditions the list above does not.
        aws_finds_public = (bucket.get("PolicyStatus") or {}).get("IsPublic") is True
        grants = _public_grants(acl)
        blocks = {"bucket": bucket.get("PublicAccessBlock"), "account": account_block}

        def blocked(setting: str) -> bool:
            return any(isinstance(block, dict) and block.get(setting) is True for block in blocks.values())

        opened = []
        if statements or aws_finds_public:
            listed = f" ({', '.join(statements)})" if statements else " (by AWS's policy status)"
            opened.append(("RestrictPublicBuckets", f"its policy lets anyone in{listed}"))
        if grants:
            opened.append(("IgnorePublicAcls", f"its ACL grants {', '.join(grants)}"))
        open_ways = [what for setting, what in opened if not blocked(setting)]
        overridden = [
            f"{what}, but Block Public Access ({setting}) overrides it" for setting, what in opened if blocked(setting)
        ]
        unread = {whose: problem for whose, block in blocks.items() if (problem := read_error(block, absent=NO_BLOCK))}
        if open_ways and unread:  # a block that could not be read may be the one that overrides it
            whose, problem = next(iter(unread.items()))
            reason = f"Bucket {name} would be public ({'; '.join(open_ways)}), but " + cannot_read(
                f"the {whose}'s Block Public Access, which may override it,", problem
            )
            return Status.ERROR, reason, {"error": problem}
        if open_ways:
            reason = f"Bucket {name} is public: {'; '.join(open_ways)}."
        elif overridden:
            reason = f"Bucket {name} is not public: {'; '.join(overridden)}."
        else:
            reason = f"Bucket {name} is not public: no policy statement or ACL grant opens it to everyone."
        facts: Facts = {
            "public_policy_statements": ", ".join(statements) or None,
            "policy_status_public": aws_finds_public,
            "public_acl_grants": ", ".join(grants) or None,
        }
        return not open_ways, reason, facts

    return BUCKETS.judged(check_id, buckets, judge, "Policy", "NoSuchBucketPolicy", cited=(accounts[0].id,))


# -- KMS -------------------------------------------------------------------------------------


def _alias(key: dict[str, Any]) -> str | None:
    return (key.get("Aliases") or [None])[0]


KEYS = Kind(
    "aws.kms.keys",
    resource=lambda region, key: _label(region, _alias(key), key["KeyMetadata"]["KeyId"]),
    names=lambda key: {"key_arn": key["KeyMetadata"]["Arn"], "alias": _alias(key)},
)


@KEYS.check("aws.kms.key_rotation", "Customer-managed KMS keys rotate yearly", severity=Severity.HIGH)
def kms_key_rotation(key: dict[str, Any]) -> Verdict:
    metadata, alias = key["KeyMetadata"], _alias(key)
    name = alias or metadata["KeyId"]
    # AWS reserves the alias/aws/ prefix for the keys it manages itself.
    aws_managed = metadata.get("KeyManager") != "CUSTOMER" or (alias or "").startswith("alias/aws/")
    if aws_managed or metadata.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        return Status.NOT_APPLICABLE, f"Key {name} is AWS-managed or asymmetric; rotation does not apply.", {}
    if metadata.get("KeyState") != "Enabled":
        return Status.NOT_APPLICABLE, f"Key {name} is {metadata.get('KeyState')}.", {}
    rotation = key.get("Rotation") or {}
    error = read_error(rotation)
    if error is not None:  # read only here: for the keys above, rotation does not apply, readable or not
        return Status.ERROR, cannot_read(f"Rotation of {name}", error), {"error": error}
    enabled = bool(rotation.get("KeyRotationEnabled"))
    return enabled, f"Key {name} has automatic rotation {'on' if enabled else 'off'}.", {"rotation_enabled": enabled}


# -- EC2 and VPC -----------------------------------------------------------------------------


def _group_label(region: str | None, group: dict[str, Any]) -> str:
    return _label(region, _tag(group) or group.get("GroupName"), group["GroupId"])


def _vpc_name(vpc: dict[str, Any]) -> str | None:
    return _tag(vpc) or ("default" if vpc.get("IsDefault") else None)


def _with_flow_logs(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Each VPC of a region with the flow logs that record it."""
    return [
        {**vpc, "FlowLogs": [log for log in data.get("FlowLogs", []) if log.get("ResourceId") == vpc["VpcId"]]}
        for vpc in data.get("Vpcs", [])
    ]


SECURITY_GROUPS = Kind("aws.ec2.security_groups", resource=_group_label)
DEFAULT_SECURITY_GROUPS = Kind(
    "aws.ec2.security_groups", _group_label, listed=lambda gs: [g for g in gs if g.get("GroupName") == "default"]
)
VOLUMES = Kind("aws.ec2.volumes", lambda region, volume: _label(region, _tag(volume), volume["VolumeId"]))
VPCS = Kind("aws.ec2.vpcs", lambda region, vpc: _label(region, _vpc_name(vpc), vpc["VpcId"]), listed=_with_flow_logs)


def _open_admin_ports(group: dict[str, Any]) -> list[int]:
    exposed = set()
    for rule in group.get("IpPermissions", []):
        ranges = [r.get("CidrIp") for r in rule.get("IpRanges", [])]
        ranges += [r.get("CidrIpv6") for r in rule.get("Ipv6Ranges", [])]
        if not any(cidr in WORLD_CIDRS for cidr in ranges):
            continue
        if rule.get("IpProtocol") == "-1":
            exposed.update(ADMIN_PORTS)
            continue
        low, high = rule.get("FromPort", 0), rule.get("ToPort", 65535)
        exposed.update(port for port in ADMIN_PORTS if low <= port <= high)
    return sorted(exposed)


@SECURITY_GROUPS.check(
    "aws.ec2.sg_admin_ports_open",
    "No security group opens SSH or RDP to the internet",
    severity=Severity.HIGH,
)
def ec2_sg_admin_ports_open(group: dict[str, Any]) -> Verdict:
    name, ports = group["GroupName"], ", ".join(map(str, _open_admin_ports(group)))
    reason = (
        f"Security group {name} allows ports {ports} from the whole internet."
        if ports
        else f"Security group {name} does not open SSH or RDP to the internet."
    )
    return not ports, reason, {"group_id": group["GroupId"], "open_admin_ports": ports or None}


@DEFAULT_SECURITY_GROUPS.check(
    "aws.ec2.default_sg_restricts_all",
    "Default security groups allow no traffic",
    severity=Severity.HIGH,
)
def ec2_default_sg_restricts_all(group: dict[str, Any]) -> Verdict:
    inbound, outbound = len(group.get("IpPermissions", [])), len(group.get("IpPermissionsEgress", []))
    facts: Facts = {"inbound_rules": inbound, "outbound_rules": outbound}
    vpc = group.get("VpcId")
    if inbound + outbound == 0:
        return True, f"The default group of {vpc} has no rules.", facts
    return False, f"The default group of {vpc} has {inbound} inbound and {outbound} outbound rules.", facts


@_per_region(
    "aws.ec2.ebs_default_encryption",
    "New EBS volumes are encrypted by default",
    "aws.ec2.ebs_encryption_by_default",
    severity=Severity.HIGH,
)
def ec2_ebs_default_encryption(region: str, setting: dict[str, Any]) -> Verdict:
    on = bool(setting.get("EbsEncryptionByDefault"))
    return on, f"EBS encryption by default is {'on' if on else 'off'} in {region}.", {"enabled": on}


@VPCS.check("aws.ec2.vpc_flow_logs", "Every VPC has flow logs", severity=Severity.MEDIUM)
def ec2_vpc_flow_logs(vpc: dict[str, Any]) -> Verdict:
    logged = any(log.get("FlowLogStatus", "ACTIVE") == "ACTIVE" for log in vpc["FlowLogs"])
    reason = f"VPC {_vpc_name(vpc) or vpc['VpcId']} has {'active' if logged else 'no'} flow logs."
    return logged, reason, {"vpc_id": vpc["VpcId"], "flow_logs": logged}


@VOLUMES.check("aws.ec2.ebs_volume_encrypted", "Every EBS volume is encrypted", severity=Severity.HIGH)
def ec2_ebs_volume_encrypted(volume: dict[str, Any]) -> Verdict:
    encrypted = bool(volume.get("Encrypted"))
    name = _tag(volume) or volume["VolumeId"]
    reason = f"Volume {name} ({volume.get('Size')} GiB) is {'encrypted' if encrypted else 'not encrypted'}."
    return encrypted, reason, {"volume_id": volume["VolumeId"], "encrypted": encrypted}


# -- RDS -------------------------------------------------------------------------------------

DATABASES = Kind(
    "aws.rds.instances",
    lambda _, db: db["DBInstanceArn"],
    lambda db: {"db_instance": db["DBInstanceIdentifier"]},
    tags="TagList",
)

DATABASES.check("aws.rds.storage_encrypted", "RDS storage is encrypted", severity=Severity.HIGH)(
    _flag(
        "StorageEncrypted",
        "storage_encrypted",
        "Database {DBInstanceIdentifier} storage is {state}.",
        ("not encrypted", "encrypted"),
    )
)
DATABASES.check("aws.rds.not_public", "RDS instances are not publicly accessible", severity=Severity.CRITICAL)(
    _flag(
        "PubliclyAccessible",
        "publicly_accessible",
        "Database {DBInstanceIdentifier} is {state}.",
        ("not publicly accessible", "publicly accessible"),
        passes_when=False,
    )
)
DATABASES.check("aws.rds.deletion_protection", "RDS instances have deletion protection", severity=Severity.MEDIUM)(
    _flag(
        "DeletionProtection",
        "deletion_protection",
        "Database {DBInstanceIdentifier} has deletion protection {state}.",
        ("off", "on"),
    )
)
DATABASES.check("aws.rds.multi_az", "RDS instances run in more than one availability zone", severity=Severity.MEDIUM)(
    _flag(
        "MultiAZ",
        "multi_az",
        "Database {DBInstanceIdentifier} is {state}.",
        ("in a single availability zone", "Multi-AZ"),
    )
)
DATABASES.check(
    "aws.rds.backup_retention",
    f"RDS keeps automated backups for at least {MIN_BACKUP_RETENTION_DAYS} days",
    severity=Severity.MEDIUM,
)(
    _at_least(
        "BackupRetentionPeriod",
        MIN_BACKUP_RETENTION_DAYS,
        "Database {DBInstanceIdentifier} keeps automated backups for {value} days; at least {minimum} is required.",
        ("retention_days", "required_days"),
    )
)


# -- CloudWatch alarms on CloudTrail metric filters (CIS 4.x) --------------------------------

# Event names or fields a metric filter pattern must mention to cover the activity (IAM policy changes: CIS 4.4's
# event names, shared with the log checks).
ROOT_USAGE_MARKERS = ('userIdentity.type = "Root"',)
CLOUDTRAIL_CHANGE_MARKERS = ("CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging")


def _normalise_pattern(pattern: str) -> str:
    return " ".join(pattern.replace("=", " = ").split())


def _all_regions(check_id: str, items: list[StoredEvidence]) -> tuple[list[tuple[str, dict[str, Any]]], list[Finding]]:
    """(region, entry) for every entry listed in the regions read, and the error findings of those AWS refused."""
    entries: list[tuple[str, dict[str, Any]]] = []

    def gather(_: str, region: str, listed: list[dict[str, Any]]) -> list[Finding]:
        entries.extend((region, entry) for entry in listed)
        return []

    errors = list(by_region(check_id, items, gather))
    return entries, errors


def _alarm_check(check_id: str, title: str, activity: str, markers: tuple[str, ...], *, severity: Severity) -> None:
    """Register a check that one metric filter catches the activity and an alarm with actions watches it."""

    def body(check_id: str, filters: list[StoredEvidence], alarms: list[StoredEvidence]) -> Iterator[Finding]:
        metric_filters, unread_filters = _all_regions(check_id, filters)
        metric_alarms, unread_alarms = _all_regions(check_id, alarms)
        yield from unread_filters + unread_alarms
        wanted = [_normalise_pattern(marker) for marker in markers]
        alarmed_metrics = {
            (alarm.get("Namespace"), alarm.get("MetricName"))
            for _, alarm in metric_alarms
            if alarm.get("ActionsEnabled", True) and alarm.get("AlarmActions")
        }
        covering = [
            (region, metric_filter)
            for region, metric_filter in metric_filters
            if all(marker in _normalise_pattern(metric_filter.get("filterPattern", "")) for marker in wanted)
        ]
        with_alarm = [
            (region, metric_filter)
            for region, metric_filter in covering
            if any(
                (metric.get("metricNamespace"), metric.get("metricName")) in alarmed_metrics
                for metric in metric_filter.get("metricTransformations", [])
            )
        ]
        if with_alarm:
            region, metric_filter = with_alarm[0]
            reason = (
                f"Metric filter {metric_filter['filterName']} in {region} catches {activity} "
                "and an alarm with actions watches its metric."
            )
        elif covering:
            reason = (
                f"{len(covering)} metric filters catch {activity}, but no alarm with actions watches their metrics."
            )
        else:
            reason = f"No CloudTrail metric filter catches {activity}."
        yield finding(
            check_id,
            passed_if(bool(with_alarm)),
            ACCOUNT,
            reason,
            [item.id for item in filters + alarms],
            covering_filters=len(covering),
            alarmed_filters=len(with_alarm),
        )

    aws_check(check_id, title, ("aws.logs.metric_filters", "aws.cloudwatch.alarms"), severity=severity)(body)


_alarm_check(
    "aws.cloudwatch.root_usage_alarm",
    "An alarm fires on root user activity",
    "root user activity",
    ROOT_USAGE_MARKERS,
    severity=Severity.MEDIUM,
)
_alarm_check(
    "aws.cloudwatch.iam_change_alarm",
    "An alarm fires on IAM policy changes",
    "IAM policy changes",
    CIS_IAM_POLICY_CHANGE_EVENTS,
    severity=Severity.MEDIUM,
)
_alarm_check(
    "aws.cloudwatch.cloudtrail_change_alarm",
    "An alarm fires on CloudTrail configuration changes",
    "CloudTrail configuration changes",
    CLOUDTRAIL_CHANGE_MARKERS,
    severity=Severity.MEDIUM,
)


# -- Config, GuardDuty, Backup ---------------------------------------------------------------


@_per_region(
    "aws.config.recorder_on",
    "AWS Config records all resources in every region",
    "aws.config.recorders",
    severity=Severity.MEDIUM,
)
def config_recorder_on(region: str, data: dict[str, Any]) -> Verdict:
    recording = {status["name"] for status in data.get("Status", []) if status.get("recording")}
    complete = [
        recorder["name"]
        for recorder in data.get("Recorders", [])
        if recorder["name"] in recording and recorder.get("recordingGroup", {}).get("allSupported")
    ]
    if complete:
        reason = f"Config recorder {complete[0]} records all supported resources in {region}."
    elif data.get("Recorders"):
        reason = f"The Config recorder in {region} is stopped or records only some resource types."
    else:
        reason = f"There is no AWS Config recorder in {region}."
    return bool(complete), reason, {"recorders": len(data.get("Recorders", []))}


@_per_region(
    "aws.guardduty.enabled",
    "GuardDuty is enabled in every region",
    "aws.guardduty.detectors",
    severity=Severity.HIGH,
)
def guardduty_enabled(region: str, detectors: list[dict[str, Any]]) -> Verdict:
    enabled = [detector["DetectorId"] for detector in detectors if detector.get("Status") == "ENABLED"]
    if enabled:
        return True, f"GuardDuty detector {enabled[0]} is enabled in {region}.", {"detectors": len(detectors)}
    return False, f"No enabled GuardDuty detector in {region}.", {"detectors": len(detectors)}


@aws_check(
    "aws.backup.plan_exists",
    "At least one AWS Backup plan exists",
    ("aws.backup.plans",),
    severity=Severity.LOW,
)
def backup_plan_exists(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    plans, unread = _all_regions(check_id, items)
    yield from unread
    regions = sorted({region for region, _ in plans})
    reason = (
        f"{len(plans)} AWS Backup plans exist (in {', '.join(regions)})."
        if plans
        else "No AWS Backup plan exists in any collected region."
    )
    yield finding(check_id, passed_if(bool(plans)), ACCOUNT, reason, [item.id for item in items], plans=len(plans))


BACKUP_PLANS = Kind(
    "aws.backup.plans",
    resource=lambda region, plan: _label(region, plan["BackupPlanName"], plan["BackupPlanId"]),
    names=lambda plan: {"plan": plan["BackupPlanName"]},
)


@BACKUP_PLANS.check(
    "aws.backup.plan_retention",
    f"Backup plans keep recovery points at least {MIN_BACKUP_RETENTION_DAYS} days",
    severity=Severity.LOW,
)
def backup_plan_retention(plan: dict[str, Any]) -> Verdict:
    # A rule with no deletion date keeps its recovery points forever.
    kept = [(rule.get("Lifecycle") or {}).get("DeleteAfterDays") for rule in plan.get("Rules", [])]
    shortest = min((days for days in kept if days is not None), default=None)
    reason = (
        f"Backup plan {plan['BackupPlanName']} keeps recovery points for {shortest} days under its shortest rule; "
        f"at least {MIN_BACKUP_RETENTION_DAYS} are required."
        if shortest is not None
        else f"Backup plan {plan['BackupPlanName']} keeps recovery points without an expiry."
    )
    ok = shortest is None or shortest >= MIN_BACKUP_RETENTION_DAYS
    return ok, reason, {"shortest_retention_days": shortest, "required_days": MIN_BACKUP_RETENTION_DAYS}


# -- tags, which say what is in the audit scope (tools/scope.py) ----------------------------------

for _kind in (REPORT_USERS, USERS, BUCKETS, KEYS, SECURITY_GROUPS, VOLUMES, VPCS, DATABASES):
    tag_reader(_kind.tool, _kind.resource_tags)
