"""An interrupted run, resumed, finishes without collecting again what it had already stored.

Two real interruptions: a failure raised inside the run (like Ctrl-C) after the Nth collection, and a
`auditor run` process killed with SIGKILL half-way; each is then resumed with `--resume`.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from agent.api import run_proof
from agent.runs import RunStore
from tools.catalog import TOOLS, load_all
from tools.chain import canonical_json
from tools.locker import EvidenceLocker
from tools.runner import EvidenceRunner

pytestmark = pytest.mark.slow  # interrupted and resumed proof runs, one in a subprocess

CONTROLS = ["IAM-01", "IAM-02", "IAM-04", "IAM-03", "LOG-01", "NET-01"]


class SimulatedKill(BaseException):
    """Not an Exception, like KeyboardInterrupt: nothing in the run may swallow it."""


class RunnerKilledAfter(EvidenceRunner):
    """Stores the Nth distinct collection, then dies before the control that asked for it finishes."""

    def __init__(self, *args, after: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.after = after

    def _collect_now(self, spec, args, params):
        evidence = super()._collect_now(spec, args, params)
        if self.counters.collected >= self.after:
            raise SimulatedKill(f"killed after storing {spec.name}")
        return evidence


def _count_collector_runs(monkeypatch: pytest.MonkeyPatch) -> Counter:
    load_all()
    runs: Counter = Counter()
    for name, spec in list(TOOLS.items()):

        def counted(ctx, args, _spec=spec):
            runs[_spec.name] += 1
            return _spec.func(ctx, args)

        monkeypatch.setitem(TOOLS, name, replace(spec, func=counted))
    return runs


def _stored_calls(workspace) -> Counter:
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        return Counter((record.tool, canonical_json(record.params)) for record in locker.list())


def test_a_run_interrupted_inside_resumes_and_reuses_stored_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workspace_with_knowledge, demo_config
) -> None:
    collector_runs = _count_collector_runs(monkeypatch)
    workspace = workspace_with_knowledge(tmp_path / "ws")
    config = demo_config(workspace, concurrency=1)

    with pytest.raises(SimulatedKill):
        run_proof(
            config,
            workspace,
            control_ids=CONTROLS,
            model=None,
            runner_factory=lambda locker, ctx, run_id: RunnerKilledAfter(locker, ctx, run_id, after=3),
        )
    interrupted = RunStore(workspace.runs_db).runs(1)[0]
    assert interrupted.status == "failed" and "SimulatedKill" in interrupted.error
    finished_before = {r.id for r in RunStore(workspace.runs_db).results(interrupted.id)}
    assert 0 < len(finished_before) < len(CONTROLS)

    done_after: list[str] = []
    outcome = run_proof(
        config,
        workspace,
        resume=True,
        model=None,
        on_event=lambda e: done_after.append(e.control_id) if e.kind == "done" else None,
    )

    assert outcome.resumed and outcome.report.run.id == interrupted.id
    assert sorted(c.id for c in outcome.report.controls) == sorted(CONTROLS)
    assert set(done_after) == set(CONTROLS) - finished_before  # finished controls were not redone
    assert outcome.reused >= 1  # the evidence stored just before the kill was reused, not collected again
    assert max(collector_runs.values()) == 1, collector_runs
    assert max(_stored_calls(workspace).values()) == 1
    assert RunStore(workspace.runs_db).get(interrupted.id).status == "completed"


def _finished_controls(runs_db: Path) -> int:
    """Controls the run has saved so far; 0 while the run store is still being created.

    The file appears before its tables do (sqlite creates it on connect), so polling it early may find
    no `control_results` table yet, or find it locked while the schema is written.
    """
    if not runs_db.exists():
        return 0
    try:
        with sqlite3.connect(runs_db, timeout=1) as db:
            return db.execute("SELECT count(*) FROM control_results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_a_killed_auditor_run_resumes_with_resume(tmp_path: Path, workspace_with_knowledge, demo_environment) -> None:
    workspace = workspace_with_knowledge(tmp_path / "ws")
    config_path = demo_environment.config_path
    command = [str(Path(sys.executable).parent / "auditor"), "-c", str(config_path), "-w", str(workspace.root), "run"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}

    # stderr to a file, not a pipe: nobody reads a pipe while the run goes on, and a full one would stall it.
    stderr_path = tmp_path / "run.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 120
    finished = 0
    while time.monotonic() < deadline and process.poll() is None:
        finished = _finished_controls(workspace.runs_db)
        if finished >= 25:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    assert process.wait(timeout=30) == -signal.SIGKILL, stderr_path.read_text()[-2000:]
    killed = RunStore(workspace.runs_db).runs(1)[0]
    assert killed.status == "running"  # nobody marked it: the process died
    stored_before = _stored_calls(workspace)
    with sqlite3.connect(workspace.runs_db) as db:
        saved_before = dict(
            db.execute("SELECT control_id, saved_at FROM control_results WHERE run_id = ?", (killed.id,))
        )

    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "run resumed" in resumed.stdout

    from agent.api import latest_report

    report = latest_report(workspace)
    assert report.run.id == killed.id and len(report.controls) == len(killed.control_ids)
    with sqlite3.connect(workspace.runs_db) as db:
        saved_after = dict(
            db.execute("SELECT control_id, saved_at FROM control_results WHERE run_id = ?", (killed.id,))
        )
    assert {c: saved_after[c] for c in saved_before} == saved_before, "a control finished before the kill was redone"
    stored_after = _stored_calls(workspace)
    assert max(stored_after.values()) == 1, "a collector ran twice for the same call"
    assert set(stored_before) <= set(stored_after)
