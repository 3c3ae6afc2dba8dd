"""Schedules for `auditor run --trigger schedule` on the schedulers people already run: cron, systemd timers,
GitHub Actions and Kubernetes CronJobs. Pure functions: each renders text; `tui/cli/schedule.py` prints or
installs it.

The cadence is one cron expression (5 fields) everywhere; systemd gets the same schedule as an OnCalendar
expression. Every unit runs the same command, so every scheduled run is recorded with the trigger `schedule`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

import yaml

PACKAGE = "agentic-auditor"
UNIT_NAME = "agentic-auditor"
# Marks the crontab line this tool owns, so installing again replaces it instead of adding a second one.
CRON_MARKER = "# agentic-auditor schedule"
RUN_ARGS = ("run", "--trigger", "schedule")

# "daily" runs at 03:17, off the hour: many schedulers (and rate limits) are busiest at :00.
NAMED_CADENCES = {"daily": "17 3 * * *", "hourly": "17 * * * *"}

# Cron's five fields: name, lowest, highest value.
_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class CadenceError(ValueError):
    """A cadence that is not daily, hourly or a valid 5-field cron expression; the message says why."""


@dataclass(frozen=True)
class Cadence:
    cron: str  # five fields, e.g. "17 3 * * *"
    on_calendar: str  # the same schedule for a systemd timer, e.g. "*-*-* 03:17:00"

    @property
    def more_than_daily(self) -> bool:
        """Runs more than once on a day it runs (hourly, every 15 minutes...): its gaps are counted in hours."""
        minute, hour = self.cron.split()[:2]
        return len(_field_values(minute, *_CRON_FIELDS[0])) * len(_field_values(hour, *_CRON_FIELDS[1])) > 1


def expected_runs(cadence: Cadence, start: datetime, end: datetime) -> list[datetime]:
    """Every time from `start` up to (not including) `end` at which the cadence starts a run, in UTC (as CI
    schedulers run), oldest first."""
    minutes, hours, days, months, weekdays = (
        sorted(_field_values(text, *field)) for text, field in zip(cadence.cron.split(), _CRON_FIELDS, strict=True)
    )
    any_day, any_weekday = len(days) == 31, len(weekdays) == 8  # `*` (parse_cadence refuses both restricted)
    weekdays_python = {(d - 1) % 7 for d in weekdays}  # cron: 0 and 7 are Sunday; Python: Monday is 0
    times = []
    day = start.astimezone(UTC).date()
    while day <= end.astimezone(UTC).date():
        if day.month in months and (any_day or day.day in days) and (any_weekday or day.weekday() in weekdays_python):
            for hour in hours:
                for minute in minutes:
                    at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                    if start <= at < end:
                        times.append(at)
        day += timedelta(days=1)
    return times


@dataclass(frozen=True)
class ScheduleTarget:
    """Where and how a scheduled run starts: what every rendered unit needs besides the cadence."""

    workdir: Path  # the folder holding auditor.toml; runs start here
    executable: str  # the `auditor` program (absolute for cron and systemd: they run with a bare PATH)
    workspace: str = ".auditor"  # as the configuration names it (relative to workdir)
    aws_region: str = "us-east-1"
    github_token_env: str = "GITHUB_TOKEN"


def parse_cadence(every: str) -> Cadence:
    """`daily`, `hourly` or a cron expression ("M H DOM MON DOW", numbers, `*`, lists, ranges, steps)."""
    cron = NAMED_CADENCES.get(every.strip().lower(), every.strip())
    fields = cron.split()
    if len(fields) != 5:
        raise CadenceError(
            f"--every {every!r}: expected daily, hourly or a cron expression of 5 fields "
            f"(minute hour day-of-month month day-of-week), got {len(fields)} field(s)"
        )
    for text, (name, low, high) in zip(fields, _CRON_FIELDS, strict=True):
        _field_values(text, name, low, high)
    if fields[2] != "*" and fields[4] != "*":
        # cron runs when EITHER day matches, systemd only when both do: no one schedule means the same to both.
        raise CadenceError(
            f"--every {every!r}: give a day of month or a day of week, not both "
            "(cron and systemd read the combination differently)"
        )
    days, months = _field_values(fields[2], *_CRON_FIELDS[2]), _field_values(fields[3], *_CRON_FIELDS[3])
    if not any(day <= _LONGEST_MONTH[month] for day in days for month in months):
        raise CadenceError(
            f"--every {every!r}: day(s) of month {fields[2]} never fall in month(s) {fields[3]}: "
            "the schedule would never run"
        )
    return Cadence(cron=" ".join(fields), on_calendar=_on_calendar(fields))


# The most days each month has (February 29 in leap years: a schedule on it runs every four years).
_LONGEST_MONTH = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


def _field_values(text: str, name: str, low: int, high: int) -> set[int]:
    """The values one cron field matches; CadenceError naming the field when it is malformed or out of range."""
    matched: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        step = _number(step_text, name, 1, high) if step_text else 1
        if span == "*":
            first, last = low, high
        elif "-" in span:
            first_text, _, last_text = span.partition("-")
            first, last = _number(first_text, name, low, high), _number(last_text, name, low, high)
            if first > last:
                raise CadenceError(f"cron {name} range {span!r} runs backwards")
        else:
            first = _number(span, name, low, high)
            last = high if step_text else first
        matched.update(range(first, last + 1, step))
    return matched


def _number(text: str, name: str, low: int, high: int) -> int:
    if not text.isdigit():
        raise CadenceError(f"cron {name} {text!r} is not a number (names such as MON or JAN are not supported)")
    value = int(text)
    if not low <= value <= high:
        raise CadenceError(f"cron {name} {value} is out of range {low}-{high}")
    return value


def _on_calendar(fields: list[str]) -> str:
    """systemd's OnCalendar for a validated cron expression: `[DOW] *-MONTH-DOM HOUR:MINUTE:00`."""
    minute, hour, day, month = (
        _calendar_field(text, low) for text, (_, low, _) in zip(fields[:4], _CRON_FIELDS[:4], strict=True)
    )
    time_part = f"{_pad(hour)}:{_pad(minute)}:00"
    date_part = f"*-{_pad(month)}-{_pad(day)}"
    if fields[4] == "*":
        return f"{date_part} {time_part}"
    days = sorted(_field_values(fields[4], "day of week", 0, 7), key=lambda d: d % 7)
    names = list(dict.fromkeys(_WEEKDAYS[d] for d in days))  # systemd wants names: listed one by one
    return f"{','.join(names)} {date_part} {time_part}"


