"""Evidence requests (the auditor's "provided by client" list): what each control needs from a
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


# Frequencies with no period of their own: evidenced per quarter, or once for a configured audit period.
EVIDENCED_PER_PERIOD = ("continuous", "per_event")


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


def needs_records(control: Control) -> bool:
    """A person must provide records for it: a manual or hybrid control, or any control with a statement whose
    evidence is a record someone provides (`provide`), whatever its kind."""
    return control.kind != "automated" or any(s.provide for s in control.statements)


def control_requests(
    control: Control,
    approved: list[Attachment],
    today: date,
    *,
    since: date | None = None,
    audit_period: tuple[date, date] | None = None,
) -> list[EvidenceRequest]:
    """The requests of one control on `today`: its current period, and the previous one when it ended on or after
    `since` (the audit's first run; with an `audit_period`, its start). The one computation both `auditor
    requests` and the narratives use, so that they ask for the same records, periods and due dates.

    With an `audit_period` ([audit] period), continuous and per-event controls are evidenced once for the whole
    audit period, due at its end."""
    since = audit_period[0] if audit_period is not None else since
    current = period_of(control.frequency, today)
    previous = period_of(control.frequency, current[0] - timedelta(days=1))
    periods = ([previous] if since is not None and previous[1] >= since else []) + [current]
    if audit_period is not None and control.frequency in EVIDENCED_PER_PERIOD:
        periods = [audit_period]
    requests = []
    for start, end in periods:
        received = [a.evidence_id for a in approved if a.period_start <= end and a.period_end >= start]
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
    return requests


def request_period_bounds(today: date, audit_period: tuple[date, date] | None = None) -> set[date]:
    """Every first and last day a request made on `today` can name (current and previous period of each
    frequency, and the audit period): the dates a narrative's request may state without citing them."""
    bounds = set(audit_period or ())
    for frequency in ("daily", "weekly", "monthly", "quarterly", "annually"):
        current = period_of(frequency, today)
        bounds |= {*current, *period_of(frequency, current[0] - timedelta(days=1))}
    return bounds


def evidence_requests(
    controls: Iterable[Control],
    approved: Mapping[str, list[Attachment]],
    today: date,
    *,
    since: date | None = None,
    owner: str | None = None,
    audit_period: tuple[date, date] | None = None,
) -> list[EvidenceRequest]:
    """Requests of every control that needs records from a person (with `owner`: only that owner's), see
    `control_requests`."""
    requests = []
    for control in controls:
        if not needs_records(control) or (owner and control.owner_role.lower() != owner.lower()):
            continue
        requests += control_requests(
            control, approved.get(control.id, []), today, since=since, audit_period=audit_period
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
        records = "; ".join(record.rstrip(".") for record in r.records) or "(the control names none: ask the owner)"
        lines.append(
            f"| {r.control} {r.title} | {r.owner_role} | {r.period_start}..{r.period_end} | {r.due} | "
            f"{state} | {records} |"
        )
    return "\n".join(lines) + "\n"
