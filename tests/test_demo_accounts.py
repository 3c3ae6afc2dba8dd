"""The demo's AWS estate lives in whatever account its moto server answers for ($MOTO_ACCOUNT_ID, else moto's
default): the seeder asks STS, so two demo workspaces can stand for two accounts and be merged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from tools.demo.aws import STALE_CREDENTIAL_AGE_DAYS, seed_acme_ai
from tools.demo.server import MotoServer
from tui.cli import app
from tui.cli.state import console, err_console

OTHER_ACCOUNT = "222222222222"


def test_the_demo_estate_is_seeded_in_the_account_sts_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", OTHER_ACCOUNT)
    server = MotoServer()
    endpoint = server.start()
    try:
        seed_acme_ai(endpoint)
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
        contractor = iam.get_user(UserName="sam.okafor-contractor")["User"]
        assert contractor["Arn"] == f"arn:aws:iam::{OTHER_ACCOUNT}:user/sam.okafor-contractor"
        assert contractor["CreateDate"] < datetime.now(UTC) - timedelta(days=STALE_CREDENTIAL_AGE_DAYS - 1)
        trust = iam.get_role(RoleName="acme-support")["Role"]["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        assert trust["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}
    finally:
        server.stop()


@pytest.mark.slow  # two whole demo runs
def test_two_demo_workspaces_in_different_accounts_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no auditor.toml here
    for stream in (console, err_console):  # messages naming a path stay on one line
        monkeypatch.setattr(stream, "_width", 300)
    runner = CliRunner()
    parts = []
    for account in ("111111111111", OTHER_ACCOUNT):
        monkeypatch.setenv("MOTO_ACCOUNT_ID", account)
        workspace = tmp_path / account
        demo = runner.invoke(app, ["-w", str(workspace), "demo"], terminal_width=300)
        assert demo.exit_code == 0, demo.output
        assert f"Next: auditor -w {workspace} review" in demo.output
        parts.append(str(workspace))
    monkeypatch.delenv("MOTO_ACCOUNT_ID")
    merged = runner.invoke(app, ["merge", *parts, "-o", str(tmp_path / "merged")], terminal_width=300)
    assert merged.exit_code == 0, merged.output
    assert "Merged 2 part(s)" in merged.output
    assert {p.name for p in (tmp_path / "merged" / "parts").iterdir()} == {"111111111111", OTHER_ACCOUNT}
    # The demo's local log files are no account's: their findings are listed once, with no account, while what
    # each part read from its own AWS carries that account.
    report = json.loads((tmp_path / "merged" / "report.json").read_text())
    findings = [f for control in report["controls"] for f in control["findings"]]
    tampered = [f for f in findings if f["check"] == "logs.audit_logging_tampered" and f["status"] == "fail"]
    assert tampered and all("account" not in f for f in tampered)
    assert len({json.dumps(f, sort_keys=True) for f in tampered}) == len(tampered)
    length = {f.get("account") for f in findings if f["check"] == "aws.iam.password_policy_length"}
    assert length == {"111111111111", OTHER_ACCOUNT}
    # Each cited item's record comes from the part that holds it: none is said to be missing.
    html = (tmp_path / "merged" / "report.html").read_text()
    assert 'id="ev-' in html and "Not in this workspace's evidence locker" not in html
