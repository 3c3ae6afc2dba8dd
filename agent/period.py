"""The Type II view of an observation period: how each control operated over the runs in it.

Per control: the runs that judged it, with passes and failures; each exception (a failing check on a resource)
as episodes with first seen, last seen, when it was resolved and how long it lasted, and the response recorded
for it; per manual or hybrid control, the approved attachments against the periods its frequency asks for. For
the period: the gaps in cadence, days without a completed run beyond the schedule.

Reads run digests (agent/history.py), not full reports, so a year of daily runs is summarised in moments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field

from agent.history import FAILING, ExceptionEntry, RunDigest, run_digest
from agent.report_schema import Attachment, ExceptionResponse
from agent.requests import period_of
from agent.runs import RunStore
from knowledge.models import Control
from tools.workspace import Workspace


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ControlRun(_Model):
    run_id: str
    day: date
    status: str
    passed: int
    failed: int  # fail and error findings


class ExceptionEpisode(_Model):
    control: str
    check: str
    resource: str
    status: str  # fail | error (the latest seen)
    reason: str  # the latest seen
    first_seen: date
    last_seen: date
    resolved_on: date | None  # the first run after it that judged the control and did not find it; None: open
    duration_days: int  # from first seen to resolved (open: to last seen)
    runs_failing: int
    evidence_ids: list[str] = Field(default_factory=list)  # of the latest failing finding
    response: ExceptionResponse | None = None


class ExpectedRecord(_Model):
    period_start: date
    period_end: date
    attachments: list[str] = Field(default_factory=list)  # evidence ids of approved attachments overlapping it

    @property
    def covered(self) -> bool:
        return bool(self.attachments)


class ControlPeriod(_Model):
    control: str
    title: str
    kind: str
    frequency: str
    runs: list[ControlRun] = Field(default_factory=list)
    exceptions: list[ExceptionEpisode] = Field(default_factory=list)
    expected_records: list[ExpectedRecord] = Field(default_factory=list)  # manual and hybrid controls


class CadenceGap(_Model):
    start: date
    end: date
    days: int


class PeriodReport(_Model):
    start: date
    end: date
    cadence_days: int
    runs: int
    run_days: int
    gaps: list[CadenceGap] = Field(default_factory=list)
    controls: list[ControlPeriod] = Field(default_factory=list)


def parse_range(text: str) -> tuple[date, date]:
    """`START..END` (ISO dates, both included)."""
    start_text, separator, end_text = text.partition("..")
    try:
        start, end = date.fromisoformat(start_text.strip()), date.fromisoformat(end_text.strip())
    except ValueError:
        separator = ""
    if not separator:
        raise ValueError(f"--period {text!r}: expected START..END, e.g. 2025-01-01..2025-03-31")
    if end < start:
        raise ValueError(f"--period {text!r}: ends before it starts")
    return start, end


def period_digests(workspace: Workspace, start: date, end: date) -> list[RunDigest]:
    """The completed runs that started within the period, oldest first."""
    digests = []
    for record in reversed(RunStore(workspace.runs_db).runs(limit=1_000_000)):
        if record.status != "completed" or record.trigger == "regenerate":
            continue
        if start <= record.started_at.date() <= end:
            digest = run_digest(workspace, record.id)
            if digest is not None:
                digests.append(digest)
    return digests


def observation_period(
    digests: list[RunDigest],
    controls: Iterable[Control],
    start: date,
    end: date,
    *,
    attachments: Mapping[str, list[Attachment]] | None = None,
    responses: Mapping[str, list[ExceptionResponse]] | None = None,
    cadence_days: int = 1,
    as_of: date | None = None,
) -> PeriodReport:
    """The period report from the runs' digests (oldest first), the control library, the approved attachments
    and the exception responses by control, and the schedule's interval in days. Days after `as_of` (today)
    have not happened yet: they are no gap."""
    attachments, responses = attachments or {}, responses or {}
    run_days = sorted({d.started_at.date() for d in digests})
    report = PeriodReport(
        start=start,
        end=end,
        cadence_days=cadence_days,
        runs=len(digests),
        run_days=len(run_days),
        gaps=cadence_gaps(run_days, start, min(end, as_of or end), cadence_days),
    )
    # Each run's exceptions by control, indexed once: the loop below asks for them per control and run.
    exceptions = [_by_control(d) for d in digests]
    for control in controls:
        judged = [(d, exceptions[i].get(control.id, [])) for i, d in enumerate(digests) if control.id in d.controls]
        if not judged and control.kind == "automated":
            continue
        entry = ControlPeriod(control=control.id, title=control.title, kind=control.kind, frequency=control.frequency)
        for digest, _ in judged:
            counts = digest.controls[control.id].findings
            # Built without validation (a year of daily runs is ~50,000 of them): the digest was validated.
            entry.runs.append(
                ControlRun.model_construct(
                    run_id=digest.run_id,
                    day=digest.started_at.date(),
                    status=digest.controls[control.id].status,
                    passed=counts.get("pass", 0),
                    failed=sum(counts.get(s, 0) for s in FAILING),
                )
            )
        entry.exceptions = _episodes(control.id, judged, responses.get(control.id, []))
        if control.kind != "automated":
            entry.expected_records = _expected_records(control, start, end, attachments.get(control.id, []))
        report.controls.append(entry)
    return report


def cadence_gaps(run_days: list[date], start: date, end: date, cadence_days: int) -> list[CadenceGap]:
    """Stretches of the period with no run for longer than the schedule allows: the days between two runs
    (or the period's edges) when they are more than `cadence_days` apart."""
    gaps = []
    edges = [start - timedelta(days=1), *[d for d in run_days if start <= d <= end], end + timedelta(days=1)]
    for before, after in zip(edges, edges[1:], strict=False):
        if (after - before).days > cadence_days:
            first, last = before + timedelta(days=1), after - timedelta(days=1)
            gaps.append(CadenceGap(start=first, end=last, days=(last - first).days + 1))
    return gaps


def _by_control(digest: RunDigest) -> dict[str, list[ExceptionEntry]]:
    grouped: dict[str, list[ExceptionEntry]] = {}
    for exception in digest.exceptions:
        grouped.setdefault(exception.control, []).append(exception)
    return grouped


def _episodes(
    control_id: str, judged: list[tuple[RunDigest, list[ExceptionEntry]]], responses: list[ExceptionResponse]
) -> list[ExceptionEpisode]:
    """Each exception's episodes: consecutive runs (of those that judged the control) finding it."""
    response_for = {(r.check, r.resource): r for r in responses}
    # (check, resource) -> [first seen, last seen, runs failing, latest exception]; plain lists: one update per run
    open_episodes: dict[tuple[str, str], list] = {}
    episodes: list[ExceptionEpisode] = []

    def close(key: tuple[str, str], resolved_on: date | None) -> None:
        first, last, runs, latest = open_episodes.pop(key)
        episodes.append(
            ExceptionEpisode(
                control=control_id,
                check=latest.check,
                resource=latest.resource,
                status=latest.status,
                reason=latest.reason,
                first_seen=first,
                last_seen=last,
                resolved_on=resolved_on,
                duration_days=((resolved_on or last) - first).days,
                runs_failing=runs,
                evidence_ids=list(latest.evidence_ids),
                response=response_for.get(key),
            )
        )

    for digest, exceptions in judged:
        day = digest.started_at.date()
        failing = {(e.check, e.resource): e for e in exceptions}
        for key in [key for key in open_episodes if key not in failing]:
            close(key, day)
        for key, exception in failing.items():
            episode = open_episodes.setdefault(key, [day, day, 0, exception])
            episode[1:] = [day, episode[2] + 1, exception]
    for key in list(open_episodes):
        close(key, None)
    return sorted(episodes, key=lambda e: (e.first_seen, e.check, e.resource))


def _expected_records(control: Control, start: date, end: date, approved: list[Attachment]) -> list[ExpectedRecord]:
    """The periods the control's frequency asks a record for within the observation period, each with the
    approved attachments that cover part of it."""
    records = []
    day = start
    while day <= end:
        period_start, period_end = period_of(control.frequency, day)
        covering = [a.evidence_id for a in approved if a.period_start <= period_end and a.period_end >= period_start]
        records.append(ExpectedRecord(period_start=period_start, period_end=period_end, attachments=covering))
        day = period_end + timedelta(days=1)
    return records


def period_markdown(report: PeriodReport) -> str:
    lines = [
        f"# Observation period {report.start}..{report.end}",
        "",
        f"{report.runs} runs on {report.run_days} days (schedule: every {report.cadence_days} day(s)).",
        "",
    ]
    lines += ["## Gaps in cadence", ""]
    lines += [f"- {g.start}..{g.end}: {g.days} day(s) without a run" for g in report.gaps] or ["None."]
    lines += ["", "## Controls", ""]
    for control in report.controls:
        failing_runs = sum(1 for r in control.runs if r.failed)
        lines += [
            f"### {control.control} {control.title} ({control.kind}, {control.frequency})",
            "",
            f"Runs: {len(control.runs)}, {len(control.runs) - failing_runs} without exceptions, "
            f"{failing_runs} with exceptions.",
        ]
        for e in control.exceptions:
            state = f"resolved {e.resolved_on}" if e.resolved_on else "open"
            response = (
                f" Response: {e.response.response} ({e.response.responded_by})."
                if e.response
                else " No response recorded."
            )
            lines.append(
                f"- Exception `{e.check}` on `{e.resource}`: first seen {e.first_seen}, last seen "
                f"{e.last_seen}, {state}, {e.duration_days} day(s), {e.runs_failing} run(s). {e.reason} "
                f"(evidence: {', '.join(e.evidence_ids) or 'none'}).{response}"
            )
        for record in control.expected_records:
            got = f"attached ({', '.join(record.attachments)})" if record.covered else "**missing**"
            lines.append(f"- Record for {record.period_start}..{record.period_end}: {got}")
        lines.append("")
    return "\n".join(lines)
