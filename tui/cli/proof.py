"""Agent commands: `auditor run`, `auditor demo`, `auditor report`.

Exit codes of `auditor run` (and `auditor demo`):
  0    complete: every configured source was read (gaps are results, not errors);
  1    the run itself failed (unknown control, a crash);
  2    usage: a bad option or configuration (invalid TOML, an unknown key, a value out of range), found before
       anything runs;
  3    with --fail-on-gap: complete, and at least one criterion is a gap (for CI gates);
  4    incomplete: a configured source could not be read (one line per source says why and what to fix);
       it takes precedence over 3, as gaps judged on missing evidence mean little;
  5    another run holds the workspace (one run at a time; the message names its pid and start time);
  130  interrupted by Ctrl-C: finished controls are kept, `auditor run --resume` does the rest.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tools.workspace import Workspace
from tui.cli.continuous import after_run
from tui.cli.state import cli_state, console, err_console, fail

if TYPE_CHECKING:
    from agent.api import ProofServices
    from tools.config import AuditorConfig

EXIT_FAILED = 1
EXIT_GAP = 3
EXIT_INCOMPLETE = 4
EXIT_LOCKED = 5
EXIT_INTERRUPTED = 130
# After Ctrl-C, steps in flight get this long to finish before the process exits anyway: a step waiting on a
# network timeout must not keep the user waiting. Finished controls are saved already, one transaction each.
STOP_GRACE_S = 1.5
INTERRUPTED = "Interrupted. Finished controls are saved: continue with [bold]auditor run --resume[/]."


class Trigger(str, Enum):
    manual = "manual"
    schedule = "schedule"
    ci = "ci"


class ReportFormat(str, Enum):
    md = "md"
    json = "json"
    csv = "csv"
    html = "html"


def run(
    ctx: typer.Context,
    controls: Annotated[
        str | None,
        typer.Option("--controls", help="Comma-separated control ids (default: every control), e.g. IAM-01,LOG-01."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue the newest unfinished run without collecting again what it stored."),
    ] = False,
    fail_on_gap: Annotated[
        bool, typer.Option("--fail-on-gap", help="Exit 3 when any criterion is a gap (for CI).")
    ] = False,
    trigger: Annotated[
        Trigger, typer.Option("--trigger", help="Recorded in the report: manual, schedule or ci.")
    ] = Trigger.manual,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Collect all evidence again: reuse none stored by earlier runs.")
    ] = False,
    checks: Annotated[
        str | None,
        typer.Option(
            "--checks",
            help="Comma-separated check ids (see `auditor checks list`): run "
            "only the controls using them, evaluating only those checks.",
        ),
    ] = None,
) -> None:
    """Collect evidence, judge it and write cited narratives for every control; write the readiness report.

    With --controls, those controls are judged anew and the latest report is updated with them (the other
    controls keep their results and dates)."""
    state = cli_state(ctx)
    control_ids = [c for c in controls.split(",") if c.strip()] if controls else None
    check_ids = [c.strip() for c in checks.split(",") if c.strip()] if checks else None
    outcome = _run_with_progress(
        state.config,
        state.new_workspace,
        control_ids=control_ids,
        resume=resume,
        trigger=trigger.value,
        fresh=fresh,
        check_ids=check_ids,
    )
    _print_outcome(outcome, state.workspace)
    after_run(state.config, state.workspace, outcome.report)
    exit_unless_complete(outcome.report, fail_on_gap)


def demo(
    ctx: typer.Context,
    mlflow: Annotated[
        bool,
        typer.Option(
            "--mlflow",
            help="Also run a local MLflow model registry and judge it (needs the mlflow "
            "package, as in the dev extra; adds half a minute or more).",
        ),
    ] = False,
) -> None:
    """Run the whole agent over the demo company "Acme AI" (local AWS emulator, demo repo and logs)."""
    from tools.config import load_config
    from tools.demo import DemoCompany

    state = cli_state(ctx)
    workspace = state.new_workspace
    started = time.perf_counter()
    company = DemoCompany(workspace.root / "demo", mlflow=mlflow)
    parts = "AWS emulator, repository, logs" + (", MLflow server" if company.mlflow_skipped is None else "")
    try:
        with _demo_credentials(), console.status(f"Starting the demo company ({parts})..."):
            company.launch()
            # Seconds of imports, registering the checks and opening the knowledge store: done while the demo's
            # AWS seeds in its own process.
            from agent.api import open_proof_services

            services = open_proof_services(workspace)
            environment = company.start()
        if environment.mlflow_skipped is not None:
            console.print(f"MLflow model registry skipped: {environment.mlflow_skipped}.", highlight=False)
        with _demo_credentials():
            # The demo's own auditor.toml points the tools at it; results go to this workspace, so
            # `auditor review` and `auditor report` find them without options.
            config = load_config(environment.config_path, workspace=workspace.root)
            outcome = _run_with_progress(
                config, workspace, control_ids=None, resume=False, trigger="demo", services=services
            )
        # Its AWS seeds while the run goes on: had it crashed, the run's AWS findings are errors about the emulator.
        try:
            company.raise_if_aws_exited()
        except RuntimeError as exc:
            fail(f"{exc}\nThe run could not read the demo's AWS (its AWS findings say so): run the demo again.", code=1)
    finally:
        company.stop()
    _print_outcome(outcome, workspace)
    after_run(config, workspace, outcome.report)
    console.print(f"Demo finished in {time.perf_counter() - started:.1f} s; the demo servers are stopped.")
    # The next commands need the same global options to find this workspace.
    options = [(flag, path) for flag, path in (("-c", state.config_path), ("-w", state.workspace_override)) if path]
    auditor = escape(" ".join(["auditor", *(f"{flag} {shlex.quote(str(path))}" for flag, path in options)]))
    console.print(
        f"Next: [bold]{auditor} review[/] to approve or fix the drafts, [bold]{auditor} report --format html[/] to "
        "write a report to open in a browser.",
        highlight=False,
    )
    exit_unless_complete(outcome.report, fail_on_gap=False)


def report(
    ctx: typer.Context,
    format: Annotated[
        ReportFormat,
        typer.Option(
            "--format", "-f", help="md or html for people, json for tools, csv (one row per finding) for spreadsheets."
        ),
    ] = ReportFormat.md,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write to this file (- for the terminal) instead of reports/<run>/rendered/report.<format>."
        ),
    ] = None,
    stdout: Annotated[bool, typer.Option("--stdout", help="Print instead of writing a file.")] = False,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", "-o", help="Write every format (md, json, csv, html) into this folder."),
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="A run id (default: the latest run).")] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key", help="Check report.json's signature with this public key file instead of the signing key."
        ),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period", help="START..END (dates): the Type II view of the runs in this observation period instead."
        ),
    ] = None,
    every: Annotated[
        str,
        typer.Option(
            "--every",
            help="With --period: the runs' schedule, daily, hourly or a cron expression (UTC); missed runs are gaps.",
        ),
    ] = "daily",
) -> None:
    """Render the latest run's readiness report, with the review decisions recorded since (with --period: how
    every control operated over an observation period).

    report.json is checked against its run's signed record first: changed or unsigned, it is refused (exit 1)."""
    from knowledge.catalog import load_catalog
    from tui.cli.evidence import cache_signer, verifying_key
    from tui.cli.export import emit_report, emit_text, reviewed_report

    if period is not None:
        if format in (ReportFormat.csv, ReportFormat.html):
            fail("--period renders as md or json")
        from tui.cli.continuous import period_text, report_rejected

        text, rejected = period_text(cli_state(ctx), public_key, period, every, as_json=format is ReportFormat.json)
        emit_text(text, out)
        report_rejected(rejected)
        return
    workspace = cli_state(ctx).workspace
    readiness = reviewed_report(cli_state(ctx), run_id, load_catalog(), public_key)
    public, signer = verifying_key(cli_state(ctx), public_key), cache_signer(cli_state(ctx), public_key)
    emit_report(workspace, readiness, public, signer, format.value, out=out, to_stdout=stdout, output_dir=output_dir)


