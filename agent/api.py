"""Programmatic entry points: the CLI commands and the review TUI call these.

run_proof(config, workspace)                  a full proof run; returns the readiness report
latest_report(workspace)                       the newest report, or None
save_report(workspace, report)                 write a report as the newest
regenerate_control(config, workspace, id, feedback)   redraft one control with reviewer feedback
verify_narrative(workspace, control, text)     check an edited narrative against its sources
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.graph import build_control_graph, build_graph
from agent.integrity import sign_run, signed_items
from agent.providers import ChatModel, build_chat_model, describe, with_circuit_breakers
from agent.report import latest_run_id, read_report, write_report
from agent.report_schema import ControlResult, ReadinessReport, VerifierResult
from agent.runs import RunStore, new_run_id
from agent.state import ProgressEvent, RunContext
from agent.verifier import EvidenceFacts, VerificationContext, verify
from tools.config import AuditorConfig
from tools.signing import Signer, SigningError, load_signer
from tools.sources import SourceLedger, SourceProblem
from tools.workspace import Workspace

if TYPE_CHECKING:
    from knowledge.catalog import Catalog
    from knowledge.control_library import ControlLibrary
    from knowledge.store import KnowledgeStore
    from tools.runner import EvidenceRunner

# `model` argument default: build the model from the configuration (pass None for offline).
FROM_CONFIG: Any = object()
RECURSION_LIMIT = 100  # steps per graph; one control takes at most eleven


class RunError(Exception):
    """A run could not start or did not finish; the message says why."""


@dataclass(frozen=True)
class RunOutcome:
    report: ReadinessReport
    resumed: bool
    collected: int  # collector calls that stored new evidence
    reused: int  # fresh evidence reused from the locker (earlier runs, or before an interruption)
    aws_calls_made: int
    aws_distinct_calls: int
    signed_head: str | None = None  # the run's signed head line (agent/integrity.py), for a CI log or ticket


@dataclass(frozen=True)
class ProofServices:
    """What every proof run reads besides evidence: the criteria, the control library and the knowledge store."""

    catalog: Catalog
    library: ControlLibrary
    store: KnowledgeStore

    def select_controls(self, control_ids: list[str] | None) -> list[str]:
        """The control ids to run (all when none are given), normalised; RunError names unknown ones."""
        if not control_ids:
            return [control.id for control in self.library.controls]
        wanted = [cid.strip().upper() for cid in control_ids if cid.strip()]
        unknown = [cid for cid in wanted if self.library.get(cid) is None]
        if unknown:
            raise RunError(f"unknown control id(s): {', '.join(unknown)} (see `auditor controls list`)")
        return list(dict.fromkeys(wanted))

    def select_by_checks(self, check_ids: list[str], control_ids: list[str]) -> list[str]:
        """Of `control_ids`, those whose evidence is judged by one of `check_ids`; RunError names unknown checks."""
        from tools.catalog import CHECKS

        unknown = [check_id for check_id in check_ids if check_id not in CHECKS]
        if unknown:
            raise RunError(f"unknown check id(s): {', '.join(unknown)} (see `auditor checks list`)")
        using = {control.id for check_id in check_ids for control in self.library.by_check(check_id)}
        selected = [control_id for control_id in control_ids if control_id in using]
        if not selected:
            raise RunError(f"no selected control uses the check(s) {', '.join(check_ids)}")
        return selected

    def check_scope(self, config: AuditorConfig) -> None:
        """RunError naming [scope.applies_to] entries for controls the library does not have (typos)."""
        unknown = sorted(control_id for control_id in config.scope.applies_to if self.library.get(control_id) is None)
        if unknown:
            where = f"{config.source}: " if config.source else ""
            raise RunError(
                f"{where}key 'scope.applies_to': unknown control id(s): {', '.join(unknown)} "
                "(see `auditor controls list`)"
            )

    def run_context(
        self, config: AuditorConfig, workspace: Workspace, runs: RunStore, runner: EvidenceRunner, **options: Any
    ) -> RunContext:
        """What the graph's nodes read in one run: these services, the run's stores and runner, and `options`
        (trigger, feedback, on_event, cancel, only_checks) as RunContext takes them."""
        return RunContext(
            config=config,
            workspace=workspace,
            catalog=self.catalog,
            library=self.library,
            store=self.store,
            runs=runs,
            runner=runner,
            **options,
        )


def open_proof_services(workspace: Workspace) -> ProofServices:
    """Register the tools and checks, load the criteria and controls, open the store (built if empty)."""
    from knowledge.catalog import load_catalog
    from knowledge.control_library import load_controls
    from knowledge.store import KnowledgeStore
    from tools.catalog import load_all

    load_all()
    # open() builds an empty store itself; asking Chroma again here would start a Chroma client the run's searches,
    # which read the saved search index, never need.
    store = KnowledgeStore.open(workspace.chroma_dir)
    return ProofServices(load_catalog(), load_controls(), store)


def run_proof(
    config: AuditorConfig,
    workspace: Workspace,
    *,
    control_ids: list[str] | None = None,
    resume: bool = False,
    trigger: str = "manual",
    model: ChatModel | None = FROM_CONFIG,
    on_event: Callable[[ProgressEvent], None] | None = None,
    runner_factory: Callable[[Any, Any, str], Any] | None = None,
    fresh: bool = False,
    cancel: threading.Event | None = None,
    check_ids: list[str] | None = None,
    services: ProofServices | None = None,
) -> RunOutcome:
    """Collect, judge and write every control (or the given ones); write the report; return it.

    With `resume`, the newest unfinished run continues where it stopped, over the controls it was
    started with (`control_ids` is then ignored). With `fresh`, evidence stored by earlier runs is not
    reused. Setting `cancel` stops the run: controls not finished stop at their next step and the run
    raises (RunCancelled, or what the stopped step raised), resumable. `runner_factory(locker, ctx,
    run_id)` replaces the evidence runner (tests use it to interrupt a run). With `check_ids`, only the
    controls using those checks run, and they evaluate only those checks (like `control_ids`, the result is
    merged into the latest report; a resumed run evaluates every check). `services` are this workspace's, opened
    beforehand by open_proof_services (the demo does so while its AWS emulator seeds); by default they are opened
    here.
    """
    from langgraph.checkpoint.sqlite import SqliteSaver

    from tools.context import CollectContext
    from tools.locker import EvidenceLocker
    from tools.runner import EvidenceRunner

    if services is None:
        services = open_proof_services(workspace)
    warn = (lambda message: on_event(ProgressEvent("warning", None, message))) if on_event else None
    model = build_chat_model(config, on_warning=warn) if model is FROM_CONFIG else model
    runs = RunStore(workspace.runs_db)
    selected = services.select_controls(control_ids)
    if check_ids:
        selected = services.select_by_checks(check_ids, selected)
    services.check_scope(config)

    resumable = runs.resumable() if resume else None
    if resume and resumable is None and on_event is not None:
        on_event(ProgressEvent("warning", None, "no unfinished run to resume: starting a new run"))
    if resumable is not None:
        run_id, selected = resumable.id, resumable.control_ids
        runs.restart(run_id)
    else:
        run_id = new_run_id()
        runs.start(run_id, trigger=trigger, writer=describe(model), control_ids=selected)

    # What each source met is stored with the run as it happens, so a resumed run still reports it.
    sources = SourceLedger(runs.source_problems(run_id), on_new=partial(runs.note_source_problem, run_id))
    if model is not None:
        model = with_circuit_breakers(model, on_drop=partial(_endpoint_dropped, sources, warn))
    locker = EvidenceLocker(workspace.locker_db, workspace.blobs_dir)
    collect_context = CollectContext(config, run_id=run_id, approved_attachments=partial(approved_records, workspace))
    ttl = config.run.evidence_ttl()
    signer = _signing_key(config)
    signed = signed_items(workspace, signer.public)  # only evidence a signed run collected is reused
    runner = (
        runner_factory(locker, collect_context, run_id)
        if runner_factory
        else EvidenceRunner(locker, collect_context, run_id, ttl=ttl, fresh=fresh, sources=sources, signed=signed)
    )
    context = services.run_context(
        config,
        workspace,
        runs,
        runner,
        trigger=trigger,
        on_event=on_event,
        cancel=cancel or threading.Event(),
        only_checks=frozenset(check_ids) if check_ids and resumable is None else None,
        signer=signer,
    )
    run_config = {
        "configurable": {"thread_id": run_id},
        "max_concurrency": config.run.concurrency,
        "recursion_limit": RECURSION_LIMIT,
    }

    workspace.checkpoints_db.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(workspace.checkpoints_db, check_same_thread=False)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives kill -9 without an fsync each
        checkpointer = SqliteSaver(connection)
        graph = build_graph(model, checkpointer=checkpointer)
        started_before = checkpointer.get_tuple({"configurable": {"thread_id": run_id}}) is not None
        graph_input = None if started_before else {"run_id": run_id, "control_ids": selected}
        try:
            # Each finished control's result is written as it finishes, in every mode but "exit". "async" does not
            # wait for the checkpoint after each of the run's three steps (start, controls, report): what a kill
            # could lose there, the run store's own record covers. ("sync" would also be handed down to the
            # controls, which keep no checkpoints of their own, and LangGraph then fails waiting for one.)
            graph.invoke(graph_input, run_config, context=context, durability="async")
        except BaseException as exc:  # Ctrl-C (RunCancelled, KeyboardInterrupt) included: the run stays resumable
            runs.finish(run_id, "failed", error=f"{type(exc).__name__}: {exc}")
            # What it collected is signed too, so `verify` does not name it unsigned; a resume signs it again.
            sign_run(config, workspace, runs, locker, run_id)
            raise
        finally:
            locker.close()
        # Checkpoints exist to resume an unfinished run; a finished one needs them no more.
        checkpointer.delete_thread(run_id)

    aws_calls = collect_context.aws_calls
    counters = getattr(runner, "counters", None)
    return RunOutcome(
        report=read_report(workspace, run_id),
        resumed=started_before,
        collected=getattr(counters, "collected", 0),
        reused=getattr(counters, "reused_from_locker", 0),
        aws_calls_made=aws_calls.made,
        aws_distinct_calls=aws_calls.distinct,
        signed_head=runs.head_line(run_id),
    )


def approved_records(workspace: Workspace, control_id: str) -> list[dict[str, str]]:
    """The attachments reviewers approved for a control, as the review log records them: what a collector
    stores as evidence (tools/context.py approved_attachments), so a check can judge them."""
    from agent.review_log import ReviewLog, approved_attachments, attachment_record

    with ReviewLog(workspace.review_db) as review_log:
        approved = approved_attachments(review_log).get(control_id, [])
    return [{"evidence_id": a.evidence_id, "note": a.note or "", **attachment_record(a)} for a in approved]


def _signing_key(config: AuditorConfig) -> Signer:
    """The key that signs the run at its end, loaded (or created) before the run collects anything."""
    try:
        return load_signer(config, create=True)
    except SigningError as exc:
        raise RunError(str(exc)) from exc


def _endpoint_dropped(sources: SourceLedger, warn: Callable[[str], None] | None, problem: SourceProblem) -> None:
    sources.record([problem])
    if warn is not None:
        warn(f"{problem.source}: {problem.cause}")


# -- reports ----------------------------------------------------------------------------------------


def latest_report(workspace: Workspace) -> ReadinessReport | None:
    run_id = latest_run_id(workspace)
    return read_report(workspace, run_id) if run_id else None


def save_report(workspace: Workspace, report: ReadinessReport) -> None:
    write_report(workspace, report)


# -- one control, for the reviewer ---------------------------------------------------------------------


def regenerate_control(
    config: AuditorConfig,
    workspace: Workspace,
    control_id: str,
    feedback: str,
    model: ChatModel | None = FROM_CONFIG,
    on_event: Callable[[ProgressEvent], None] | None = None,
) -> ControlResult:
    """Redraft one control (fresh evidence within the TTL is reused) with the reviewer's feedback.

    Recorded as a run with trigger "regenerate"; the latest report is left as it is (the review log
    keeps the new draft). The offline writer is deterministic, so feedback changes only model drafts.
    """
    from tools.context import CollectContext
    from tools.locker import EvidenceLocker
    from tools.runner import EvidenceRunner

    services = open_proof_services(workspace)
    control_id = services.select_controls([control_id])[0]
    model = build_chat_model(config) if model is FROM_CONFIG else model
    runs = RunStore(workspace.runs_db)
    run_id = new_run_id()
    runs.start(run_id, trigger="regenerate", writer=describe(model), control_ids=[control_id])
    signer = _signing_key(config)
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        collect_context = CollectContext(
            config, run_id=run_id, approved_attachments=partial(approved_records, workspace)
        )
        signed = signed_items(workspace, signer.public)
        runner = EvidenceRunner(locker, collect_context, run_id, ttl=config.run.evidence_ttl(), signed=signed)
        context = services.run_context(
            config,
            workspace,
            runs,
            runner,
            trigger="regenerate",
            feedback={control_id: feedback} if feedback else {},
            on_event=on_event,
            signer=signer,
        )
        try:
            output = build_control_graph(model).invoke({"run_id": run_id, "control_id": control_id}, context=context)
        except BaseException as exc:
            runs.finish(run_id, "failed", error=f"{type(exc).__name__}: {exc}")
            raise
        runs.note_chain_head(run_id, locker)
        sign_run(config, workspace, runs, locker, run_id)
    runs.finish(run_id, "completed")
    return ControlResult.model_validate(output["results"][control_id])


def verify_narrative(
    workspace: Workspace,
    control_result: ControlResult,
    text: str,
    audit_period: tuple[date, date] | None = None,
) -> VerifierResult:
    """Verify a narrative (e.g. a reviewer's edit) against what this control retrieved and collected, and the
    attachments reviewers approved for it; `audit_period` is the config's [audit] period."""
    from agent.nodes import attachment_facts
    from knowledge.control_library import load_controls
    from knowledge.store import KnowledgeStore
    from tools.catalog import CHECKS, load_all

    load_all()
    store = KnowledgeStore.open(workspace.chroma_dir)
    chunks = {}
    for chunk_id in control_result.narrative.provenance.retrieved_chunk_ids:
        chunk = store.get(chunk_id)
        if chunk is not None:
            chunks[chunk_id] = chunk.text
    evidence = {}
    for call in control_result.narrative.provenance.tool_calls:
        if call.evidence_id:
            facts = _stored_facts(str(workspace.root), call.evidence_id)
            if facts is not None:
                evidence[call.evidence_id] = facts
    if control_result.review is not None:
        evidence |= attachment_facts([a for a in control_result.review.attachments if a.approved])
    titles = {f.check: CHECKS[f.check].title for f in control_result.findings if f.check in CHECKS}
    control = load_controls().get(control_result.id)
    as_of = control_result.assessed_at.date() if control_result.assessed_at else None
    return verify(
        text,
        VerificationContext(
            chunks,
            evidence,
            list(control_result.findings),
            titles,
            statements=list(control.statements) if control else [],
            as_of=as_of,
            audit_period=audit_period,
        ),
    )


@lru_cache(maxsize=256)
def _stored_facts(workspace_root: str, evidence_id: str) -> EvidenceFacts | None:
    # Evidence is content-addressed and append-only, so its facts never change: cache them.
    from tools.locker import EvidenceLocker

    workspace = Workspace.at(Path(workspace_root))
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        record = locker.get(evidence_id)
        if record is None:
            return None
        return EvidenceFacts.from_data(
            record.id, record.tool, record.params, locker.read(evidence_id), record.collected_at
        )
