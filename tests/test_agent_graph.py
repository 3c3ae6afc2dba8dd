"""The agent graph with a scripted chat model (tests/fakes.py) over the real demo company.

Covers planning with valid and invalid tool calls, a draft repaired after verification, a draft that
fails twice and falls back to the offline writer, and provider failover.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import openai
import pytest
from fakes import FakeChatModel, last_human_text, tool_call
from langchain_core.messages import AIMessage, BaseMessage

from agent.api import run_proof
from agent.prompts import WRITER_HASH
from agent.providers import with_failover
from agent.runs import RunStore
from tools.catalog import TOOLS

pytestmark = pytest.mark.slow  # proof runs over the demo company


def _cited_sentence(prompt: str) -> str:
    """A narrative that cites what the prompt offers and states nothing unsupported."""
    criterion = re.search(r"\[(CC\d\.\d)\]", prompt).group(1)
    evidence = re.search(r"\[(ev:[0-9a-f]{12})\]", prompt).group(1)
    return f"The credential report was reviewed for this control [{criterion}] [{evidence}]."


def _writer(*drafts: str | None):
    """Planner requests get no tool calls; writer requests get the drafts in order (None: a cited one)."""
    queue = list(drafts)

    def respond(messages: list[BaseMessage], tools: list[dict]) -> AIMessage:
        if tools:
            return AIMessage(content="enough")
        draft = queue.pop(0) if len(queue) > 1 else queue[0]
        return AIMessage(content=draft or _cited_sentence(_control_prompt(messages)))

    return respond


def _control_prompt(messages: list[BaseMessage]) -> str:
    """The writer's first human message: the control, its chunks, findings and evidence."""
    return next(m.text for m in messages if m.type == "human")


@pytest.fixture
def run_demo(workspace_with_knowledge, demo_config):
    """`run_demo(path, model, controls)`: a proof run over the demo company in a fresh workspace under `path`."""

    def run(path: Path, model, controls=("IAM-01",)):
        workspace = workspace_with_knowledge(path / "ws")
        outcome = run_proof(demo_config(workspace), workspace, control_ids=list(controls), model=model)
        return workspace, outcome

    return run


def test_planner_tool_calls_are_validated_merged_and_logged(tmp_path: Path, run_demo) -> None:
    def respond(messages: list[BaseMessage], tools: list[dict]) -> AIMessage:
        if tools:
            return AIMessage(
                content="",
                tool_calls=[
                    tool_call("aws.iam.users", {}, "c1"),  # valid: added to the plan
                    tool_call("aws.iam.credential_report", {}, "c2"),  # already in the baseline: dropped
                    tool_call("aws.iam.delete_user", {"UserName": "bob"}, "c3"),  # not in the catalog
                    tool_call("aws.iam.roles", {"regions": "everywhere"}, "c4"),  # arguments refused
                    tool_call("logs.auth_events", {"paths": ["~/.env"]}, "c5"),  # not offered for IAM-01
                ],
            )
        return AIMessage(content=_cited_sentence(_control_prompt(messages)))

    model = FakeChatModel(respond=respond)
    workspace, outcome = run_demo(tmp_path, model)

    planner_request = next(r for r in model.requests if r["tools"])
    names = {t["function"]["name"] for t in planner_request["tools"]}
    # Offered: the tools of the baseline's group (aws.iam), by their function names.
    assert names == {name.replace(".", "__") for name in TOOLS if name.startswith("aws.iam.")}
    assert "IAM-01" in last_human_text(planner_request["messages"])

    control = outcome.report.controls[0]
    calls = [(c.tool, c.source) for c in control.narrative.provenance.tool_calls]
    assert calls == [("aws.iam.credential_report", "baseline"), ("aws.iam.users", "model")]
    assert all(c.evidence_id for c in control.narrative.provenance.tool_calls)

    runs = RunStore(workspace.runs_db)
    run_id = outcome.report.run.id
    rejected = [e["message"] for e in runs.events(run_id) if e["kind"] == "rejected_tool_call"]
    assert rejected == [
        "rejected aws.iam.delete_user: unknown tool: not in the read-only catalog",
        "rejected aws.iam.roles: invalid arguments: regions: Extra inputs are not permitted",
        "rejected logs.auth_events: not offered for this control",
    ]
    planning = runs.reasoning(run_id, "IAM-01")["planning"]["model"]
    assert planning["duplicates_of_baseline"] == ["aws.iam.credential_report"]
    assert runs.plan(run_id, "IAM-01")["plan"][-1] == {
        "tool": "aws.iam.users",
        "params": {},
        "check": None,
        "source": "model",
    }

    narrative = control.narrative
    assert (narrative.status, narrative.provenance.writer, narrative.provenance.provider) == ("verified", "llm", "fake")
    assert narrative.provenance.prompt_template_hash == WRITER_HASH
    # Planner and writer calls both count: 150 tokens each from the scripted usage.
    assert narrative.provenance.token_usage == {"input_tokens": 200, "output_tokens": 100, "total_tokens": 300}