# -- helpers -------------------------------------------------------------------------------------


def _run_with_progress(
    config: AuditorConfig,
    workspace: Workspace,
    *,
    control_ids: list[str] | None,
    resume: bool,
    trigger: str,
    fresh: bool = False,
    check_ids: list[str] | None = None,
    services: ProofServices | None = None,
):  # -> RunOutcome
    from agent.api import RunError, run_proof
    from agent.providers import ProviderError
    from agent.state import ProgressEvent

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with _one_run_at_a_time(workspace, trigger), Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("Preparing (knowledge store, model)", total=None)

        def on_event(event: ProgressEvent) -> None:
            if event.kind == "started":
                progress.update(task, description="Controls", total=event.count, completed=0)
            elif event.kind == "done":
                progress.update(task, advance=1, description=f"Controls (last: {event.control_id})")
            elif event.kind in ("error", "warning", "fallback"):
                progress.console.print(f"[yellow]{escape(str(event))}[/]", highlight=False)
            elif event.kind == "report":
                progress.update(task, description="Report written")

        cancel = threading.Event()
        try:
            with _stop_on_ctrl_c(cancel):
                return run_proof(
                    config,
                    workspace,
                    control_ids=control_ids,
                    resume=resume,
                    trigger=trigger,
                    on_event=on_event,
                    fresh=fresh,
                    cancel=cancel,
                    check_ids=check_ids,
                    services=services,
                )
        except (RunError, ProviderError) as exc:
            after_run(config, workspace, error=str(exc))
            fail(str(exc), code=EXIT_FAILED)
        except KeyboardInterrupt:
            progress.stop()
            _exit_interrupted()
        except Exception as exc:
            if cancel.is_set():  # the step that saw the Ctrl-C stopped the run
                progress.stop()
                _exit_interrupted()
            after_run(config, workspace, error=f"{type(exc).__name__}: {exc}")
            fail(
                f"the run failed: {type(exc).__name__}: {exc} (continue it with `auditor run --resume`)",
                code=EXIT_FAILED,
            )


