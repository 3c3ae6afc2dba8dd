"""`auditor schedule`: every printed unit is checked by the tool that will read it; one run per workspace."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agent.lock import workspace_lock
from agent.schedules import CRON_MARKER, CadenceError, crontab_with_line, parse_cadence
from tools.workspace import Workspace
from tui.cli import app

runner = CliRunner()


def _auditor(tmp_path: Path, *args: str):
    return runner.invoke(app, ["--workspace", str(tmp_path / "ws"), *args], terminal_width=200)


@pytest.mark.parametrize(
    ("every", "cron", "on_calendar"),
    [
        ("daily", "17 3 * * *", "*-*-* 03:17:00"),
        ("hourly", "17 * * * *", "*-*-* *:17:00"),
        ("*/15 9-17 * * 1-5", "*/15 9-17 * * 1-5", "Mon,Tue,Wed,Thu,Fri *-*-* 9..17:0/15:00"),
        ("0 0 1 */3 *", "0 0 1 */3 *", "*-1/3-01 00:00:00"),
        ("5,35 2 * 1,7 0", "5,35 2 * 1,7 0", "Sun *-1,7-* 02:5,35:00"),
    ],
)
def test_cadences_become_cron_and_systemd_calendars(every: str, cron: str, on_calendar: str) -> None:
    cadence = parse_cadence(every)
    assert (cadence.cron, cadence.on_calendar) == (cron, on_calendar)
    if shutil.which("systemd-analyze"):
        checked = subprocess.run(["systemd-analyze", "calendar", cadence.on_calendar], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize(
    ("every", "message"),
    [
        ("0 3 * *", "5 fields"),
        ("60 * * * *", "minute 60 is out of range 0-59"),
        ("0 24 * * *", "hour 24 is out of range 0-23"),
        ("0 0 0 * *", "day of month 0 is out of range 1-31"),
        ("0 0 * 13 *", "month 13 is out of range 1-12"),
        ("0 0 * * 8", "day of week 8 is out of range 0-7"),
        ("5-1 * * * *", "runs backwards"),
        ("0 0 * * MON", "not a number"),
        ("0 0 1 * 1", "not both"),
        ("0 3 31 2 *", "day\\(s\\) of month 31 never fall in month\\(s\\) 2: the schedule would never run"),
        ("0 3 30,31 2 *", "never run"),
    ],
)
def test_bad_cadences_are_refused_with_the_reason(every: str, message: str) -> None:
    with pytest.raises(CadenceError, match=message):
        parse_cadence(every)


def test_cli_refuses_a_bad_cron_expression(tmp_path: Path) -> None:
    result = _auditor(tmp_path, "schedule", "--print", "cron", "--every", "61 * * * *")
    assert result.exit_code == 2
    assert "minute 61 is out of range" in result.output


def test_crontab_line_runs_a_scheduled_run(tmp_path: Path) -> None:
    result = _auditor(tmp_path, "schedule", "--print", "cron", "--every", "30 2 * * *")
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert line.startswith("30 2 * * * cd ")
    assert "run --trigger schedule" in line and line.endswith(CRON_MARKER)
    assert parse_cadence(" ".join(line.split()[:5])).cron == "30 2 * * *"


def test_crontab_install_is_idempotent() -> None:
    existing = "MAILTO=ops@example.com\n0 1 * * * /usr/bin/backup\n"
    first = crontab_with_line(existing, f"17 3 * * * auditor run --trigger schedule {CRON_MARKER}")
    assert first == existing + f"17 3 * * * auditor run --trigger schedule {CRON_MARKER}\n"
    assert crontab_with_line(first, f"17 3 * * * auditor run --trigger schedule {CRON_MARKER}") == first
    changed = crontab_with_line(first, f"17 * * * * auditor run --trigger schedule {CRON_MARKER}")
    assert changed.count(CRON_MARKER) == 1 and "17 * * * *" in changed and "/usr/bin/backup" in changed


def test_systemd_units_verify(tmp_path: Path) -> None:
    result = _auditor(tmp_path, "schedule", "--print", "systemd", "--every", "hourly")
    assert result.exit_code == 0, result.output
    service, timer = result.output.split("# ~/.config/systemd/user/agentic-auditor.timer\n")
    assert "OnCalendar=*-*-* *:17:00" in timer and "Persistent=true" in timer
    assert "run --trigger schedule" in service and "Type=oneshot" in service
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed: units checked by content only")
    units = tmp_path / "units"
    units.mkdir()
    (units / "agentic-auditor.service").write_text(service.split("\n", 1)[1], encoding="utf-8")
    (units / "agentic-auditor.timer").write_text(timer, encoding="utf-8")
    checked = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            str(units / "agentic-auditor.timer"),
            str(units / "agentic-auditor.service"),
        ],
        capture_output=True,
        text=True,
    )
    problems = [line for line in checked.stderr.splitlines() if "agentic-auditor" in line]
    assert checked.returncode == 0 and not problems, checked.stderr


def test_github_actions_workflow(tmp_path: Path) -> None:
    result = _auditor(tmp_path, "schedule", "--print", "github-actions", "--every", "0 6 * * 1")
    assert result.exit_code == 0, result.output
    workflow = yaml.safe_load(result.output)
    assert workflow["on"]["schedule"] == [{"cron": "0 6 * * 1"}]
    assert workflow["permissions"]["id-token"] == "write"
    steps = workflow["jobs"]["audit"]["steps"]
    uses = [step.get("uses", "") for step in steps]
    aws = next(step for step in steps if step.get("uses", "").startswith("aws-actions/configure-aws-credentials"))
    assert aws["with"]["role-to-assume"].startswith("${{ secrets.")
    assert any(u.startswith("actions/cache/restore") for u in uses)
    assert any(u.startswith("actions/cache/save") for u in uses)
    runs = [step["run"] for step in steps if "run" in step]
    assert any(r.startswith("pip install agentic-auditor") for r in runs)
    assert "auditor run --trigger schedule" in runs


def test_kubernetes_cronjob(tmp_path: Path) -> None:
    result = _auditor(tmp_path, "schedule", "--print", "kubernetes", "--every", "daily")
    assert result.exit_code == 0, result.output
    claim, cron_job = list(yaml.safe_load_all(result.output))
    assert claim["kind"] == "PersistentVolumeClaim" and cron_job["kind"] == "CronJob"
    spec = cron_job["spec"]
    assert spec["schedule"] == "17 3 * * *" and parse_cadence(spec["schedule"])
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["workspace"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    container = pod["containers"][0]
    assert {"name": "workspace", "mountPath": "/workspace"} in container["volumeMounts"]
    assert "--workspace /workspace run --trigger schedule" in container["command"][-1]


def test_install_dry_run_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    result = _auditor(tmp_path, "schedule", "install", "--method", "systemd", "--dry-run", "--every", "hourly")
    assert result.exit_code == 0, result.output
    assert f"Would write {tmp_path / 'config' / 'systemd' / 'user' / 'agentic-auditor.timer'}" in result.output
    assert "Would run: systemctl --user enable --now agentic-auditor.timer" in result.output
    assert not (tmp_path / "config").exists()
    cron = _auditor(tmp_path, "schedule", "install", "--method", "cron", "--dry-run")
    assert cron.exit_code == 0 and CRON_MARKER in cron.output


def test_a_second_run_on_the_workspace_exits_5_naming_the_holder(tmp_path: Path) -> None:
    workspace = Workspace.at(tmp_path / "ws")
    with workspace_lock(workspace, "auditor run --trigger schedule"):
        result = _auditor(tmp_path, "run", "--trigger", "schedule")
    assert result.exit_code == 5, result.output
    assert "another run holds the workspace" in result.output
    assert f"pid {__import__('os').getpid()}" in result.output and "started 20" in result.output
    # released: the next lock is taken at once
    with workspace_lock(workspace):
        pass


def test_evidence_lifetime_per_collector_prefix(tmp_path: Path) -> None:
    from datetime import timedelta

    from tools.config import ConfigError, load_config

    path = tmp_path / "auditor.toml"
    path.write_text('[run]\nevidence_ttl_hours = {default = 24, "aws.iam" = 6, "aws" = 12, "github" = 168}\n')
    ttl = load_config(path).run.evidence_ttl()
    assert ttl.for_tool("aws.iam.credential_report") == timedelta(hours=6)
    assert ttl.for_tool("aws.ec2.security_groups") == timedelta(hours=12)
    assert ttl.for_tool("github.branch_protection") == timedelta(hours=168)
    assert ttl.for_tool("logs.auth_events") == timedelta(hours=24)
    assert ttl.for_tool("aws.iamx.other") == timedelta(hours=12)  # prefixes match whole name parts
    path.write_text("[run]\nevidence_ttl_hours = 2.5\n")
    assert load_config(path).run.evidence_ttl().for_tool("aws.iam.credential_report") == timedelta(hours=2.5)
    path.write_text('[run]\nevidence_ttl_hours = {"aws.iam" = -1}\n')
    with pytest.raises(ConfigError, match="evidence_ttl_hours"):
        load_config(path)


def _no_user_systemd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A runtime folder with no user systemd in it: `systemctl --user` finds none, on any machine (so the test
    never enables a real timer)."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={runtime / 'bus'}")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_systemd_install_writes_verified_units_and_says_how_to_enable_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_user_systemd(monkeypatch, tmp_path)
    units = tmp_path / "config" / "systemd" / "user"
    units.mkdir(parents=True)
    (units / "someone-else.timer").write_text("[Timer]\nOnCalendar=daily\n", encoding="utf-8")
    result = _auditor(tmp_path, "schedule", "install", "--method", "systemd", "--every", "hourly")
    assert result.exit_code == 6, result.output
    assert "Not enabled: " in result.output and "The unit files are in place" in result.output
    assert "systemctl --user daemon-reload && systemctl --user enable --now agentic-auditor.timer" in result.output
    if shutil.which("systemd-analyze"):
        assert "Verified with systemd-analyze verify." in result.output
    timer = (units / "agentic-auditor.timer").read_text(encoding="utf-8")
    service = (units / "agentic-auditor.service").read_text(encoding="utf-8")
    assert "OnCalendar=*-*-* *:17:00" in timer
    assert f"--workspace {tmp_path / 'ws'} run --trigger schedule" in service

    # What `enable` would have linked is removed too; the user's other units stay.
    (units / "timers.target.wants").mkdir()
    (units / "timers.target.wants" / "agentic-auditor.timer").symlink_to(units / "agentic-auditor.timer")
    removed = _auditor(tmp_path, "schedule", "uninstall", "--method", "systemd")
    assert removed.exit_code == 0, removed.output
    assert sorted(p.name for p in units.rglob("*")) == ["someone-else.timer", "timers.target.wants"]
    nothing = _auditor(tmp_path, "schedule", "uninstall", "--method", "systemd")
    assert nothing.exit_code == 0 and "nothing to remove" in nothing.output


def _crontab() -> str:
    listed = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    return listed.stdout if listed.returncode == 0 else listed.stderr


@pytest.fixture
def empty_user_crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The real `crontab` of this user, which must have none: the test leaves none behind either."""
    if shutil.which("crontab") is None:
        pytest.skip("no `crontab` program here (Debian, Ubuntu: apt-get install cron): the real crontab is untested")
    listed = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    if listed.returncode == 0 or "no crontab" not in listed.stderr.lower():
        pytest.skip(f"this user already has a crontab, or it cannot be read: left alone ({listed.stderr.strip()})")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    try:
        yield
    finally:
        subprocess.run(["crontab", "-r"], capture_output=True)


