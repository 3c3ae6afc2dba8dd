"""Run digests in the run store, and the history and observation period read from them, over runs recorded
with a travelling clock through the real run store, report writer and command line (no proof runs: fast)."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from agent.history import run_digest, run_digests, run_history, run_summaries
from agent.report import aggregate
from evals.bench.history import record_runs
from evals.bench.synthetic_report import synthetic_inputs
from knowledge.control_library import load_controls
from tools.config import AuditorConfig
from tools.findings import Status
from tools.signing import PublicKey, Signer, create_key, load_signer
from tools.workspace import Workspace
from tui.cli import app

runner = CliRunner()


def _template():
    """Three synthetic controls under the ids of three automated controls of the library (a period reports on the
    library's controls); the first finding of the first one passes unless a run turns it to fail."""
    synthetic = synthetic_inputs(controls=3, evidence=6, runs=1)
    library_ids = [c.id for c in load_controls().controls if c.kind == "automated"][:3]
    controls = [
        c.model_copy(update={"id": library_id})
        for c, library_id in zip(synthetic.report.controls, library_ids, strict=True)
    ]
    first = controls[0]
    controls[0] = first.model_copy(
        update={"findings": [first.findings[0].model_copy(update={"status": Status.PASS}), *first.findings[1:]]}
    )
    return aggregate("Period Co", synthetic.report.run, controls, synthetic.catalog)


def _daily(workspace_root: Path, days: list[int], failing_days: set[int]) -> tuple[Workspace, dict[int, str]]:
    template = _template()
    times = [datetime(2026, 3, day, 3, 17, tzinfo=UTC) for day in days]
    first = template.controls[0].id
    run_ids = record_runs(template, workspace_root, times, lambda at: {(first, 0)} if at.day in failing_days else set())
    return Workspace.at(workspace_root), dict(zip(days, run_ids, strict=True))


def _public(workspace: Workspace) -> PublicKey:
    """The signing key's public half: record_runs signs each run with it, as a real run does."""
    return load_signer(AuditorConfig(workspace=workspace.root)).public


def _auditor(workspace: Workspace, *args: str):
    return runner.invoke(app, ["--workspace", str(workspace.root), *args], terminal_width=200)


def _signer(workspace: Workspace) -> Signer:
    return load_signer(AuditorConfig(workspace=workspace.root))


def _stored_digests(workspace: Workspace) -> dict[str, str]:
    with sqlite3.connect(workspace.runs_db) as db:
        return dict(db.execute("SELECT run_id, exceptions FROM signed_digests").fetchall())


def test_digests_are_kept_in_the_run_store_signed(tmp_path: Path) -> None:
    workspace, run_ids = _daily(tmp_path, [1, 2], failing_days={2})
    # Read with the public key only (an auditor's --public-key): built from the reports, and nothing stored.
    entries = run_history(workspace, _public(workspace))
    assert [(e.run_id, e.exceptions) for e in entries] == [
        (run_ids[2], entries[1].exceptions + 1),
        (run_ids[1], entries[1].exceptions),
    ]
    assert _stored_digests(workspace) == {}
    # Read by the key's holder: stored, signed, and read from the store the next time with the same figures.
    assert run_history(workspace, _public(workspace), _signer(workspace)) == entries
    stored = _stored_digests(workspace)
    assert set(stored) == set(run_ids.values())
    assert len(json.loads(stored[run_ids[2]])) == entries[0].exceptions
    assert run_history(workspace, _public(workspace)) == entries
    assert run_digest(workspace, _public(workspace), "no-such-run") is None


def test_a_digest_changed_or_signed_by_another_key_is_not_read(tmp_path: Path) -> None:
    """Someone who can write runs.sqlite removes day 2's exception from its stored digest: neither the summary
    (history) nor the details (periods) read the row; both are built again from the signed report."""
    workspace, run_ids = _daily(tmp_path, [1, 2], failing_days={2})
    public, signer = _public(workspace), _signer(workspace)
    genuine = run_digests(workspace, public, run_ids.values(), signer).found[run_ids[2]]
    assert genuine.exception_count == len(genuine.exceptions) > 0
    with sqlite3.connect(workspace.runs_db) as db:
        db.execute("UPDATE signed_digests SET exceptions = '[]' WHERE run_id = ?", (run_ids[2],))
    assert run_digests(workspace, public, [run_ids[2]]).found[run_ids[2]] == genuine  # details: hash differs
    with sqlite3.connect(workspace.runs_db) as db:
        (summary,) = db.execute("SELECT summary FROM signed_digests WHERE run_id = ?", (run_ids[2],)).fetchone()
        forged = json.loads(summary) | {"exception_count": 0}
        db.execute("UPDATE signed_digests SET summary = ? WHERE run_id = ?", (json.dumps(forged), run_ids[2]))
    assert run_summaries(workspace, public, [run_ids[2]]).found[run_ids[2]].exception_count == genuine.exception_count
    # Rewritten whole and signed again, by a key that is not the workspace's.
    other = Signer(Ed25519PrivateKey.generate(), "forger")
    run_digests(workspace, other.public, run_ids.values(), other)  # no run signed with it: nothing found, or stored
    assert run_digests(workspace, public, [run_ids[2]]).found[run_ids[2]] == genuine


def test_a_report_changed_after_signing_is_left_out_of_history_diff_and_periods(tmp_path: Path) -> None:
    """Day 2's report.json is forged after its run signed it (and after its digest was stored): readiness 42%
    and its failure turned to a pass. History, diff and the period name the run and use none of its figures."""
    workspace, run_ids = _daily(tmp_path, [1, 2, 3], failing_days={2})
    assert run_history(workspace, _public(workspace))[1].report_problem is None  # digest stored while genuine
    path = workspace.reports_dir / run_ids[2] / "report.json"
    forged = json.loads(path.read_text(encoding="utf-8"))
    forged["summary"]["readiness_pct"] = 42.0
    for control in forged["controls"]:
        for finding in control["findings"]:
            finding["status"] = "pass" if finding["status"] == "fail" else finding["status"]
    path.write_text(json.dumps(forged), encoding="utf-8")

    digests = run_digest(workspace, _public(workspace), run_ids[2])
    assert digests is None
    history = _auditor(workspace, "history")
    assert history.exit_code == 1
    said = " ".join(history.output.split())  # error lines wrap at the console's width
    assert f"run {run_ids[2]}: report changed after signing — excluded; run `auditor verify`" in said
    assert "42.0%" not in history.output
    for args in (["diff"], ["diff", run_ids[1], run_ids[2]]):
        diff = _auditor(workspace, *args)
        assert diff.exit_code == 1 and f"run {run_ids[2]}" in diff.output and "Readiness" not in diff.output
    assert _auditor(workspace, "diff", run_ids[1], run_ids[3]).exit_code == 0
    period = _auditor(workspace, "report", "--period", "2026-03-01..2026-03-03", "--format", "json")
    assert period.exit_code == 1 and f"run {run_ids[2]}: report changed after signing" in period.stderr
    assert json.loads(period.stdout)["runs"] == 2

    # Checked with another key, no report is one its run signed: every run is named, none is counted.
    other_key = tmp_path / "other.key"
    create_key(other_key)
    history = _auditor(workspace, "history", "--public-key", str(other_key))
    assert history.exit_code == 1 and "%" not in history.stdout
    assert " ".join(history.stderr.split()).count("report signed by no run with key") == 3


def test_period_lists_each_control_as_stretches_not_a_row_per_run(tmp_path: Path) -> None:
    days = list(range(1, 21))
    workspace, run_ids = _daily(tmp_path, days, failing_days={5, 6, 7})
    result = _auditor(workspace, "report", "--period", "2026-03-01..2026-03-20", "--format", "json")
    assert result.exit_code == 0, result.output
    period = json.loads(result.output)
    assert (period["runs"], period["run_days"]) == (20, 20)
    first = next(c for c in period["controls"] if c["control"] == _template().controls[0].id)
    assert (first["runs"], first["runs_with_exceptions"]) == (20, 3)
    assert [(s["first_day"], s["last_day"], s["runs"], s["first_run"], s["last_run"]) for s in first["stretches"]] == [
        ("2026-03-01", "2026-03-04", 4, run_ids[1], run_ids[4]),
        ("2026-03-05", "2026-03-07", 3, run_ids[5], run_ids[7]),
        ("2026-03-08", "2026-03-20", 13, run_ids[8], run_ids[20]),
    ]
    assert first["stretches"][1]["failed"] == first["stretches"][0]["failed"] + 1
    episode = next(e for e in first["exceptions"] if e["first_seen"] == "2026-03-05")
    assert (episode["last_seen"], episode["resolved_on"], episode["duration_days"]) == ("2026-03-07", "2026-03-08", 3)
    markdown = _auditor(workspace, "report", "--period", "2026-03-01..2026-03-20").output
    assert "- 2026-03-05..2026-03-07: 3 run(s)" in markdown


def test_history_and_period_need_no_report_once_digested(tmp_path: Path) -> None:
    """The digest is the record history and periods read: with the reports' bodies gone (only their size and
    time kept), both still answer from the run store."""
    workspace, run_ids = _daily(tmp_path, [1, 2, 3], failing_days={2})
    before = run_history(workspace, _public(workspace), _signer(workspace))  # stored, as after `auditor run`
    for run_id in run_ids.values():
        path = workspace.reports_dir / run_id / "report.json"
        stat = path.stat()
        path.write_bytes(b"\0" * stat.st_size)  # unreadable as a report, same size
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert run_history(workspace, _public(workspace)) == before
    result = _auditor(workspace, "report", "--period", "2026-03-01..2026-03-03", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["runs"] == 3


def _runs_at(workspace_root: Path, times: list[datetime]) -> Workspace:
    record_runs(_template(), workspace_root, times, lambda at: set())
    return Workspace.at(workspace_root)


def _gaps(workspace: Workspace, period: str, every: str) -> dict:
    result = _auditor(workspace, "report", "--period", period, "--every", every, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_hourly_schedule_gaps_are_the_missed_hours(tmp_path: Path) -> None:
    missed = {10, 11, 12, 20}
    workspace = _runs_at(tmp_path, [datetime(2026, 3, 2, h, 17, tzinfo=UTC) for h in range(24) if h not in missed])
    hourly = _gaps(workspace, "2026-03-02..2026-03-02", "hourly")
    assert (hourly["schedule"], hourly["expected_runs"], hourly["missed_runs"]) == ("17 * * * *", 24, 4)
    assert hourly["gaps"] == [
        {
            "start": "2026-03-02T10:17:00Z",
            "end": "2026-03-02T12:17:00Z",
            "missed_runs": 3,
            "unit": "hours",
            "length": 3,
        },
        {
            "start": "2026-03-02T20:17:00Z",
            "end": "2026-03-02T20:17:00Z",
            "missed_runs": 1,
            "unit": "hours",
            "length": 1,
        },
    ]
    markdown = _auditor(workspace, "report", "--period", "2026-03-02..2026-03-02", "--every", "hourly").output
    assert "- 2026-03-02 10:17..2026-03-02 12:17 UTC: 3 hour(s) without a run (3 scheduled run(s) missed)" in markdown
    # The same runs against a daily schedule miss nothing.
    daily = _gaps(workspace, "2026-03-02..2026-03-02", "daily")
    assert (daily["expected_runs"], daily["gaps"]) == (1, [])


def test_daily_schedule_gaps_stay_in_days(tmp_path: Path) -> None:
    workspace = _runs_at(tmp_path, [datetime(2026, 3, day, 3, 17, tzinfo=UTC) for day in (1, 2, 3, 6, 7)])
    daily = _gaps(workspace, "2026-03-01..2026-03-07", "daily")
    assert daily["gaps"] == [
        {"start": "2026-03-04T03:17:00Z", "end": "2026-03-05T03:17:00Z", "missed_runs": 2, "unit": "days", "length": 2}
    ]
    markdown = _auditor(workspace, "report", "--period", "2026-03-01..2026-03-07").output
    assert "- 2026-03-04..2026-03-05: 2 day(s) without a run (2 scheduled run(s) missed)" in markdown


def test_cron_schedule_expects_runs_only_when_its_expression_says(tmp_path: Path) -> None:
    """Working hours on weekdays: the weekend is no gap; the one missed hour on Wednesday is."""
    every = "17 9-17 * * 1-5"
    monday = datetime(2026, 3, 2, tzinfo=UTC)
    times = [
        monday + timedelta(days=day, hours=hour, minutes=17)
        for day in range(5)
        for hour in range(9, 18)
        if (day, hour) != (2, 13)
    ]
    workspace = _runs_at(tmp_path, times)
    week = _gaps(workspace, "2026-03-02..2026-03-08", every)
    assert (week["expected_runs"], week["missed_runs"]) == (45, 1)
    assert [(g["start"], g["unit"], g["length"]) for g in week["gaps"]] == [("2026-03-04T13:17:00Z", "hours", 1)]
    bad = _auditor(workspace, "report", "--period", "2026-03-02..2026-03-08", "--every", "17 25 * * *")
    assert bad.exit_code == 2 and "hour 25 is out of range" in bad.output


def test_scheduled_times_still_to_come_are_no_gap(tmp_path: Path) -> None:
    workspace = _runs_at(tmp_path, [datetime(2026, 3, day, 3, 17, tzinfo=UTC) for day in (1, 2, 3)])
    with time_machine.travel(datetime(2026, 3, 3, 12, 0, tzinfo=UTC), tick=False):
        period = _gaps(workspace, "2026-03-01..2026-03-31", "daily")
    assert (period["expected_runs"], period["missed_runs"], period["gaps"]) == (3, 0, [])
