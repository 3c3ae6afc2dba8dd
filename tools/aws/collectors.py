"""AWS collectors: fetch raw evidence through the read-only session, judge nothing.

Per-region collectors return ``{region: data}``. A sub-resource that cannot be read (no policy set,
access denied) is recorded as ``{"error": "<AWS error code>"}`` so that checks can judge it.
Datetimes become ISO 8601 strings.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from tools.aws.session import ReadOnlyAws
from tools.catalog import NoArgs, tool
from tools.context import CollectContext

CREDENTIAL_REPORT_POLL_SECONDS = 2.0
CREDENTIAL_REPORT_MAX_POLLS = 15


class RegionsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    regions: list[str] | None = Field(default=None, description="Regions to read; all configured regions when omitted")


def jsonable(value: Any) -> Any:
    """The response with datetimes as ISO strings and bytes decoded, ready for the locker."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "ClientError"))


def read_or_error(fetch: Callable[[], Any]) -> Any:
    """The answer of one read, or {"error": code} when AWS refuses or has nothing."""
    try:
        return fetch()
    except ClientError as error:
        return {"error": error_code(error)}


def per_region(ctx: CollectContext, args: RegionsArgs, fetch: Callable[[ReadOnlyAws, str], Any]) -> dict[str, Any]:
    """Run fetch for each region concurrently; {region: data or {"error": code}}."""
    aws = ctx.aws
    regions = args.regions or aws.regions
    results = aws.map(lambda region: read_or_error(lambda: fetch(aws, region)), regions)
    return jsonable(dict(zip(regions, results, strict=True)))


RegionFetch = Callable[[ReadOnlyAws, str], Any]


def regional_tool(name: str, description: str, operations: tuple[str, ...]) -> Callable[[RegionFetch], RegionFetch]:
    """Register the decorated `fetch(aws, region)` as the AWS collector `name`, which runs it in each region
    (per_region) and takes RegionsArgs."""

    def register(fetch: RegionFetch) -> RegionFetch:
        @tool(name, source="aws", description=description, args=RegionsArgs, operations=operations)
        def collect(ctx: CollectContext, args: RegionsArgs) -> dict[str, Any]:
            return per_region(ctx, args, fetch)

        return fetch

    return register


# -- IAM --------------------------------------------------------------------------------------


@tool(
    "aws.iam.credential_report",
    source="aws",
    description="IAM credential report: one row per user with password, MFA and access key dates; each user's tags.",
    operations=("iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:ListUserTags"),
)
def credential_report(ctx: CollectContext, args: NoArgs) -> dict[str, Any]:
    aws = ctx.aws
    aws.call("iam", "generate_credential_report")
    try:
        report = aws.call("iam", "get_credential_report")
    except ClientError as error:
        if error_code(error) not in ("ReportInProgress", "ReportNotPresent"):
            raise
        report = _wait_for_credential_report(aws)
    content = report["Content"].decode("utf-8") if isinstance(report["Content"], bytes) else report["Content"]
    rows = list(csv.DictReader(io.StringIO(content)))
    # The report has no tags; they say which users are in the audit scope (tools/scope.py).
    users = [row["user"] for row in rows if row["user"] != "<root_account>"]
    tags = aws.map(lambda name: _user_tags(aws, name), users)
    tags_by_user = dict(zip(users, tags, strict=True))
    return jsonable({"generated_time": report.get("GeneratedTime"), "rows": rows, "tags": tags_by_user})


def _user_tags(aws: ReadOnlyAws, name: str) -> Any:
    return read_or_error(lambda: aws.paginate("iam", "list_user_tags", UserName=name)["Tags"])


def _wait_for_credential_report(aws: ReadOnlyAws) -> dict[str, Any]:
    # AWS builds the report asynchronously; polling is the one read repeated on purpose, so it
    # goes to the client directly rather than through the per-run cache.
    iam = aws.client("iam")
    for _ in range(CREDENTIAL_REPORT_MAX_POLLS):
        time.sleep(CREDENTIAL_REPORT_POLL_SECONDS)
        if iam.generate_credential_report().get("State") == "COMPLETE":
            return iam.get_credential_report()
    raise TimeoutError("the IAM credential report was not ready after polling")


