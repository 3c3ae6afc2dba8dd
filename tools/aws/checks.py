"""AWS checks: judge stored AWS evidence, one finding per resource.

Each check reads only the EvidenceView it is given. Missing evidence gives a single error finding.
Thresholds are the module constants below (CIS AWS Foundations Benchmark values where CIS has one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from tools.catalog import EvidenceView, StoredEvidence, check
from tools.findings import Finding, Status

MAX_ACCESS_KEY_AGE_DAYS = 90
MAX_UNUSED_CREDENTIAL_DAYS = 45
MIN_PASSWORD_LENGTH = 14
MIN_PASSWORD_REUSE_PREVENTION = 24
MAX_PASSWORD_AGE_DAYS = 90
MIN_BACKUP_RETENTION_DAYS = 7
ADMIN_PORTS = (22, 3389)
WORLD_CIDRS = ("0.0.0.0/0", "::/0")
ACCOUNT = "aws-account"  # resource name for account-wide findings

Facts = dict[str, str | int | float | bool | None]


def _finding(check_id: str, status: Status, resource: str, reason: str, evidence: list[str], **facts: Any) -> Finding:
    return Finding(check=check_id, status=status, resource=resource, reason=reason, evidence_ids=evidence, facts=facts)


def _missing(check_id: str, tool: str) -> list[Finding]:
    return [
        _finding(check_id, Status.ERROR, ACCOUNT, f"No stored evidence from {tool}, so this cannot be judged.", [], tool=tool)
    ]


def _evidence_check(check_id: str, title: str, needs: tuple[str, ...]) -> Callable[[Callable[..., Iterator[Finding]]], Any]:
    """Register a check whose body yields findings; missing evidence becomes one error finding."""

    def register(body: Callable[..., Iterator[Finding]]) -> Any:
        def run(view: EvidenceView) -> list[Finding]:
            items = [view.all(tool) for tool in needs]
            for tool, found in zip(needs, items, strict=True):
                if not found:
                    return _missing(check_id, tool)
            findings = list(body(check_id, *items))
            if not findings:
                return [
                    _finding(
                        check_id, Status.NOT_APPLICABLE, ACCOUNT, "The evidence lists no resources of this kind.",
                        [item.id for group in items for item in group],
                    )
                ]
            return findings

        run.__name__ = body.__name__
        run.__doc__ = body.__doc__
        return check(check_id, title=title, needs=needs)(run)

    return register


def _regional(items: list[StoredEvidence]) -> Iterator[tuple[str, str, Any]]:
    """(evidence id, region, data) across all stored per-region evidence."""
    for item in items:
        for region, data in (item.data or {}).items():
            yield item.id, region, data


def _region_error(check_id: str, evidence_id: str, region: str, data: Any) -> Finding | None:
    if isinstance(data, dict) and "error" in data:
        return _finding(
            check_id, Status.ERROR, region, f"AWS answered {data['error']} when reading {region}.", [evidence_id],
            region=region, error=data["error"],
        )
    return None


def _days_since(timestamp: str | None, now: datetime | None = None) -> int | None:
    if not timestamp or timestamp in ("N/A", "no_information", "not_supported"):
        return None
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return ((now or datetime.now(UTC)) - moment).days


def _tag(resource: dict[str, Any], key: str = "Name") -> str | None:
    for tag in resource.get("Tags") or []:
        if tag.get("Key") == key:
            return tag.get("Value")
    return None


def _label(region: str, name: str | None, resource_id: str) -> str:
    """A readable, unique name for resources whose ids are random: region/name/id."""
    return f"{region}/{name or '-'}/{resource_id}"


def _status(ok: bool) -> Status:
    return Status.PASS if ok else Status.FAIL


# -- IAM: root and account -------------------------------------------------------------------


def _root_arn(summary: StoredEvidence) -> str:
    return f"arn:aws:iam::{summary.data.get('account_id', 'unknown')}:root"


@_evidence_check("aws.iam.root_mfa", "The root user has MFA enabled", ("aws.iam.account_summary",))
def root_mfa(check_id: str, summaries: list[StoredEvidence]) -> Iterator[Finding]:
    summary = summaries[0]
    enabled = summary.data["summary"].get("AccountMFAEnabled") == 1
    reason = "The root user has MFA enabled." if enabled else "The root user has no MFA device (AccountMFAEnabled is 0)."
    yield _finding(check_id, _status(enabled), _root_arn(summary), reason, [summary.id], account_mfa_enabled=enabled)


@_evidence_check("aws.iam.root_access_keys", "The root user has no access keys", ("aws.iam.account_summary",))
def root_access_keys(check_id: str, summaries: list[StoredEvidence]) -> Iterator[Finding]:
    summary = summaries[0]
    present = summary.data["summary"].get("AccountAccessKeysPresent", 0)
    reason = "The root user has no access keys." if not present else "The root user has access keys."
    yield _finding(check_id, _status(not present), _root_arn(summary), reason, [summary.id], root_access_keys_present=present)


def _password_policy_check(
    check_id: str, items: list[StoredEvidence], judge: Callable[[dict[str, Any]], tuple[bool, str, Facts]]
) -> Iterator[Finding]:
    item = items[0]
    resource = "account-password-policy"
    if "policy" not in item.data:
        error = item.data.get("error")
        if error == "NoSuchEntity":
            yield _finding(check_id, Status.FAIL, resource, "The account has no password policy.", [item.id], policy_set=False)
        else:
            yield _finding(check_id, Status.ERROR, resource, f"AWS answered {error} for the password policy.", [item.id], error=error)
        return
    ok, reason, facts = judge(item.data["policy"])
    yield _finding(check_id, _status(ok), resource, reason, [item.id], **facts)


@_evidence_check("aws.iam.password_policy_length", f"Passwords are at least {MIN_PASSWORD_LENGTH} characters", ("aws.iam.password_policy",))
def password_policy_length(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(policy: dict[str, Any]) -> tuple[bool, str, Facts]:
        length = policy.get("MinimumPasswordLength", 0)
        return (
            length >= MIN_PASSWORD_LENGTH,
            f"The minimum password length is {length}; at least {MIN_PASSWORD_LENGTH} is required.",
            {"minimum_length": length, "required_length": MIN_PASSWORD_LENGTH},
        )

    yield from _password_policy_check(check_id, items, judge)


@_evidence_check("aws.iam.password_policy_complexity", "Passwords need upper and lower case, numbers and symbols", ("aws.iam.password_policy",))
def password_policy_complexity(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    rules = {
        "RequireUppercaseCharacters": "uppercase letters",
        "RequireLowercaseCharacters": "lowercase letters",
        "RequireNumbers": "numbers",
        "RequireSymbols": "symbols",
    }

    def judge(policy: dict[str, Any]) -> tuple[bool, str, Facts]:
        missing = [label for key, label in rules.items() if not policy.get(key)]
        reason = (
            "The password policy requires uppercase and lowercase letters, numbers and symbols."
            if not missing
            else f"The password policy does not require {', '.join(missing)}."
        )
        return not missing, reason, {"missing_requirements": len(missing), **{key: bool(policy.get(key)) for key in rules}}

    yield from _password_policy_check(check_id, items, judge)


@_evidence_check("aws.iam.password_policy_reuse", f"The last {MIN_PASSWORD_REUSE_PREVENTION} passwords cannot be reused", ("aws.iam.password_policy",))
def password_policy_reuse(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(policy: dict[str, Any]) -> tuple[bool, str, Facts]:
        reuse = policy.get("PasswordReusePrevention", 0)
        return (
            reuse >= MIN_PASSWORD_REUSE_PREVENTION,
            f"The password policy prevents reuse of the last {reuse} passwords; {MIN_PASSWORD_REUSE_PREVENTION} is required.",
            {"reuse_prevention": reuse, "required": MIN_PASSWORD_REUSE_PREVENTION},
        )

    yield from _password_policy_check(check_id, items, judge)


@_evidence_check("aws.iam.password_policy_expiry", f"Passwords expire within {MAX_PASSWORD_AGE_DAYS} days", ("aws.iam.password_policy",))
def password_policy_expiry(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(policy: dict[str, Any]) -> tuple[bool, str, Facts]:
        max_age = policy.get("MaxPasswordAge")
        if not max_age:
            return False, "Passwords never expire.", {"max_password_age_days": None, "limit_days": MAX_PASSWORD_AGE_DAYS}
        return (
            max_age <= MAX_PASSWORD_AGE_DAYS,
            f"Passwords expire after {max_age} days; the limit is {MAX_PASSWORD_AGE_DAYS}.",
            {"max_password_age_days": max_age, "limit_days": MAX_PASSWORD_AGE_DAYS},
        )

    yield from _password_policy_check(check_id, items, judge)


# -- IAM: users and policies -----------------------------------------------------------------


def _report_rows(items: list[StoredEvidence]) -> Iterator[tuple[str, dict[str, str]]]:
    for item in items:
        for row in item.data.get("rows", []):
            if row.get("user") != "<root_account>":
                yield item.id, row


@_evidence_check("aws.iam.console_user_mfa", "Every console user has MFA", ("aws.iam.credential_report",))
def console_user_mfa(check_id: str, reports: list[StoredEvidence]) -> Iterator[Finding]:
    for evidence_id, row in _report_rows(reports):
        user = row["user"]
        if row.get("password_enabled") != "true":
            yield _finding(check_id, Status.NOT_APPLICABLE, row["arn"], f"{user} has no console password.", [evidence_id], user=user)
            continue
        mfa = row.get("mfa_active") == "true"
        reason = f"Console user {user} has MFA enabled." if mfa else f"Console user {user} has no MFA device."
        yield _finding(check_id, _status(mfa), row["arn"], reason, [evidence_id], user=user, mfa_active=mfa)


@_evidence_check("aws.iam.access_key_age", f"Active access keys are rotated within {MAX_ACCESS_KEY_AGE_DAYS} days", ("aws.iam.credential_report",))
def access_key_age(check_id: str, reports: list[StoredEvidence]) -> Iterator[Finding]:
    for evidence_id, row in _report_rows(reports):
        user = row["user"]
        ages = [
            _days_since(row.get(f"access_key_{n}_last_rotated"))
            for n in (1, 2)
            if row.get(f"access_key_{n}_active") == "true"
        ]
        ages = [age for age in ages if age is not None]
        if not ages:
            yield _finding(check_id, Status.NOT_APPLICABLE, row["arn"], f"{user} has no active access keys.", [evidence_id], user=user)
            continue
        oldest = max(ages)
        yield _finding(
            check_id, _status(oldest <= MAX_ACCESS_KEY_AGE_DAYS), row["arn"],
            f"{user}'s oldest active access key is {oldest} days old; the limit is {MAX_ACCESS_KEY_AGE_DAYS}.",
            [evidence_id], user=user, key_age_days=oldest, active_keys=len(ages), limit_days=MAX_ACCESS_KEY_AGE_DAYS,
        )


@_evidence_check("aws.iam.unused_credentials", f"Credentials unused for {MAX_UNUSED_CREDENTIAL_DAYS} days are disabled", ("aws.iam.credential_report",))
def unused_credentials(check_id: str, reports: list[StoredEvidence]) -> Iterator[Finding]:
    for evidence_id, row in _report_rows(reports):
        user = row["user"]
        # Idle days per credential: since last use, or since it was issued when never used.
        idle: dict[str, int] = {}
        if row.get("password_enabled") == "true":
            days = _days_since(row.get("password_last_used"))
            idle["password"] = days if days is not None else _days_since(row.get("password_last_changed")) or 0
        for n in (1, 2):
            if row.get(f"access_key_{n}_active") == "true":
                days = _days_since(row.get(f"access_key_{n}_last_used_date"))
                idle[f"access_key_{n}"] = days if days is not None else _days_since(row.get(f"access_key_{n}_last_rotated")) or 0
        if not idle:
            yield _finding(check_id, Status.NOT_APPLICABLE, row["arn"], f"{user} has no password or active access key.", [evidence_id], user=user)
            continue
        stale = sorted(name for name, days in idle.items() if days > MAX_UNUSED_CREDENTIAL_DAYS)
        most_idle = max(idle.values())
        reason = (
            f"{user}'s credentials ({', '.join(stale)}) have been unused for up to {most_idle} days; the limit is {MAX_UNUSED_CREDENTIAL_DAYS}."
            if stale
            else f"{user}'s credentials were all used or issued within {MAX_UNUSED_CREDENTIAL_DAYS} days."
        )
        yield _finding(
            check_id, _status(not stale), row["arn"], reason, [evidence_id],
            user=user, max_idle_days=most_idle, stale_credentials=len(stale), limit_days=MAX_UNUSED_CREDENTIAL_DAYS,
        )


@_evidence_check("aws.iam.user_direct_policies", "Users get permissions through groups or roles only", ("aws.iam.users",))
def user_direct_policies(check_id: str, users: list[StoredEvidence]) -> Iterator[Finding]:
    for item in users:
        for user in item.data:
            inline = len(user.get("InlinePolicies", []))
            attached = len(user.get("AttachedPolicies", []))
            ok = inline + attached == 0
            reason = (
                f"{user['UserName']} has no policies of its own."
                if ok
                else f"{user['UserName']} has {attached} attached and {inline} inline policies directly on the user."
            )
            yield _finding(check_id, _status(ok), user["Arn"], reason, [item.id], user=user["UserName"], attached_policies=attached, inline_policies=inline)


def _grants_full_admin(document: Any) -> bool:
    if isinstance(document, str):
        document = json.loads(document)
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if statement.get("Effect") == "Allow" and "*" in actions and "*" in resources:
            return True
    return False


@_evidence_check("aws.iam.admin_privileges", "No attached policy grants full *:* administrator rights", ("aws.iam.policies",))
def admin_privileges(check_id: str, policies: list[StoredEvidence]) -> Iterator[Finding]:
    for item in policies:
        for policy in item.data.get("customer_managed", []):
            attached = policy.get("AttachmentCount", 0)
            full = _grants_full_admin(policy.get("Document", {}))
            if full and attached:
                reason = f"Policy {policy['PolicyName']} allows every action on every resource and has {attached} attachments."
            elif full:
                reason = f"Policy {policy['PolicyName']} allows every action on every resource but is not attached."
            else:
                reason = f"Policy {policy['PolicyName']} does not grant full administrator rights."
            yield _finding(
                check_id, _status(not (full and attached)), policy["Arn"], reason, [item.id],
                policy=policy["PolicyName"], full_admin=full, attachment_count=attached,
            )
        admin = item.data.get("aws_managed_attachments", {}).get("AdministratorAccess")
        if admin and "error" not in admin:
            users = [user["UserName"] for user in admin.get("PolicyUsers", [])]
            reason = (
                f"AdministratorAccess is attached directly to users: {', '.join(users)}."
                if users
                else "AdministratorAccess is not attached directly to any user."
            )
            yield _finding(
                check_id, _status(not users), admin["arn"], reason, [item.id],
                users_with_admin=len(users), groups_with_admin=len(admin.get("PolicyGroups", [])),
                roles_with_admin=len(admin.get("PolicyRoles", [])),
            )


@_evidence_check("aws.iam.support_role", "A role can manage incidents with AWS Support", ("aws.iam.policies",))
def support_role(check_id: str, policies: list[StoredEvidence]) -> Iterator[Finding]:
    item = policies[0]
    support = item.data.get("aws_managed_attachments", {}).get("AWSSupportAccess")
    if not support or "error" in support:
        error = (support or {}).get("error", "no data")
        yield _finding(check_id, Status.ERROR, "arn:aws:iam::aws:policy/AWSSupportAccess", f"Attachments of AWSSupportAccess could not be read ({error}).", [item.id])
        return
    holders = len(support.get("PolicyUsers", [])) + len(support.get("PolicyGroups", [])) + len(support.get("PolicyRoles", []))
    reason = (
        f"AWSSupportAccess has {holders} attachments to users, groups or roles."
        if holders
        else "AWSSupportAccess is attached to no user, group or role."
    )
    yield _finding(check_id, _status(holders > 0), support["arn"], reason, [item.id], attachments=holders)


# -- CloudTrail ------------------------------------------------------------------------------


def _trails(items: list[StoredEvidence], check_id: str) -> Iterator[tuple[str, dict[str, Any] | Finding]]:
    for evidence_id, region, trails in _regional(items):
        error = _region_error(check_id, evidence_id, region, trails)
        if error:
            yield evidence_id, error
            continue
        for trail in trails:
            yield evidence_id, trail


def _per_trail(check_id: str, items: list[StoredEvidence], judge: Callable[[dict[str, Any]], tuple[bool, str, Facts]]) -> Iterator[Finding]:
    for evidence_id, trail in _trails(items, check_id):
        if isinstance(trail, Finding):
            yield trail
            continue
        ok, reason, facts = judge(trail)
        yield _finding(check_id, _status(ok), trail["TrailARN"], reason, [evidence_id], trail=trail["Name"], **facts)


@_evidence_check("aws.cloudtrail.multi_region", "CloudTrail records every region", ("aws.cloudtrail.trails",))
def cloudtrail_multi_region(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(trail: dict[str, Any]) -> tuple[bool, str, Facts]:
        multi = bool(trail.get("IsMultiRegionTrail"))
        where = "every region" if multi else f"only {trail.get('HomeRegion')}"
        return multi, f"Trail {trail['Name']} records {where}.", {"multi_region": multi}

    yield from _per_trail(check_id, items, judge)


@_evidence_check("aws.cloudtrail.log_file_validation", "CloudTrail log file validation is on", ("aws.cloudtrail.trails",))
def cloudtrail_log_file_validation(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(trail: dict[str, Any]) -> tuple[bool, str, Facts]:
        on = bool(trail.get("LogFileValidationEnabled"))
        return on, f"Trail {trail['Name']} has log file validation {'on' if on else 'off'}.", {"log_file_validation": on}

    yield from _per_trail(check_id, items, judge)


@_evidence_check("aws.cloudtrail.logging_on", "CloudTrail trails are logging", ("aws.cloudtrail.trails",))
def cloudtrail_logging_on(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(trail: dict[str, Any]) -> tuple[bool, str, Facts]:
        status = trail.get("Status") or {}
        logging = bool(status.get("IsLogging"))
        return logging, f"Trail {trail['Name']} is {'logging' if logging else 'not logging'}.", {"is_logging": logging}

    yield from _per_trail(check_id, items, judge)


@_evidence_check("aws.cloudtrail.kms_encryption", "CloudTrail logs are encrypted with a KMS key", ("aws.cloudtrail.trails",))
def cloudtrail_kms_encryption(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(trail: dict[str, Any]) -> tuple[bool, str, Facts]:
        key = trail.get("KmsKeyId")
        reason = f"Trail {trail['Name']} encrypts its logs with KMS key {key}." if key else f"Trail {trail['Name']} has no KMS key."
        return bool(key), reason, {"kms_key_id": key}

    yield from _per_trail(check_id, items, judge)


# -- S3 --------------------------------------------------------------------------------------

BLOCK_SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _blocks_all(configuration: Any) -> bool:
    return isinstance(configuration, dict) and all(configuration.get(setting) is True for setting in BLOCK_SETTINGS)


@_evidence_check("aws.s3.account_public_access_block", "S3 Block Public Access is on for the account", ("aws.s3.account_public_access_block",))
def s3_account_public_access_block(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    item = items[0]
    configuration = item.data.get("configuration") or {}
    resource = f"arn:aws:s3:::account/{item.data.get('account_id')}"
    error = configuration.get("error")
    if error and error != "NoSuchPublicAccessBlockConfiguration":
        yield _finding(check_id, Status.ERROR, resource, f"AWS answered {error} for the account's public access block.", [item.id], error=error)
        return
    off = [setting for setting in BLOCK_SETTINGS if configuration.get(setting) is not True]
    reason = (
        "All four account-level S3 Block Public Access settings are on."
        if not off
        else "The account-level S3 Block Public Access is not set." if error
        else f"Account-level S3 Block Public Access settings off: {', '.join(off)}."
    )
    yield _finding(check_id, _status(not off), resource, reason, [item.id], settings_off=len(off))


def _per_bucket(check_id: str, items: list[StoredEvidence], judge: Callable[[dict[str, Any]], tuple[Status, str, Facts]]) -> Iterator[Finding]:
    for item in items:
        for bucket in item.data:
            status, reason, facts = judge(bucket)
            yield _finding(check_id, status, bucket["Arn"], reason, [item.id], bucket=bucket["Name"], **facts)


def _read_error(value: Any, expected_absent: str) -> str | None:
    """An AWS error other than 'this is not configured', which cannot be judged."""
    if isinstance(value, dict) and "error" in value and value["error"] != expected_absent:
        return value["error"]
    return None


@_evidence_check(
    "aws.s3.bucket_public_access_block",
    "Every bucket blocks public access (itself or through the account)",
    ("aws.s3.buckets", "aws.s3.account_public_access_block"),
)
def s3_bucket_public_access_block(check_id: str, buckets: list[StoredEvidence], accounts: list[StoredEvidence]) -> Iterator[Finding]:
    account_blocks = _blocks_all(accounts[0].data.get("configuration"))
    for item in buckets:
        for bucket in item.data:
            evidence = [item.id, accounts[0].id]
            error = _read_error(bucket.get("PublicAccessBlock"), "NoSuchPublicAccessBlockConfiguration")
            if error:
                yield _finding(check_id, Status.ERROR, bucket["Arn"], f"AWS answered {error} for {bucket['Name']}'s public access block.", evidence, bucket=bucket["Name"])
                continue
            bucket_blocks = _blocks_all(bucket.get("PublicAccessBlock"))
            if bucket_blocks:
                reason = f"Bucket {bucket['Name']} blocks all public access."
            elif account_blocks:
                reason = f"Bucket {bucket['Name']} has no full block of its own, but the account blocks all public access."
            else:
                reason = f"Neither bucket {bucket['Name']} nor the account blocks all public access."
            yield _finding(
                check_id, _status(bucket_blocks or account_blocks), bucket["Arn"], reason, evidence,
                bucket=bucket["Name"], bucket_blocks_all=bucket_blocks, account_blocks_all=account_blocks,
            )


@_evidence_check("aws.s3.bucket_encryption", "Every bucket has default encryption", ("aws.s3.buckets",))
def s3_bucket_encryption(check_id: str, buckets: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(bucket: dict[str, Any]) -> tuple[Status, str, Facts]:
        encryption = bucket.get("Encryption")
        error = _read_error(encryption, "ServerSideEncryptionConfigurationNotFoundError")
        if error:
            return Status.ERROR, f"AWS answered {error} for {bucket['Name']}'s encryption.", {"error": error}
        rules = encryption.get("Rules", []) if isinstance(encryption, dict) else []
        algorithms = sorted({rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "") for rule in rules} - {""})
        if algorithms:
            return Status.PASS, f"Bucket {bucket['Name']} encrypts new objects by default with {', '.join(algorithms)}.", {"algorithm": ", ".join(algorithms)}
        return Status.FAIL, f"Bucket {bucket['Name']} has no default encryption configured.", {"algorithm": None}

    yield from _per_bucket(check_id, buckets, judge)


@_evidence_check("aws.s3.bucket_versioning", "Every bucket has versioning enabled", ("aws.s3.buckets",))
def s3_bucket_versioning(check_id: str, buckets: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(bucket: dict[str, Any]) -> tuple[Status, str, Facts]:
        versioning = bucket.get("Versioning") or {}
        if "error" in versioning:
            return Status.ERROR, f"AWS answered {versioning['error']} for {bucket['Name']}'s versioning.", {"error": versioning["error"]}
        state = versioning.get("Status") or "Never enabled"
        return _status(state == "Enabled"), f"Bucket {bucket['Name']} versioning status is {state}.", {"versioning": state}

    yield from _per_bucket(check_id, buckets, judge)


@_evidence_check("aws.s3.bucket_access_logging", "Every bucket has server access logging", ("aws.s3.buckets",))
def s3_bucket_access_logging(check_id: str, buckets: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(bucket: dict[str, Any]) -> tuple[Status, str, Facts]:
        logging = bucket.get("Logging") or {}
        if "error" in logging:
            return Status.ERROR, f"AWS answered {logging['error']} for {bucket['Name']}'s logging.", {"error": logging["error"]}
        target = (logging.get("LoggingEnabled") or {}).get("TargetBucket")
        if target:
            return Status.PASS, f"Bucket {bucket['Name']} logs access to bucket {target}.", {"target_bucket": target}
        return Status.FAIL, f"Bucket {bucket['Name']} has no server access logging.", {"target_bucket": None}

    yield from _per_bucket(check_id, buckets, judge)


def _denies_insecure_transport(policy: dict[str, Any]) -> bool:
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    for statement in statements:
        condition = statement.get("Condition", {}).get("Bool", {})
        if statement.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport", "")).lower() == "false":
            return True
    return False


@_evidence_check("aws.s3.bucket_tls_only", "Every bucket policy refuses requests without TLS", ("aws.s3.buckets",))
def s3_bucket_tls_only(check_id: str, buckets: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(bucket: dict[str, Any]) -> tuple[Status, str, Facts]:
        policy = bucket.get("Policy")
        error = _read_error(policy, "NoSuchBucketPolicy")
        if error:
            return Status.ERROR, f"AWS answered {error} for {bucket['Name']}'s bucket policy.", {"error": error}
        if not isinstance(policy, dict) or "error" in policy:
            return Status.FAIL, f"Bucket {bucket['Name']} has no bucket policy, so requests without TLS are allowed.", {"has_policy": False}
        denies = _denies_insecure_transport(policy)
        reason = (
            f"Bucket {bucket['Name']}'s policy denies requests where aws:SecureTransport is false."
            if denies
            else f"Bucket {bucket['Name']}'s policy does not deny requests without TLS."
        )
        return _status(denies), reason, {"has_policy": True}

    yield from _per_bucket(check_id, buckets, judge)


# -- KMS -------------------------------------------------------------------------------------


@_evidence_check("aws.kms.key_rotation", "Customer-managed KMS keys rotate yearly", ("aws.kms.keys",))
def kms_key_rotation(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    for evidence_id, region, keys in _regional(items):
        error = _region_error(check_id, evidence_id, region, keys)
        if error:
            yield error
            continue
        for key in keys:
            metadata = key["KeyMetadata"]
            name = (key.get("Aliases") or [None])[0]
            resource = _label(region, name, metadata["KeyId"])
            facts: dict[str, Any] = {"key_arn": metadata["Arn"], "alias": name}
            # AWS reserves the alias/aws/ prefix for the keys it manages itself.
            aws_managed = metadata.get("KeyManager") != "CUSTOMER" or (name or "").startswith("alias/aws/")
            if aws_managed or metadata.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
                yield _finding(check_id, Status.NOT_APPLICABLE, resource, f"Key {name or metadata['KeyId']} is AWS-managed or asymmetric; rotation does not apply.", [evidence_id], **facts)
                continue
            if metadata.get("KeyState") != "Enabled":
                yield _finding(check_id, Status.NOT_APPLICABLE, resource, f"Key {name or metadata['KeyId']} is {metadata.get('KeyState')}.", [evidence_id], **facts)
                continue
            rotation = key.get("Rotation") or {}
            if "error" in rotation:
                yield _finding(check_id, Status.ERROR, resource, f"AWS answered {rotation['error']} for the rotation status of {name or metadata['KeyId']}.", [evidence_id], **facts)
                continue
            enabled = bool(rotation.get("KeyRotationEnabled"))
            reason = f"Key {name or metadata['KeyId']} has automatic rotation {'on' if enabled else 'off'}."
            yield _finding(check_id, _status(enabled), resource, reason, [evidence_id], rotation_enabled=enabled, **facts)


# -- EC2 and VPC -----------------------------------------------------------------------------


def _group_label(region: str, group: dict[str, Any]) -> str:
    return _label(region, _tag(group) or group.get("GroupName"), group["GroupId"])


def _open_admin_ports(group: dict[str, Any]) -> list[int]:
    exposed = set()
    for rule in group.get("IpPermissions", []):
        cidrs = [r.get("CidrIp") for r in rule.get("IpRanges", [])] + [r.get("CidrIpv6") for r in rule.get("Ipv6Ranges", [])]
        if not any(cidr in WORLD_CIDRS for cidr in cidrs):
            continue
        if rule.get("IpProtocol") == "-1":
            exposed.update(ADMIN_PORTS)
            continue
        low, high = rule.get("FromPort", 0), rule.get("ToPort", 65535)
        exposed.update(port for port in ADMIN_PORTS if low <= port <= high)
    return sorted(exposed)


@_evidence_check("aws.ec2.sg_admin_ports_open", "No security group opens SSH or RDP to the internet", ("aws.ec2.security_groups",))
def ec2_sg_admin_ports_open(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    for evidence_id, region, groups in _regional(items):
        error = _region_error(check_id, evidence_id, region, groups)
        if error:
            yield error
            continue
        for group in groups:
            ports = _open_admin_ports(group)
            reason = (
                f"Security group {group['GroupName']} allows ports {', '.join(map(str, ports))} from the whole internet."
                if ports
                else f"Security group {group['GroupName']} does not open SSH or RDP to the internet."
            )
            yield _finding(
                check_id, _status(not ports), _group_label(region, group), reason, [evidence_id],
                group_id=group["GroupId"], open_admin_ports=", ".join(map(str, ports)) or None,
            )


@_evidence_check("aws.ec2.default_sg_restricts_all", "Default security groups allow no traffic", ("aws.ec2.security_groups",))
def ec2_default_sg_restricts_all(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    for evidence_id, region, groups in _regional(items):
        error = _region_error(check_id, evidence_id, region, groups)
        if error:
            yield error
            continue
        for group in groups:
            if group.get("GroupName") != "default":
                continue
            inbound, outbound = len(group.get("IpPermissions", [])), len(group.get("IpPermissionsEgress", []))
            ok = inbound + outbound == 0
            reason = (
                f"The default group of {group.get('VpcId')} has no rules."
                if ok
                else f"The default group of {group.get('VpcId')} has {inbound} inbound and {outbound} outbound rules."
            )
            yield _finding(check_id, _status(ok), _group_label(region, group), reason, [evidence_id], inbound_rules=inbound, outbound_rules=outbound)


@_evidence_check("aws.ec2.ebs_default_encryption", "New EBS volumes are encrypted by default", ("aws.ec2.ebs_encryption_by_default",))
def ec2_ebs_default_encryption(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    for evidence_id, region, setting in _regional(items):
        error = _region_error(check_id, evidence_id, region, setting)
        if error:
            yield error
            continue
        on = bool(setting.get("EbsEncryptionByDefault"))
        yield _finding(check_id, _status(on), region, f"EBS encryption by default is {'on' if on else 'off'} in {region}.", [evidence_id], region=region, enabled=on)


@_evidence_check("aws.ec2.vpc_flow_logs", "Every VPC has flow logs", ("aws.ec2.vpcs",))
def ec2_vpc_flow_logs(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    for evidence_id, region, data in _regional(items):
        error = _region_error(check_id, evidence_id, region, data)
        if error:
            yield error
            continue
        logged = {log.get("ResourceId") for log in data.get("FlowLogs", []) if log.get("FlowLogStatus", "ACTIVE") == "ACTIVE"}
        for vpc in data.get("Vpcs", []):
            vpc_id = vpc["VpcId"]
            name = _tag(vpc) or ("default" if vpc.get("IsDefault") else None)
            has_logs = vpc_id in logged
            reason = f"VPC {name or vpc_id} has {'active' if has_logs else 'no'} flow logs."
            yield _finding(check_id, _status(has_logs), _label(region, name, vpc_id), reason, [evidence_id], vpc_id=vpc_id, flow_logs=has_logs)


@_evidence_check("aws.ec2.ebs_volume_encrypted", "Every EBS volume is encrypted", ("aws.ec2.volumes",))
def ec2_ebs_volume_encrypted(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    for evidence_id, region, volumes in _regional(items):
        error = _region_error(check_id, evidence_id, region, volumes)
        if error:
            yield error
            continue
        for volume in volumes:
            name = _tag(volume)
            encrypted = bool(volume.get("Encrypted"))
            reason = f"Volume {name or volume['VolumeId']} ({volume.get('Size')} GiB) is {'encrypted' if encrypted else 'not encrypted'}."
            yield _finding(check_id, _status(encrypted), _label(region, name, volume["VolumeId"]), reason, [evidence_id], volume_id=volume["VolumeId"], encrypted=encrypted)


# -- RDS -------------------------------------------------------------------------------------


def _per_db(check_id: str, items: list[StoredEvidence], judge: Callable[[dict[str, Any]], tuple[bool, str, Facts]]) -> Iterator[Finding]:
    for evidence_id, region, instances in _regional(items):
        error = _region_error(check_id, evidence_id, region, instances)
        if error:
            yield error
            continue
        for instance in instances:
            ok, reason, facts = judge(instance)
            yield _finding(check_id, _status(ok), instance["DBInstanceArn"], reason, [evidence_id], db_instance=instance["DBInstanceIdentifier"], **facts)


@_evidence_check("aws.rds.storage_encrypted", "RDS storage is encrypted", ("aws.rds.instances",))
def rds_storage_encrypted(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(db: dict[str, Any]) -> tuple[bool, str, Facts]:
        on = bool(db.get("StorageEncrypted"))
        return on, f"Database {db['DBInstanceIdentifier']} storage is {'encrypted' if on else 'not encrypted'}.", {"storage_encrypted": on}

    yield from _per_db(check_id, items, judge)


@_evidence_check("aws.rds.backup_retention", f"RDS keeps automated backups for at least {MIN_BACKUP_RETENTION_DAYS} days", ("aws.rds.instances",))
def rds_backup_retention(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(db: dict[str, Any]) -> tuple[bool, str, Facts]:
        days = int(db.get("BackupRetentionPeriod") or 0)
        return (
            days >= MIN_BACKUP_RETENTION_DAYS,
            f"Database {db['DBInstanceIdentifier']} keeps automated backups for {days} days; at least {MIN_BACKUP_RETENTION_DAYS} is required.",
            {"retention_days": days, "required_days": MIN_BACKUP_RETENTION_DAYS},
        )

    yield from _per_db(check_id, items, judge)


@_evidence_check("aws.rds.not_public", "RDS instances are not publicly accessible", ("aws.rds.instances",))
def rds_not_public(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(db: dict[str, Any]) -> tuple[bool, str, Facts]:
        public = bool(db.get("PubliclyAccessible"))
        return not public, f"Database {db['DBInstanceIdentifier']} is {'publicly accessible' if public else 'not publicly accessible'}.", {"publicly_accessible": public}

    yield from _per_db(check_id, items, judge)


@_evidence_check("aws.rds.deletion_protection", "RDS instances have deletion protection", ("aws.rds.instances",))
def rds_deletion_protection(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(db: dict[str, Any]) -> tuple[bool, str, Facts]:
        on = bool(db.get("DeletionProtection"))
        return on, f"Database {db['DBInstanceIdentifier']} has deletion protection {'on' if on else 'off'}.", {"deletion_protection": on}

    yield from _per_db(check_id, items, judge)


@_evidence_check("aws.rds.multi_az", "RDS instances run in more than one availability zone", ("aws.rds.instances",))
def rds_multi_az(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(db: dict[str, Any]) -> tuple[bool, str, Facts]:
        on = bool(db.get("MultiAZ"))
        return on, f"Database {db['DBInstanceIdentifier']} is {'Multi-AZ' if on else 'in a single availability zone'}.", {"multi_az": on}

    yield from _per_db(check_id, items, judge)


# -- CloudWatch alarms on CloudTrail metric filters (CIS 4.x) --------------------------------

# Event names or fields a metric filter pattern must mention to cover the activity.
ROOT_USAGE_MARKERS = ('userIdentity.type = "Root"',)
IAM_CHANGE_MARKERS = ("DeleteGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy", "PutGroupPolicy", "PutRolePolicy", "PutUserPolicy", "CreatePolicy", "DeletePolicy", "AttachUserPolicy", "DetachUserPolicy")
CLOUDTRAIL_CHANGE_MARKERS = ("CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging")


def _normalise_pattern(pattern: str) -> str:
    return " ".join(pattern.replace("=", " = ").split())


def _alarm_check(check_id: str, activity: str, markers: tuple[str, ...], filters: list[StoredEvidence], alarms: list[StoredEvidence]) -> Iterator[Finding]:
    evidence = [item.id for item in filters + alarms]
    wanted = [_normalise_pattern(marker) for marker in markers]
    alarmed_metrics = {
        (alarm.get("Namespace"), alarm.get("MetricName"))
        for _, _, region_alarms in _regional(alarms)
        if isinstance(region_alarms, list)
        for alarm in region_alarms
        if alarm.get("ActionsEnabled", True) and alarm.get("AlarmActions")
    }
    covering_filters = []
    for _, region, region_filters in _regional(filters):
        if not isinstance(region_filters, list):
            continue
        for metric_filter in region_filters:
            pattern = _normalise_pattern(metric_filter.get("filterPattern", ""))
            if all(marker in pattern for marker in wanted):
                covering_filters.append((region, metric_filter))
    with_alarm = [
        (region, metric_filter)
        for region, metric_filter in covering_filters
        if any((t.get("metricNamespace"), t.get("metricName")) in alarmed_metrics for t in metric_filter.get("metricTransformations", []))
    ]
    if with_alarm:
        region, metric_filter = with_alarm[0]
        reason = f"Metric filter {metric_filter['filterName']} in {region} catches {activity} and an alarm with actions watches its metric."
    elif covering_filters:
        reason = f"{len(covering_filters)} metric filters catch {activity}, but no alarm with actions watches their metrics."
    else:
        reason = f"No CloudTrail metric filter catches {activity}."
    yield _finding(check_id, _status(bool(with_alarm)), ACCOUNT, reason, evidence, covering_filters=len(covering_filters), alarmed_filters=len(with_alarm))


ALARM_NEEDS = ("aws.logs.metric_filters", "aws.cloudwatch.alarms")


@_evidence_check("aws.cloudwatch.root_usage_alarm", "An alarm fires on root user activity", ALARM_NEEDS)
def cloudwatch_root_usage_alarm(check_id: str, filters: list[StoredEvidence], alarms: list[StoredEvidence]) -> Iterator[Finding]:
    yield from _alarm_check(check_id, "root user activity", ROOT_USAGE_MARKERS, filters, alarms)


@_evidence_check("aws.cloudwatch.iam_change_alarm", "An alarm fires on IAM policy changes", ALARM_NEEDS)
def cloudwatch_iam_change_alarm(check_id: str, filters: list[StoredEvidence], alarms: list[StoredEvidence]) -> Iterator[Finding]:
    yield from _alarm_check(check_id, "IAM policy changes", IAM_CHANGE_MARKERS, filters, alarms)


@_evidence_check("aws.cloudwatch.cloudtrail_change_alarm", "An alarm fires on CloudTrail configuration changes", ALARM_NEEDS)
def cloudwatch_cloudtrail_change_alarm(check_id: str, filters: list[StoredEvidence], alarms: list[StoredEvidence]) -> Iterator[Finding]:
    yield from _alarm_check(check_id, "CloudTrail configuration changes", CLOUDTRAIL_CHANGE_MARKERS, filters, alarms)


# -- Config, GuardDuty, Backup ---------------------------------------------------------------


@_evidence_check("aws.config.recorder_on", "AWS Config records all resources in every region", ("aws.config.recorders",))
def config_recorder_on(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    for evidence_id, region, data in _regional(items):
        error = _region_error(check_id, evidence_id, region, data)
        if error:
            yield error
            continue
        recording = {status["name"] for status in data.get("Status", []) if status.get("recording")}
        complete = [r["name"] for r in data.get("Recorders", []) if r["name"] in recording and r.get("recordingGroup", {}).get("allSupported")]
        if complete:
            reason = f"Config recorder {complete[0]} records all supported resources in {region}."
        elif data.get("Recorders"):
            reason = f"The Config recorder in {region} is stopped or records only some resource types."
        else:
            reason = f"There is no AWS Config recorder in {region}."
        yield _finding(check_id, _status(bool(complete)), region, reason, [evidence_id], region=region, recorders=len(data.get("Recorders", [])))


@_evidence_check("aws.guardduty.enabled", "GuardDuty is enabled in every region", ("aws.guardduty.detectors",))
def guardduty_enabled(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    for evidence_id, region, detectors in _regional(items):
        error = _region_error(check_id, evidence_id, region, detectors)
        if error:
            yield error
            continue
        enabled = [d["DetectorId"] for d in detectors if d.get("Status") == "ENABLED"]
        reason = f"GuardDuty detector {enabled[0]} is enabled in {region}." if enabled else f"No enabled GuardDuty detector in {region}."
        yield _finding(check_id, _status(bool(enabled)), region, reason, [evidence_id], region=region, detectors=len(detectors))


@_evidence_check("aws.backup.plan_exists", "At least one AWS Backup plan exists", ("aws.backup.plans",))
def backup_plan_exists(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    plans = [(region, plan) for _, region, region_plans in _regional(items) if isinstance(region_plans, list) for plan in region_plans]
    regions = sorted({region for region, _ in plans})
    reason = f"{len(plans)} AWS Backup plans exist (in {', '.join(regions)})." if plans else "No AWS Backup plan exists in any collected region."
    yield _finding(check_id, _status(bool(plans)), ACCOUNT, reason, [item.id for item in items], plans=len(plans))


@_evidence_check("aws.backup.plan_retention", f"Backup plans keep recovery points at least {MIN_BACKUP_RETENTION_DAYS} days", ("aws.backup.plans",))
def backup_plan_retention(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    for evidence_id, region, plans in _regional(items):
        error = _region_error(check_id, evidence_id, region, plans)
        if error:
            yield error
            continue
        for plan in plans:
            # A rule with no deletion date keeps its recovery points forever.
            kept = [(rule.get("Lifecycle") or {}).get("DeleteAfterDays") for rule in plan.get("Rules", [])]
            shortest = min((days for days in kept if days is not None), default=None)
            ok = shortest is None or shortest >= MIN_BACKUP_RETENTION_DAYS
            reason = (
                f"Backup plan {plan['BackupPlanName']} keeps recovery points for at least {shortest} days; {MIN_BACKUP_RETENTION_DAYS} is required."
                if shortest is not None
                else f"Backup plan {plan['BackupPlanName']} keeps recovery points without an expiry."
            )
            resource = _label(region, plan["BackupPlanName"], plan["BackupPlanId"])
            yield _finding(check_id, _status(ok), resource, reason, [evidence_id], plan=plan["BackupPlanName"], shortest_retention_days=shortest, required_days=MIN_BACKUP_RETENTION_DAYS)