def test_cron_install_uses_the_real_crontab_and_uninstall_removes_exactly_its_line(
    tmp_path: Path, empty_user_crontab: None
) -> None:
    others = 'MAILTO=""\n5 4 * * * /usr/bin/backup --nightly\n'
    subprocess.run(["crontab", "-"], input=others, text=True, check=True)
    for every in ("hourly", "daily"):
        result = _auditor(tmp_path, "schedule", "install", "--method", "cron", "--every", every)
        assert result.exit_code == 0, result.output
    again = _auditor(tmp_path, "schedule", "install", "--method", "cron", "--every", "daily")
    assert again.exit_code == 0 and "already has this schedule" in again.output
    installed = _crontab()
    assert installed.startswith(others) and installed.count(CRON_MARKER) == 1
    (ours,) = [line for line in installed.splitlines() if line.endswith(CRON_MARKER)]
    assert ours.startswith("17 3 * * * cd ") and f"--workspace {tmp_path / 'ws'} run --trigger schedule" in ours

    removed = _auditor(tmp_path, "schedule", "uninstall", "--method", "cron")
    assert removed.exit_code == 0, removed.output
    assert _crontab() == others
    # When the line was all the crontab held, uninstalling leaves no crontab, as before the install.
    subprocess.run(["crontab", "-r"], check=True)
    assert _auditor(tmp_path, "schedule", "install", "--method", "cron").exit_code == 0
    assert _auditor(tmp_path, "schedule", "uninstall").exit_code == 0
    assert "no crontab" in _crontab().lower()


def test_a_day_that_exists_only_in_leap_years_or_some_months_is_accepted() -> None:
    assert parse_cadence("0 3 29 2 *").on_calendar.endswith("*-02-29 03:00:00")
    assert parse_cadence("0 3 31 2,3 *").cron == "0 3 31 2,3 *"