@contextmanager
def _one_run_at_a_time(workspace: Workspace, trigger: str) -> Iterator[None]:
    """Hold the workspace's run lock; a second run exits EXIT_LOCKED naming the one that holds it."""
    from agent.lock import WorkspaceLocked, workspace_lock

    with ExitStack() as held:
        try:
            held.enter_context(workspace_lock(workspace, f"auditor run --trigger {trigger}"))
        except WorkspaceLocked as exc:
            fail(str(exc), code=EXIT_LOCKED)
        yield


@contextmanager
def _stop_on_ctrl_c(cancel: threading.Event) -> Iterator[None]:
    """Ctrl-C sets `cancel`: controls waiting for a slot end at once, those in flight at their next step. A step
    can wait on the network for longer than anyone should wait after Ctrl-C: STOP_GRACE_S later the process
    exits anyway. A second Ctrl-C exits at once. (Only the main thread receives signals.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    watchdog = threading.Timer(STOP_GRACE_S, _exit_interrupted)
    watchdog.daemon = True

    def on_ctrl_c(signum: int, frame: object) -> None:
        if cancel.is_set():
            _exit_interrupted()
        cancel.set()
        watchdog.start()

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        watchdog.cancel()


def _exit_interrupted() -> NoReturn:
    """Say how to continue, and exit 130 at once: neither threads still in a step (their work is redone by
    --resume) nor the interpreter's teardown of its native libraries (seconds) is waited for. What finished is
    on disk already: the run store and the evidence locker are SQLite, one transaction per write."""
    console.show_cursor(True)  # the progress bar hid it and may have no chance to show it again
    err_console.print(INTERRUPTED)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def exit_unless_complete(readiness, fail_on_gap: bool) -> None:  # readiness: ReadinessReport
    """Exit with EXIT_INCOMPLETE when a source could not be read, or EXIT_GAP for gaps under --fail-on-gap."""
    if any(source.state == "error" for source in readiness.run.sources):
        raise typer.Exit(EXIT_INCOMPLETE)
    if fail_on_gap and readiness.summary.gap:
        err_console.print(f"[bold red]{readiness.summary.gap} criteria are gaps[/] (--fail-on-gap)")
        raise typer.Exit(EXIT_GAP)


def _print_outcome(outcome, workspace: Workspace) -> None:  # outcome: RunOutcome
    from agent.report import CONTROL_LABEL

    readiness = outcome.report
    s = readiness.summary
    folder = workspace.reports_dir / readiness.run.id
    table = Table(title=f"{readiness.company}: readiness {s.readiness_pct:.1f}%", show_edge=False)
    for column in ("Criteria", "Ready", "Partial", "Gap", "Not assessed"):
        table.add_column(column, justify="right")
    table.add_row(str(s.criteria_total), str(s.ready), str(s.partial), str(s.gap), str(s.not_assessed))
    console.print(table)
    fallbacks = sum(1 for c in readiness.controls if c.narrative.status == "fallback")
    console.print(
        f"Controls: {s.controls_total}, evidenced {s.controls_evidenced} ({s.controls_evidenced_pct:.1f}%): "
        f"{', '.join(f'{n} {CONTROL_LABEL[k]}' for k, n in s.control_counts.items())}; "
        f"narratives flagged for fallback: {fallbacks}. "
        f"Evidence: {outcome.collected} collected, {outcome.reused} reused"
        + (", run resumed" if outcome.resumed else "")
        + "."
    )
    if readiness.possible_incidents:
        console.print(
            f"[bold red]Possible incidents: {len(readiness.possible_incidents)}[/] "
            f"({escape('; '.join(i.summary for i in readiness.possible_incidents))}): see the top of the report."
        )
    by_severity: dict[str, int] = {}
    for item in readiness.fix_list:
        by_severity[item.severity or "unrated"] = by_severity.get(item.severity or "unrated", 0) + 1
    if outcome.signed_head:
        # One line, whatever the terminal width: paste it into the CI log or a ticket;
        # `auditor verify --head` checks it.
        console.print(f"Signed head: {outcome.signed_head}", soft_wrap=True, markup=False, highlight=False)
    if readiness.fix_list:
        console.print(f"To fix: {len(readiness.fix_list)} ({', '.join(f'{n} {k}' for k, n in by_severity.items())}).")
    if outcome.aws_calls_made:
        console.print(f"AWS calls: {outcome.aws_calls_made} made for {outcome.aws_distinct_calls} distinct reads.")
    console.print(f"Report: [bold]{folder / 'report.md'}[/] and [bold]{folder / 'report.json'}[/]")
    if readiness.run.merged_from:
        console.print(f"Only the controls asked for were judged; the others are as in run {readiness.run.merged_from}.")
    _print_sources(readiness.run.sources)


def _print_sources(sources) -> None:  # sources: list[SourceStatus]
    """Sources not configured, in one line; each source that could not be read, one line with cause and fix."""
    # The offline writer is a choice, not missing evidence: only evidence sources are listed.
    unconfigured = [source for source in sources if source.state == "not_configured" and source.source != "llm"]
    if unconfigured:
        listed = "; ".join(f"{source.source} ({source.cause})" for source in unconfigured)
        console.print(f"Not configured, their checks not applicable: {escape(listed)}.", highlight=False)
    print_unread(sources, "The run is incomplete", "fix the cause and run again")


def print_unread(sources, incomplete: str, advice: str) -> None:  # sources: list[SourceStatus]
    """Each source that could not be read, one line with cause and fix; then that the exit code says incomplete."""
    unread = [source for source in sources if source.state == "error"]
    for source in unread:
        err_console.print(f"[bold red]could not read[/] {escape(source.line())}", highlight=False)
    if unread:
        err_console.print(
            f"[bold red]{incomplete}[/] (exit {EXIT_INCOMPLETE}): its checks on these sources say error; {advice}.",
            highlight=False,
        )


@contextmanager
def _demo_credentials() -> Iterator[None]:
    """Dummy AWS credentials for the local emulator, so no real key is ever sent, even to loopback."""
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
    )
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
