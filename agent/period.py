"""The Type II view of an observation period: how each control operated over the runs in it.

Per control: the runs that judged it, as stretches of consecutive runs with the same status and the same
numbers of passing and failing findings (a year of daily runs of a steady control is one line); each exception
(a failing check on a resource) as episodes with first seen, last seen, when it was resolved and how long it
lasted, and the response recorded for it; per manual or hybrid control, the approved attachments against the
periods its frequency asks for. For the period: the gaps in cadence, the times the schedule (daily, hourly or a
cron expression) expected a run that did not happen, counted in days, or in hours for a schedule that runs more
than once a day.

Reads run digests from the run store (agent/history.py), not reports, so a year of daily runs is summarised in
moments.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.history import FAILING, ExceptionEntry, RunDigest, run_digests, runs_as_signed
from agent.report_schema import Attachment, ExceptionResponse
from agent.requests import period_of
from agent.schedules import Cadence, expected_runs, parse_cadence
from knowledge.models import Control
from tools.signing import PublicKey, Signer
from tools.workspace import Workspace


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunStretch(_Model):
    """Consecutive runs (of those that judged the control) with the same control status and finding counts."""

    first_run: str
    last_run: str
    first_day: date
    last_day: date
    runs: int
    status: str
    passed: int  # findings per run
    failed: int  # fail and error findings per run


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
    runs: int = 0  # that judged the control
    runs_with_exceptions: int = 0
    stretches: list[RunStretch] = Field(default_factory=list)
    exceptions: list[ExceptionEpisode] = Field(default_factory=list)
    expected_records: list[ExpectedRecord] = Field(default_factory=list)  # manual and hybrid controls


class CadenceGap(_Model):
    """Consecutive expected runs that did not happen."""

    start: datetime  # the first missed run's scheduled time
    end: datetime  # the last one's
    missed_runs: int
    unit: Literal["days", "hours"]  # hours for a schedule that runs more than once a day
    length: int  # the days (or hours) that had a missed run


class PeriodReport(_Model):
    start: date
    end: date
    schedule: str  # the cron expression runs were expected by (UTC)
    runs: int
    run_days: int
    expected_runs: int  # scheduled times in the period, up to now
    missed_runs: int
    gaps: list[CadenceGap] = Field(default_factory=list)
    controls: list[ControlPeriod] = Field(default_factory=list)


def parse_range(text: str) -> tuple[date, date]:
    """`START..END` (ISO dates, both included)."""
    start_text, separator, end_text = text.partition("..")
    if not separator:
        raise ValueError(f"--period {text!r}: expected START..END, e.g. 2025-01-01..2025-03-31")
    days = []
    for day in (start_text.strip(), end_text.strip()):
        try:
            days.append(date.fromisoformat(day))
        except ValueError as exc:  # e.g. 2026-02-30: "day is out of range for month"
            raise ValueError(f"--period {text!r}: {day!r} is not a valid date YYYY-MM-DD ({exc})") from None
    start, end = days
    if end < start:
        raise ValueError(f"--period {text!r}: ends before it starts")
    return start, end


def period_digests(
    workspace: Workspace, public: PublicKey, start: date, end: date, signer: Signer | None = None
) -> tuple[list[RunDigest], dict[str, str]]:
    """The completed runs that started within the period, oldest first; and, by run id, those left out because
    their report is not the one they signed with `public`, and why (`signer`: see agent/history.py run_digests)."""
    runs, _ = runs_as_signed(workspace, public, signer)  # each run as its signed report says, where it has one
    run_ids = [
        run.id
        for run in reversed(runs)
        if run.status == "completed" and run.trigger != "regenerate" and start <= run.started_at.date() <= end
    ]
    digests = run_digests(workspace, public, run_ids, signer)
    return [digests.found[run_id] for run_id in run_ids if run_id in digests.found], digests.rejected


def observation_period(
    digests: list[RunDigest],
    controls: Iterable[Control],
    start: date,
    end: date,
    *,
    attachments: Mapping[str, list[Attachment]] | None = None,
    responses: Mapping[str, list[ExceptionResponse]] | None = None,
    cadence: Cadence | None = None,
    now: datetime | None = None,
) -> PeriodReport:
    """The period report from the runs' digests (oldest first), the control library, the approved attachments
    and the exception responses by control, and the schedule the runs follow (default: daily). Scheduled times
    whose turn is not over by `now` are not counted yet."""
    attachments, responses = attachments or {}, responses or {}
    cadence = cadence or parse_cadence("daily")
    period_start = datetime.combine(start, time(), UTC)
    period_end = datetime.combine(end + timedelta(days=1), time(), UTC)
    expected = expected_runs(cadence, period_start, period_end)
    gaps, judged_times = cadence_gaps(
        [d.started_at for d in digests], expected, period_end, now or period_end, cadence.more_than_daily
    )
    report = PeriodReport(
        start=start,
        end=end,
        schedule=cadence.cron,
        runs=len(digests),
        run_days=len({d.started_at.date() for d in digests}),
        expected_runs=judged_times,
        missed_runs=sum(g.missed_runs for g in gaps),
        gaps=gaps,
    )
    # Per control, the runs that judged it with their exceptions for it, oldest first: gathered in one pass.
    judged_by_control: dict[str, list[tuple[RunDigest, list[ExceptionEntry]]]] = {}
    for digest in digests:
        exceptions = _by_control(digest)
        for control_id in digest.controls:
            judged_by_control.setdefault(control_id, []).append((digest, exceptions.get(control_id, [])))
    for control in controls:
        judged = judged_by_control.get(control.id, [])
        if not judged and control.kind == "automated":
            continue
        entry = ControlPeriod(
            control=control.id,
            title=control.title,
            kind=control.kind,
            frequency=control.frequency,
            runs=len(judged),
            stretches=_stretches(control.id, [digest for digest, _ in judged]),
        )
        entry.runs_with_exceptions = sum(s.runs for s in entry.stretches if s.failed)
        entry.exceptions = _episodes(control.id, judged, responses.get(control.id, []))
        if control.kind != "automated":
            entry.expected_records = _expected_records(control, start, end, attachments.get(control.id, []))
        report.controls.append(entry)
    return report


def cadence_gaps(
    run_times: list[datetime], expected: list[datetime], period_end: datetime, now: datetime, in_hours: bool
) -> tuple[list[CadenceGap], int]:
    """The expected runs (scheduled times, oldest first) that did not happen, as gaps of consecutive ones, and
    how many scheduled times were judged. A run counts for the latest scheduled time at or before its start; a
    scheduled time's turn lasts until the next one (the last one's: until the period's end), and one whose turn
    is not over by `now` and has no run yet is not judged."""
    served = {bisect_right(expected, at) - 1 for at in run_times}
    turn_ends = [*expected[1:], period_end]
    missed = [i for i, ends in enumerate(turn_ends) if ends <= now and i not in served]
    judged = sum(1 for i, ends in enumerate(turn_ends) if ends <= now or i in served)
    consecutive_missed: list[list[int]] = []
    for i in missed:
        if consecutive_missed and consecutive_missed[-1][-1] == i - 1:
            consecutive_missed[-1].append(i)
        else:
            consecutive_missed.append([i])
    gaps = []
    for indexes in consecutive_missed:
        times = [expected[i] for i in indexes]
        units = {at.replace(minute=0, second=0, microsecond=0) if in_hours else at.date() for at in times}
        gaps.append(
            CadenceGap(
                start=times[0],
                end=times[-1],
                missed_runs=len(times),
                unit="hours" if in_hours else "days",
                length=len(units),
            )
        )
    return gaps, judged


def _stretches(control_id: str, judged: list[RunDigest]) -> list[RunStretch]:
    # Each stretch as [first digest, last digest, runs, (status, passed, failed)] while it grows.
    growing: list[list] = []
    for digest in judged:
        status, counts = digest.controls[control_id]
        outcome = (status, counts.get("pass", 0), counts.get(FAILING[0], 0) + counts.get(FAILING[1], 0))
        if growing and growing[-1][3] == outcome:
            growing[-1][1:3] = [digest, growing[-1][2] + 1]
        else:
            growing.append([digest, digest, 1, outcome])
    return [
        RunStretch(
            first_run=first.run_id,
            last_run=last.run_id,
            first_day=first.started_at.date(),
            last_day=last.started_at.date(),
            runs=runs,
            status=status,
            passed=passed,
            failed=failed,
        )
        for first, last, runs, (status, passed, failed) in growing
    ]


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


def _gap_line(gap: CadenceGap) -> str:
    if gap.unit == "hours":
        span = f"{gap.start:%Y-%m-%d %H:%M}..{gap.end:%Y-%m-%d %H:%M} UTC: {gap.length} hour(s)"
    else:
        span = f"{gap.start.date()}..{gap.end.date()}: {gap.length} day(s)"
    return f"- {span} without a run ({gap.missed_runs} scheduled run(s) missed)"


def period_markdown(report: PeriodReport) -> str:
    lines = [
        f"# Observation period {report.start}..{report.end}",
        "",
        f"{report.runs} runs on {report.run_days} days. Schedule `{report.schedule}` (UTC): "
        f"{report.expected_runs} runs expected so far, {report.missed_runs} missed.",
        "",
    ]
    lines += ["## Gaps in cadence", ""]
    lines += [_gap_line(g) for g in report.gaps] or ["None."]
    lines += ["", "## Controls", ""]
    for control in report.controls:
        lines += [
            f"### {control.control} {control.title} ({control.kind}, {control.frequency})",
            "",
            f"Runs: {control.runs}, {control.runs - control.runs_with_exceptions} without exceptions, "
            f"{control.runs_with_exceptions} with exceptions.",
        ]
        if len(control.stretches) > 1:  # one stretch: the line above says it all
            lines += [
                f"- {s.first_day}..{s.last_day}: {s.runs} run(s) {s.status}, {s.passed} passing and {s.failed} "
                "failing finding(s) each"
                for s in control.stretches
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
