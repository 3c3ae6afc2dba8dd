"""Continuous proof commands: `auditor history`, `auditor diff`, `auditor requests`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from tools.workspace import Workspace
from tui.cli.state import cli_state, err_console, fail

if TYPE_CHECKING:
    from tools.config import AuditorConfig


class OutputFormat(str, Enum):
    md = "md"
    json = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="md for people, json for tools.")]


def history(ctx: typer.Context, format: FormatOption = OutputFormat.md) -> None:
    """Every run, newest first: time, trigger, readiness, control counts, exceptions and evidence head."""
    from agent.history import dump_json, history_markdown, run_history

    entries = run_history(cli_state(ctx).workspace)
    if not entries:
        fail("no runs yet: run `auditor run` (or `auditor demo`) first")
    typer.echo(dump_json(entries) if format is OutputFormat.json else history_markdown(entries), nl=False)


def diff(
    ctx: typer.Context,
    run_a: Annotated[
        Optional[str], typer.Argument(help="The earlier run (default: the second latest full run).")
    ] = None,
    run_b: Annotated[Optional[str], typer.Argument(help="The later run (default: the latest full run).")] = None,
    format: FormatOption = OutputFormat.md,
) -> None:
    """What changed between two runs: new failures, fixed, still failing, new and removed resources, and
    configuration drift (same resource, different evidence), with readiness before and after."""
    from agent.history import HistoryError, diff_markdown, diff_runs, dump_json

    try:
        changes = diff_runs(cli_state(ctx).workspace, run_a, run_b)
    except HistoryError as exc:
        fail(str(exc))
    typer.echo(dump_json(changes) if format is OutputFormat.json else diff_markdown(changes), nl=False)


def requests(
    ctx: typer.Context,
    owner: Annotated[Optional[str], typer.Option("--owner", help="Only this owner role's requests.")] = None,
    on: Annotated[
        Optional[str], typer.Option("--on", help="As of this date, YYYY-MM-DD (default: today, UTC).")
    ] = None,
    format: FormatOption = OutputFormat.md,
) -> None:
    """Evidence requests for every manual or hybrid control: the records due, from which owner, for which
    period, by when; overdue or received (approved attachments)."""
    from agent.history import dump_json
    from agent.requests import evidence_requests, requests_markdown
    from agent.review_log import ReviewLog, ReviewLogError, approved_attachments
    from agent.runs import RunStore
    from knowledge.control_library import load_controls

    workspace = cli_state(ctx).workspace
    today = _date(on, "--on") if on else datetime.now(UTC).date()
    runs = RunStore(workspace.runs_db).runs(limit=1_000_000)
    since = min(run.started_at for run in runs).date() if runs else None
    try:
        with ReviewLog(workspace.review_db) as review_log:
            approved = approved_attachments(review_log)
    except ReviewLogError as exc:
        fail(str(exc))
    listed = evidence_requests(load_controls().controls, approved, today, since=since, owner=owner)
    if owner and not listed:
        fail(f"no manual or hybrid control has owner role {owner!r}")
    typer.echo(dump_json(listed) if format is OutputFormat.json else requests_markdown(listed, today), nl=False)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r}: expected a date YYYY-MM-DD")


def period_text(workspace: Workspace, period: str, cadence_days: int, *, as_json: bool) -> str:
    """`auditor report --period`: the observation period's report, JSON or Markdown."""
    from agent.period import observation_period, parse_range, period_digests, period_markdown
    from agent.review_log import ReviewLog, ReviewLogError, approved_attachments, exception_responses
    from knowledge.control_library import load_controls

    try:
        start, end = parse_range(period)
    except ValueError as exc:
        fail(str(exc))
    try:
        with ReviewLog(workspace.review_db) as review_log:
            approved, responses = approved_attachments(review_log), exception_responses(review_log.entries())
    except ReviewLogError as exc:
        fail(str(exc))
    digests = period_digests(workspace, start, end)
    if not digests:
        fail(f"no finished run started within {start}..{end} (auditor history lists the runs)")
    report = observation_period(
        digests,
        load_controls().controls,
        start,
        end,
        attachments=approved,
        responses=responses,
        cadence_days=cadence_days,
        as_of=datetime.now(UTC).date(),
    )
    return report.model_dump_json(indent=2) + "\n" if as_json else period_markdown(report)


def after_run(config: AuditorConfig, workspace: Workspace, report=None, error: str | None = None) -> None:
    """After `auditor run` or `demo`: note the run's digest for history and periods, and send the run's
    notification (see agent/notify.py); a delivery problem is printed, never raised. `report` is the run's
    ReadinessReport, None when the run failed with `error`."""
    from agent.history import run_digest
    from agent.notify import notify_after_run as send_notification
    from agent.runs import RunStore

    if report is not None:
        run_digest(workspace, report.run.id)
        run_id = report.run.id
    else:
        latest = RunStore(workspace.runs_db).runs(limit=1)
        run_id = latest[0].id if latest else "(not started)"
    warning = send_notification(
        workspace,
        config.notify.webhook_url_env,
        config.company,
        run_id,
        report=report,
        error=error,
        today=datetime.now(UTC).date(),
    )
    if warning:
        err_console.print(f"[yellow]{escape(warning)}[/]", highlight=False)
