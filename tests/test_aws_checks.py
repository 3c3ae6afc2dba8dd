"""The 41 AWS checks on the Acme AI demo in moto: compliant and non-compliant resources alike.

The demo's expected findings (tools/demo/expected/aws.yaml) must match what the checks produce.
Then the test fixes and breaks a few things through plain boto3 (writing only to our own moto
server) and checks that the verdicts flip.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest

import tools.aws.checks  # noqa: E402,F401  (registers the checks)
import tools.aws.collectors  # noqa: E402,F401  (registers the collectors)
from tools.aws.session import serve_s3control_from_endpoint
from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence
from tools.config import AuditorConfig, AwsConfig
from tools.context import CollectContext
from tools.demo.aws import ACCOUNT_ID, DEMO_REGIONS, alarm_on, count_in_metric, seed_acme_ai
from tools.demo.expected import compare, load_expected
from tools.demo.server import MotoAdmin
from tools.findings import Finding, Status

AWS_CHECKS = sorted(check_id for check_id in CHECKS if check_id.startswith("aws."))
AWS_TOOLS = sorted(name for name, spec in TOOLS.items() if spec.source == "aws")


def collect_view(endpoint_url: str) -> EvidenceView:
    """Every AWS collector once, wrapped as stored evidence (ids made up here; the locker is not under test)."""
    ctx = CollectContext(AuditorConfig(aws=AwsConfig(regions=DEMO_REGIONS, endpoint_url=endpoint_url)))
    items = []
    for number, name in enumerate(AWS_TOOLS):
        data = TOOLS[name].func(ctx, TOOLS[name].args_model())
        items.append(StoredEvidence(id=f"{number:012x}", tool=name, params={}, data=json.loads(json.dumps(data))))
    return EvidenceView(items)


def run_checks(view: EvidenceView) -> list[Finding]:
    return [finding for check_id in AWS_CHECKS for finding in CHECKS[check_id].func(view)]


def by_resource(findings: list[Finding], check_id: str) -> dict[str, Status]:
    return {finding.resource: finding.status for finding in findings if finding.check == check_id}


@pytest.fixture(scope="module")
def demo(moto_server: str) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.setenv(name, "testing")
        env.setenv("AWS_CONFIG_FILE", os.devnull)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        MotoAdmin(moto_server).reset()
        seed_acme_ai(moto_server)
        view = collect_view(moto_server)
    return {"view": view, "findings": run_checks(view)}


def test_forty_one_aws_checks_are_registered_with_known_needs() -> None:
    assert len(AWS_CHECKS) == 41
    for check_id in AWS_CHECKS:
        assert CHECKS[check_id].needs, check_id
        assert set(CHECKS[check_id].needs) <= set(AWS_TOOLS), check_id


@pytest.mark.slow
def test_demo_findings_match_the_documented_expectations(demo: dict[str, Any]) -> None:
    expected = load_expected()
    assert set(AWS_CHECKS) <= set(expected)
    assert compare(expected, demo["findings"], set(AWS_CHECKS)) == []


@pytest.mark.slow
def test_findings_carry_reasons_evidence_and_facts(demo: dict[str, Any]) -> None:
    evidence_ids = {item.id for item in demo["view"].items}
    for finding in demo["findings"]:
        assert finding.reason.endswith("."), finding
        assert finding.evidence_ids and set(finding.evidence_ids) <= evidence_ids, finding
        assert finding.status is not Status.ERROR, finding
    key_age = {f.resource: f for f in demo["findings"] if f.check == "aws.iam.access_key_age"}
    stale = key_age[f"arn:aws:iam::{ACCOUNT_ID}:user/sam.okafor-contractor"]
    assert stale.facts["key_age_days"] == 200
    assert "200 days" in stale.reason


ACCOUNT_WIDE_CHECKS = {
    "aws.iam.root_mfa",
    "aws.iam.root_access_keys",
    "aws.iam.password_policy_length",
    "aws.iam.password_policy_complexity",
    "aws.iam.password_policy_reuse",
    "aws.iam.password_policy_expiry",
    "aws.iam.support_role",
    "aws.s3.account_public_access_block",
    "aws.cloudwatch.root_usage_alarm",
    "aws.cloudwatch.iam_change_alarm",
    "aws.cloudwatch.cloudtrail_change_alarm",
    "aws.backup.plan_exists",
}


@pytest.mark.slow
def test_most_checks_see_both_compliant_and_non_compliant_resources(demo: dict[str, Any]) -> None:
    both = {
        check_id
        for check_id in AWS_CHECKS
        if {Status.PASS, Status.FAIL} <= set(by_resource(demo["findings"], check_id).values())
    }
    # The rest have one account-wide resource; test_remediation_flips_account_level_checks flips them.
    single = set(AWS_CHECKS) - both
    assert single == ACCOUNT_WIDE_CHECKS


@pytest.mark.parametrize("check_id", AWS_CHECKS)
def test_missing_evidence_gives_one_error_finding(check_id: str) -> None:
    findings = CHECKS[check_id].func(EvidenceView())
    assert len(findings) == 1
    assert findings[0].status is Status.ERROR
    assert "No stored evidence" in findings[0].reason


def test_unreadable_region_is_an_error_finding() -> None:
    view = EvidenceView(
        [
            StoredEvidence(
                "aaaaaaaaaaaa", "aws.guardduty.detectors", {}, {"us-east-1": {"error": "AccessDeniedException"}}
            )
        ]
    )
    [finding] = CHECKS["aws.guardduty.enabled"].func(view)
    assert finding.status is Status.ERROR
    assert "AccessDeniedException" in finding.reason


def test_root_checks_on_a_compliant_account_summary() -> None:
    # moto cannot give the root user MFA, so this one input is written by hand in the collector's shape.
    summary = {"account_id": ACCOUNT_ID, "summary": {"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 1}}
    view = EvidenceView([StoredEvidence("bbbbbbbbbbbb", "aws.iam.account_summary", {}, summary)])
    [mfa] = CHECKS["aws.iam.root_mfa"].func(view)
    [keys] = CHECKS["aws.iam.root_access_keys"].func(view)
    assert (mfa.status, keys.status) == (Status.PASS, Status.FAIL)


@pytest.mark.slow
def test_remediation_flips_account_level_checks(demo: dict[str, Any], moto_server: str) -> None:
    # The test is the writer here, and only to our own moto server.
    def client(service: str) -> Any:
        return boto3.client(service, region_name="us-east-1", endpoint_url=moto_server)

    client("iam").update_account_password_policy(
        MinimumPasswordLength=16,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
        RequireNumbers=True,
        RequireSymbols=True,
        PasswordReusePrevention=5,
    )
    s3control = client("s3control")
    serve_s3control_from_endpoint(s3control, moto_server)
    s3control.put_public_access_block(
        AccountId=ACCOUNT_ID,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    client("iam").detach_role_policy(RoleName="acme-support", PolicyArn="arn:aws:iam::aws:policy/AWSSupportAccess")
    alarm_on(client("cloudwatch"), "IamPolicyChanges", name="iam-policy-changes", account_id=ACCOUNT_ID)
    count_in_metric(
        client("logs"),
        "cloudtrail-changes",
        "CloudTrailChanges",
        "{($.eventName=CreateTrail)||($.eventName=UpdateTrail)||($.eventName=DeleteTrail)||"
        "($.eventName=StartLogging)||($.eventName=StopLogging)}",
    )
    alarm_on(client("cloudwatch"), "CloudTrailChanges", name="cloudtrail-changes", account_id=ACCOUNT_ID)
    client("cloudwatch").delete_alarms(AlarmNames=["root-account-usage"])
    backup = client("backup")
    for plan in backup.list_backup_plans()["BackupPlansList"]:
        backup.delete_backup_plan(BackupPlanId=plan["BackupPlanId"])

    findings = run_checks(collect_view(moto_server))
    policy = "aws-account"
    assert by_resource(findings, "aws.iam.password_policy_length")[policy] is Status.PASS
    assert by_resource(findings, "aws.iam.password_policy_complexity")[policy] is Status.PASS
    assert by_resource(findings, "aws.iam.password_policy_reuse")[policy] is Status.FAIL
    assert by_resource(findings, "aws.iam.password_policy_expiry")[policy] is Status.FAIL
    assert by_resource(findings, "aws.s3.account_public_access_block")["aws-account"] is Status.PASS
    # With the account-level block on, the marketing bucket is covered too.
    assert (
        by_resource(findings, "aws.s3.bucket_public_access_block")["arn:aws:s3:::acme-ai-marketing-site"] is Status.PASS
    )
    assert by_resource(findings, "aws.iam.support_role")["arn:aws:iam::aws:policy/AWSSupportAccess"] is Status.FAIL
    assert by_resource(findings, "aws.cloudwatch.iam_change_alarm")["aws-account"] is Status.PASS
    assert by_resource(findings, "aws.cloudwatch.cloudtrail_change_alarm")["aws-account"] is Status.PASS
    assert by_resource(findings, "aws.cloudwatch.root_usage_alarm")["aws-account"] is Status.FAIL
    assert by_resource(findings, "aws.backup.plan_exists")["aws-account"] is Status.FAIL
    assert by_resource(findings, "aws.backup.plan_retention") == {"aws.backup.plans": Status.NOT_APPLICABLE}
