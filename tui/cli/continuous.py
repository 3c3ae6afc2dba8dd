"""Continuous proof commands: `auditor history`, `auditor diff`, `auditor requests`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from tools.workspace import Workspace
from tui.cli.state import CliState, cli_state, err_console, fail

if TYPE_CHECKING:
    from tools.config import AuditorConfig


class OutputFormat(str, Enum):
    md = "md"
    json = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="md for people, json for tools.")]
PublicKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--public-key", help="Check each report.json's signature with this public key file instead of the signing key."
    ),
]


def history(ctx: typer.Context, format: FormatOption = OutputFormat.md, public_key: PublicKeyOption = None) -> None:
    """Every run, newest first: time, trigger, readiness, control counts, exceptions and evidence head.

    A run whose report.json is not the one it signed is shown as such, without figures, and the command exits 1."""
    from agent.history import dump_json, history_markdown, run_history
    from tui.cli.evidence import cache_signer, verifying_key

    state = cli_state(ctx)
    entries = run_history(state.workspace, verifying_key(state, public_key), cache_signer(state, public_key))
    if not entries:
        fail("no runs yet: run `auditor run` (or `auditor demo`) first")
    typer.echo(dump_json(entries) if format is OutputFormat.json else history_markdown(entries), nl=False)
    report_rejected({e.run_id: e.report_problem for e in entries if e.report_problem})


def report_rejected(rejected: dict[str, str]) -> None:
    """After the output of history or a period: each run whose report was left out, and exit 1 (as `auditor
    report` refuses such a report)."""
    for run_id, problem in rejected.items():
        err_console.print(f"[bold red]error:[/] run {run_id}: {escape(problem)}", highlight=False)
    if rejected:
        raise typer.Exit(1)


def diff(
    ctx: typer.Context,
    run_a: Annotated[str | None, typer.Argument(help="The earlier run (default: the second latest full run).")] = None,
    run_b: Annotated[str | None, typer.Argument(help="The later run (default: the latest full run).")] = None,
    format: FormatOption = OutputFormat.md,
    public_key: PublicKeyOption = None,
) -> None:
    """What changed between two runs: new failures, fixed, still failing, new and removed resources, and
    configuration drift (same resource, different evidence), with readiness before and after.

    A report.json that is not the one its run signed is refused (exit 1), never compared."""
    from agent.history import HistoryError, ReportRejected, diff_markdown, diff_runs, dump_json
    from tui.cli.evidence import verifying_key

    state = cli_state(ctx)
    try:
        changes = diff_runs(state.workspace, verifying_key(state, public_key), run_a, run_b)
    except ReportRejected as exc:
        fail(str(exc), code=1)
    except HistoryError as exc:
        fail(str(exc))
    typer.echo(dump_json(changes) if format is OutputFormat.json else diff_markdown(changes), nl=False)


def requests(
    ctx: typer.Context,
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner role's requests.")] = None,
    on: Annotated[str | None, typer.Option("--on", help="As of this date, YYYY-MM-DD (default: today, UTC).")] = None,
    format: FormatOption = OutputFormat.md,
) -> None:
    """Evidence requests for every control a person must provide records for: the records due, from which owner,
    for which period, by when; overdue or received (approved attachments)."""
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
    audit_period = cli_state(ctx).config.audit.bounds
    listed = evidence_requests(
        load_controls().controls, approved, today, since=since, owner=owner, audit_period=audit_period
    )
    if owner and not listed:
        fail(f"no control that needs records from people has owner role {owner!r}")
    typer.echo(dump_json(listed) if format is OutputFormat.json else requests_markdown(listed, today), nl=False)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r}: expected a date YYYY-MM-DD")


def period_text(
    state: CliState, public_key: Path | None, period: str, every: str, *, as_json: bool
) -> tuple[str, dict[str, str]]:
    """`auditor report --period`: the observation period's report, JSON or Markdown; `every` is the schedule
    the runs follow (daily, hourly or a cron expression): the scheduled runs that did not happen are its gaps.
    Also, by run id, the runs left out because their report is not the one they signed (checked with the
    public key file given, else the signing key)."""
    from agent.period import observation_period, parse_range, period_digests, period_markdown
    from agent.review_log import ReviewLog, ReviewLogError, approved_attachments, exception_responses
    from agent.schedules import CadenceError, parse_cadence
    from knowledge.control_library import load_controls
    from tui.cli.evidence import cache_signer, verifying_key

    try:
        start, end = parse_range(period)
        cadence = parse_cadence(every)
    except (ValueError, CadenceError) as exc:
        fail(str(exc))
    workspace, public = state.workspace, verifying_key(state, public_key)
    try:
        with ReviewLog(workspace.review_db) as review_log:
            approved, responses = approved_attachments(review_log), exception_responses(review_log.entries())
    except ReviewLogError as exc:
        fail(str(exc))
    digests, rejected = period_digests(workspace, public, start, end, cache_signer(state, public_key))
    if not digests:
        report_rejected(rejected)
        fail(f"no finished run started within {start}..{end} (auditor history lists the runs)")
    report = observation_period(
        digests,
        load_controls().controls,
        start,
        end,
        attachments=approved,
        responses=responses,
        cadence=cadence,
        now=datetime.now(UTC),
    )
    return (report.model_dump_json(indent=2) + "\n" if as_json else period_markdown(report)), rejected


def after_run(config: AuditorConfig, workspace: Workspace, report=None, error: str | None = None) -> None:
    """After `auditor run` or `demo`: note the run's digest for history and periods, and send the run's
    notification (see agent/notify.py); a delivery problem is printed, never raised. `report` is the run's
    ReadinessReport, None when the run failed with `error`."""
    from agent.history import run_digest
    from agent.notify import notify_after_run as send_notification
    from agent.runs import RunStore
    from tools.signing import load_signer

    public = None
    if report is not None:
        signer = load_signer(config)  # the run has just signed with it
        public = signer.public
        run_digest(workspace, public, report.run.id, signer)
        run_id = report.run.id
    else:
        latest = RunStore(workspace.runs_db).runs(limit=1)
        run_id = latest[0].id if latest else "(not started)"
    warning = send_notification(
        workspace,
        config.notify.webhook_url_env,
        config.company,
        run_id,
        public=public,
        report=report,
        error=error,
        today=datetime.now(UTC).date(),
    )
    if warning:
        err_console.print(f"[yellow]{escape(warning)}[/]", highlight=False)
