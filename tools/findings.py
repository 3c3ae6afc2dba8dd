"""What a check returns: one finding per resource, with its reason and the evidence it rests on."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # the evidence could not be judged (missing, unreadable, access denied)
    NOT_APPLICABLE = "not_applicable"
    OUT_OF_SCOPE = "out_of_scope"  # the resource is outside the audit scope; the reason says which rule put it there


class Severity(StrEnum):
    """How bad a failing check is; the rubric is in the README ("Severity")."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


# Most severe first: the order of the fix list.
SEVERITY_ORDER: tuple[Severity, ...] = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    check: str = Field(description="Stable check id, e.g. aws.iam.console_user_mfa")
    status: Status
    resource: str = Field(description="ARN, name or path of what was judged")
    reason: str = Field(description="One plain sentence: why this status")
    evidence_ids: list[str] = Field(default_factory=list)
    # The check's severity, filled in by the runner from its registration; checks do not set it.
    severity: Severity | None = None
    # Figures the reason rests on (counts, ages, ...), so writers can cite numbers exactly.
    facts: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    # The AWS account judged, when a run reads several ([aws.organization]); left out of the JSON otherwise.
    account: str | None = Field(default=None, exclude_if=lambda account: account is None)
