"""Attacks on runs.sqlite by someone who can write the workspace but does not hold the key: a validly signed cache
row replayed under another run or control is not read; a workspace with the old unsigned caches upgrades without
reading them; a run's unsigned row changed to hide it hides nothing, and is named; a deleted report is named."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_agent_verdict_reuse import TEXT, _context
from test_period_digests import _daily, _public, _signer

import agent.nodes
from agent.history import run_digests, run_history
from agent.integrity import verify_workspace
from agent.nodes import _verdict
from agent.period import period_digests
from agent.runs import RunStore
from agent.verifier import verify
from tools.findings import Status
from tools.signing import Signer

# A stored digest but its run id and source stamp: what a replay copies from another run's row.
REPLAYED = "summary, controls, exceptions, details_sha256, signature"


def _sql(db: Path, statement: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(statement, params).fetchall()


def test_a_signed_digest_replayed_under_another_run_is_not_read(tmp_path: Path) -> None:
    """Day 2 failed. Its row gets day 1's signed summary, details and signature (a clean day) under its own source
    stamp, the one a reader expects; then the two rows are swapped whole. Each signature names its own run and
    report, so day 2 keeps its exception in history and periods."""
    workspace, run_ids = _daily(tmp_path, [1, 2], failing_days={2})
    public, signer = _public(workspace), _signer(workspace)
    genuine = run_digests(workspace, public, run_ids.values(), signer).found
    clean, failing = run_ids[1], run_ids[2]
    assert genuine[failing].exception_count == genuine[clean].exception_count + 1

    (row,) = _sql(workspace.runs_db, f"SELECT {REPLAYED} FROM signed_digests WHERE run_id = ?", clean)
    _sql(workspace.runs_db, f"UPDATE signed_digests SET ({REPLAYED}) = (?, ?, ?, ?, ?) WHERE run_id = ?", *row, failing)
    assert run_digests(workspace, public, [failing]).found[failing] == genuine[failing]
    assert {e.run_id: e.exceptions for e in run_history(workspace, public)}[failing] == genuine[failing].exception_count
    named = f"run {failing}: its digest in runs.sqlite is not signed with key"
    assert any(problem.startswith(named) for problem in verify_workspace(workspace, public).problems)

    _sql(workspace.runs_db, "DELETE FROM signed_digests")
    run_digests(workspace, public, run_ids.values(), signer)
    _sql(workspace.runs_db, "UPDATE signed_digests SET run_id = 'swap' WHERE run_id = ?", clean)
    _sql(workspace.runs_db, "UPDATE signed_digests SET run_id = ? WHERE run_id = ?", clean, failing)
    _sql(workspace.runs_db, "UPDATE signed_digests SET run_id = ? WHERE run_id = 'swap'", failing)
    assert run_digests(workspace, public, run_ids.values()).found == genuine


def test_a_verdict_signed_for_another_control_is_not_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """IAM-01's draft passed and IAM-02's was rejected; IAM-01's signed row is copied to IAM-02 with IAM-02's
    inputs hash. The signature names IAM-01 (and its inputs): IAM-02's draft is verified again, and rejected."""
    verified: list[str] = []
    monkeypatch.setattr(agent.nodes, "verify", lambda text, context: verified.append(text) or verify(text, context))
    ctx = SimpleNamespace(runs=RunStore(tmp_path / "runs.sqlite"), signer=Signer(Ed25519PrivateKey.generate(), "t"))
    assert _verdict(ctx, "IAM-01", TEXT, _context()).passed
    rejected = _verdict(ctx, "IAM-02", TEXT, _context(status=Status.FAIL))
    assert not rejected.passed and len(verified) == 2

    passed, failing = ctx.runs.verdict("IAM-01"), ctx.runs.verdict("IAM-02")
    ctx.runs.save_verdict(replace(passed, control_id="IAM-02", inputs_sha256=failing.inputs_sha256))
    assert _verdict(ctx, "IAM-02", TEXT, _context(status=Status.FAIL)) == rejected and len(verified) == 3


def test_a_workspace_with_the_unsigned_caches_upgrades_without_reading_them(tmp_path: Path) -> None:
    """A run store written before the caches were signed still holds run_digests and verdicts rows (here with a
    raised readiness and a passed verdict): they are dropped when the store is opened, and history shows the
    figures of the signed reports."""
    workspace, run_ids = _daily(tmp_path, [1, 2], failing_days={2})
    genuine = {e.run_id: e.readiness_pct for e in run_history(workspace, _public(workspace))}
    _sql(workspace.runs_db, "DROP TABLE signed_digests")
    _sql(workspace.runs_db, "DROP TABLE signed_verdicts")
    _sql(
        workspace.runs_db,
        "CREATE TABLE run_digests (run_id TEXT PRIMARY KEY, source_stamp TEXT NOT NULL, summary TEXT NOT NULL, "
        "controls TEXT NOT NULL, exceptions TEXT NOT NULL)",
    )
    _sql(
        workspace.runs_db, "INSERT INTO run_digests VALUES (?, 'x', '{\"readiness_pct\": 99}', '{}', '[]')", run_ids[2]
    )
    _sql(workspace.runs_db, "CREATE TABLE verdicts (control_id TEXT PRIMARY KEY, inputs_sha256 TEXT, verdict TEXT)")
    _sql(workspace.runs_db, "INSERT INTO verdicts VALUES ('IAM-01', 'x', '{\"passed\": true}')")

    assert {e.run_id: e.readiness_pct for e in run_history(workspace, _public(workspace))} == genuine
    tables = {name for (name,) in _sql(workspace.runs_db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"signed_digests", "signed_verdicts"} <= tables and not {"run_digests", "verdicts"} & tables


@pytest.mark.parametrize(
    "change",
    ["status = 'failed', error = 'RunCancelled'", "trigger = 'regenerate'", "started_at = '2026-02-20T03:17:00+00:00'"],
)
def test_a_run_hidden_by_its_unsigned_row_still_counts_and_is_named(tmp_path: Path, change: str) -> None:
    """Day 2 failed. Its row in the `runs` table (not signed) is changed so that history and the period would skip
    it: both still show it as its signed report says, and `auditor verify` names the change."""
    workspace, run_ids = _daily(tmp_path, [1, 2, 3], failing_days={2})
    public = _public(workspace)
    history = run_history(workspace, public)
    period = period_digests(workspace, public, date(2026, 3, 1), date(2026, 3, 3))
    assert verify_workspace(workspace, public).ok
    _sql(workspace.runs_db, f"UPDATE runs SET {change} WHERE id = ?", run_ids[2])
    assert run_history(workspace, public) == history
    assert period_digests(workspace, public, date(2026, 3, 1), date(2026, 3, 3)) == period
    integrity = verify_workspace(workspace, public)
    assert not integrity.ok
    assert any(problem.startswith(f"run {run_ids[2]}: runs.sqlite says") for problem in integrity.problems)


def test_a_deleted_report_is_named_by_history_and_the_period(tmp_path: Path) -> None:
    workspace, run_ids = _daily(tmp_path, [1, 2, 3], failing_days={2})
    public = _public(workspace)
    (workspace.reports_dir / run_ids[2] / "report.json").unlink()
    digests, rejected = period_digests(workspace, public, date(2026, 3, 1), date(2026, 3, 3))
    assert run_ids[2] not in {digest.run_id for digest in digests}
    assert rejected[run_ids[2]].startswith("report missing")
    assert {e.run_id: e.report_problem for e in run_history(workspace, public)}[run_ids[2]].startswith("report missing")
