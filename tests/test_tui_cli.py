"""`auditor review --log`: prints the review log, verifies its chain, exits non-zero when it is broken."""

from __future__ import annotations

import sqlite3

from typer.testing import CliRunner

from agent.cli import app
from agent.workspace import Workspace
from tui.review_log import ReviewLog

runner = CliRunner()


def _record_two_decisions(workspace: Workspace) -> None:
    log = ReviewLog(workspace.review_db)
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
    result = runner.invoke(app, ["--workspace", str(tmp_path / "ws"), "review", "--log"])
    assert result.exit_code == 0
    assert "No review decisions yet" in result.output