def _calendar_field(text: str, low: int) -> str:
    """One cron field in systemd's spelling: ranges `a..b`, steps kept, `*/n` from the field's lowest value."""
    parts = []
    for part in text.split(","):
        span, slash, step = part.partition("/")
        if span == "*" and slash:
            span = str(low)  # systemd's `0/15` = cron's `*/15`
        parts.append(span.replace("-", "..") + (f"/{step}" if slash else ""))
    return ",".join(parts)


def _pad(text: str) -> str:
    """Two digits for plain numbers (`3` -> `03`), as systemd prints them; lists and ranges as they are."""
    return text.zfill(2) if text.isdigit() else text


# -- the units --------------------------------------------------------------------------------------


def run_command(target: ScheduleTarget) -> list[str]:
    """The scheduled run, on the workspace the schedule was made for (`auditor --workspace` included)."""
    return [target.executable, "--workspace", target.workspace, *RUN_ARGS]


def render_crontab_line(cadence: Cadence, target: ScheduleTarget) -> str:
    """One crontab line: the run, its output appended to schedule.log in the workspace, and the marker."""
    log = PurePosixPath(target.workspace) / "schedule.log"
    command = " ".join(shlex.quote(arg) for arg in run_command(target))
    return (
        f"{cadence.cron} cd {shlex.quote(str(target.workdir))} && {command} >> {shlex.quote(str(log))} 2>&1 "
        f"{CRON_MARKER}"
    )


def crontab_with_line(existing: str, line: str) -> str:
    """The crontab with this tool's line in it: the marked line replaced (or added once); the rest kept."""
    return crontab_without_line(existing) + line + "\n"


def crontab_without_line(existing: str) -> str:
    """The crontab without this tool's marked line; every other line kept as it was."""
    kept = [row for row in existing.splitlines() if not row.rstrip().endswith(CRON_MARKER)]
    return "".join(f"{row}\n" for row in kept)


def render_systemd_service(target: ScheduleTarget) -> str:
    command = " ".join(_systemd_quote(arg) for arg in run_command(target))
    return (
        "[Unit]\n"
        "Description=agentic-auditor: scheduled SOC 2 proof run (read-only)\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"WorkingDirectory={target.workdir}\n"
        f"ExecStart={command}\n"
    )


