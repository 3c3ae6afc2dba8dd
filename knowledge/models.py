"""Typed models for the Trust Services Criteria and the control library."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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


class Control(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str  # "IAM-01"
    title: str
    description: str
    criteria: list[str] = Field(min_length=1)
    kind: Literal["automated", "manual", "hybrid"]
    frequency: Literal["continuous", "daily", "weekly", "monthly", "quarterly", "annually", "per_event"]
    owner_role: str
    evidence: list[EvidenceSpec] = Field(default_factory=list)
    # What a person must provide for manual / hybrid controls (e.g. "signed policy acknowledgement").
    manual_evidence: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)  # e.g. ["ai"] for AI-specific controls
