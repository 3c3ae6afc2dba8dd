"""The run store: runs, plans, per-control results, reasoning and events in SQLite (WAL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agent.report_schema import ControlResult, Narrative, Provenance, VerifierResult, WriterInfo
from agent.runs import RunStore, new_run_id

OFFLINE = WriterInfo(provider="offline", model="deterministic-v1")


def _result(control_id: str) -> ControlResult:
    return ControlResult(
        id=control_id,
        title="t",
        criteria=["CC6.1"],
        kind="manual",
        status="awaiting_evidence",
        findings=[],
        narrative=Narrative(
            status="verified",
            text="x [CC6.1].",
            citations=["CC6.1"],
            verifier=VerifierResult(passed=True, sentences=1, cited_sentences=1),
            provenance=Provenance(writer="offline", provider="offline", model="deterministic-v1"),
        ),
    )


def test_run_lifecycle_and_resumable(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    first = new_run_id()
    store.start(first, trigger="manual", writer=OFFLINE, control_ids=["IAM-01", "GOV-01"])
    assert store.resumable().id == first  # started, never finished: a kill leaves it like this
    store.save_plan(
        first,
        "IAM-01",
        [{"tool": "aws.iam.credential_report"}],
        [{"tool": "aws.iam.credential_report", "evidence_id": "0a1b2c3d4e5f"}],
    )
    store.save_result(
        first,
        _result("IAM-01"),
        {"rules_applied": {"aws.iam.console_user_mfa": "Every console user has MFA"}},
        [{"control_id": "IAM-01", "kind": "rejected_tool_call", "message": "rejected aws.iam.nope: unknown tool"}],
    )
    store.finish(first, "failed", error="KeyboardInterrupt")
    assert store.resumable().id == first
    store.restart(first)
    store.finish(first, "completed")
    assert store.resumable() is None
    record = store.get(first)
    assert (record.status, record.control_ids, record.writer) == ("completed", ["IAM-01", "GOV-01"], OFFLINE)
    assert [r.id for r in store.results(first)] == ["IAM-01"]
    assert store.plan(first, "IAM-01")["tool_calls"][0]["evidence_id"] == "0a1b2c3d4e5f"
    assert store.reasoning(first, "IAM-01")["rules_applied"] == {
        "aws.iam.console_user_mfa": "Every console user has MFA"
    }
    assert store.events(first)[0]["kind"] == "rejected_tool_call"


def test_regenerate_runs_are_never_resumed(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    store.start(new_run_id(), trigger="regenerate", writer=OFFLINE, control_ids=["IAM-01"])
    assert store.resumable() is None


def test_a_result_is_saved_once_with_its_reasoning_and_events(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    run_id = new_run_id()
    record = store.start(run_id, trigger="manual", writer=OFFLINE, control_ids=["IAM-01"])
    assert store.started_at(run_id) == record.started_at
    assert store.started_at("no-such-run") is None
    first = _result("IAM-01")
    events = [
        {"control_id": "IAM-01", "kind": "collect_error", "message": "aws.iam.users: AccessDenied"},
        {"control_id": "IAM-01", "kind": "fallback", "message": "offline writer"},
    ]
    assert store.save_result(run_id, first, {"rules_applied": {}}, events) is None
    # Saved again (a step killed before its checkpoint, run again): the first result and its record stand.
    second = first.model_copy(update={"title": "changed"})
    assert store.save_result(run_id, second, {"rules_applied": {"x": "y"}}, events[:1]) == first
    assert store.results(run_id) == [first]
    assert store.reasoning(run_id, "IAM-01") == {"rules_applied": {}}
    assert [(e["control_id"], e["kind"], e["message"]) for e in store.events(run_id)] == [
        (e["control_id"], e["kind"], e["message"]) for e in events
    ]
