"""`auditor review --log` prints the review log and verifies its chain; `auditor report` shows the decisions."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from agent.report import latest_run_id, read_report
from agent.review_log import ReviewLog
from tools.config import AuditorConfig
from tools.signing import load_signer
from tools.workspace import Workspace
from tui.cli import app
from tui.session import ReviewActionError

runner = CliRunner()


def _signed_log(workspace: Workspace) -> ReviewLog:
    """The review log, each decision signed with the workspace key as a review session signs it."""
    return ReviewLog(workspace.review_db, signer=load_signer(AuditorConfig(workspace=workspace.root), create=True))


def _record_two_decisions(workspace: Workspace) -> None:
    log = _signed_log(workspace)
    for action, reason in (("reject", "cite the access policy"), ("approve", None)):
        log.append(
            reviewer="dana",
            action=action,
            control_id="IAM-01",
            run_id="run-1",
            before_hash="a" * 64,
            after_hash="a" * 64,
            evidence_hash="e" * 64,
            reason=reason,
        )
    log.close()


def test_review_log_prints_and_verifies(tmp_path):
    workspace = Workspace.at(tmp_path / "ws")
    _record_two_decisions(workspace)
    result = runner.invoke(app, ["--workspace", str(workspace.root), "review", "--log"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "cite the access policy" in result.output
    assert "chain intact" in result.output and "2 decisions" in result.output


def test_review_log_prints_the_period_an_attachment_covers(tmp_path):
    workspace = Workspace.at(tmp_path / "ws")
    with _signed_log(workspace) as log:
        log.append(
            reviewer="dana",
            action="attach",
            control_id="GOV-01",
            run_id="run-1",
            before_hash="a" * 64,
            after_hash="a" * 64,
            evidence_hash="e" * 64,
            detail={
                "evidence_id": "c" * 12,
                "path": "/tmp/nda.pdf",
                "period_start": "2025-01-01",
                "period_end": "2025-03-31",
            },
        )
    result = runner.invoke(app, ["--workspace", str(workspace.root), "review", "--log"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "attach" in result.output and "covers 2025-01-01..2025-03-31" in result.output


def test_review_log_broken_chain_exits_non_zero(tmp_path):
    workspace = Workspace.at(tmp_path / "ws")
    _record_two_decisions(workspace)
    db = sqlite3.connect(workspace.review_db)
    db.executescript("DROP TRIGGER review_log_no_update; UPDATE review_log SET reviewer = 'mallory' WHERE seq = 1;")
    db.close()
    result = runner.invoke(app, ["--workspace", str(workspace.root), "review", "--log"], terminal_width=200)
    assert result.exit_code == 1
    assert "chain is broken" in result.output
    assert "row 1" in result.output


def test_review_log_without_decisions(tmp_path):
    workspace = Workspace.at(tmp_path / "ws")
    result = runner.invoke(app, ["--workspace", str(workspace.root), "review", "--log"])
    assert result.exit_code == 0
    assert "No review decisions yet" in result.output


@pytest.mark.parametrize(
    "command", [["review", "--log"], ["verify"], ["history"], ["diff"], ["report", "--stdout"], ["requests"]]
)
def test_a_command_that_reads_a_workspace_refuses_a_missing_one_and_creates_nothing(tmp_path, command):
    mistyped = tmp_path / "nonexistent"
    result = runner.invoke(app, ["--workspace", str(mistyped), *command])
    assert result.exit_code == 2, result.output
    assert f"no workspace at {mistyped}" in " ".join(result.output.split())
    assert not mistyped.exists()


def _section(markdown: str, control_id: str) -> str:
    """The part of the Markdown report under the control's first heading, up to the next heading."""
    start = markdown.index(f"#### {control_id} ")
    return markdown[start : markdown.index("\n#", start + 1)]


