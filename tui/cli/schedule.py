"""`auditor schedule`: print a unit for cron, systemd, GitHub Actions or Kubernetes, or install one here
(`install`, `uninstall`).

Exit codes of `schedule install`: 0 installed (and for systemd, enabled); 2 refused or failed (the message says
why); 6 systemd units written and verified but not enabled, because no user systemd runs here.

The scheduling is left to schedulers people already run; each unit runs `auditor run --trigger schedule`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from agent.schedules import (
    UNIT_NAME,
    Cadence,
    CadenceError,
    ScheduleTarget,
    crontab_with_line,
    crontab_without_line,
    parse_cadence,
    render_crontab_line,
    render_github_actions,
    render_kubernetes,
    render_systemd_service,
    render_systemd_timer,
)
from tui.cli.state import cli_state, err_console, fail


class Scheduler(str, Enum):
    cron = "cron"
    systemd = "systemd"
    github_actions = "github-actions"
    kubernetes = "kubernetes"


class InstallMethod(str, Enum):
    systemd = "systemd"
    cron = "cron"


EveryOption = Annotated[str, typer.Option("--every", help="daily, hourly, or a 5-field cron expression (UTC on CI).")]
MethodOption = Annotated[
    InstallMethod | None,
    typer.Option(
        "--method",
        help="systemd user timer or crontab (install: systemd when a user systemd runs here, else cron; "
        "uninstall: both).",
    ),
]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Print what would be written and run; change nothing.")]

TIMER = f"{UNIT_NAME}.timer"
ENABLE_COMMANDS = (["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "enable", "--now", TIMER])
# `schedule install --method systemd`: the units are written and verified, but no user systemd runs here to
# enable them (a container, a session without a user manager); the message gives the commands to run.
EXIT_NOT_ENABLED = 6

schedule_app = typer.Typer(
    help="Run `auditor run --trigger schedule` on a scheduler: print a unit, or install one on this machine.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@schedule_app.callback()
def schedule(
    ctx: typer.Context,
    print_for: Annotated[
        Scheduler | None, typer.Option("--print", help="Print a ready unit for this scheduler.")
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
    method: MethodOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Install the schedule on this machine: a systemd user timer ($XDG_CONFIG_HOME/systemd/user, checked with
    systemd-analyze verify, then enabled) or a crontab entry. Installing again replaces the earlier one.
    Exits 6 when the timer's files are written but no user systemd runs here to enable them."""
    cadence, target = _cadence(every), _target(ctx)
    method = method or (InstallMethod.systemd if _user_systemd_problem() is None else InstallMethod.cron)
    if method is InstallMethod.systemd:
        _install_systemd(cadence, target, dry_run)
    else:
        _install_cron(cadence, target, dry_run)


@schedule_app.command("uninstall")
def uninstall(method: MethodOption = None, dry_run: DryRunOption = False) -> None:
    """Remove what `install` made: the systemd user timer and its files, and the marked crontab line (without
    --method: wherever found). Nothing else is touched."""
    removed = False
    if method in (None, InstallMethod.systemd):
        removed |= _uninstall_systemd(dry_run)
    if method in (None, InstallMethod.cron):
        removed |= _uninstall_cron(dry_run, required=method is InstallMethod.cron)
    if not removed:
        typer.echo("No agentic-auditor schedule is installed here; nothing to remove.")


# -- systemd -----------------------------------------------------------------------------------------


def _units_folder() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user"


def _install_systemd(cadence: Cadence, target: ScheduleTarget, dry_run: bool) -> None:
    folder = _units_folder()
    service, timer = folder / f"{UNIT_NAME}.service", folder / TIMER
    files = {service: render_systemd_service(target), timer: render_systemd_timer(cadence)}
    if dry_run:
        for path, text in files.items():
            typer.echo(f"Would write {path}:")
            typer.echo(text)
        for command in ENABLE_COMMANDS:
            typer.echo(f"Would run: {' '.join(command)}")
        return
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote {path}")
    _verify_units(timer, service)
    problem = _user_systemd_problem()
    if problem is not None:
        enable = " && ".join(" ".join(command) for command in ENABLE_COMMANDS)
        err_console.print(
            f"[yellow]Not enabled: {escape(problem)}.[/] The unit files are in place. In a login session of this "
            f"user, run:\n  {escape(enable)}\n(On a server without logins, `loginctl enable-linger` first keeps "
            "the user's systemd running.)",
            highlight=False,
            soft_wrap=True,  # the commands stay on one line, to be copied
        )
        raise typer.Exit(EXIT_NOT_ENABLED)
    for command in ENABLE_COMMANDS:
        _run_or_fail(command)
    typer.echo(f"Installed: runs {cadence.on_calendar} (`systemctl --user list-timers {TIMER}`).")


