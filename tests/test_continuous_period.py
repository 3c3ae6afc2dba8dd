"""A simulated 30-day observation period: daily runs against a real moto server with a travelling clock.

Day 5 a quarterly access review is attached and approved; day 10 a console user loses MFA, day 14 regains it;
day 20 a security group opens SSH to the internet; day 25 no run happens. The period report must show exactly
these exceptions, their durations and the cadence gap; the diff between days 19 and 21 shows the group.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime

import boto3
import pytest
import time_machine
from typer.testing import CliRunner

from agent.api import run_proof
from agent.history import compare_reports, diff_runs, run_history
from agent.lock import workspace_lock
from agent.notify import notification, notify_after_run
from agent.report import read_report
from tools.config import AuditorConfig, AwsConfig, RunConfig
from tools.signing import load_signer
from tools.workspace import Workspace
from tui.cli import app

pytestmark = pytest.mark.slow  # thirty daily proof runs against moto

CONTROLS = ["IAM-01", "NET-01", "IAM-11"]
MISSED_DAY = 25
runner = CliRunner()


def _day(n: int, hour: int = 3) -> datetime:
    return datetime(2026, 1, n, hour, 17, tzinfo=UTC)


@pytest.fixture(scope="module")
def thirty_days(
    own_moto_server: str,  # the simulation changes IAM and EC2, which other tests must not see
    workspace_with_knowledge,
    approved_access_review,
    tmp_path_factory: pytest.TempPathFactory,
):
    clients = {
        "endpoint_url": own_moto_server,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    iam, ec2 = boto3.client("iam", **clients), boto3.client("ec2", **clients)
    for user in ("dana", "sam"):
        iam.create_user(UserName=user)
        iam.create_login_profile(UserName=user, Password="Correct-Horse-9!")
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]["SerialNumber"]
        iam.enable_mfa_device(
            UserName=user, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
    dana_serial = iam.list_mfa_devices(UserName="dana")["MFADevices"][0]["SerialNumber"]
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName="web", Description="web servers", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )

    workspace = workspace_with_knowledge(tmp_path_factory.mktemp("thirty-days"))
    config = AuditorConfig(
        company="Simulated Co",
        workspace=workspace.root,
        aws=AwsConfig(endpoint_url=own_moto_server, regions=["us-east-1"]),
        run=RunConfig(evidence_ttl_hours=0),
    )
    run_ids: dict[int, str] = {}
    for n in range(1, 31):
        if n == 5:
            with time_machine.travel(_day(5, hour=10), tick=False):
                approved_access_review(
                    workspace, "acc355ed0001", "/reviews/2026-q1.pdf", reason="Q1 access review, signed"
                )
        if n == 10:
            iam.deactivate_mfa_device(UserName="dana", SerialNumber=dana_serial)
        if n == 14:
            iam.enable_mfa_device(
                UserName="dana", SerialNumber=dana_serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
            )
        if n == 20:
            ec2.authorize_security_group_ingress(
                GroupId=group,
                IpPermissions=[
                    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
                ],
            )
        if n == MISSED_DAY:
            continue
        with time_machine.travel(_day(n), tick=True), workspace_lock(workspace, "auditor run --trigger schedule"):
            outcome = run_proof(config, workspace, control_ids=CONTROLS, trigger="schedule", model=None)
        run_ids[n] = outcome.report.run.id
    return workspace, run_ids, group


def _auditor(workspace: Workspace, *args: str):
    return runner.invoke(app, ["--workspace", str(workspace.root), *args], terminal_width=200)


def test_history_lists_every_scheduled_run(thirty_days) -> None:
    workspace, run_ids, _ = thirty_days
    entries = run_history(workspace, load_signer(AuditorConfig(workspace=workspace.root)).public)
    assert [e.run_id for e in entries] == [run_ids[n] for n in sorted(run_ids, reverse=True)]
    assert {e.trigger for e in entries} == {"schedule"} and {e.status for e in entries} == {"completed"}
    assert entries[-1].started_at.date() == date(2026, 1, 1)
    assert all(e.evidence_head for e in entries)
    by_day = {e.started_at.day: e for e in entries}
    assert by_day[9].exceptions == 0 and by_day[10].exceptions == 1 and by_day[20].exceptions == 1
    listed = json.loads(_auditor(workspace, "history", "--format", "json").output)
    assert [e["run_id"] for e in listed] == [e.run_id for e in entries]


def test_period_report_shows_exactly_the_exceptions_and_the_gap(thirty_days) -> None:
    workspace, run_ids, group = thirty_days
    result = _auditor(workspace, "report", "--period", "2026-01-01..2026-01-30", "--format", "json")
    assert result.exit_code == 0, result.output
    period = json.loads(result.output)
    assert (period["runs"], period["run_days"]) == (29, 29)
    assert (period["schedule"], period["expected_runs"], period["missed_runs"]) == ("17 3 * * *", 30, 1)
    assert period["gaps"] == [
        {"start": "2026-01-25T03:17:00Z", "end": "2026-01-25T03:17:00Z", "missed_runs": 1, "unit": "days", "length": 1}
    ]
    controls = {c["control"]: c for c in period["controls"]}
    exceptions = [
        (
            e["control"],
            e["check"],
            e["first_seen"],
            e["last_seen"],
            e["resolved_on"],
            e["duration_days"],
            e["runs_failing"],
        )
        for c in controls.values()
        for e in c["exceptions"]
    ]
    assert sorted(exceptions) == [
        ("IAM-01", "aws.iam.console_user_mfa", "2026-01-10", "2026-01-13", "2026-01-14", 4, 4),
        ("NET-01", "aws.ec2.sg_admin_ports_open", "2026-01-20", "2026-01-30", None, 10, 10),
    ]
    (mfa,) = controls["IAM-01"]["exceptions"]
    assert "dana" in mfa["resource"] and mfa["evidence_ids"]
    (opened,) = controls["NET-01"]["exceptions"]
    assert group in opened["resource"]
    assert (controls["IAM-01"]["runs"], controls["IAM-01"]["runs_with_exceptions"]) == (29, 4)
    assert [(s["first_day"], s["last_day"], s["runs"], s["failed"]) for s in controls["IAM-01"]["stretches"]] == [
        ("2026-01-01", "2026-01-09", 9, 0),
        ("2026-01-10", "2026-01-13", 4, 1),
        ("2026-01-14", "2026-01-30", 16, 0),
    ]
    assert controls["IAM-11"]["expected_records"] == [
        {"period_start": "2026-01-01", "period_end": "2026-03-31", "attachments": ["acc355ed0001"]}
    ]
    markdown = _auditor(workspace, "report", "--period", "2026-01-01..2026-01-30").output
    assert "2026-01-25..2026-01-25: 1 day(s) without a run" in markdown
    assert "first seen 2026-01-10, last seen 2026-01-13, resolved 2026-01-14, 4 day(s)" in markdown


def test_diff_between_day_19_and_21_shows_the_opened_group(thirty_days) -> None:
    workspace, run_ids, group = thirty_days
    public = load_signer(AuditorConfig(workspace=workspace.root)).public
    changes = diff_runs(workspace, public, run_ids[19], run_ids[21])
    assert [(e.control, e.check) for e in changes.new_failures] == [("NET-01", "aws.ec2.sg_admin_ports_open")]
    assert group in changes.new_failures[0].resource and changes.new_failures[0].evidence_after
    assert changes.fixed == [] and changes.still_failing == []
    result = _auditor(workspace, "diff", run_ids[13], run_ids[14], "--format", "json")
    fixed = json.loads(result.output)["fixed"]
    assert [(e["control"], e["status_before"], e["status_after"]) for e in fixed] == [("IAM-01", "fail", "pass")]


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802  (http.server's name)
        length = int(self.headers["Content-Length"])
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.received = []
    monkeypatch.setenv("AUDITOR_WEBHOOK", f"http://127.0.0.1:{server.server_address[1]}/hook")
    try:
        yield _Hook.received
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_hears_of_new_failures_and_failed_runs_redacted(thirty_days, webhook) -> None:
    workspace, run_ids, _ = thirty_days
    day_10 = read_report(workspace, run_ids[10])
    assert (
        notify_after_run(
            workspace,
            "AUDITOR_WEBHOOK",
            "Simulated Co",
            run_ids[10],
            public=load_signer(AuditorConfig(workspace=workspace.root)).public,
            report=day_10,
            today=date(2026, 1, 10),
        )
        is None
    )
    (body,) = webhook
    assert [(e["control"], e["check"]) for e in body["new_failures"]] == [("IAM-01", "aws.iam.console_user_mfa")]
    assert body["status"] == "completed" and "1 new failure(s), 0 fixed" in body["text"]
    assert body["text"].startswith(f"agentic-auditor: run {run_ids[10]} for Simulated Co")

    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzZ9q3kLmT2"
    notify_after_run(
        workspace,
        "AUDITOR_WEBHOOK",
        "Simulated Co",
        "run-x",
        today=date(2026, 1, 10),
        error=f"AccessDenied: aws_secret_access_key={secret}",
    )
    failed = webhook[1]
    assert failed["status"] == "failed" and "AccessDenied" in failed["text"]
    assert secret not in json.dumps(failed)


def test_a_failing_webhook_is_reported_not_raised(thirty_days, closed_loopback_url, monkeypatch) -> None:
    workspace, run_ids, _ = thirty_days
    monkeypatch.setenv("AUDITOR_WEBHOOK", closed_loopback_url)
    warning = notify_after_run(
        workspace,
        "AUDITOR_WEBHOOK",
        "Simulated Co",
        run_ids[20],
        public=load_signer(AuditorConfig(workspace=workspace.root)).public,
        report=read_report(workspace, run_ids[20]),
        today=date(2026, 1, 20),
    )
    assert warning is not None and warning.startswith("notification not sent (webhook from $AUDITOR_WEBHOOK)")


def test_nothing_to_say_sends_nothing(thirty_days) -> None:
    workspace, run_ids, _ = thirty_days
    quiet = compare_reports(read_report(workspace, run_ids[2]), read_report(workspace, run_ids[3]))
    assert notification("Simulated Co", run_ids[3], report=read_report(workspace, run_ids[3]), changes=quiet) is None
