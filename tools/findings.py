"""What a check returns: one finding per resource, with its reason and the evidence it rests on."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # the evidence could not be judged (missing, unreadable, access denied)
    NOT_APPLICABLE = "not_applicable"


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    check: str = Field(description="Stable check id, e.g. aws.iam.console_user_mfa")
    status: Status
    resource: str = Field(description="ARN, name or path of what was judged")
    reason: str = Field(description="One plain sentence: why this status")
    evidence_ids: list[str] = Field(default_factory=list)
    # Figures the reason rests on (counts, ages, ...), so writers can cite numbers exactly.
    facts: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
