"""Typed models for the Trust Services Criteria and the control library."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.scope import AppliesTo


class PointOfFocus(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int = Field(description="1-based position under its criterion; citation id CC6.1/pof/<index>")
    title: str
    text: str | None = Field(default=None, description="Full text; only after importing the AICPA publication")
    tags: list[str] = Field(default_factory=list)

    def citation_id(self, criterion_id: str) -> str:
        return f"{criterion_id}/pof/{self.index}"


class Criterion(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str  # "CC6.1"
    category: Literal["security", "availability", "confidentiality", "processing_integrity", "privacy"]
    series: str  # "CC6"
    series_title: str
    text: str
    points_of_focus: list[PointOfFocus]


class EvidenceSpec(BaseModel):
    """One piece of automated evidence a control needs: run `tool` with `params`, judge with `check`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    check: str


# How a check tests a statement: inspection of configuration, reperformance of a query over records (such as
# logs), or inspection of records (pull requests, alerts).
TestProcedure = Literal["inspection", "reperformance", "records"]


class DesignStatement(BaseModel):
    """One statement of a control's design, and how it is tested: by checks of the control's own evidence, or
    not by the tool at all, in which case `provide` says what evidence a person must give."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(min_length=1)  # present tense: "Every IAM user with a console password has an MFA device."
    checks: list[str] = Field(default_factory=list)
    procedure: TestProcedure | None = None
    provide: str | None = None

    @property
    def tested(self) -> bool:
        return bool(self.checks)

    @model_validator(mode="after")
    def _tested_or_provided(self) -> DesignStatement:
        if bool(self.checks) == bool(self.provide):
            raise ValueError(
                "a statement gives either checks (tested by the tool) or provide (evidence a person "
                "gives), not both and not neither"
            )
        if self.checks and self.procedure is None:
            raise ValueError("a statement tested by checks needs a procedure: inspection, reperformance or records")
        if self.provide and self.procedure is not None:
            raise ValueError("procedure is only for statements tested by checks")
        return self


class Control(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str  # "IAM-01"
    title: str
    description: str
    criteria: list[str] = Field(min_length=1)
    # Criteria (among `criteria`) this control supports only weakly: it never makes one of them ready alone.
    weak_criteria: list[str] = Field(default_factory=list)
    kind: Literal["automated", "manual", "hybrid"]
    frequency: Literal["continuous", "daily", "weekly", "monthly", "quarterly", "annually", "per_event"]
    owner_role: str
    evidence: list[EvidenceSpec] = Field(default_factory=list)
    # What a person must provide for manual / hybrid controls (e.g. "signed policy acknowledgement").
    manual_evidence: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)  # e.g. ["ai"] for AI-specific controls
    # The resources its checks judge (any tag pair or name glob matching); the others are out of scope for it.
    # None: every resource. [scope.applies_to] in the configuration replaces it.
    applies_to: AppliesTo | None = None
    # The design, statement by statement, each tested by checks of `evidence` or provided by a person.
    statements: list[DesignStatement] = Field(default_factory=list)
    # Points of focus this control addresses ("CC6.1/pof/4"), chosen by people, each under one of `criteria`.
    points_of_focus: list[str] = Field(default_factory=list)