def test_a_rejected_draft_is_repaired_once(tmp_path: Path, run_demo) -> None:
    model = FakeChatModel(respond=_writer("All 12 console users of `mallory-corp` have MFA.", None))
    _, outcome = run_demo(tmp_path, model)
    narrative = outcome.report.controls[0].narrative
    assert (narrative.status, narrative.provenance.attempts, narrative.verifier.passed) == ("repaired", 2, True)
    repair_prompt = last_human_text(model.requests[-1]["messages"])
    assert "The verifier rejected your narrative" in repair_prompt
    assert "has no citation" in repair_prompt and "`mallory-corp`" in repair_prompt


def test_a_draft_failing_twice_is_replaced_by_the_offline_draft_and_flagged(tmp_path: Path, run_demo) -> None:
    model = FakeChatModel(respond=_writer("IAM-01 is fully compliant [CC6.1]."))
    workspace, outcome = run_demo(tmp_path, model)
    control = outcome.report.controls[0]
    assert control.status == "fail"  # the demo's console users include two without MFA
    narrative = control.narrative
    assert (narrative.status, narrative.provenance.writer, narrative.provenance.attempts) == ("fallback", "offline", 2)
    assert narrative.verifier.passed and "raj.patel" in narrative.text
    reasoning = RunStore(workspace.runs_db).reasoning(outcome.report.run.id, "IAM-01")
    assert [d["passed"] for d in reasoning["drafts"]] == [False, False, True]
    assert 'claims "fully compliant" although a cited finding failed' in reasoning["fallback_reason"]
    assert narrative.text.startswith("IAM-01, multi-factor authentication for console users, combines automated checks")
    assert "(offline fallback)" in (workspace.reports_dir / outcome.report.run.id / "report.md").read_text()


def test_failover_to_the_next_provider_then_to_offline(tmp_path: Path, run_demo) -> None:
    down = openai.APIConnectionError(request=httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions"))
    primary = FakeChatModel(model_name="primary", respond=lambda messages, tools: down)
    backup = FakeChatModel(model_name="backup", respond=_writer(None))
    _, outcome = run_demo(tmp_path, with_failover(primary, [backup]))
    narrative = outcome.report.controls[0].narrative
    assert (narrative.status, narrative.provenance.provider, narrative.provenance.model) == (
        "verified",
        "fake",
        "backup",
    )
    assert outcome.report.run.writer.model == "primary"  # the configured writer; provenance says who answered
    assert primary.requests and backup.requests

    # Every model down: the control still completes, with the offline writer's narrative, flagged.
    _, offline = run_demo(
        tmp_path / "all-down",
        with_failover(primary, [FakeChatModel(respond=lambda m, t: down)]),
        controls=("IAM-01", "GOV-01"),
    )
    for control in offline.report.controls:
        assert control.narrative.status == "fallback" and control.narrative.provenance.writer == "offline"
        assert control.narrative.verifier.passed