@tool(
    "aws.iam.account_summary",
    source="aws",
    description="IAM account summary (root MFA, root access keys, entity counts) and the account id.",
    operations=("sts:GetCallerIdentity", "iam:GetAccountSummary"),
)
def account_summary(ctx: CollectContext, args: NoArgs) -> dict[str, Any]:
    aws = ctx.aws
    identity = aws.call("sts", "get_caller_identity")
    summary = aws.call("iam", "get_account_summary")["SummaryMap"]
    return jsonable({"account_id": identity["Account"], "summary": summary})


@tool(
    "aws.iam.password_policy",
    source="aws",
    description="The account password policy, or the error AWS returns when none is set.",
    operations=("iam:GetAccountPasswordPolicy",),
)
def password_policy(ctx: CollectContext, args: NoArgs) -> dict[str, Any]:
    return jsonable(
        read_or_error(lambda: {"policy": ctx.aws.call("iam", "get_account_password_policy")["PasswordPolicy"]})
    )


@tool(
    "aws.iam.users",
    source="aws",
    description="IAM users with MFA devices, access keys, login profile, groups, inline and attached policies, tags.",
    operations=(
        "iam:ListUsers",
        "iam:ListUserTags",
        "iam:ListMFADevices",
        "iam:ListAccessKeys",
        "iam:GetAccessKeyLastUsed",
        "iam:GetLoginProfile",
        "iam:ListGroupsForUser",
        "iam:ListUserPolicies",
        "iam:ListAttachedUserPolicies",
    ),
)
def users(ctx: CollectContext, args: NoArgs) -> list[dict[str, Any]]:
    aws = ctx.aws

    def details(user: dict[str, Any]) -> dict[str, Any]:
        name = user["UserName"]
        keys = aws.paginate("iam", "list_access_keys", UserName=name)["AccessKeyMetadata"]
        for key in keys:
            key["LastUsed"] = read_or_error(
                lambda key=key: aws.call("iam", "get_access_key_last_used", AccessKeyId=key["AccessKeyId"])[
                    "AccessKeyLastUsed"
                ]
            )
        return {
            **user,
            "MFADevices": aws.paginate("iam", "list_mfa_devices", UserName=name)["MFADevices"],
            "AccessKeys": keys,
            "LoginProfile": read_or_error(lambda: aws.call("iam", "get_login_profile", UserName=name)["LoginProfile"]),
            "Groups": [
                group["GroupName"] for group in aws.paginate("iam", "list_groups_for_user", UserName=name)["Groups"]
            ],
            "InlinePolicies": aws.paginate("iam", "list_user_policies", UserName=name)["PolicyNames"],
            "AttachedPolicies": aws.paginate("iam", "list_attached_user_policies", UserName=name)["AttachedPolicies"],
            "Tags": _user_tags(aws, name),
        }

    return jsonable(aws.map(details, aws.paginate("iam", "list_users")["Users"]))


# AWS-managed policies whose attachments the checks judge.
WATCHED_AWS_POLICIES = {
    "AdministratorAccess": "arn:aws:iam::aws:policy/AdministratorAccess",
    "AWSSupportAccess": "arn:aws:iam::aws:policy/AWSSupportAccess",
}


