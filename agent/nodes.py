"""The steps of one control: plan, collect, evaluate, retrieve, draft, verify, repair or fall back, persist.

Each step reads the control's state and returns only what it changes. Services (locker runner,
knowledge store, run store) come from the run context; the chat model is given to the pipeline when
the graph is built (None = offline). A failure of the model never fails the control: planning falls
back to the baseline plan, writing to the offline writer.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from datetime import date
from typing import Any

from langgraph.runtime import Runtime

from agent import planner
from agent.citations import citation_ids
from agent.prompts import PLANNER_HASH
from agent.providers import ChatModel, every_endpoint_dropped
from agent.report import control_status
from agent.report_schema import (
    Attachment,
    ControlResult,
    Narrative,
    PossibleInjection,
    Provenance,
    ToolCallRecord,
    VerifierResult,
)
from agent.review_log import ReviewLog, approved_attachments, attachment_record
from agent.runs import StoredVerdict, now
from agent.state import ControlState, Draft, EvidenceSummary, RetrievedChunk, RunContext
from agent.summaries import summarize
from agent.verifier import EvidenceFacts, VerificationContext, verification_digest, verify
from agent.writers import DraftInput
from agent.writers import llm as llm_writer
from agent.writers import offline as offline_writer
from knowledge.models import Control
from tools.catalog import CHECKS, StoredEvidence
from tools.chain import canonical_json
from tools.findings import Finding, Status
from tools.injection import scan
from tools.runner import CollectionError
from tools.scope import Scope, tag_index

log = logging.getLogger(__name__)

MAX_CHUNK_CHARS = 1200  # chunk text kept in state (checkpointed) and given to writers
MAX_MODEL_DRAFTS = 2  # the first draft and one repair
DROPPED_MODEL = "every [llm] endpoint was dropped earlier in this run after failing repeatedly"


class ControlPipeline:
    """The per-control steps, bound to one chat model (or None for offline)."""

    def __init__(self, model: ChatModel | None) -> None:
        self.model = model

    # -- plan ------------------------------------------------------------------------------------

    def plan(self, state: ControlState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        ctx = runtime.context
        control = _control(ctx, state["control_id"])
        plan = planner.baseline_plan(control)
        notes: dict[str, Any] = {"baseline": [dict(call) for call in plan], "model": None}
        events: list[dict[str, Any]] = []
        usage: dict[str, int] = {}
        if self.model is not None and not every_endpoint_dropped(self.model):
            try:
                proposal = planner.plan_with_model(self.model, control, ctx.catalog, plan, ctx.config)
            except Exception as exc:  # the model is optional: the baseline plan stands
                events.append(
                    _event(
                        ctx,
                        state,
                        "planner_error",
                        f"planner model failed, baseline plan kept: {type(exc).__name__}: {exc}",
                    )
                )
            else:
                plan = plan + proposal.accepted
                usage = proposal.usage
                notes["model"] = {
                    "prompt_template_hash": PLANNER_HASH,
                    "accepted": [dict(call) for call in proposal.accepted],
                    "rejected": proposal.rejected,
                    "duplicates_of_baseline": proposal.duplicates,
                    "answer": proposal.answer,
                }
                for rejected in proposal.rejected:
                    events.append(
                        _event(ctx, state, "rejected_tool_call", f"rejected {rejected['tool']}: {rejected['error']}")
                    )
        ctx.runs.save_plan(state["run_id"], control.id, [dict(call) for call in plan], [])
        ctx.emit("planned", control.id, f"planned {len(plan)} evidence call(s)")
        return {"plan": plan, "reasoning": {"planning": notes}, "token_usage": usage, "log": events, "attempts": 0}

    # -- collect ---------------------------------------------------------------------------------

    def collect(self, state: ControlState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        ctx = runtime.context
        calls: list[dict[str, Any]] = []
        evidence: list[EvidenceSummary] = []
        events: list[dict[str, Any]] = []
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for planned in state["plan"]:
            ctx.stop_if_cancelled()
            key = (planned["tool"], _params_key(planned["params"]))
            if key in seen:
                continue  # two checks reading the same evidence: one call
            # One outcome, or one per member account for an AWS tool under [aws.organization].
            for account, item in ctx.runner.collect_each_account(planned["tool"], planned["params"]):
                if isinstance(item, Exception):  # a failed source is a result (error findings), not a crash
                    exc = item
                    record = ToolCallRecord(
                        tool=planned["tool"],
                        params=planned["params"] | ({"account": account} if account else {}),
                        source=planned["source"],
                        error=f"{type(exc).__name__}: {exc}",
                    )
                    # An unreadable source is said once for the run (report.run.sources), not once per control.
                    shown = not isinstance(exc, CollectionError)
                    events.append(_event(ctx, state, "collect_error", str(exc), shown=shown))
                else:
                    record = ToolCallRecord(
                        tool=item.tool, params=item.params, evidence_id=item.id, source=planned["source"]
                    )
                    evidence.append(
                        EvidenceSummary(id=item.id, tool=item.tool, params=item.params, summary=summarize(item.data))
                    )
                    _remember_facts(ctx, item)
                seen[key] = record.model_dump(mode="json")
                calls.append(seen[key])
        ctx.runs.save_plan(state["run_id"], state["control_id"], [dict(call) for call in state["plan"]], calls)
        ctx.emit("collected", state["control_id"], f"{len(evidence)} evidence item(s)")
        reasoning = {**state.get("reasoning", {}), "evidence_used": [dict(item) for item in evidence]}
        return {"tool_calls": calls, "evidence": evidence, "log": events, "reasoning": reasoning}

    # -- evaluate --------------------------------------------------------------------------------

    def evaluate(self, state: ControlState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        ctx = runtime.context
        control = _control(ctx, state["control_id"])
        scope = Scope(ctx.config.scope)
        read = functools.cache(ctx.runner.locker.read)  # evidence data, for the tags its resources carry
        findings: list[Finding] = []
        checks = [
            c
            for c in dict.fromkeys(call["check"] for call in state["plan"] if call["check"])
            if ctx.only_checks is None or c in ctx.only_checks
        ]
        for check_id in checks:
            spec = CHECKS.get(check_id)
            if spec is None:
                findings.append(
                    Finding(
                        check=check_id,
                        status=Status.ERROR,
                        resource=check_id,
                        reason=f"The check {check_id} is not in the catalog.",
                    )
                )
                continue
            items = [
                StoredEvidence(e["id"], e["tool"], e["params"], None)
                for e in state["evidence"]
                if e["tool"] in spec.needs
            ]
            judged = ctx.runner.evaluate(check_id, items)
            # The checks judge every resource; the audit scope then sets aside those this control does not cover.
            tags = tag_index(items, read)
            findings.extend(scope.judge(control, finding, tags.get(finding.resource)) for finding in judged)
        failed = sum(1 for f in findings if f.status == Status.FAIL)
        ctx.emit(
            "evaluated", state["control_id"], f"{len(checks)} check(s), {len(findings)} finding(s), {failed} failing"
        )
        rules = {check_id: CHECKS[check_id].title for check_id in checks if check_id in CHECKS}
        return {
            "findings": [f.model_dump(mode="json") for f in findings],
            "reasoning": {**state.get("reasoning", {}), "rules_applied": rules},
        }

    # -- retrieve --------------------------------------------------------------------------------

    def retrieve(self, state: ControlState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        ctx = runtime.context
        control = _control(ctx, state["control_id"])
        chunks = retrieve_chunks(ctx, control)
        reasoning = {**state.get("reasoning", {}), "chunks_retrieved": [c["id"] for c in chunks]}
        # And the records reviewers accepted for it, which its narrative describes (a manual part only).
        attachments = [] if control.kind == "automated" else _approved_attachments(ctx, control.id)
        return {
            "chunks": chunks,
            "reasoning": reasoning,
            "attachments": [a.model_dump(mode="json") for a in attachments],
        }

    # -- draft, verify, repair, fall back --------------------------------------------------------

    def draft(self, state: ControlState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        ctx = runtime.context
        draft_input = _draft_input(ctx, state)
        if self.model is None:
            return {"draft": _offline_draft(draft_input), "fallback_reason": None}
        if every_endpoint_dropped(self.model):  # said once, when the last endpoint was dropped
            return {"draft": _offline_draft(draft_input), "fallback_reason": DROPPED_MODEL}
        try:
            written = llm_writer.write(self.model, draft_input)
        except Exception as exc:
            reason = f"the model could not write a draft: {type(exc).__name__}: {exc}"
            return {
                "draft": _offline_draft(draft_input),
                "fallback_reason": reason,
                "attempts": 1,
                "log": [_event(ctx, state, "writer_error", reason)],
            }
        ctx.emit("drafted", state["control_id"], f"draft by {written.writer.provider}/{written.writer.model}")
        return {"draft": _model_draft(written), "attempts": 1, "token_usage": written.usage, "fallback_reason": None}

    def verify(self, state: ControlState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        ctx = runtime.context
        verdict = _verdict(ctx, state["control_id"], state["draft"]["text"], verification_context(ctx, state))
        if not verdict.passed:
            ctx.emit("verified", state["control_id"], f"draft rejected: {len(verdict.problems)} problem(s)")
        history = list(state.get("reasoning", {}).get("drafts", []))
        history.append(
            {
                "writer": state["draft"]["writer"],
                "model": state["draft"]["model"],
                "passed": verdict.passed,
                "problems": verdict.problems,
            }
        )
        return {
            "verdict": verdict.model_dump(mode="json"),
            "reasoning": {**state.get("reasoning", {}), "drafts": history},
        }

    def resume(self, state: ControlState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        """A control the run store already holds a result for is not done again. A process killed just
        after saving a result can lose that control's checkpoint write; the run store never loses it."""
        saved = runtime.context.runs.result(state["run_id"], state["control_id"])
        if saved is None:
            return {"restored": False}
        return {"restored": True, **_output(saved)}

    def after_resume(self, state: ControlState) -> str:
        return "restored" if state.get("restored") else "plan"

    def after_verify(self, state: ControlState) -> str:
        if state["verdict"]["passed"] or state["draft"]["writer"] == "offline":
            return "persist"
        return "repair" if state.get("attempts", 0) < MAX_MODEL_DRAFTS else "fallback"

    def repair(self, state: ControlState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        ctx = runtime.context
        draft_input = _draft_input(ctx, state)
        ctx.emit("repaired", state["control_id"], "asking the model to repair its draft")
        attempts = state.get("attempts", 0) + 1
        try:
            written = llm_writer.repair(self.model, draft_input, state["draft"]["text"], state["verdict"]["problems"])
        except Exception as exc:
            reason = f"the model could not repair its draft: {type(exc).__name__}: {exc}"
            return {
                "draft": _offline_draft(draft_input),
                "fallback_reason": reason,
                "attempts": attempts,
                "log": [_event(ctx, state, "writer_error", reason)],
            }
        return {"draft": _model_draft(written), "attempts": attempts, "token_usage": written.usage}

    def fallback(self, state: ControlState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        ctx = runtime.context
        problems = state["verdict"]["problems"]
        reason = f"the model's draft failed verification {state.get('attempts', 0)} times; last problems: " + "; ".join(
            problems[:3]
        )
        ctx.emit("fallback", state["control_id"], "model draft replaced by the offline writer's")
        return {
            "draft": _offline_draft(_draft_input(ctx, state)),
            "fallback_reason": reason,
            "log": [_event(ctx, state, "fallback", reason)],
        }

    # -- persist -----------------------------------------------------------------------------------

    def persist(self, state: ControlState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        ctx = runtime.context
        control = _control(ctx, state["control_id"])
        result = build_result(control, state, possible_injections(ctx, state))
        reasoning = {**state.get("reasoning", {}), "fallback_reason": state.get("fallback_reason")}
        saved = ctx.runs.save_result(state["run_id"], result, reasoning, state.get("log", []))
        if saved is not None:
            # Saved already, by this very step before a kill that lost its checkpoint: keep that record.
            return _output(saved)
        ctx.emit("done", control.id, f"{result.status}; narrative {result.narrative.status}")
        return _output(result)


# -- helpers ------------------------------------------------------------------------------------------


def _output(result: ControlResult) -> dict[str, Any]:
    """A control's result as the subgraph hands it to the run."""
    return {"results": {result.id: result.model_dump(mode="json", by_alias=True)}}


def _control(ctx: RunContext, control_id: str) -> Control:
    control = ctx.library.get(control_id)
    if control is None:
        raise KeyError(f"control {control_id} is not in the control library")
    return control


def _event(ctx: RunContext, state: ControlState, kind: str, message: str, *, shown: bool = True) -> dict[str, Any]:
    """A notable event for the run log; `shown` also reports it as progress (the CLI prints it)."""
    log.info("%s %s: %s", state["control_id"], kind, message)
    if shown:
        ctx.emit("error" if kind.endswith("error") else "warning", state["control_id"], message)
    return {"control_id": state["control_id"], "kind": kind, "message": message}


def _params_key(params: dict[str, Any]) -> str:
    return canonical_json(params).decode()


def _verdict(ctx: RunContext, control_id: str, text: str, context: VerificationContext) -> VerifierResult:
    """The verifier's verdict on a draft. An earlier run's is reused only when everything the verifier reads is
    identical (`verification_digest`: the draft, its context and the code), as a re-run of unchanged evidence has,
    and when the run's key signed it: whoever can write the run store cannot sign, so a verdict put there (a
    rejected draft marked as passed) is not believed, and the draft is verified again."""
    if ctx.runs is None or ctx.signer is None:
        return verify(text, context)
    inputs_sha256 = verification_digest(text, context)
    stored = ctx.runs.verdict(control_id)
    if (
        stored is not None
        and stored.inputs_sha256 == inputs_sha256
        and ctx.signer.public.verifies(stored.signed_payload(), stored.signature)
    ):
        return VerifierResult.model_validate_json(stored.verdict)
    verdict = verify(text, context)
    unsigned = StoredVerdict(control_id, inputs_sha256, verdict.model_dump_json(), signature="")
    ctx.runs.save_verdict(replace(unsigned, signature=ctx.signer.sign(unsigned.signed_payload())))
    return verdict


def _remember_facts(ctx: RunContext, item: StoredEvidence) -> None:
    with ctx.facts_lock:
        if item.id in ctx.facts_cache:
            return
    facts = EvidenceFacts.from_data(item.id, item.tool, item.params, item.data, _collected_at(ctx, item.id))
    with ctx.facts_lock:
        ctx.facts_cache.setdefault(item.id, facts)


def evidence_facts(ctx: RunContext, evidence_id: str, tool: str, params: dict[str, Any]) -> EvidenceFacts:
    """Facts of a stored item, parsed once per run (read back from the locker after a resume)."""
    with ctx.facts_lock:
        cached = ctx.facts_cache.get(evidence_id)
    if cached is not None:
        return cached
    _remember_facts(ctx, StoredEvidence(evidence_id, tool, params, ctx.runner.locker.read(evidence_id)))
    return ctx.facts_cache[evidence_id]


def verification_context(ctx: RunContext, state: ControlState) -> VerificationContext:
    findings = [Finding.model_validate(f) for f in state.get("findings", [])]
    evidence = {e["id"]: evidence_facts(ctx, e["id"], e["tool"], e["params"]) for e in state.get("evidence", [])}
    return VerificationContext(
        chunks={c["id"]: c["text"] for c in state.get("chunks", [])},
        evidence=evidence | attachment_facts(_attachments(state)),
        findings=findings,
        check_titles={f.check: CHECKS[f.check].title for f in findings if f.check in CHECKS},
        statements=list(_control(ctx, state["control_id"]).statements),
        as_of=run_day(ctx, state),
        audit_period=ctx.config.audit.bounds,
    )


def _approved_attachments(ctx: RunContext, control_id: str) -> list[Attachment]:
    with ReviewLog(ctx.workspace.review_db) as review_log:
        return approved_attachments(review_log).get(control_id, [])


def _attachments(state: ControlState) -> list[Attachment]:
    return [Attachment.model_validate(a) for a in state.get("attachments", [])]


def attachment_facts(attachments: list[Attachment]) -> dict[str, EvidenceFacts]:
    """The verifier's support for sentences citing an approved attachment: the review log's record of it."""
    return {
        a.evidence_id: EvidenceFacts.from_data(
            a.evidence_id, "manual.attachment", {}, attachment_record(a), a.attached_at.isoformat()
        )
        for a in attachments
    }


def run_day(ctx: RunContext, state: ControlState) -> date:
    """The day the run started: requests for records cover its quarter, in the draft and in its verification."""
    started_at = ctx.runs.started_at(state["run_id"]) if ctx.runs is not None else None
    return (started_at or now()).date()


def _collected_at(ctx: RunContext, evidence_id: str) -> str:
    """When the locker stored an evidence item (ISO 8601), or "" when there is no locker to ask."""
    record = ctx.runner.locker.get(evidence_id) if ctx.runner is not None else None
    return record.collected_at if record else ""


def retrieve_chunks(ctx: RunContext, control: Control) -> list[RetrievedChunk]:
    """Criteria, the most relevant points of focus, the control itself, related controls and policies."""
    store = ctx.store
    query = f"{control.title}. {control.description}"
    # The points of focus people chose for the control; the store's ranking only for a control without them.
    wanted: list[str] = list(control.criteria) + list(control.points_of_focus)
    if not control.points_of_focus:
        ranked = [c.id for c in store.search(query, k=40, collections=("criteria",))]
        for position, criterion_id in enumerate(control.criteria):
            share = 2 if position == 0 else 1
            relevant = [i for i in ranked if i.startswith(f"{criterion_id}/pof/")][:share]
            wanted += relevant or [f"{criterion_id}/pof/1"]
    wanted.append(f"control:{control.id}")
    related = sorted(
        (other for other in ctx.library.for_criterion(control.criteria[0]) if other.id != control.id),
        key=lambda other: (-len(set(other.criteria) & set(control.criteria)), other.id),
    )
    wanted += [f"control:{other.id}" for other in related[:2]]
    chunks: list[RetrievedChunk] = []
    for chunk_id in dict.fromkeys(wanted):
        chunk = store.get(chunk_id)
        if chunk is not None:
            chunks.append(_retrieved(chunk))
    for chunk in store.search(query, k=2, collections=("documents",), mode="lexical"):
        chunks.append(_retrieved(chunk))
    return chunks


def _retrieved(chunk: Any) -> RetrievedChunk:
    return RetrievedChunk(
        id=chunk.id,
        text=chunk.text[:MAX_CHUNK_CHARS],
        collection=chunk.collection,
        title=str(chunk.metadata.get("title", chunk.id)),
    )


def _draft_input(ctx: RunContext, state: ControlState) -> DraftInput:
    control = _control(ctx, state["control_id"])
    findings = [Finding.model_validate(f) for f in state.get("findings", [])]
    evidence = list(state.get("evidence", []))
    collected_at = {e["id"]: _collected_at(ctx, e["id"]) for e in evidence}
    return DraftInput(
        company=ctx.config.company,
        control=control,
        findings=findings,
        evidence=evidence,
        chunks=list(state.get("chunks", [])),
        check_titles={check_id: spec.title for check_id, spec in CHECKS.items()},
        tool_calls=[ToolCallRecord.model_validate(call) for call in state.get("tool_calls", [])],
        feedback=ctx.feedback.get(control.id),
        collected_at={evidence_id: moment for evidence_id, moment in collected_at.items() if moment},
        as_of=run_day(ctx, state),
        audit_period=ctx.config.audit.bounds,
        attachments=_attachments(state),
    )


def _offline_draft(draft_input: DraftInput) -> Draft:
    writer = offline_writer.WRITER
    return Draft(
        text=offline_writer.write(draft_input),
        writer="offline",
        provider=writer.provider,
        model=writer.model,
        prompt_template_hash=None,
    )


def _model_draft(written: llm_writer.ModelDraft) -> Draft:
    return Draft(
        text=written.text,
        writer="llm",
        provider=written.writer.provider,
        model=written.writer.model,
        prompt_template_hash=written.prompt_template_hash,
    )


def narrative_status(state: ControlState) -> str:
    """verified: first draft accepted; repaired: accepted after one repair; fallback: replaced or unverified."""
    if state.get("fallback_reason") or not state["verdict"]["passed"]:
        return "fallback"
    return "repaired" if state.get("attempts", 0) >= MAX_MODEL_DRAFTS else "verified"


def possible_injections(ctx: RunContext, state: ControlState) -> list[PossibleInjection]:
    """Text in this control's evidence or retrieved documents that reads as instructions to a model."""
    found = [s for e in state.get("evidence", []) for s in evidence_facts(ctx, e["id"], e["tool"], e["params"]).suspect]
    found += [s for chunk in state.get("chunks", []) for s in scan(chunk["id"], chunk["text"])]
    return [PossibleInjection(source=s.source, excerpt=s.excerpt, phrase=s.phrase) for s in found]


def build_result(
    control: Control, state: ControlState, injections: list[PossibleInjection] | None = None
) -> ControlResult:
    findings = [Finding.model_validate(f) for f in state.get("findings", [])]
    draft = state["draft"]
    calls = [ToolCallRecord.model_validate(call) for call in state.get("tool_calls", [])]
    attempts = state.get("attempts", 0) or 1
    provenance = Provenance(
        writer=draft["writer"],
        provider=draft["provider"] if draft["writer"] == "llm" else "offline",
        model=draft["model"],
        prompt_template_hash=draft["prompt_template_hash"],
        retrieved_chunk_ids=[c["id"] for c in state.get("chunks", [])],
        evidence_ids=[call.evidence_id for call in calls if call.evidence_id]
        + [a["evidence_id"] for a in state.get("attachments", [])],
        tool_calls=calls,
        token_usage=dict(state.get("token_usage", {})),
        attempts=attempts,
    )
    # Attachments are not known here: aggregate() derives the status again with them.
    verdict = control_status(control.kind, findings)
    return ControlResult(
        id=control.id,
        title=control.title,
        criteria=list(control.criteria),
        weak_criteria=list(control.weak_criteria),
        kind=control.kind,
        owner_role=control.owner_role,
        run_id=state["run_id"],
        assessed_at=now(),
        status=verdict.status,
        status_reason=verdict.reason,
        findings=findings,
        narrative=Narrative(
            status=narrative_status(state),  # type: ignore[arg-type]
            text=draft["text"],
            citations=citation_ids(draft["text"]),
            verifier=VerifierResult.model_validate(state["verdict"]),
            provenance=provenance,
        ),
        possible_injections=list(injections or []),
    )
