"""One dialect for all checks (tools/checks_common.py): missing evidence, unreadable sources, resource names.

The evidence here is written by hand in the collectors' stored shapes, so that each unreadable part can be
set exactly; the checks on real evidence are tested per source in test_aws_checks, test_logs_checks and
test_repos_*.
"""

from __future__ import annotations

from typing import Any

import pytest

from tools.catalog import CHECKS, EvidenceView, StoredEvidence, load_all
from tools.findings import Finding, Status

load_all()


def run(check_id: str, *items: tuple[str, Any]) -> list[Finding]:
    view = EvidenceView([StoredEvidence(f"{n:012x}", tool, {}, data) for n, (tool, data) in enumerate(items)])
    return CHECKS[check_id].func(view)


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_missing_evidence_is_one_error_on_the_tool_that_should_have_produced_it(check_id: str) -> None:
    [finding] = CHECKS[check_id].func(EvidenceView())
    assert finding.status is Status.ERROR
    assert finding.resource in CHECKS[check_id].needs
    assert finding.reason.startswith(f"No stored evidence from {finding.resource}")


def test_a_region_aws_refused_is_an_error_named_by_region_beside_the_judged_ones() -> None:
    plans = {"us-east-1": [], "eu-west-1": {"error": "AccessDeniedException"}}
    findings = run("aws.backup.plan_exists", ("aws.backup.plans", plans))
    assert [(f.resource, f.status) for f in findings] == [("eu-west-1", Status.ERROR), ("aws-account", Status.FAIL)]
    assert findings[0].reason == "aws.backup.plans in eu-west-1 could not be read: AccessDeniedException."


def test_a_refused_part_of_a_resource_is_an_error_on_that_resource() -> None:
    bucket = {"Name": "logs", "Arn": "arn:aws:s3:::logs", "Encryption": {"error": "AccessDenied"}}
    [finding] = run("aws.s3.bucket_encryption", ("aws.s3.buckets", [bucket]))
    assert (finding.status, finding.resource) == (Status.ERROR, "arn:aws:s3:::logs")
    assert finding.facts["error"] == "AccessDenied" and "AccessDenied" in finding.reason
    # The error that only means "not set" is judged, not an error: no default encryption fails.
    bucket["Encryption"] = {"error": "ServerSideEncryptionConfigurationNotFoundError"}
    [finding] = run("aws.s3.bucket_encryption", ("aws.s3.buckets", [bucket]))
    assert finding.status is Status.FAIL


def test_a_trail_whose_status_could_not_be_read_is_not_judged_as_not_logging() -> None:
    trail = {"Name": "org", "TrailARN": "arn:aws:cloudtrail:us-east-1:123456789012:trail/org"}
    trails = {"us-east-1": [{**trail, "Status": {"error": "AccessDeniedException"}}]}
    [finding] = run("aws.cloudtrail.logging_on", ("aws.cloudtrail.trails", trails))
    assert (finding.status, finding.resource) == (Status.ERROR, trail["TrailARN"])


def test_unreadable_administrator_access_holders_are_an_error_not_silence() -> None:
    admin = {"arn": "arn:aws:iam::aws:policy/AdministratorAccess", "error": "AccessDenied"}
    policies = {"customer_managed": [], "aws_managed_attachments": {"AdministratorAccess": admin}}
    findings = run("aws.iam.admin_privileges", ("aws.iam.policies", policies), ("aws.iam.inline_policies", []))
    [finding] = [f for f in findings if f.resource != "aws.iam.inline_policies"]  # no inline policy: not applicable
    assert (finding.status, finding.resource) == (Status.ERROR, admin["arn"])


def test_account_wide_settings_without_an_arn_are_named_aws_account() -> None:
    block = {"account_id": "123456789012", "configuration": {"error": "NoSuchPublicAccessBlockConfiguration"}}
    [finding] = run("aws.s3.account_public_access_block", ("aws.s3.account_public_access_block", block))
    assert (finding.status, finding.resource) == (Status.FAIL, "aws-account")
    [finding] = run("aws.iam.password_policy_length", ("aws.iam.password_policy", {"error": "NoSuchEntity"}))
    assert (finding.status, finding.resource) == (Status.FAIL, "aws-account")


def test_a_log_group_aws_refused_is_an_error_named_by_region_and_group() -> None:
    data = {
        "sources": [{"log_group": "/aws/cloudtrail", "region": "eu-west-1", "error": "AccessDeniedException"}],
        "records_scanned": 0,
        "cloudtrail_events": [],
        "auth_events": [],
    }
    [finding] = run("logs.root_account_use", ("logs.cloudwatch_events", data))
    assert (finding.status, finding.resource) == (Status.ERROR, "eu-west-1:/aws/cloudtrail")
    assert "AccessDeniedException" in finding.reason


def test_an_unreadable_repository_is_an_error_naming_it_and_its_error() -> None:
    entry = {"repo": "acme/gone", "error": "404 Not Found"}
    [finding] = run("repo.signed_commits", ("git.commits", {"repos": [entry]}))
    assert (finding.status, finding.resource) == (Status.ERROR, "acme/gone")
    assert finding.reason == "acme/gone could not be read: 404 Not Found."
