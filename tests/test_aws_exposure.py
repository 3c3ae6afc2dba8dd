"""Admin rights through inline policies, and buckets public through their policy or ACL, on a real moto server.

Each test writes its own few resources to a reset moto (the test is the writer, only to our own server), then
collects through the read-only session (so undeclared operations would be refused) and judges the evidence.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

import tools.aws.checks  # noqa: F401  (registers the checks)
from tools.aws.collectors import inline_policies, s3_account_public_access_block, s3_buckets
from tools.catalog import CHECKS, EvidenceView, NoArgs, StoredEvidence
from tools.config import AuditorConfig, AwsConfig
from tools.context import CollectContext
from tools.demo.server import MotoAdmin
from tools.findings import Finding, Status

ACCOUNT = "123456789012"
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
READ_LOGS = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": ["logs:Get*"], "Resource": "*"}}
TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture
def moto(moto_server: str) -> Any:
    """A reset moto server, and a boto3 client maker for writing test resources to it."""
    MotoAdmin(moto_server).reset()

    def client(service: str) -> Any:
        return boto3.client(service, region_name="us-east-1", endpoint_url=moto_server)

    client.endpoint_url = moto_server  # type: ignore[attr-defined]
    return client


def _judge(endpoint_url: str, check_id: str) -> list[Finding]:
    """Collect what the check needs through the read-only session, then run the check on it."""
    ctx = CollectContext(AuditorConfig(aws=AwsConfig(regions=["us-east-1"], endpoint_url=endpoint_url)))
    collectors = {
        "aws.iam.inline_policies": inline_policies,
        "aws.s3.buckets": s3_buckets,
        "aws.s3.account_public_access_block": s3_account_public_access_block,
    }
    items = [
        StoredEvidence(f"{number:012x}", tool, {}, json.loads(json.dumps(collectors[tool](ctx, NoArgs()))))
        for number, tool in enumerate(CHECKS[check_id].needs)
        if tool in collectors
    ]
    if check_id == "aws.iam.admin_privileges":  # its managed-policy half is tested in test_aws_checks
        empty = {"customer_managed": [], "aws_managed_attachments": {"AdministratorAccess": {"arn": "x"}}}
        items.append(StoredEvidence("ffffffffffff", "aws.iam.policies", {}, empty))
    return CHECKS[check_id].func(EvidenceView(items))


def _by_resource(findings: list[Finding]) -> dict[str, Finding]:
    return {finding.resource: finding for finding in findings}


def test_admin_rights_in_inline_policies_of_users_roles_and_groups_fail(moto: Any) -> None:
    iam = moto("iam")
    iam.create_user(UserName="alice")
    iam.put_user_policy(UserName="alice", PolicyName="break-glass", PolicyDocument=json.dumps(EVERYTHING))
    iam.put_user_policy(UserName="alice", PolicyName="logs", PolicyDocument=json.dumps(READ_LOGS))
    iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    iam.put_role_policy(RoleName="deployer", PolicyName="do-anything", PolicyDocument=json.dumps(EVERYTHING))
    iam.create_group(GroupName="ops")
    iam.put_group_policy(GroupName="ops", PolicyName="all", PolicyDocument=json.dumps(EVERYTHING))
    iam.create_group(GroupName="readers")
    iam.put_group_policy(GroupName="readers", PolicyName="logs", PolicyDocument=json.dumps(READ_LOGS))
    iam.create_user(UserName="bob")  # no inline policy: nothing to judge, no finding

    findings = _by_resource(_judge(moto.endpoint_url, "aws.iam.admin_privileges"))

    alice = findings[f"arn:aws:iam::{ACCOUNT}:user/alice"]
    assert (alice.status, alice.facts["full_admin_policies"], alice.facts["inline_policies"]) == (
        Status.FAIL,
        "break-glass",
        2,
    )
    assert "user alice allow every action on every resource: break-glass" in alice.reason
    assert findings[f"arn:aws:iam::{ACCOUNT}:role/deployer"].status is Status.FAIL
    assert findings[f"arn:aws:iam::{ACCOUNT}:group/ops"].status is Status.FAIL
    readers = findings[f"arn:aws:iam::{ACCOUNT}:group/readers"]
    assert readers.status is Status.PASS and readers.facts["holder_kind"] == "group"
    assert f"arn:aws:iam::{ACCOUNT}:user/bob" not in findings


def test_no_inline_policy_anywhere_is_said_not_passed(moto: Any) -> None:
    moto("iam").create_user(UserName="carol")
    inline = [
        f for f in _judge(moto.endpoint_url, "aws.iam.admin_privileges") if f.resource == "aws.iam.inline_policies"
    ]
    assert [(f.status, f.reason) for f in inline] == [
        (Status.NOT_APPLICABLE, "None of the 1 users, roles and groups has an inline policy.")
    ]


def test_an_inline_policy_that_could_not_be_read_is_an_error_unless_another_grants_everything() -> None:
    denied = {"error": "AccessDenied"}
    managed = {"customer_managed": [], "aws_managed_attachments": {"AdministratorAccess": {"arn": "x"}}}

    def judged(other: dict[str, Any]) -> Finding:
        policies = [{"PolicyName": "a", "Document": denied}, {"PolicyName": "b", "Document": other}]
        role = {"Kind": "role", "Name": "r", "Arn": f"arn:aws:iam::{ACCOUNT}:role/r", "Policies": policies}
        view = EvidenceView(
            [
                StoredEvidence("aaaaaaaaaaaa", "aws.iam.policies", {}, managed),
                StoredEvidence("bbbbbbbbbbbb", "aws.iam.inline_policies", {}, [role]),
            ]
        )
        [found] = [f for f in CHECKS["aws.iam.admin_privileges"].func(view) if f.resource.endswith(":role/r")]
        return found

    unknown, admin = judged(READ_LOGS), judged(EVERYTHING)
    assert (unknown.status, unknown.reason) == (
        Status.ERROR,
        "Inline policy a of role r could not be read: AccessDenied.",
    )
    assert (admin.status, admin.facts["full_admin_policies"]) == (Status.FAIL, "b")


def _public_policy(bucket: str, principal: Any, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {
        "Sid": "PublicRead",
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_buckets_public_by_policy_or_acl_fail_and_blocked_or_restricted_ones_pass(moto: Any) -> None:
    s3 = moto("s3")
    names = ["open-policy", "open-aws-star", "public-read-acl", "any-aws-account", "vpce-only", "blocked", "private"]
    for name in names:
        s3.create_bucket(Bucket=name)
    s3.put_bucket_policy(Bucket="open-policy", Policy=_public_policy("open-policy", "*"))
    s3.put_bucket_policy(Bucket="open-aws-star", Policy=_public_policy("open-aws-star", {"AWS": ["*"]}))
    s3.put_bucket_acl(Bucket="public-read-acl", ACL="public-read")
    s3.put_bucket_acl(Bucket="any-aws-account", ACL="authenticated-read")
    vpce = {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}
    s3.put_bucket_policy(Bucket="vpce-only", Policy=_public_policy("vpce-only", "*", vpce))
    s3.put_bucket_policy(Bucket="blocked", Policy=_public_policy("blocked", "*"))
    s3.put_public_access_block(
        Bucket="blocked",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )

    findings = _by_resource(_judge(moto.endpoint_url, "aws.s3.bucket_public"))
    status = {arn.removeprefix("arn:aws:s3:::"): finding.status for arn, finding in findings.items()}

    assert status == {
        "open-policy": Status.FAIL,
        "open-aws-star": Status.FAIL,
        "public-read-acl": Status.FAIL,
        "any-aws-account": Status.FAIL,
        "vpce-only": Status.PASS,
        "blocked": Status.PASS,
        "private": Status.PASS,
    }
    assert findings["arn:aws:s3:::open-policy"].reason == (
        "Bucket open-policy is public: its policy lets anyone in (PublicRead)."
    )
    assert (
        findings["arn:aws:s3:::public-read-acl"].reason
        == "Bucket public-read-acl is public: its ACL grants AllUsers READ."
    )
    assert findings["arn:aws:s3:::any-aws-account"].facts["public_acl_grants"] == "AuthenticatedUsers READ"
    assert "Block Public Access (RestrictPublicBuckets) overrides it" in findings["arn:aws:s3:::blocked"].reason
    assert CHECKS["aws.s3.bucket_public"].severity == "critical"


def test_a_bucket_acl_missing_from_the_evidence_is_an_error_not_a_pass() -> None:
    bucket = {"Name": "old", "Arn": "arn:aws:s3:::old", "Policy": {"error": "NoSuchBucketPolicy"}}
    view = EvidenceView(
        [
            StoredEvidence("aaaaaaaaaaaa", "aws.s3.buckets", {}, [bucket]),
            StoredEvidence("bbbbbbbbbbbb", "aws.s3.account_public_access_block", {}, {"configuration": {"error": "x"}}),
        ]
    )
    [found] = CHECKS["aws.s3.bucket_public"].func(view)
    assert found.status is Status.ERROR
    assert found.reason == "The ACL of bucket old could not be read: not in the stored evidence."


def test_an_open_bucket_whose_account_block_could_not_be_read_is_an_error() -> None:
    policy = json.loads(_public_policy("site", "*"))
    bucket = {
        "Name": "site",
        "Arn": "arn:aws:s3:::site",
        "Policy": policy,
        "Acl": {"Grants": []},
        "PublicAccessBlock": {"error": "NoSuchPublicAccessBlockConfiguration"},
    }
    denied = {"error": "AccessDenied"}
    view = EvidenceView(
        [
            StoredEvidence("aaaaaaaaaaaa", "aws.s3.buckets", {}, [bucket]),
            StoredEvidence("bbbbbbbbbbbb", "aws.s3.account_public_access_block", {}, {"configuration": denied}),
        ]
    )
    [found] = CHECKS["aws.s3.bucket_public"].func(view)
    assert (found.status, found.reason) == (
        Status.ERROR,
        "Bucket site would be public (its policy lets anyone in (PublicRead)), but the account's Block Public Access, "
        "which may override it, could not be read: AccessDenied.",
    )
