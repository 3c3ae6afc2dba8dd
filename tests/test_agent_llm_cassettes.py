"""The model path over REAL HTTP: recorded exchanges with a local OpenAI-compatible server (vcrpy).

The cassettes in tests/cassettes/llm/ hold real requests to and answers from llama-cpp-python's
OpenAI-compatible server (llama.cpp) running SmolLM2-135M-Instruct (see tests/vcr_config.py to re-record).
A 135M model writes poor narratives, which is the point: the tests prove the request shape, the parsing of
real tool calls, and that a weak model's drafts are caught by the verifier, repaired once, and replaced by the
offline draft. Inputs are a FIXTURE (fixed evidence ids and findings) so that requests match.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from vcr_config import CASSETTES, DUMMY_KEY, LOCAL_LLM_URL, llm_vcr, record_mode

from agent.graph import build_control_graph
from agent.planner import (
    baseline_plan,
    function_name,
    offered_tools,
    plan_with_model,
    tool_definitions,
    validate_tool_calls,
)
from agent.providers import build_endpoint, describe
from agent.runs import RunStore
from agent.state import RunContext
from agent.verifier import EvidenceFacts
from knowledge.catalog import load_catalog
from knowledge.control_library import load_controls
from tools.catalog import TOOLS, load_all
from tools.checks_common import finding
from tools.config import AuditorConfig, LlmEndpoint
from tools.findings import Finding, Status
from tools.workspace import Workspace

REPORT_ID = "3f2a9c1d7e5b"
ACCOUNT = "arn:aws:iam::123456789012:user"


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AUDITOR_LOCAL_LLM_KEY", DUMMY_KEY)
    endpoint = LlmEndpoint(
        provider="openai",
        model="smollm2",
        base_url=LOCAL_LLM_URL,
        api_key_env="AUDITOR_LOCAL_LLM_KEY",
        timeout_s=300,
        max_retries=0,
    )
    # A small answer budget keeps a 135M model from rambling to the end of its context.
    return build_endpoint(endpoint).model_copy(update={"max_tokens": 160})


def _cassette(name: str):
    mode = record_mode()
    if mode == "all":
        (CASSETTES / name).unlink(missing_ok=True)  # re-record from scratch, never append
    return llm_vcr.use_cassette(name, record_mode=mode)


def _sent(cassette) -> list[dict]:
    return [json.loads(request.body) for request in cassette.requests]


def test_planner_request_shape_and_real_answer(model) -> None:
    load_all()
    control = load_controls().get("IAM-01")
    baseline = baseline_plan(control)
    with _cassette("planner_iam01.yaml") as cassette:
        proposal = plan_with_model(model, control, load_catalog(), baseline, AuditorConfig(company="Acme AI"))
    (request,) = _sent(cassette)
    assert request["model"] == "smollm2" and request["max_completion_tokens"] == 160
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert "Control IAM-01: Multi-factor authentication for console users" in request["messages"][1]["content"]
    offered = {tool["function"]["name"] for tool in request["tools"]}
    assert offered == {function_name(name) for name in offered_tools(baseline)} and "aws__iam__users" in offered
    assert "tool_choice" not in request  # the model decides
    # Whatever the weak model answered, each call it made was either accepted from the catalog or rejected
    # with a reason.
    assert all(call["tool"] in TOOLS and call["source"] == "model" for call in proposal.accepted)
    assert all(rejected["error"] for rejected in proposal.rejected)
    assert proposal.usage["total_tokens"] > 0


@pytest.mark.parametrize("tool", ["aws.iam.users", "aws.ec2.vpcs"])
def test_real_tool_calls_are_parsed_and_validated(model, tool: str) -> None:
    load_all()
    control = load_controls().get("IAM-01")
    baseline = baseline_plan(control)
    bound = model.bind_tools(tool_definitions({tool: TOOLS[tool]}), tool_choice=function_name(tool))
    with _cassette(f"tool_call_{tool.replace('.', '_')}.yaml") as cassette:
        response = bound.invoke(f"Plan evidence for control {control.id}: {control.title}. Call the tool.")
    (request,) = _sent(cassette)
    assert request["tool_choice"] == {"type": "function", "function": {"name": function_name(tool)}}
    assert [call["name"] for call in response.tool_calls] == [function_name(tool)]
    plan = validate_tool_calls(response, baseline, AuditorConfig())
    handled = [call["tool"] for call in plan.accepted] + [rejected["tool"] for rejected in plan.rejected]
    assert handled == [tool]
    # IAM-01 is offered the aws.iam tools only: another group's call is refused whatever its arguments.
    offered = tool in offered_tools(baseline)
    assert offered or plan.rejected
    for rejected in plan.rejected:
        assert rejected["error"].startswith("invalid arguments" if offered else "not offered")


def _mfa_finding(user: str, status: Status, reason: str, **mfa: bool) -> Finding:
    """A console_user_mfa finding on one user of the credential report."""
    return finding("aws.iam.console_user_mfa", status, f"{ACCOUNT}/{user}", reason, [REPORT_ID], user=user, **mfa)


def _fixture_state(run_id: str) -> dict:
    """What plan, collect, evaluate and retrieve produce for IAM-01 (a FIXTURE, fixed ids)."""
    catalog = load_catalog()
    control = load_controls().get("IAM-01")
    criterion = catalog.get("CC6.1")
    findings = [
        _mfa_finding("dana.ops", Status.PASS, "Console user dana.ops has an MFA device.", mfa_active=True),
        _mfa_finding("raj.patel", Status.FAIL, "Console user raj.patel has no MFA device.", mfa_active=False),
        _mfa_finding("svc-ci", Status.NOT_APPLICABLE, "svc-ci has no console password."),
    ]
    pof = criterion.points_of_focus[3]
    return {
        "run_id": run_id,
        "control_id": control.id,
        "plan": [
            {
                "tool": "aws.iam.credential_report",
                "params": {},
                "check": "aws.iam.console_user_mfa",
                "source": "baseline",
            }
        ],
        "tool_calls": [
            {
                "tool": "aws.iam.credential_report",
                "params": {},
                "evidence_id": REPORT_ID,
                "source": "baseline",
                "error": None,
            }
        ],
        "evidence": [
            {
                "id": REPORT_ID,
                "tool": "aws.iam.credential_report",
                "params": {},
                "summary": (
                    "generated_time: 2025-03-01T09:00:00+00:00; rows: 3 items (e.g. dana.ops, raj.patel, svc-ci)"
                ),
            }
        ],
        "findings": [f.model_dump(mode="json") for f in findings],
        "chunks": [
            {
                "id": "CC6.1",
                "text": f"CC6.1 {criterion.series_title}. {criterion.text}",
                "collection": "criteria",
                "title": "CC6.1",
            },
            {
                "id": pof.citation_id("CC6.1"),
                "text": f"CC6.1 {criterion.series_title}: {pof.title}.",
                "collection": "criteria",
                "title": pof.title,
            },
            {
                "id": "control:IAM-01",
                "text": f"{control.title}. {control.description}",
                "collection": "controls",
                "title": control.title,
            },
        ],
        "attempts": 0,
        "reasoning": {},
    }


def _fixture_context(tmp_path: Path) -> RunContext:
    rows = [
        {"user": "dana.ops", "arn": f"{ACCOUNT}/dana.ops", "password_enabled": "true", "mfa_active": "true"},
        {"user": "raj.patel", "arn": f"{ACCOUNT}/raj.patel", "password_enabled": "true", "mfa_active": "false"},
        {"user": "svc-ci", "arn": f"{ACCOUNT}/svc-ci", "password_enabled": "false", "mfa_active": "false"},
    ]
    workspace = Workspace.at(tmp_path)
    context = RunContext(
        config=AuditorConfig(company="Acme AI"),
        workspace=workspace,
        catalog=load_catalog(),
        library=load_controls(),
        store=None,
        runner=None,
        runs=RunStore(workspace.runs_db),  # type: ignore[arg-type]  # retrieval and collection are done
    )
    context.facts_cache[REPORT_ID] = EvidenceFacts.from_data(
        REPORT_ID, "aws.iam.credential_report", {}, {"generated_time": "2025-03-01T09:00:00+00:00", "rows": rows}
    )
    return context


def test_weak_model_drafts_are_verified_repaired_then_replaced(model, tmp_path: Path) -> None:
    # llama-cpp-python's server ignores `max_completion_tokens` (the name langchain sends): without its own
    # `max_tokens` the 135M model writes prose until the 8192-token context is full (about 10 minutes here),
    # past the timeout, so the draft fails before any answer is recorded.
    model = model.model_copy(update={"extra_body": {"max_tokens": model.max_tokens}})
    load_all()
    graph = build_control_graph(model, checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "cassette-run"}}
    context = _fixture_context(tmp_path)
    context.runs.start("cassette-run", trigger="manual", writer=describe(model), control_ids=["IAM-01"])
    graph.update_state(thread, _fixture_state("cassette-run"), as_node="retrieve")
    with _cassette("writer_repair_fallback.yaml") as cassette:
        output = graph.invoke(None, thread, context=context)

    first, repair = _sent(cassette)
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    prompt = first["messages"][1]["content"]
    # Findings, evidence and criteria go to the model as fenced data (one JSON object a line), with their citations.
    assert '<data kind="findings">' in prompt and '"resource": "arn:aws:iam::123456789012:user/raj.patel"' in prompt
    assert '"cite": ["[ev:3f2a9c1d7e5b]"]' in prompt and '"cite": "[CC6.1]"' in prompt
    assert "tools" not in first
    assert [m["role"] for m in repair["messages"]] == ["system", "user", "assistant", "user"]
    assert "The verifier rejected your narrative" in repair["messages"][3]["content"]

    result = output["results"]["IAM-01"]
    narrative = result["narrative"]
    assert narrative["status"] == "fallback" and narrative["provenance"]["writer"] == "offline"
    assert narrative["provenance"]["attempts"] == 2 and narrative["verifier"]["passed"]
    assert narrative["provenance"]["token_usage"]["total_tokens"] > 0  # both model calls counted
    assert "`raj.patel`" in narrative["text"]
    reasoning = context.runs.reasoning("cassette-run", "IAM-01")
    drafts = reasoning["drafts"]
    assert [d["writer"] for d in drafts] == ["llm", "llm", "offline"] and [d["passed"] for d in drafts] == [
        False,
        False,
        True,
    ]
    assert all(d["problems"] for d in drafts[:2])
    assert reasoning["fallback_reason"].startswith("the model's draft failed verification 2 times")
