"""The readiness report contract, `schema: "auditor.readiness/v2"`.

The agent produces it, `auditor report` renders it, the review TUI reads it. Change it only with a
new schema version.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.findings import Finding, Severity
from tools.sources import SourceStatus

SCHEMA_ID = "auditor.readiness/v2"

# The rules are in agent/report.py (control_status); v1's "manual" became awaiting_evidence / evidenced.
ControlStatus = Literal["pass", "fail", "partial", "error", "not_applicable", "awaiting_evidence", "evidenced"]
CONTROL_STATUSES: tuple[ControlStatus, ...] = (
    "pass",
    "evidenced",
    "partial",
    "fail",
    "error",
    "awaiting_evidence",
    "not_applicable",
)
CriterionStatus = Literal["ready", "partial", "gap", "not_assessed"]
# verified: passed first time; repaired: passed after one repair; fallback: replaced by the offline
# writer's draft after the model's draft failed twice (flagged for the reviewer).
NarrativeStatus = Literal["verified", "repaired", "fallback"]
# From the review log (agent/review_log.py): the latest decision on the control's narrative.
ReviewStateName = Literal["approved", "rejected", "edited", "awaiting_review"]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class WriterInfo(_Model):
    provider: str  # "offline", "openai", ...
    model: str  # OFFLINE_WRITER.model for the offline writer


# The deterministic writer: one name for it in run records and narratives alike.
OFFLINE_WRITER = WriterInfo(provider="offline", model="deterministic-v2")


class EvidenceHead(_Model):
    """The evidence chain's last item when the run finished. An auditor holding the report can run
    `auditor verify --head <record_hash>` to prove no evidence was cut from the chain since."""

    seq: int
    record_hash: str


class RunInfo(_Model):
    id: str
    started_at: datetime
    finished_at: datetime | None = None
    trigger: Literal["manual", "demo", "schedule", "ci", "regenerate"] = "manual"
    writer: WriterInfo
    evidence_head: EvidenceHead | None = None
    # Each evidence source (aws, github, git, logs, llm): ok, error (with cause and fix) or not_configured.
    sources: list[SourceStatus] = Field(default_factory=list)
    # A `--controls` run judges only those controls and takes the others, as they were, from this run's report.
    merged_from: str | None = None


class Summary(_Model):
    criteria_total: int
    ready: int
    partial: int
    gap: int
    not_assessed: int
    readiness_pct: float  # ready / criteria_total * 100, one decimal
    controls_total: int
    controls_evidenced: int  # controls whose status is pass or evidenced
    controls_evidenced_pct: float  # controls_evidenced / controls_total * 100, one decimal
    control_counts: dict[str, int] = Field(default_factory=dict)  # control status -> how many


class CriterionResult(_Model):
    id: str
    status: CriterionStatus
    control_ids: list[str]


class VerifierResult(_Model):
    passed: bool
    problems: list[str] = Field(default_factory=list)
    sentences: int = 0
    cited_sentences: int = 0


class ToolCallRecord(_Model):
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    evidence_id: str | None = None
    source: Literal["baseline", "model"] = "baseline"
    error: str | None = None


class Provenance(_Model):
    writer: str  # "offline" | "llm"
    provider: str
    model: str
    prompt_template_hash: str | None = None
    retrieved_chunk_ids: list[str] = Field(default_factory=list)
    evidence_ids: list[str] = Field(default_factory=list)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    token_usage: dict[str, int] = Field(default_factory=dict)
    attempts: int = 1


class Narrative(_Model):
    status: NarrativeStatus
    text: str
    citations: list[str]
    verifier: VerifierResult
    provenance: Provenance


class Attachment(_Model):
    """A file a reviewer attached to a control as manual evidence, and the period it covers."""

    control_id: str
    evidence_id: str
    file: str  # the path it was attached from
    note: str | None = None
    attached_by: str
    attached_at: datetime
    period_start: date
    period_end: date
    # The reviewer whose approval of the control came after the attachment, with no rejection since.
    approved_by: str | None = None
    approved_at: datetime | None = None

    @property
    def approved(self) -> bool:
        return self.approved_by is not None

    def covers(self, day: date) -> bool:
        return self.period_start <= day <= self.period_end


class ExceptionResponse(_Model):
    """A person's answer to an exception in the period (a past event cannot be fixed, only answered): why it
    happened, what was done, by when it is remediated, and what control compensated meanwhile."""

    control_id: str
    check: str
    resource: str
    cause: str
    response: str
    remediation_date: date | None = None
    compensating_control: str | None = None
    responded_by: str
    responded_at: datetime

    def answers(self, finding: Finding) -> bool:
        return finding.check == self.check and finding.resource == self.resource


class ReviewState(_Model):
    """Where the control's narrative stands in review, from the review log when the report was rendered."""

    state: ReviewStateName
    reviewer: str | None = None  # who made the decision behind `state` (None: no decision yet)
    at: datetime | None = None
    note: str | None = None  # the rejection reason, or why an earlier approval no longer holds
    # The narrative under review when an edit or a regeneration replaced the run's draft (None: the draft).
    text: str | None = None
    edited_by: str | None = None  # the reviewer who wrote `text` (None: the run's draft or a regeneration)
    edited_at: datetime | None = None
    attachments: list[Attachment] = Field(default_factory=list)  # approved or not; see Attachment.approved
    responses: list[ExceptionResponse] = Field(default_factory=list)  # the latest per exception (check, resource)


