"""Agent commands: `auditor run`, `auditor demo`, `auditor report`.

Exit codes of `auditor run`: 0 the run completed (gaps are results, not errors); 1 the run failed;
3 with --fail-on-gap, the run completed and at least one criterion is a gap (for CI gates);
130 interrupted (resume with `auditor run --resume`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.cli_state import cli_state, console, err_console, fail
from agent.config import AuditorConfig
from agent.workspace import Workspace

EXIT_FAILED = 1
EXIT_GAP = 3
EXIT_INTERRUPTED = 130


class Trigger(str, Enum):
    manual = "manual"
    schedule = "schedule"
    ci = "ci"


class ReportFormat(str, Enum):
    md = "md"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("demo")(demo)
    app.command("report")(report)


def run(
    ctx: typer.Context,
    controls: Annotated[
        Optional[str], typer.Option("--controls", help="Comma-separated control ids (default: every control), e.g. IAM-01,LOG-01.")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the newest unfinished run without collecting again what it stored.")] = False,
    fail_on_gap: Annotated[bool, typer.Option("--fail-on-gap", help="Exit 3 when any criterion is a gap (for CI).")] = False,
    trigger: Annotated[Trigger, typer.Option("--trigger", help="Recorded in the report: manual, schedule or ci.")] = Trigger.manual,
) -> None:
    """Collect evidence, judge it and write cited narratives for every control; write the readiness report."""
    state = cli_state(ctx)
    control_ids = [c for c in controls.split(",") if c.strip()] if controls else None
    outcome = _run_with_progress(state.config, state.workspace, control_ids=control_ids, resume=resume, trigger=trigger.value)
    _print_outcome(outcome, state.workspace)
    if fail_on_gap and outcome.report.summary.gap:
        err_console.print(f"[bold red]{outcome.report.summary.gap} criteria are gaps[/] (--fail-on-gap)")
        raise typer.Exit(EXIT_GAP)


def demo(ctx: typer.Context) -> None:
    """Run the whole agent over the demo company "Acme AI" (local AWS emulator, demo repo and logs)."""
    from agent.config import load_config
    from tools.demo import DemoCompany

    state = cli_state(ctx)
    workspace = state.workspace
    started = time.perf_counter()
    with _demo_credentials(), console.status("Starting the demo company (AWS emulator, repository, logs)..."):
        company = DemoCompany(workspace.root / "demo")
        environment = company.start()
    try:
        with _demo_credentials():
            # The demo's own auditor.toml points the tools at it; results go to this workspace, so
            # `auditor review` and `auditor report` find them without options.
            config = load_config(environment.config_path, workspace=workspace.root)
            outcome = _run_with_progress(config, workspace, control_ids=None, resume=False, trigger="demo")
    finally:
        company.stop()
    _print_outcome(outcome, workspace)
    console.print(f"Demo finished in {time.perf_counter() - started:.1f} s; the demo servers are stopped.")
    console.print("Next: [bold]auditor review[/] to approve or fix the drafts, [bold]auditor report --format md[/] to read the report.")


def report(
    ctx: typer.Context,
    format: Annotated[ReportFormat, typer.Option("--format", "-f", help="md for people, json for tools.")] = ReportFormat.md,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write to this file instead of the terminal.")] = None,
    run_id: Annotated[Optional[str], typer.Option("--run", help="A run id (default: the latest run).")] = None,
) -> None:
    """Render the latest run's readiness report."""
    from agent.report import latest_run_id, read_report, render_markdown

    workspace = cli_state(ctx).workspace
    run_id = run_id or latest_run_id(workspace)
    if run_id is None:
        fail(f"no report in {workspace.reports_dir} yet: run `auditor run` (or `auditor demo`) first")
    try:
        readiness = read_report(workspace, run_id)
    except FileNotFoundError:
        fail(f"no report for run {run_id} in {workspace.reports_dir}")
    text = readiness.to_json() + "\n" if format is ReportFormat.json else render_markdown(readiness)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    console.print(f"Wrote {out}")


# -- helpers -------------------------------------------------------------------------------------


def _run_with_progress(config: AuditorConfig, workspace: Workspace, *, control_ids: list[str] | None, resume: bool, trigger: str):  # -> RunOutcome
    from agent.api import RunError, run_proof
    from agent.providers import ProviderError
    from agent.state import ProgressEvent

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("Preparing (knowledge store, model)", total=None)

        def on_event(event: ProgressEvent) -> None:
            if event.kind == "started":
                progress.update(task, description="Controls", total=event.count, completed=0)
            elif event.kind == "done":
                progress.update(task, advance=1, description=f"Controls (last: {event.control_id})")
            elif event.kind in ("error", "warning", "fallback"):
                progress.console.print(f"[yellow]{event}[/]", highlight=False)
            elif event.kind == "report":
                progress.update(task, description="Report written")

        try:
            return run_proof(config, workspace, control_ids=control_ids, resume=resume, trigger=trigger, on_event=on_event)
        except (RunError, ProviderError) as exc:
            fail(str(exc), code=EXIT_FAILED)
        except KeyboardInterrupt:
            progress.stop()
            err_console.print("Interrupted. Finished controls are saved: continue with [bold]auditor run --resume[/].")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            fail(f"the run failed: {type(exc).__name__}: {exc} (continue it with `auditor run --resume`)", code=EXIT_FAILED)


def _print_outcome(outcome, workspace: Workspace) -> None:  # outcome: RunOutcome
    readiness = outcome.report
    s = readiness.summary
    folder = workspace.reports_dir / readiness.run.id
    table = Table(title=f"{readiness.company}: readiness {s.readiness_pct:.1f}%", show_edge=False)
    for column in ("Criteria", "Ready", "Partial", "Gap", "Not assessed"):
        table.add_column(column, justify="right")
    table.add_row(str(s.criteria_total), str(s.ready), str(s.partial), str(s.gap), str(s.not_assessed))
    console.print(table)
    statuses: dict[str, int] = {}
    for control in readiness.controls:
        statuses[control.status] = statuses.get(control.status, 0) + 1
    fallbacks = sum(1 for c in readiness.controls if c.narrative.status == "fallback")
    console.print(
        f"Controls: {len(readiness.controls)} ({', '.join(f'{n} {k}' for k, n in sorted(statuses.items()))}); "
        f"narratives flagged for fallback: {fallbacks}. Evidence: {outcome.collected} collected, {outcome.reused} reused"
        + (", run resumed" if outcome.resumed else "") + "."
    )
    if outcome.aws_calls_made:
        console.print(f"AWS calls: {outcome.aws_calls_made} made for {outcome.aws_distinct_calls} distinct reads.")
    console.print(f"Report: [bold]{folder / 'report.md'}[/] and [bold]{folder / 'report.json'}[/]")


@contextmanager
def _demo_credentials() -> Iterator[None]:
    """Dummy AWS credentials for the local emulator, so no real key is ever sent, even to loopback."""
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"})
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
