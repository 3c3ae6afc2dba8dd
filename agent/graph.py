"""The agent as a LangGraph graph.

    START -> fan_out --Send per pending control--> control (subgraph) -> aggregate -> END

    control: resume -> plan -> collect -> evaluate -> retrieve -> draft -> verify -+-> persist -> END
               |                                                    ^               |
               |                                                    +-- repair <----+ (model draft rejected, once)
               |                                                    +-- fallback <--+ (rejected again: offline draft)
               +-> END (its result is already in the run store: a resumed run)

Controls run in parallel, bounded by `max_concurrency` in the run config (from `[run] concurrency`).
With a checkpointer, every finished control is saved as it completes, so a run that is interrupted
and resumed (`auditor run --resume`) continues with the controls that had not finished; controls
already persisted are skipped by the fan-out, and by `resume` where a kill lost a checkpoint write.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from agent.nodes import ControlPipeline
from agent.providers import ChatModel, describe
from agent.report import aggregate, write_report
from agent.report_schema import ControlResult, RunInfo
from agent.runs import now
from agent.state import ControlInput, ControlOutput, ControlState, RunContext, RunState


def build_control_graph(model: ChatModel | None, *, checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    """One control from plan to persisted result."""
    steps = ControlPipeline(model)
    graph = StateGraph(ControlState, input_schema=ControlInput, output_schema=ControlOutput, context_schema=RunContext)
    graph.add_node("resume", steps.resume)
    graph.add_node("plan", steps.plan)
    graph.add_node("collect", steps.collect)
    graph.add_node("evaluate", steps.evaluate)
    graph.add_node("retrieve", steps.retrieve)
    graph.add_node("draft", steps.draft)
    graph.add_node("verify", steps.verify)
    graph.add_node("repair", steps.repair)
    graph.add_node("fallback", steps.fallback)
    graph.add_node("persist", steps.persist)
    graph.add_edge(START, "resume")
    graph.add_conditional_edges("resume", steps.after_resume, {"restored": END, "plan": "plan"})
    graph.add_edge("plan", "collect")
    graph.add_edge("collect", "evaluate")
    graph.add_edge("evaluate", "retrieve")
    graph.add_edge("retrieve", "draft")
    graph.add_edge("draft", "verify")
    graph.add_conditional_edges("verify", steps.after_verify, ["repair", "fallback", "persist"])
    graph.add_edge("repair", "verify")
    graph.add_edge("fallback", "verify")
    graph.add_edge("persist", END)
    return graph.compile(checkpointer=checkpointer)


def build_graph(model: ChatModel | None, *, checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    """The whole run: every control in parallel, then the readiness report."""
    writer = describe(model)

    def fan_out(state: RunState) -> list[Send] | str:
        done = state.get("results", {})
        pending = [cid for cid in state["control_ids"] if cid not in done]
        if not pending:
            return "aggregate"
        return [Send("control", ControlInput(run_id=state["run_id"], control_id=cid)) for cid in pending]

    def start(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        done = len(state.get("results", {}))
        pending = len(state["control_ids"]) - done
        runtime.context.emit("started", None, f"{pending} control(s) to process, {done} already done", count=pending)
        return {}

    def finish(state: RunState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        ctx = runtime.context
        record = ctx.runs.get(state["run_id"])
        started = record.started_at if record else now()
        trigger = record.trigger if record else ctx.trigger
        evidence_head = ctx.runs.note_chain_head(state["run_id"], ctx.runner.locker)
        run = RunInfo(id=state["run_id"], started_at=started, finished_at=now(), trigger=trigger, writer=writer,  # type: ignore[arg-type]
                      evidence_head=evidence_head)
        results = [ControlResult.model_validate(result) for result in state["results"].values()]
        report = aggregate(ctx.config.company, run, results, ctx.catalog)
        folder = write_report(ctx.workspace, report)
        ctx.runs.finish(state["run_id"], "completed")
        ctx.emit("report", None, f"report written to {folder}")
        return {"report": {"run_id": report.run.id, "folder": str(folder), "gaps": report.summary.gap}}

    graph = StateGraph(RunState, context_schema=RunContext)
    graph.add_node("start", start)
    graph.add_node("control", build_control_graph(model))
    graph.add_node("aggregate", finish)
    graph.add_edge(START, "start")
    graph.add_conditional_edges("start", fan_out, ["control", "aggregate"])
    graph.add_edge("control", "aggregate")
    graph.add_edge("aggregate", END)
    return graph.compile(checkpointer=checkpointer)
