"""The demo's expected findings: one loader for every YAML file, and a comparison that catches drift."""

from __future__ import annotations

from pathlib import Path

import pytest

import tools.aws.checks  # noqa: E402,F401  (registers the checks)
from tools.catalog import CHECKS
from tools.demo.expected import EXPECTED_DIR, compare, load_expected
from tools.findings import Finding, Status


def finding(resource: str, status: Status, check: str = "aws.ec2.sg_admin_ports_open") -> Finding:
    return Finding(check=check, status=status, resource=resource, reason="Written for this test.")


def test_aws_expectations_name_exactly_the_forty_one_aws_checks() -> None:
    expected = load_expected()
    aws_ids = {check_id for check_id in expected if check_id.startswith("aws.")}
    assert aws_ids == {check_id for check_id in CHECKS if check_id.startswith("aws.")}
    assert len(aws_ids) == 41
    assert all(entry.source == "aws.yaml" for check_id in aws_ids for entry in expected[check_id])


def test_every_yaml_file_in_the_folder_is_loaded(tmp_path: Path) -> None:
    (tmp_path / "aws.yaml").write_text("aws.iam.root_mfa:\n  - {resource: root, status: fail}\n")
    (tmp_path / "logs.yaml").write_text("logs.root_account_use:\n  - {resource: 'trail/*', status: fail}\n")
    expected = load_expected(tmp_path)
    assert set(expected) == {"aws.iam.root_mfa", "logs.root_account_use"}
    assert expected["logs.root_account_use"][0].source == "logs.yaml"
    assert {path.name for path in EXPECTED_DIR.glob("*.yaml")} >= {"aws.yaml"}


def test_bad_entry_names_file_and_check(tmp_path: Path) -> None:
    (tmp_path / "aws.yaml").write_text("aws.iam.root_mfa:\n  - {resource: root}\n")
    with pytest.raises(ValueError, match=r"aws.yaml: aws.iam.root_mfa entry 1 needs"):
        load_expected(tmp_path)


def test_compare_reports_wrong_status_missing_resource_and_unexpected_failure(tmp_path: Path) -> None:
    (tmp_path / "aws.yaml").write_text(
        "aws.ec2.sg_admin_ports_open:\n"
        "  - {resource: 'us-east-1/bastion-ssh/*', status: fail}\n"
        "  - {resource: 'us-east-1/inference-api-sg/*', status: pass}\n"
    )
    expected = load_expected(tmp_path)
    agreeing = [
        finding("us-east-1/bastion-ssh/sg-1", Status.FAIL),
        finding("us-east-1/inference-api-sg/sg-2", Status.PASS),
    ]
    assert compare(expected, agreeing, {"aws.ec2.sg_admin_ports_open"}) == []

    drifted = [finding("us-east-1/bastion-ssh/sg-1", Status.PASS), finding("us-east-1/jupyter/sg-3", Status.FAIL)]
    problems = compare(expected, drifted, {"aws.ec2.sg_admin_ports_open"})
    assert any("bastion-ssh/sg-1 is pass, expected fail" in problem for problem in problems)
    assert any("no finding for us-east-1/inference-api-sg/*" in problem for problem in problems)
    assert any("unexpected fail on us-east-1/jupyter/sg-3" in problem for problem in problems)