def _verify_units(timer: Path, service: Path) -> None:
    """`systemd-analyze verify` on the written units where it is installed; a unit it refuses is removed."""
    if shutil.which("systemd-analyze") is None:
        typer.echo("systemd-analyze is not installed: the units were not verified.")
        return
    checked = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(timer), str(service)], capture_output=True, text=True
    )
    if checked.returncode != 0:
        timer.unlink()
        service.unlink()
        fail(f"systemd-analyze verify refused the units (removed again): {checked.stderr.strip()}")
    typer.echo("Verified with systemd-analyze verify.")


def _uninstall_systemd(dry_run: bool) -> bool:
    folder = _units_folder()
    # `enable` links the timer into timers.target.wants; without a running user systemd the link is removed here.
    paths = [folder / f"{UNIT_NAME}.service", folder / TIMER, folder / "timers.target.wants" / TIMER]
    present = [path for path in paths if path.is_file() or path.is_symlink()]
    if not present:
        return False
    running = _user_systemd_problem() is None
    disable = ["systemctl", "--user", "disable", "--now", TIMER]
    if dry_run:
        if running:
            typer.echo(f"Would run: {' '.join(disable)}")
        typer.echo("Would remove: " + ", ".join(str(path) for path in present))
        return True
    if running:
        _run_or_fail(disable)
    for path in present:
        path.unlink(missing_ok=True)
        typer.echo(f"Removed {path}")
    if running:
        _run_or_fail(["systemctl", "--user", "daemon-reload"])
    return True


def _user_systemd_problem() -> str | None:
    """Why no user systemd can take the timer here (None: one runs)."""
    if shutil.which("systemctl") is None:
        return "no `systemctl` on this machine"
    probe = subprocess.run(["systemctl", "--user", "show-environment"], capture_output=True, text=True)
    if probe.returncode != 0:
        reason = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else f"exit {probe.returncode}"
        return f"no user systemd is running here (`systemctl --user`: {reason})"
    return None


# -- cron ----------------------------------------------------------------------------------------------


def _install_cron(cadence: Cadence, target: ScheduleTarget, dry_run: bool) -> None:
    line = render_crontab_line(cadence, target)
    existing = _current_crontab(required=not dry_run) or ""
    updated = crontab_with_line(existing, line)
    if updated == existing:
        typer.echo("The crontab already has this schedule; nothing to change.")
        return
    if dry_run:
        typer.echo("Would install this crontab (`crontab -`):")
        typer.echo(updated, nl=False)
        return
    _run_or_fail(["crontab", "-"], stdin=updated)
    # Read back: cron's own parser accepted it, and the line is there once.
    if _current_crontab(required=True) != updated:
        fail("the crontab read back differs from the one installed (`crontab -l` shows it)")
    typer.echo(f"Installed in the crontab: {line}")


def _uninstall_cron(dry_run: bool, *, required: bool) -> bool:
    existing = _current_crontab(required=required)
    if not existing:
        return False
    kept = crontab_without_line(existing)
    if kept == existing:
        return False
    # Nothing but ours left: the crontab is removed, as it was before the install.
    command = ["crontab", "-"] if kept.strip() else ["crontab", "-r"]
    if dry_run:
        typer.echo(f"Would run `{' '.join(command)}`, leaving this crontab:\n{kept}", nl=False)
        return True
    _run_or_fail(command, stdin=kept if kept.strip() else None)
    typer.echo("Removed the agentic-auditor line from the crontab.")
    return True


def _current_crontab(*, required: bool) -> str | None:
    """The user's crontab ("" when there is none); None when there is no `crontab` program and none is
    `required` (else that is an error)."""
    if shutil.which("crontab") is None:
        if not required:
            return None
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
