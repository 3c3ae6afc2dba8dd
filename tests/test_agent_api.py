"""The entry points the review TUI uses: regenerate one control with feedback, and verify an edit."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import FakeChatModel
from langchain_core.messages import AIMessage

from agent.api import latest_report, regenerate_control, run_proof, verify_narrative
from agent.runs import RunStore

pytestmark = pytest.mark.slow  # a proof run over the demo company


def test_regenerate_uses_feedback_reuses_evidence_and_leaves_the_report(
    tmp_path: Path, workspace_with_knowledge, demo_config
) -> None:
    workspace = workspace_with_knowledge(tmp_path / "ws")
    config = demo_config(workspace)
    first = run_proof(config, workspace, control_ids=["IAM-01"], model=None)
    original = first.report.controls[0]
    assert first.aws_calls_made == first.aws_distinct_calls > 0  # IAM-01 reads IAM; the per-run cache repeats nothing

    def respond(messages, tools):
        if tools:
            return AIMessage(content="enough")
        evidence = original.narrative.provenance.evidence_ids[0]
        return AIMessage(
            content=f"Two console users, `raj.patel` and `sam.okafor-contractor`, have no MFA device [ev:{evidence}]."
        )

    model = FakeChatModel(respond=respond)
    events: list[str] = []
    result = regenerate_control(
        config,
        workspace,
        "iam-01",
        "Name the users without MFA.",
        model=model,
        on_event=lambda e: events.append(str(e)),
    )

    assert result.id == "IAM-01" and result.narrative.status == "verified" and "raj.patel" in result.narrative.text
    writer_prompt = next(r for r in model.requests if not r["tools"])["messages"][-1].text
    assert "Reviewer feedback to address: Name the users without MFA." in writer_prompt
    assert (
        result.narrative.provenance.evidence_ids == original.narrative.provenance.evidence_ids
    )  # fresh evidence reused
    assert any(e.startswith("IAM-01: ") for e in events)
    assert RunStore(workspace.runs_db).runs(1)[0].trigger == "regenerate"
    assert latest_report(workspace).run.id == first.report.run.id

    assert verify_narrative(workspace, result, result.narrative.text).passed
    invented = verify_narrative(workspace, result, result.narrative.text.replace("raj.patel", "dana.admin"))
    assert invented.problems and "identifier `dana.admin`" in invented.problems[0]


def test_a_manual_control_with_an_approved_attachment_describes_it_and_cites_it(
    tmp_path: Path, workspace_with_knowledge, demo_config
) -> None:
    from datetime import UTC, date, datetime

    from agent.review_log import ReviewLog, quarter_of
    from tools.locker import EvidenceLocker

    workspace = workspace_with_knowledge(tmp_path / "ws")
    config = demo_config(workspace)
    today = datetime.now(UTC).date()
    start, end = quarter_of(today)
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        record = locker.put(
            "attach",
            "manual",
            "manual.attachment",
            "read_file",
            {"path": "/records/joiners.csv"},
            {"file": "joiners.csv", "content": "ticket,approved_by\nIT-1,priya\n", "control": "IAM-09"},
        )
    with ReviewLog(workspace.review_db) as log:
        common = {"control_id": "IAM-09", "run_id": "-", "before_hash": "", "after_hash": "", "evidence_hash": ""}
        detail = {"evidence_id": record.id, "path": "/records/joiners.csv"}
        period = {"period_start": start.isoformat(), "period_end": end.isoformat()}
        log.append(reviewer="dana", action="attach", detail=detail | period, **common)
        log.append(reviewer="priya", action="approve", **common)

    result = run_proof(config, workspace, control_ids=["IAM-09"], model=None).report.controls[0]
    text = result.narrative.text
    assert result.narrative.status == "verified", result.narrative.verifier.problems
    assert (
        f"The record `joiners.csv`, attached by dana on {today}, covers {start} to {end}, and priya approved it on "
        f"{today} [ev:{record.id}]."
    ) in text
    assert "must provide" not in text and record.id in result.narrative.provenance.evidence_ids
    assert verify_narrative(workspace, result, text).passed
    assert not verify_narrative(workspace, result, text.replace(str(start), str(date(2020, 1, 1)))).passed
