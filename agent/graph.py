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
Each control step first checks the run's cancel flag (Ctrl-C), so controls waiting for a slot end at once.
A run over some controls (`--controls`) writes the latest report with just those controls judged anew.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer, Send

from agent.integrity import sign_run
from agent.nodes import ControlPipeline
from agent.providers import ChatModel, describe
from agent.report import aggregate, keep_other_checks, merge_into_latest, write_report
from agent.report_schema import ControlResult, RunInfo
from agent.review_log import ReviewLog, apply_review, manual_attachments
from agent.runs import now
from agent.state import ControlInput, ControlOutput, ControlState, RunContext, RunState


def build_control_graph(model: ChatModel | None, *, checkpointer: Checkpointer = None) -> CompiledStateGraph:
    """One control from plan to persisted result (`checkpointer` as LangGraph's compile takes it)."""
    steps = ControlPipeline(model)
    graph = StateGraph(ControlState, input_schema=ControlInput, output_schema=ControlOutput, context_schema=RunContext)
    graph.add_node("resume", _unless_cancelled(steps.resume))
    graph.add_node("plan", _unless_cancelled(steps.plan))
    graph.add_node("collect", _unless_cancelled(steps.collect))
    graph.add_node("evaluate", _unless_cancelled(steps.evaluate))
    graph.add_node("retrieve", _unless_cancelled(steps.retrieve))
    graph.add_node("draft", _unless_cancelled(steps.draft))
    graph.add_node("verify", _unless_cancelled(steps.verify))
    graph.add_node("repair", _unless_cancelled(steps.repair))
    graph.add_node("fallback", _unless_cancelled(steps.fallback))
    graph.add_node("persist", _unless_cancelled(steps.persist))
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


Step = Callable[[ControlState, Runtime[RunContext]], dict[str, Any]]


def _unless_cancelled(step: Step) -> Step:
    """The step, after a check that the run was not asked to stop: on Ctrl-C the waiting controls end at once."""

    def run(state: ControlState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        runtime.context.stop_if_cancelled()
        return step(state, runtime)

    return run


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
        results = [ControlResult.model_validate(result) for result in state["results"].values()]
        library_ids = [control.id for control in ctx.library.controls]
        if ctx.only_checks is not None:  # `--checks`: the other checks' findings stay as the latest report has them
            results = keep_other_checks(ctx.workspace, results, ctx.only_checks)
        merged_from = None
        if set(state["control_ids"]) != set(library_ids):  # a `--controls` run updates the latest report
            results, merged_from = merge_into_latest(ctx.workspace, results, library_ids)
        run = RunInfo(
            id=state["run_id"],
            started_at=started,
            finished_at=now(),
            trigger=trigger,  # type: ignore[arg-type]
            writer=writer,
            evidence_head=evidence_head,
            sources=ctx.runner.sources.statuses(ctx.config),
            merged_from=merged_from,
        )
        # The report carries the review log's decisions as they stand now (approvals, edits, attachments).
        with ReviewLog(ctx.workspace.review_db) as review_log:
            report = aggregate(
                ctx.config.company,
                run,
                results,
                ctx.catalog,
                attachments=manual_attachments(review_log),
                due_days=ctx.config.remediation.due_days,
            )
            report = apply_review(report, review_log)
        folder = write_report(ctx.workspace, report)
        # Signed before it is marked completed: a completed run without a signed record is a tampering sign.
        sign_run(ctx.config, ctx.workspace, ctx.runs, ctx.runner.locker, state["run_id"])
        ctx.runs.finish(state["run_id"], "completed")
        ctx.emit("report", None, f"report written to {folder}")
        return {"report": {"run_id": report.run.id, "folder": str(folder), "gaps": report.summary.gap}}

    graph = StateGraph(RunState, context_schema=RunContext)
    graph.add_node("start", start)
    # Checkpoints at control boundaries only: the run's checkpoint saves each control's result as it finishes, but
    # not each step inside a control (its state, evidence and chunks, written eight times: ~5% of a run). A control
    # cut off half-way starts again from `plan`, and its runner reuses the evidence it had already stored.
    graph.add_node("control", build_control_graph(model, checkpointer=False))
    graph.add_node("aggregate", finish)
    graph.add_edge(START, "start")
    graph.add_conditional_edges("start", fan_out, ["control", "aggregate"])
    graph.add_edge("control", "aggregate")
    graph.add_edge("aggregate", END)
    return graph.compile(checkpointer=checkpointer)