class PossibleInjection(_Model):
    """Text in the control's evidence or retrieved documents that reads as instructions to a model
    (tools/injection.py). Prompts fenced it as data; the reviewer should look at where it came from."""

    source: str  # the citation of where it is: "ev:0a1b2c3d4e5f", "policy:access.md#mfa"
    excerpt: str
    phrase: str  # what reads as an instruction ("ignore previous instructions", "note to the reviewer")


class ControlResult(_Model):
    id: str
    title: str
    criteria: list[str]
    kind: Literal["automated", "manual", "hybrid"]
    status: ControlStatus
    findings: list[Finding]
    narrative: Narrative
    review: ReviewState | None = None  # None: a report written before review states were recorded
    status_reason: str = ""  # one sentence: why this status
    # Criteria this control supports only weakly: it never makes one of them ready on its own.
    weak_criteria: list[str] = Field(default_factory=list)
    owner_role: str = ""  # who fixes what it finds (from the control library)
    # The run that judged this control, and when: in a report merged from a `--controls` run, the controls
    # taken from the earlier report keep their own run and date. None in reports written before v2.
    run_id: str | None = None
    assessed_at: datetime | None = None
    possible_injections: list[PossibleInjection] = Field(default_factory=list)


class FixItem(_Model):
    """One line of the fix list: one resource with one failing (or unjudgeable) check, and the controls it affects."""

    resource: str
    check: str
    status: Literal["fail", "error"]
    severity: Severity | None
    reason: str
    controls: list[str]
    owner_role: str  # the controls' owner roles, joined with " / " when they differ
    due: date  # run date + remediation.due_days[severity]
    evidence_ids: list[str] = Field(default_factory=list)
    # The AWS account, when the run read several ([aws.organization]); left out of the JSON otherwise.
    account: str | None = Field(default=None, exclude_if=lambda account: account is None)


class IncidentEvent(_Model):
    check: str
    resource: str
    at: datetime
    reason: str
    evidence_ids: list[str] = Field(default_factory=list)


class PossibleIncident(_Model):
    """Log findings by one principal close together in time that together look like an attack, not hygiene."""

    principal: str
    summary: str
    first_at: datetime
    last_at: datetime
    events: list[IncidentEvent]
    controls: list[str] = Field(default_factory=list)


class OutOfScopeItem(_Model):
    """A resource the audit scope set aside, for one reason, in the controls and checks that judged it."""

    resource: str
    reason: str  # "tagged soc2:scope=out", "matches scope.exclude '...'", "AI-10 applies to ..."
    controls: list[str]
    checks: list[str]
    evidence_ids: list[str] = Field(default_factory=list)


class ReadinessReport(_Model):
    schema_id: Literal["auditor.readiness/v2"] = Field(default=SCHEMA_ID, alias="schema")
    company: str
    run: RunInfo
    summary: Summary
    criteria: list[CriterionResult]
    controls: list[ControlResult]
    possible_incidents: list[PossibleIncident] = Field(default_factory=list)
    fix_list: list[FixItem] = Field(default_factory=list)  # most severe first
    out_of_scope: list[OutOfScopeItem] = Field(default_factory=list)  # the appendix, by resource

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)
