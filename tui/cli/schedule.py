"""`auditor schedule`: print a unit for cron, systemd, GitHub Actions or Kubernetes, or install one here.

The scheduling is left to schedulers people already run; each unit runs `auditor run --trigger schedule`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from agent.schedules import (
    UNIT_NAME,
    Cadence,
    CadenceError,
    ScheduleTarget,
    crontab_with_line,
    parse_cadence,
    render_crontab_line,
    render_github_actions,
    render_kubernetes,
    render_systemd_service,
    render_systemd_timer,
)
from tui.cli.state import cli_state, fail


class Scheduler(str, Enum):
    cron = "cron"
    systemd = "systemd"
    github_actions = "github-actions"
    kubernetes = "kubernetes"


class InstallMethod(str, Enum):
    systemd = "systemd"
    cron = "cron"


EveryOption = Annotated[str, typer.Option("--every", help="daily, hourly, or a 5-field cron expression (UTC on CI).")]

schedule_app = typer.Typer(
    help="Run `auditor run --trigger schedule` on a scheduler: print a unit, or install one on this machine.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@schedule_app.callback()
def schedule(
    ctx: typer.Context,
    print_for: Annotated[
        Optional[Scheduler], typer.Option("--print", help="Print a ready unit for this scheduler.")
    ] = None,
    every: EveryOption = "daily",
) -> None:
    """Print a ready-to-use schedule: a crontab line, a systemd service + timer, a GitHub Actions workflow or a
    Kubernetes CronJob (with a volume for the workspace)."""
    if ctx.invoked_subcommand is not None:
        return
    if print_for is None:
        fail("say which scheduler: --print cron|systemd|github-actions|kubernetes, or `auditor schedule install`")
    cadence, target = _cadence(every), _target(ctx)
    if print_for is Scheduler.cron:
        text = render_crontab_line(cadence, target) + "\n"
    elif print_for is Scheduler.systemd:
        text = (
            f"# ~/.config/systemd/user/{UNIT_NAME}.service\n{render_systemd_service(target)}\n"
            f"# ~/.config/systemd/user/{UNIT_NAME}.timer\n{render_systemd_timer(cadence)}"
        )
    elif print_for is Scheduler.github_actions:
        text = f"# .github/workflows/{UNIT_NAME}.yml\n{render_github_actions(cadence, target)}"
    else:
        text = render_kubernetes(cadence, target)
    typer.echo(text, nl=False)


@schedule_app.command("install")
def install(
    ctx: typer.Context,
    every: EveryOption = "daily",
    method: Annotated[
        Optional[InstallMethod],
        typer.Option(
            "--method",
            help="systemd user timer or crontab (default: systemd when a user systemd runs here, else cron).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be written and run; change nothing.")
    ] = False,
) -> None:
    """Install the schedule on this machine: a systemd user timer (~/.config/systemd/user) or a crontab entry.
    Installing again replaces the earlier one."""
    cadence, target = _cadence(every), _target(ctx)
    method = method or (InstallMethod.systemd if _user_systemd_runs() else InstallMethod.cron)
    if method is InstallMethod.systemd:
        _install_systemd(cadence, target, dry_run)
    else:
        _install_cron(cadence, target, dry_run)


def _install_systemd(cadence: Cadence, target: ScheduleTarget, dry_run: bool) -> None:
    folder = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user"
    files = {
        folder / f"{UNIT_NAME}.service": render_systemd_service(target),
        folder / f"{UNIT_NAME}.timer": render_systemd_timer(cadence),
    }
    commands = [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", f"{UNIT_NAME}.timer"],
    ]
    if dry_run:
        for path, text in files.items():
            typer.echo(f"Would write {path}:")
            typer.echo(text)
        for command in commands:
            typer.echo(f"Would run: {' '.join(command)}")
        return
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote {path}")
    for command in commands:
        _run_or_fail(command)
    typer.echo(f"Installed: runs {cadence.on_calendar} (`systemctl --user list-timers {UNIT_NAME}.timer`).")


def _install_cron(cadence: Cadence, target: ScheduleTarget, dry_run: bool) -> None:
    line = render_crontab_line(cadence, target)
    existing = _current_crontab(dry_run)
    updated = crontab_with_line(existing, line)
    if updated == existing:
        typer.echo("The crontab already has this schedule; nothing to change.")
        return
    if dry_run:
        typer.echo("Would install this crontab (`crontab -`):")
        typer.echo(updated, nl=False)
        return
    _run_or_fail(["crontab", "-"], stdin=updated)
    typer.echo(f"Installed in the crontab: {line}")


def _current_crontab(dry_run: bool) -> str:
    if shutil.which("crontab") is None:
        if dry_run:
            return ""  # nothing to read: show the line as it would be added
        fail("no `crontab` program on this machine: use --method systemd, or print a unit with --print")
    listed = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        if "no crontab" in listed.stderr.lower():
            return ""
        fail(f"`crontab -l` failed: {listed.stderr.strip()}")
    return listed.stdout


def _run_or_fail(command: list[str], stdin: str | None = None) -> None:
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    except OSError as exc:
        fail(f"cannot run `{' '.join(command)}`: {exc.strerror}")
    if done.returncode != 0:
        fail(f"`{' '.join(command)}` failed (exit {done.returncode}): {done.stderr.strip()}")


def _user_systemd_runs() -> bool:
    if shutil.which("systemctl") is None:
        return False
    probe = subprocess.run(["systemctl", "--user", "show-environment"], capture_output=True, check=False)
    return probe.returncode == 0


def _cadence(every: str) -> Cadence:
    try:
        return parse_cadence(every)
    except CadenceError as exc:
        fail(str(exc))


def _target(ctx: typer.Context) -> ScheduleTarget:
    config = cli_state(ctx).config
    workdir = config.source.parent if config.source else Path.cwd()
    return ScheduleTarget(
        workdir=workdir.resolve(),
        executable=_auditor_executable(),
        workspace=str(config.workspace),
        aws_region=config.aws.regions[0],
        github_token_env=config.github.token_env,
    )


def _auditor_executable() -> str:
    """The absolute `auditor` program: cron and systemd start with a bare PATH and no virtualenv."""
    beside_python = Path(sys.executable).parent / "auditor"
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which("auditor") or "auditor"
