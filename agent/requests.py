"""Evidence requests (the auditor's "provided by client" list): what each manual or hybrid control needs from a
person, from which owner, for which period, by when, and whether it has been received.

A control's period follows its frequency (quarterly: the calendar quarter, annually: the year, ...); the record
for a period is due at its end. Received means a reviewer approved an attachment whose period overlaps it.
The previous period is asked for too, when the audit had started by then: that is the one that can be overdue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.report_schema import Attachment
from agent.review_log import quarter_of
from knowledge.models import Control

RequestState = Literal["received", "due", "overdue"]


class EvidenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    control: str
    title: str
    owner_role: str
    frequency: str
    records: list[str]  # what to provide (see records_for)
    period_start: date
    period_end: date
    due: date
    state: RequestState
    received: list[str] = Field(default_factory=list)  # evidence ids of the approved attachments


def period_of(frequency: str, day: date) -> tuple[date, date]:
    """The period a record of this frequency covers, around `day`. Continuous and per-event controls are
    evidenced per quarter (the records of the events in it)."""
    if frequency == "daily":
        return day, day
    if frequency == "weekly":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if frequency == "monthly":
        start = day.replace(day=1)
        return start, (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    if frequency == "annually":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    return quarter_of(day)


def records_for(control: Control) -> list[str]:
    """The design statements' `provide` (one record each, precise), else the control's manual_evidence."""
    provided = [s.provide for s in control.statements if s.provide]
    return provided or list(control.manual_evidence)


def evidence_requests(
    controls: Iterable[Control],
    approved: Mapping[str, list[Attachment]],
    today: date,
    *,
    since: date | None = None,
    owner: str | None = None,
) -> list[EvidenceRequest]:
    """Requests for the current period of every manual or hybrid control (with `owner`: only that owner's),
    and for the previous period when it ended on or after `since` (the audit's first run)."""
    requests = []
    for control in controls:
        if control.kind == "automated" or (owner and control.owner_role.lower() != owner.lower()):
            continue
        current = period_of(control.frequency, today)
        previous = period_of(control.frequency, current[0] - timedelta(days=1))
        periods = ([previous] if since is not None and previous[1] >= since else []) + [current]
        for start, end in periods:
            received = [
                a.evidence_id for a in approved.get(control.id, []) if a.period_start <= end and a.period_end >= start
            ]
            state: RequestState = "received" if received else "overdue" if end < today else "due"
            requests.append(
                EvidenceRequest(
                    control=control.id,
                    title=control.title,
                    owner_role=control.owner_role,
                    frequency=control.frequency,
                    records=records_for(control),
                    period_start=start,
                    period_end=end,
                    due=end,
                    state=state,
                    received=received,
                )
            )
    return sorted(requests, key=lambda r: ({"overdue": 0, "due": 1, "received": 2}[r.state], r.due, r.control))


def requests_markdown(requests: list[EvidenceRequest], today: date) -> str:
    counts = {state: sum(1 for r in requests if r.state == state) for state in ("overdue", "due", "received")}
    lines = [
        f"# Evidence requests on {today.isoformat()}",
        "",
        f"{counts['overdue']} overdue, {counts['due']} due, {counts['received']} received.",
        "",
        "| Control | Owner | Period | Due | State | Records to provide |",
        "|---|---|---|---|---|---|",
    ]
    for r in requests:
        state = r.state + (f" ({', '.join(r.received)})" if r.received else "")
        records = "; ".join(r.records) or "(the control names none: ask the owner)"
        lines.append(
            f"| {r.control} {r.title} | {r.owner_role} | {r.period_start}..{r.period_end} | {r.due} | "
            f"{state} | {records} |"
        )
    return "\n".join(lines) + "\n"