def render_systemd_timer(cadence: Cadence) -> str:
    # Persistent: a run missed while the machine was off starts at the next boot, so the cadence has no gap.
    return (
        "[Unit]\n"
        f"Description=agentic-auditor: run on schedule ({cadence.cron})\n"
        "\n"
        "[Timer]\n"
        f"OnCalendar={cadence.on_calendar}\n"
        "Persistent=true\n"
        "RandomizedDelaySec=120\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )


def render_github_actions(cadence: Cadence, target: ScheduleTarget) -> str:
    """A workflow that installs the tool, assumes a read-only AWS role by OIDC (no stored AWS keys), runs, and
    keeps the workspace between runs in the Actions cache (history, evidence reuse) plus the reports as an
    artifact."""
    workspace = str(PurePosixPath(target.workspace))
    cache_key = "auditor-workspace-${{ github.run_id }}"
    run_line = " ".join(["auditor", *RUN_ARGS])
    workflow = {
        "name": "agentic-auditor",
        "on": {"schedule": [{"cron": cadence.cron}], "workflow_dispatch": {}},
        "permissions": {"id-token": "write", "contents": "read"},
        # One run at a time: a scheduled run never starts while the previous one still holds the workspace.
        "concurrency": {"group": "agentic-auditor", "cancel-in-progress": False},
        "jobs": {
            "audit": {
                "runs-on": "ubuntu-latest",
                "timeout-minutes": 60,
                "steps": [
                    {"uses": "actions/checkout@v4"},
                    {"uses": "actions/setup-python@v5", "with": {"python-version": "3.12"}},
                    {"name": "Install agentic-auditor", "run": f"pip install {PACKAGE}"},
                    {
                        "name": "Read-only AWS role (OIDC)",
                        "uses": "aws-actions/configure-aws-credentials@v4",
                        "with": {
                            "role-to-assume": "${{ secrets.AUDITOR_AWS_ROLE_ARN }}",
                            "aws-region": target.aws_region,
                        },
                    },
                    {
                        "name": "Restore the workspace",
                        "uses": "actions/cache/restore@v4",
                        "with": {"path": workspace, "key": cache_key, "restore-keys": "auditor-workspace-"},
                    },
                    {
                        "name": "Proof run",
                        "run": run_line,
                        "env": {
                            target.github_token_env: "${{ secrets.AUDITOR_GITHUB_TOKEN }}",
                            "AUDITOR_SIGNING_KEY": "${{ secrets.AUDITOR_SIGNING_KEY }}",
                            "AUDITOR_WEBHOOK": "${{ secrets.AUDITOR_WEBHOOK }}",
                        },
                    },
                    {
                        "name": "Save the workspace",
                        "if": "always()",
                        "uses": "actions/cache/save@v4",
                        "with": {"path": workspace, "key": cache_key},
                    },
                    {
                        "name": "Keep the reports",
                        "if": "always()",
                        "uses": "actions/upload-artifact@v4",
                        "with": {"name": "auditor-reports", "path": f"{workspace}/reports", "retention-days": 400},
                    },
                ],
            }
        },
    }
    return yaml.safe_dump(workflow, sort_keys=False, width=1000)


def render_kubernetes(cadence: Cadence, target: ScheduleTarget) -> str:
    """A PersistentVolumeClaim for the workspace and a CronJob (one run at a time) that mounts it. Read-only
    cloud credentials come from the service account (IRSA / workload identity), the rest from a Secret."""
    del target  # the pod has its own paths: config from a ConfigMap, workspace on the volume
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": f"{UNIT_NAME}-workspace"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}},
    }
    command = (
        f"pip install --quiet {PACKAGE} && auditor --config /config/auditor.toml --workspace /workspace "
        + " ".join(RUN_ARGS)
    )
    cron_job = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": UNIT_NAME},
        "spec": {
            "schedule": cadence.cron,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "serviceAccountName": UNIT_NAME,  # annotate it with a read-only cloud role
                            "containers": [
                                {
                                    "name": "auditor",
                                    "image": "python:3.12-slim",
                                    "command": ["sh", "-c", command],
                                    "envFrom": [{"secretRef": {"name": f"{UNIT_NAME}-secrets", "optional": True}}],
                                    "volumeMounts": [
                                        {"name": "workspace", "mountPath": "/workspace"},
                                        {"name": "config", "mountPath": "/config", "readOnly": True},
                                    ],
                                }
                            ],
                            "volumes": [
                                {"name": "workspace", "persistentVolumeClaim": {"claimName": f"{UNIT_NAME}-workspace"}},
                                {"name": "config", "configMap": {"name": f"{UNIT_NAME}-config"}},
                            ],
                        }
                    },
                }
            },
        },
    }
    return yaml.safe_dump_all([claim, cron_job], sort_keys=False, width=1000)


def _systemd_quote(text: str) -> str:
    return f'"{text}"' if any(c in text for c in " \t\"'\\") else text
