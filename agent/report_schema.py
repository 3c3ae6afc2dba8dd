"""The readiness report contract, `schema: "auditor.readiness/v1"`.

The agent produces it, `auditor report` renders it, the review TUI reads it. Change it only with a
new schema version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.findings import Finding

SCHEMA_ID = "auditor.readiness/v1"

ControlStatus = Literal["pass", "fail", "partial", "manual", "error"]
CriterionStatus = Literal["ready", "partial", "gap", "not_assessed"]
# verified: passed first time; repaired: passed after one repair; fallback: replaced by the offline
# writer's draft after the model's draft failed twice (flagged for the reviewer).
NarrativeStatus = Literal["verified", "repaired", "fallback"]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class WriterInfo(_Model):
    provider: str  # "offline", "openai", ...
    model: str  # "deterministic-v1" for the offline writer


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


class Summary(_Model):
    criteria_total: int
    ready: int
    partial: int
    gap: int
    not_assessed: int
    readiness_pct: float  # ready / (criteria_total - not_assessed) * 100, one decimal


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


class ControlResult(_Model):
    id: str
    title: str
    criteria: list[str]
    kind: Literal["automated", "manual", "hybrid"]
    status: ControlStatus
    findings: list[Finding]
    narrative: Narrative


class ReadinessReport(_Model):
    schema_id: Literal["auditor.readiness/v1"] = Field(default=SCHEMA_ID, alias="schema")
    company: str
    run: RunInfo
    summary: Summary
    criteria: list[CriterionResult]
    controls: list[ControlResult]

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)
