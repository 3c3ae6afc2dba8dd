"""What flows through the agent graph: the typed states (checkpointed) and the run context (not).

States hold only JSON-serialisable data, because the SQLite checkpointer stores them after every
step: evidence travels by locker id and summary, never as raw data. Parallel control branches write
to the run state only through reducers, so their updates merge instead of colliding.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypedDict

from tools.config import AuditorConfig
from tools.workspace import Workspace

if TYPE_CHECKING:
    from agent.runs import RunStore
    from agent.verifier import EvidenceFacts
    from knowledge.catalog import Catalog
    from knowledge.control_library import ControlLibrary
    from knowledge.store import KnowledgeStore
    from tools.runner import EvidenceRunner
    from tools.signing import Signer


def merge_results(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Reducer: control results keyed by control id; a later result for a control replaces it."""
    return {**(current or {}), **(update or {})}


def add_usage(current: dict[str, int], update: dict[str, int]) -> dict[str, int]:
    """Reducer: token usage counters add up across model calls."""
    total = dict(current or {})
    for key, value in (update or {}).items():
        total[key] = total.get(key, 0) + int(value)
    return total


# -- the run ---------------------------------------------------------------------------------------


class RunState(TypedDict, total=False):
    run_id: str
    control_ids: list[str]
    results: Annotated[dict[str, dict[str, Any]], merge_results]  # control id -> ControlResult JSON
    log: Annotated[list[dict[str, Any]], operator.add]  # notable events: rejected tool calls, errors
    report: dict[str, Any]  # the ReadinessReport JSON, written by the aggregate step


# -- one control -------------------------------------------------------------------------------------


class ControlInput(TypedDict):
    run_id: str
    control_id: str


class ControlOutput(TypedDict, total=False):
    results: Annotated[dict[str, dict[str, Any]], merge_results]
    log: Annotated[list[dict[str, Any]], operator.add]


class PlannedCall(TypedDict):
    tool: str
    params: dict[str, Any]
    check: str | None  # None for evidence the model asked for without a check to judge it
    source: Literal["baseline", "model"]


class EvidenceSummary(TypedDict):
    id: str
    tool: str
    params: dict[str, Any]
    summary: str  # a short, size-capped description of the data (never raw secrets)


class RetrievedChunk(TypedDict):
    id: str  # the citation id
    text: str
    collection: str
    title: str


class Draft(TypedDict):
    text: str
    writer: Literal["offline", "llm"]
    provider: str
    model: str
    prompt_template_hash: str | None


class ControlState(ControlInput, ControlOutput, total=False):
    plan: list[PlannedCall]
    tool_calls: list[dict[str, Any]]  # ToolCallRecord JSON, one per planned call, in plan order
    evidence: list[EvidenceSummary]
    findings: list[dict[str, Any]]  # Finding JSON
    chunks: list[RetrievedChunk]
    attachments: list[dict[str, Any]]  # Attachment JSON: the manual evidence reviewers approved for the control
    draft: Draft
    verdict: dict[str, Any]  # VerifierResult JSON for the current draft
    attempts: int  # model drafts written (first draft and repair)
    fallback_reason: str | None
    token_usage: Annotated[dict[str, int], add_usage]
    reasoning: dict[str, Any]  # rules applied, evidence used, chunks retrieved, planning notes
    restored: bool  # its result was already in the run store (a resumed run): nothing to redo


# -- what nodes need that is not state ------------------------------------------------------------------

ProgressKind = Literal[
    "started",
    "planned",
    "collected",
    "evaluated",
    "drafted",
    "verified",
    "repaired",
    "fallback",
    "done",
    "warning",
    "error",
    "report",
]


@dataclass(frozen=True)
class ProgressEvent:
    kind: ProgressKind
    control_id: str | None
    message: str
    count: int | None = None  # for "started": the controls still to process

    def __str__(self) -> str:
        return f"{self.control_id}: {self.message}" if self.control_id else self.message


class RunCancelled(Exception):
    """The run was asked to stop (Ctrl-C): each control stops at its next step; finished ones are kept."""


@dataclass
class RunContext:
    """Run-scoped services handed to every node (LangGraph `context`); never checkpointed."""

    config: AuditorConfig
    workspace: Workspace
    catalog: Catalog
    library: ControlLibrary
    store: KnowledgeStore
    runner: EvidenceRunner
    runs: RunStore
    trigger: str = "manual"
    # Reviewer feedback per control, given to the model writer when a control is regenerated.
    feedback: dict[str, str] = field(default_factory=dict)
    on_event: Callable[[ProgressEvent], None] | None = None
    # Parsed evidence facts for the verifier, shared by every control of the run.
    facts_cache: dict[str, EvidenceFacts] = field(default_factory=dict)
    facts_lock: threading.Lock = field(default_factory=threading.Lock)
    # Set to stop the run: controls not yet finished stop at their next step (`auditor run --resume` redoes them).
    cancel: threading.Event = field(default_factory=threading.Event)
    # `auditor run --checks`: evaluate only these checks (None: every check the plan calls for).
    only_checks: frozenset[str] | None = None
    # The run's signing key: it signs the verdicts the run caches, and a cached one it did not sign is not reused.
    # None: no verdict is cached or reused.
    signer: Signer | None = None

    def stop_if_cancelled(self) -> None:
        if self.cancel.is_set():
            raise RunCancelled("the run was interrupted")

    def emit(self, kind: ProgressKind, control_id: str | None, message: str, count: int | None = None) -> None:
        if self.on_event is not None:
            self.on_event(ProgressEvent(kind, control_id, message, count))
