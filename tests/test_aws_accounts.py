"""Many accounts: an AWS Organization's accounts, each read through the configured read-only role, on moto."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from agent.render.csv import render_csv
from agent.render.html import render_html
from agent.render.inputs import ReportInputs
from agent.report import render_markdown
from knowledge.catalog import load_catalog
from tools.aws.accounts import list_accounts, role_arn
from tools.aws.session import ReadOnlyAws, ReadOnlyViolation
from tools.catalog import StoredEvidence
from tools.config import AuditorConfig, AwsConfig, AwsOrganizationConfig, ConfigError, LogsConfig, load_config
from tools.context import CollectContext
from tools.findings import Status
from tools.locker import EvidenceLocker
from tools.runner import CollectionError, EvidenceRunner
from tools.workspace import Workspace

ROLE = "AuditorReadOnly"
LENGTH_CHECK = "aws.iam.password_policy_length"


@pytest.fixture
def members(aws_organization: Callable[[int], list[str]]) -> list[str]:
    """Three new member accounts: the first passes the password length check, the others have no policy."""
    return aws_organization(3)


def _config(tmp_path: Path, endpoint: str, **organization: Any) -> AuditorConfig:
    return AuditorConfig(
        company="Org Co",
        workspace=tmp_path / "ws",
        aws=AwsConfig(endpoint_url=endpoint, organization=AwsOrganizationConfig(role_name=ROLE, **organization)),
    )


def _runner(config: AuditorConfig, tmp_path: Path) -> EvidenceRunner:
    workspace = Workspace.at(tmp_path / "ws")
    return EvidenceRunner(EvidenceLocker(workspace.locker_db, workspace.blobs_dir), CollectContext(config))


def _refuse_assume_role_into(account_id: str) -> Callable[..., Any]:
    """AWS's answer when the role's trust policy does not trust the caller (moto assumes any role)."""

    def refuse(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if account_id not in str(params.get("body")):
            return None
        error = {"Code": "AccessDenied", "Message": "not authorized to perform: sts:AssumeRole"}
        return AWSResponse(params["url"], 403, {}, None), {"Error": error, "ResponseMetadata": {}}

    return refuse


def test_the_guard_assumes_only_the_configured_role_and_lists_accounts_only_for_an_organization(
    moto_server: str,
) -> None:
    organization = AwsOrganizationConfig(role_name=ROLE)
    aws = ReadOnlyAws(AwsConfig(endpoint_url=moto_server, organization=organization))
    assert aws.permits("sts", "AssumeRole", {"RoleArn": role_arn("111122223333", ROLE)})
    assert aws.permits("organizations", "ListAccounts")
    for other in (
        "arn:aws:iam::111122223333:role/Admin",
        f"arn:aws:iam::111122223333:role/{ROLE}Admin",
        f"arn:aws:iam::111122223333:role/team/{ROLE}",
        f"arn:aws:iam::*:role/{ROLE}",
        f"arn:aws:iam::111122223333:user/{ROLE}",
        "",
    ):
        assert not aws.permits("sts", "AssumeRole", {"RoleArn": other}), other
    with pytest.raises(ReadOnlyViolation):
        aws.client("sts").assume_role(RoleArn="arn:aws:iam::111122223333:role/Admin", RoleSessionName="auditor")
    assert not aws.permits("organizations", "CreateAccount")
    assert aws.calls_made == 0  # refused before any request was built

    single = ReadOnlyAws(AwsConfig(endpoint_url=moto_server))
    assert not single.permits("sts", "AssumeRole", {"RoleArn": role_arn("111122223333", ROLE)})
    assert not single.permits("organizations", "ListAccounts")


def test_a_role_name_is_a_name_and_the_section_loads_from_toml(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="role_name"):
        AwsOrganizationConfig(role_name="team/AuditorReadOnly")
    path = tmp_path / "auditor.toml"
    path.write_text('[aws.organization]\nrole_name = "AuditorReadOnly"\nexclude_accounts = ["222222222222"]\n')
    organization = load_config(path).aws.organization
    assert organization is not None
    assert (organization.role_name, organization.exclude_accounts) == (ROLE, ["222222222222"])


@pytest.mark.slow  # an organization of member accounts seeded in moto
def test_each_account_is_read_through_its_role_once_per_distinct_read_and_judged_on_its_own(
    moto_server: str, members: list[str], tmp_path: Path
) -> None:
    passing, failing, excluded = members
    config = _config(tmp_path, moto_server, accounts=[passing, failing])
    runner = _runner(config, tmp_path)

    outcomes = runner.collect_each_account("aws.iam.password_policy")
    assert [account for account, _ in outcomes] == [passing, failing]
    items = [item for _, item in outcomes]
    assert all(isinstance(item, StoredEvidence) for item in items)
    assert [item.params for item in items] == [{"account": passing}, {"account": failing}]
    assert "policy" in items[0].data and items[1].data == {"error": "NoSuchEntity"}  # each account's own answer

    findings = runner.evaluate(LENGTH_CHECK, items)
    assert [(f.account, f.resource, f.status) for f in findings] == [
        (passing, "aws-account", Status.PASS),
        (failing, "aws-account", Status.FAIL),
    ]
    assert all(f.severity is not None for f in findings)

    # Asked again (another control planning the same read): answered from the run, nothing sent.
    runner.collect_each_account("aws.iam.password_policy")
    management = runner.ctx.aws
    assert sorted(management.operations_sent) == ["organizations:ListAccounts", "sts:AssumeRole", "sts:AssumeRole"]
    for member in runner.ctx.accounts:
        assert member.aws is not None
        assert member.aws.calls_made == member.aws.distinct_calls == 1
    assert runner.ctx.aws_calls.made == runner.ctx.aws_calls.distinct == 5
    # Every active account but the excluded ones, when no accounts are listed.
    every_but = AwsOrganizationConfig(role_name=ROLE, exclude_accounts=[excluded])
    listed = [account["Id"] for account in list_accounts(runner.ctx.aws, every_but)]
    assert passing in listed and failing in listed and excluded not in listed


@pytest.mark.slow  # an organization of member accounts seeded in moto
def test_an_account_whose_role_cannot_be_assumed_is_an_error_for_every_check_and_the_others_go_on(
    moto_server: str, members: list[str], tmp_path: Path
) -> None:
    passing, failing, refused = members
    runner = _runner(_config(tmp_path, moto_server, accounts=members), tmp_path)
    runner.ctx.aws.client("sts").meta.events.register("before-call.sts.AssumeRole", _refuse_assume_role_into(refused))

    outcomes = dict(runner.collect_each_account("aws.iam.password_policy"))
    assert isinstance(outcomes[refused], CollectionError)
    assert f"account {refused}" in str(outcomes[refused]) and "could not be assumed" in str(outcomes[refused])
    items = [item for item in outcomes.values() if isinstance(item, StoredEvidence)]
    findings = {f.account: f for f in runner.evaluate(LENGTH_CHECK, items)}
    assert (findings[passing].status, findings[failing].status) == (Status.PASS, Status.FAIL)
    assert findings[refused].status == Status.ERROR
    assert role_arn(refused, ROLE) in findings[refused].reason and "AccessDenied" in findings[refused].reason
    # The other accounts' sources stay usable: the refusal is that account's, not the whole AWS source's.
    assert runner.sources.blocking("aws") is None
    # But AWS was not all read: the run is incomplete, not a pass.
    (problem,) = runner.sources.problems()
    assert problem.source == "aws" and problem.cause.startswith(f"account {refused} was not read")


@pytest.mark.slow  # an organization of member accounts seeded in moto
def test_an_account_the_organization_does_not_list_is_an_error_not_dropped(
    moto_server: str, members: list[str], tmp_path: Path
) -> None:
    """A typo in aws.organization.accounts: that account is said to be unread, in every check and in the sources."""
    passing = members[0]
    runner = _runner(_config(tmp_path, moto_server, accounts=[passing, "999999999999"]), tmp_path)
    outcomes = dict(runner.collect_each_account("aws.iam.password_policy"))
    assert isinstance(outcomes["999999999999"], CollectionError)
    items = [item for item in outcomes.values() if isinstance(item, StoredEvidence)]
    findings = {f.account: f for f in runner.evaluate(LENGTH_CHECK, items)}
    assert findings[passing].status == Status.PASS
    assert findings["999999999999"].status == Status.ERROR
    assert "not an active account of the organization" in findings["999999999999"].reason
    assert [p.cause for p in runner.sources.problems()] == [
        "account 999999999999 was not read: it is not an active account of the organization"
    ]


@pytest.mark.slow  # an organization of member accounts seeded in moto
def test_a_finding_from_a_local_log_is_listed_once_not_stamped_with_each_account(
    moto_server: str, members: list[str], tmp_path: Path
) -> None:
    """The root account's use in a local CloudTrail file is judged from that file alone: one finding, not one per
    member account under each member's id (the file's events are not theirs)."""
    from tools.catalog import load_all

    load_all()  # the log collectors and checks
    trail = tmp_path / "local-trail.json"
    root_use = {
        "eventTime": "2026-03-05T10:00:00Z",
        "eventName": "GetAccountSummary",
        "eventID": "e-1",
        "awsRegion": "us-east-1",
        "recipientAccountId": "123456789012",
        "userIdentity": {"type": "Root", "accountId": "123456789012", "arn": "arn:aws:iam::123456789012:root"},
    }
    trail.write_text(json.dumps({"Records": [root_use]}))
    config = _config(tmp_path, moto_server, accounts=members[:2]).model_copy(update={"logs": LogsConfig(paths=[trail])})
    runner = _runner(config, tmp_path)
    items = [item for _, item in runner.collect_each_account("logs.cloudtrail_s3")]
    items.append(runner.collect("logs.cloudtrail_events"))
    failing = [f for f in runner.evaluate("logs.root_account_use", items) if f.status == Status.FAIL]
    assert [(f.resource, f.account) for f in failing] == [("arn:aws:iam::123456789012:root", None)]


def test_account_ids_are_checked_in_the_configuration(tmp_path: Path) -> None:
    path = tmp_path / "auditor.toml"
    organization = '[aws.organization]\nrole_name = "AuditorReadOnly"\n'
    path.write_text(organization + 'accounts = ["12345"]\n')
    with pytest.raises(ConfigError, match=r"aws.organization.accounts.0': an AWS account id is twelve digits"):
        load_config(path)
    path.write_text('[aws.organization]\nrole_name = "arn:aws:iam::111111111111:role/AuditorReadOnly"\n')
    with pytest.raises(ConfigError, match="role_name': the role's name .*, not its ARN"):
        load_config(path)
    path.write_text(organization + 'accounts = ["111111111111"]\nexclude_accounts = ["111111111111"]\n')
    with pytest.raises(ConfigError, match="listed in both accounts and exclude_accounts: 111111111111"):
        load_config(path)


@pytest.mark.slow  # a proof run (knowledge store copy, graph) over moto
def test_a_run_over_an_organization_reports_an_account_column_in_every_format(
    moto_server: str, members: list[str], tmp_path: Path, workspace_with_knowledge
) -> None:
    from agent.api import run_proof

    workspace = workspace_with_knowledge(tmp_path / "ws")
    config = _config(tmp_path, moto_server, accounts=members[:2])
    outcome = run_proof(config, workspace, check_ids=[LENGTH_CHECK], model=None)
    assert outcome.aws_calls_made == outcome.aws_distinct_calls > 0

    report = outcome.report
    judged = [f for control in report.controls for f in control.findings if f.check == LENGTH_CHECK]
    assert sorted((f.account, f.status) for f in judged) == [(members[0], Status.PASS), (members[1], Status.FAIL)]
    document = json.loads(report.to_json())
    assert {f["account"] for c in document["controls"] for f in c["findings"] if f["check"] == LENGTH_CHECK} == set(
        members[:2]
    )
    assert [item.account for item in report.fix_list if item.check == LENGTH_CHECK] == [members[1]]

    markdown = render_markdown(report)
    assert f"account {members[1]}, `aws-account`" in markdown
    inputs = ReportInputs(report=report, catalog=load_catalog())
    rows = list(csv.DictReader(io.StringIO(render_csv(inputs))))
    assert {(row["account"], row["status"]) for row in rows if row["check"] == LENGTH_CHECK} == {
        (members[0], "pass"),
        (members[1], "fail"),
    }
    assert "<th>Account</th>" in render_html(inputs)


def test_one_account_keeps_the_report_as_it_was() -> None:
    from agent.report_schema import FixItem
    from tools.findings import Finding

    finding = Finding(check="c", status=Status.PASS, resource="r", reason="ok.")
    assert "account" not in json.loads(finding.model_dump_json())
    assert "account" in json.loads(finding.model_copy(update={"account": "111122223333"}).model_dump_json())
    item = FixItem(
        resource="r", check="c", status="fail", severity=None, reason="x", controls=[], owner_role="", due="2026-01-01"
    )
    assert "account" not in json.loads(item.model_dump_json())