@pytest.mark.slow
def test_report_shows_each_review_decision(tmp_path, demo_session, reviewer):
    session = demo_session(tmp_path)
    workspace = session.workspace

    def report(*args: str) -> str:
        result = runner.invoke(app, ["--workspace", str(workspace.root), "report", "--stdout", *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    # The run wrote the review state it found: nothing reviewed yet.
    written = read_report(workspace, latest_run_id(workspace) or "")
    assert {control.review.state for control in written.controls if control.review} == {"awaiting_review"}
    before = report()
    assert "Draft, awaiting review." in _section(before, "IAM-01")

    rejected_text = session.review("NET-01").control.narrative.text
    edited_text = "Console users sign in with MFA, as the credential report shows [CC6.1]."
    signed = tmp_path / "nda-signed.csv"
    signed.write_text("name,signed\nraj.patel,2025-02-01\n", encoding="utf-8")
    try:
        session.approve("IAM-01")
        session.reject("NET-01", "cite the security group rule")
        session.save_edit("IAM-02", edited_text)
        _, evidence_id = session.attach("GOV-01", signed, period="2025-Q1")
        session.approve("GOV-01")
    finally:
        session.close()

    after = report()
    assert after != before
    assert f"Reviewed: approved by {reviewer} on 2025-03-01." in _section(after, "IAM-01")
    net = _section(after, "NET-01")
    assert f"**Rejected by {reviewer} on 2025-03-01 — draft withheld.** Reason: cite the security group rule" in net
    assert rejected_text not in after  # the rejected draft is not shown as the narrative anywhere
    iam2 = _section(after, "IAM-02")
    assert f"Edited by {reviewer} on 2025-03-01, awaiting approval." in iam2 and edited_text in iam2
    assert (
        f"- Manual evidence `nda-signed.csv` [ev:{evidence_id}], covering 2025-01-01 to 2025-03-31, "
        f"attached by {reviewer}; approved by {reviewer}." in _section(after, "GOV-01")
    )

    controls = {c["id"]: c for c in json.loads(report("--format", "json"))["controls"]}
    assert {cid: controls[cid]["review"]["state"] for cid in ("IAM-01", "NET-01", "IAM-02", "GOV-01", "IAM-03")} == {
        "IAM-01": "approved",
        "NET-01": "rejected",
        "IAM-02": "edited",
        "GOV-01": "approved",
        "IAM-03": "awaiting_review",
    }
    assert controls["IAM-02"]["review"]["text"] == edited_text and controls["IAM-02"]["review"]["edited_by"] == reviewer
    (attachment,) = controls["GOV-01"]["review"]["attachments"]
    assert (attachment["period_start"], attachment["period_end"], attachment["approved_by"]) == (
        "2025-01-01",
        "2025-03-31",
        reviewer,
    )


@pytest.mark.slow
def test_attach_refuses_a_period_it_cannot_read(tmp_path, demo_session):
    signed = tmp_path / "nda-signed.csv"
    signed.write_text("name,signed\n", encoding="utf-8")
    session = demo_session(tmp_path)
    try:
        with pytest.raises(ReviewActionError, match="write a quarter"):
            session.attach("GOV-01", signed, period="Q1 of last year")
        assert session.log.entries() == []  # nothing stored, nothing recorded
    finally:
        session.close()


@pytest.mark.slow
def test_a_run_writes_the_review_state_it_finds(tmp_path, demo_session, reviewer):
    from agent.api import run_proof

    session = demo_session(tmp_path)
    try:
        session.reject("NET-01", "cite the security group rule")
    finally:
        session.close()
    # A run of one control: the others keep their results from the latest report, and their review state.
    outcome = run_proof(session.config, session.workspace, control_ids=["IAM-01"], model=None)
    written = read_report(session.workspace, outcome.report.run.id)
    net = next(control for control in written.controls if control.id == "NET-01")
    assert net.review is not None and (net.review.state, net.review.reviewer) == ("rejected", reviewer)
    assert net.review.note == "cite the security group rule"
    assert "draft withheld" in (session.workspace.reports_dir / written.run.id / "report.md").read_text()