@tool(
    "aws.iam.policies",
    source="aws",
    description="Customer-managed IAM policies with their default version document, and who holds "
    "AdministratorAccess and AWSSupportAccess.",
    operations=("iam:ListPolicies", "iam:GetPolicyVersion", "iam:ListEntitiesForPolicy"),
)
def policies(ctx: CollectContext, args: NoArgs) -> dict[str, Any]:
    aws = ctx.aws

    def with_document(policy: dict[str, Any]) -> dict[str, Any]:
        version = aws.call("iam", "get_policy_version", PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
        return {**policy, "Document": version["PolicyVersion"]["Document"]}

    def entities(arn: str) -> dict[str, Any]:
        def fetch() -> dict[str, Any]:
            found = aws.paginate("iam", "list_entities_for_policy", PolicyArn=arn)
            return {kind: found.get(kind, []) for kind in ("PolicyUsers", "PolicyGroups", "PolicyRoles")}

        return read_or_error(fetch)

    customer_managed = aws.map(with_document, aws.paginate("iam", "list_policies", Scope="Local")["Policies"])
    names = list(WATCHED_AWS_POLICIES)
    attachments = aws.map(lambda name: entities(WATCHED_AWS_POLICIES[name]), names)
    return jsonable(
        {
            "customer_managed": customer_managed,
            "aws_managed_attachments": {
                name: {"arn": WATCHED_AWS_POLICIES[name], **found}
                for name, found in zip(names, attachments, strict=True)
            },
        }
    )


@tool(
    "aws.iam.roles",
    source="aws",
    description="IAM roles with their trust policy and attached managed policies.",
    operations=("iam:ListRoles", "iam:ListAttachedRolePolicies"),
)
def roles(ctx: CollectContext, args: NoArgs) -> list[dict[str, Any]]:
    aws = ctx.aws

    def with_policies(role: dict[str, Any]) -> dict[str, Any]:
        attached = aws.paginate("iam", "list_attached_role_policies", RoleName=role["RoleName"])["AttachedPolicies"]
        return {**role, "AttachedPolicies": attached}

    return jsonable(aws.map(with_policies, aws.paginate("iam", "list_roles")["Roles"]))


# Who can hold inline policies: how to list them, the name parameter, how to list and read their policies.
INLINE_POLICY_HOLDERS = {
    "user": ("list_users", "Users", "UserName", "list_user_policies", "get_user_policy"),
    "role": ("list_roles", "Roles", "RoleName", "list_role_policies", "get_role_policy"),
    "group": ("list_groups", "Groups", "GroupName", "list_group_policies", "get_group_policy"),
}


@tool(
    "aws.iam.inline_policies",
    source="aws",
    description="The inline policy documents embedded in IAM users, roles and groups.",
    operations=(
        "iam:ListUsers",
        "iam:ListRoles",
        "iam:ListGroups",
        "iam:ListUserPolicies",
        "iam:ListRolePolicies",
        "iam:ListGroupPolicies",
        "iam:GetUserPolicy",
        "iam:GetRolePolicy",
        "iam:GetGroupPolicy",
    ),
)
def inline_policies(ctx: CollectContext, args: NoArgs) -> list[dict[str, Any]]:
    """One entry per user, role and group: {Kind, Name, Arn, Policies: [{PolicyName, Document}]}."""
    aws = ctx.aws

    def holders(kind: str) -> list[dict[str, Any]]:
        list_holders, key, name_param, list_policies, get_policy = INLINE_POLICY_HOLDERS[kind]

        def with_documents(holder: dict[str, Any]) -> dict[str, Any]:
            name = holder[name_param]

            def document(policy: str) -> Any:
                return read_or_error(
                    lambda: aws.call("iam", get_policy, **{name_param: name, "PolicyName": policy})["PolicyDocument"]
                )

            def policies() -> list[dict[str, Any]]:
                names = aws.paginate("iam", list_policies, **{name_param: name})["PolicyNames"]
                return [{"PolicyName": policy, "Document": document(policy)} for policy in names]

            return {"Kind": kind, "Name": name, "Arn": holder["Arn"], "Policies": read_or_error(policies)}

        return aws.map(with_documents, aws.paginate("iam", list_holders)[key])

    return jsonable([holder for kind in INLINE_POLICY_HOLDERS for holder in holders(kind)])


# -- CloudTrail -------------------------------------------------------------------------------


@regional_tool(
    "aws.cloudtrail.trails",
    "CloudTrail trails per region with logging status and event selectors.",
    operations=("cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors"),
)
def cloudtrail_trails(aws: ReadOnlyAws, region: str) -> list[dict[str, Any]]:
    # Shadow trails are left out: a multi-region trail is read once, in its home region.
    trails = aws.call("cloudtrail", "describe_trails", region, includeShadowTrails=False)["trailList"]
    for trail in trails:
        arn = trail["TrailARN"]
        trail["Status"] = read_or_error(lambda arn=arn: aws.call("cloudtrail", "get_trail_status", region, Name=arn))
        trail["EventSelectors"] = read_or_error(
            lambda arn=arn: aws.call("cloudtrail", "get_event_selectors", region, TrailName=arn)
        )
    return trails


# -- S3 ---------------------------------------------------------------------------------------


@tool(
    "aws.s3.account_public_access_block",
    source="aws",
    description="The account-level S3 Block Public Access settings.",
    operations=("sts:GetCallerIdentity", "s3control:GetPublicAccessBlock"),
)
def s3_account_public_access_block(ctx: CollectContext, args: NoArgs) -> dict[str, Any]:
    aws = ctx.aws
    account_id = aws.call("sts", "get_caller_identity")["Account"]
    block = read_or_error(
        lambda: aws.call("s3control", "get_public_access_block", AccountId=account_id)["PublicAccessBlockConfiguration"]
    )
    return jsonable({"account_id": account_id, "configuration": block})


@tool(
    "aws.s3.buckets",
    source="aws",
    description="S3 buckets with region, public access block, default encryption, versioning, access logging, "
    "bucket policy (and whether AWS finds it public), ACL and tags.",
    operations=(
        "s3:ListBuckets",
        "s3:GetBucketLocation",
        "s3:GetPublicAccessBlock",
        "s3:GetBucketEncryption",
        "s3:GetBucketVersioning",
        "s3:GetBucketLogging",
        "s3:GetBucketPolicy",
        "s3:GetBucketPolicyStatus",  # AWS's own judgement of whether the policy is public
        "s3:GetBucketAcl",
        "s3:GetBucketTagging",  # a bucket without tags answers NoSuchTagSet
        "s3:HeadBucket",  # botocore's own region discovery, for a bucket outside the client's region
    ),
)
def s3_buckets(ctx: CollectContext, args: NoArgs) -> list[dict[str, Any]]:
    aws = ctx.aws

    def details(bucket: dict[str, Any]) -> dict[str, Any]:
        name = bucket["Name"]

        def read(operation: str, key: str | None = None) -> Any:
            def fetch() -> Any:
                response = aws.call("s3", operation, Bucket=name)
                return response.get(key) if key else response

            return read_or_error(fetch)

        policy = read("get_bucket_policy", "Policy")
        if isinstance(policy, str):
            policy = json.loads(policy)
        return {
            "Name": name,
            "Arn": f"arn:aws:s3:::{name}",
            "CreationDate": bucket.get("CreationDate"),
            "Region": read("get_bucket_location", "LocationConstraint") or "us-east-1",
            "PublicAccessBlock": read("get_public_access_block", "PublicAccessBlockConfiguration"),
            "Encryption": read("get_bucket_encryption", "ServerSideEncryptionConfiguration"),
            "Versioning": read("get_bucket_versioning"),
            "Logging": read("get_bucket_logging"),
            "Policy": policy,
            "PolicyStatus": read("get_bucket_policy_status", "PolicyStatus"),
            "Acl": read("get_bucket_acl"),
            "Tags": read("get_bucket_tagging", "TagSet"),
        }

    return jsonable(aws.map(details, aws.call("s3", "list_buckets")["Buckets"]))


# -- KMS --------------------------------------------------------------------------------------


@regional_tool(
    "aws.kms.keys",
    "KMS keys per region with metadata, aliases, rotation status and tags.",
    operations=(
        "kms:ListKeys",
        "kms:ListAliases",
        "kms:DescribeKey",
        "kms:GetKeyRotationStatus",
        "kms:ListResourceTags",
    ),
)
def kms_keys(aws: ReadOnlyAws, region: str) -> list[dict[str, Any]]:
    aliases = aws.paginate("kms", "list_aliases", region)["Aliases"]

    def details(key: dict[str, Any]) -> dict[str, Any]:
        key_id = key["KeyId"]
        metadata = aws.call("kms", "describe_key", region, KeyId=key_id)["KeyMetadata"]
        return {
            "KeyMetadata": metadata,
            "Aliases": [alias["AliasName"] for alias in aliases if alias.get("TargetKeyId") == key_id],
            # Rotation applies only to symmetric customer-managed keys; AWS answers an error otherwise.
            "Rotation": read_or_error(lambda: aws.call("kms", "get_key_rotation_status", region, KeyId=key_id)),
            "Tags": read_or_error(lambda: aws.paginate("kms", "list_resource_tags", region, KeyId=key_id)["Tags"]),
        }

    return aws.map(details, aws.paginate("kms", "list_keys", region)["Keys"])


def _regional_list(name: str, description: str, operation: str, method: str, key: str) -> None:
    """Register a collector that reads one paginated list operation ("service:Operation") in each region."""
    service = operation.split(":")[0]
    regional_tool(name, description, operations=(operation,))(
        lambda aws, region: aws.paginate(service, method, region)[key]
    )


# -- EC2 --------------------------------------------------------------------------------------


_regional_list(
    "aws.ec2.security_groups",
    "EC2 security groups per region with their ingress and egress rules.",
    "ec2:DescribeSecurityGroups",
    "describe_security_groups",
    "SecurityGroups",
)


@regional_tool(
    "aws.ec2.ebs_encryption_by_default",
    "Whether new EBS volumes are encrypted by default, per region.",
    operations=("ec2:GetEbsEncryptionByDefault",),
)
def ec2_ebs_encryption_by_default(aws: ReadOnlyAws, region: str) -> dict[str, Any]:
    return aws.call("ec2", "get_ebs_encryption_by_default", region)


_regional_list(
    "aws.ec2.volumes",
    "EBS volumes per region with encryption and attachments.",
    "ec2:DescribeVolumes",
    "describe_volumes",
    "Volumes",
)


@regional_tool(
    "aws.ec2.vpcs",
    "VPCs per region and the flow logs attached to resources there.",
    operations=("ec2:DescribeVpcs", "ec2:DescribeFlowLogs"),
)
def ec2_vpcs(aws: ReadOnlyAws, region: str) -> dict[str, Any]:
    return {
        "Vpcs": aws.paginate("ec2", "describe_vpcs", region)["Vpcs"],
        "FlowLogs": aws.paginate("ec2", "describe_flow_logs", region)["FlowLogs"],
    }


# -- RDS, CloudWatch, Config, GuardDuty, Backup ------------------------------------------------


_regional_list(
    "aws.rds.instances",
    "RDS database instances per region.",
    "rds:DescribeDBInstances",
    "describe_db_instances",
    "DBInstances",
)


_regional_list(
    "aws.cloudwatch.alarms",
    "CloudWatch metric alarms per region.",
    "cloudwatch:DescribeAlarms",
    "describe_alarms",
    "MetricAlarms",
)


_regional_list(
    "aws.logs.metric_filters",
    "CloudWatch Logs metric filters per region.",
    "logs:DescribeMetricFilters",
    "describe_metric_filters",
    "metricFilters",
)


@regional_tool(
    "aws.config.recorders",
    "AWS Config configuration recorders and their recording status, per region.",
    operations=("config:DescribeConfigurationRecorders", "config:DescribeConfigurationRecorderStatus"),
)
def config_recorders(aws: ReadOnlyAws, region: str) -> dict[str, Any]:
    return {
        "Recorders": aws.call("config", "describe_configuration_recorders", region)["ConfigurationRecorders"],
        "Status": aws.call("config", "describe_configuration_recorder_status", region)["ConfigurationRecordersStatus"],
    }


@regional_tool(
    "aws.guardduty.detectors",
    "GuardDuty detectors and their status, per region.",
    operations=("guardduty:ListDetectors", "guardduty:GetDetector"),
)
def guardduty_detectors(aws: ReadOnlyAws, region: str) -> list[dict[str, Any]]:
    detector_ids = aws.paginate("guardduty", "list_detectors", region)["DetectorIds"]
    return [
        {"DetectorId": detector_id, **aws.call("guardduty", "get_detector", region, DetectorId=detector_id)}
        for detector_id in detector_ids
    ]


@regional_tool(
    "aws.backup.plans",
    "AWS Backup plans with their rules (schedule, lifecycle), per region.",
    operations=("backup:ListBackupPlans", "backup:GetBackupPlan"),
)
def backup_plans(aws: ReadOnlyAws, region: str) -> list[dict[str, Any]]:
    plans = aws.paginate("backup", "list_backup_plans", region)["BackupPlansList"]
    return [
        {
            **plan,
            "Rules": aws.call("backup", "get_backup_plan", region, BackupPlanId=plan["BackupPlanId"])["BackupPlan"][
                "Rules"
            ],
        }
        for plan in plans
    ]
