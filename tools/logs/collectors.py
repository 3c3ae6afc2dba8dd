"""Log collectors: CloudTrail files, auth logs and CloudWatch Logs. They select events; checks judge.

Selecting events by name or kind is a parameterised query (a fetch). Each collector records the
parameters it ran with, and the configured failed-login threshold, which the checks judge with (checks
see only stored evidence). Parse problems are kept as ``file:line: reason`` strings (the first
MAX_PROBLEMS_KEPT, with the full count). A configured path that does not exist is listed in
``missing_paths``, and a file without one readable record, or whose reading a bound stopped (readers.MAX_*), gets
an ``error`` in its ``sources`` entry: a typo, an unparsable or a hostile log must read as an unreadable source,
not as "no log configured" or "no events".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from tools.catalog import tool
from tools.context import CollectContext
from tools.logs.queries import (
    AUTH_EVENT_KINDS,
    CONTROL_EVENT_NAMES,
    CONTROL_IDENTITY_TYPES,
    FileKind,
    is_selected,
    log_files,
)
from tools.logs.readers import (
    AuthEvent,
    CloudTrailRecord,
    ParseProblem,
    SyslogLine,
    auth_event,
    parse_cloudwatch_message,
    read_cloudtrail,
    read_cloudwatch,
    read_syslog,
)

MAX_PROBLEMS_KEPT = 200


class FileArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paths: list[str] | None = Field(default=None, description="Log files or folders; [logs] paths when omitted")
    max_events: int = Field(default=50_000, ge=1, description="Most matching events kept")


class CloudTrailArgs(FileArgs):
    event_names: list[str] | None = Field(
        default=None, description="Event names to keep; the control-relevant set when omitted"
    )
    identity_types: list[str] = Field(
        default_factory=lambda: sorted(CONTROL_IDENTITY_TYPES),
        description="userIdentity.type values whose events are all kept (Root by default)",
    )


class AuthArgs(FileArgs):
    kinds: list[str] | None = Field(
        default=None, description=f"Auth event kinds to keep; all of {sorted(AUTH_EVENT_KINDS)} when omitted"
    )


class CloudWatchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log_groups: list[str] | None = Field(
        default=None, description="Log groups; [logs] cloudwatch_log_groups when omitted"
    )
    regions: list[str] | None = Field(default=None, description="Regions; all configured AWS regions when omitted")
    hours: float = Field(default=24 * 90, gt=0, description="How far back to read, in hours")
    filter_pattern: str | None = Field(default=None, description="A CloudWatch Logs filter pattern")
    max_events: int = Field(default=10_000, ge=1, description="Most events read per log group and region")


def _paths(ctx: CollectContext, args: FileArgs) -> tuple[list[Path], list[str]]:
    """The configured (or given) paths that exist, and those that do not."""
    configured = [Path(p) for p in args.paths] if args.paths is not None else ctx.config.logs.paths
    resolved = [ctx.config.resolve(path) for path in configured]
    return [path for path in resolved if path.exists()], [str(path) for path in resolved if not path.exists()]


def _problems(problems: list[ParseProblem]) -> dict[str, Any]:
    return {"problems": [str(p) for p in problems[:MAX_PROBLEMS_KEPT]], "problem_count": len(problems)}


def _unread(readable: int, problems_in_file: list[ParseProblem]) -> dict[str, str]:
    """The error of a file whose reading was stopped (a bound crossed) or that yielded no readable record."""
    stopped = next((problem for problem in problems_in_file if problem.stops_file), None)
    if stopped is not None:
        return {"error": f"{stopped.reason} (at {stopped.where}; {readable} records read before)"}
    return {} if readable else {"error": f"no readable record ({len(problems_in_file)} parse problems)"}


def _cloudtrail_event(record: CloudTrailRecord) -> dict[str, Any]:
    return {"location": record.location, "event": record.record}


@tool(
    "logs.cloudtrail_events",
    source="logs",
    description="CloudTrail events from the configured log files (S3 delivery files, arrays or JSON lines, "
    "gzip or not) with the control-relevant event names: console logins, root use, CloudTrail changes, IAM "
    "changes, new users and keys, security group ingress.",
    args=CloudTrailArgs,
    operations=("read files",),
)
def cloudtrail_events(ctx: CollectContext, args: CloudTrailArgs) -> dict[str, Any]:
    names = frozenset(args.event_names) if args.event_names is not None else CONTROL_EVENT_NAMES
    identity_types = frozenset(args.identity_types)
    selected = _select_from_files(
        ctx, args, "json", read_cloudtrail,
        select=lambda record: record if is_selected(record.record, names, identity_types) else None,
        as_event=_cloudtrail_event, counts=("records", "matched"),
    )  # fmt: skip
    return {
        "event_names": sorted(names),
        "identity_types": sorted(identity_types),
        "failed_login_threshold": ctx.config.logs.failed_login_threshold,
        **selected,
    }


@tool(
    "logs.auth_events",
    source="logs",
    description="Authentication events from syslog/auth.log files: SSH logins and failures, invalid users, "
    "PAM failures, sudo commands, user and group changes.",
    args=AuthArgs,
    operations=("read files",),
)
def auth_events(ctx: CollectContext, args: AuthArgs) -> dict[str, Any]:
    kinds = frozenset(args.kinds) if args.kinds is not None else AUTH_EVENT_KINDS

    def select(line: SyslogLine) -> AuthEvent | None:
        event = auth_event(line)
        return event if event is not None and event.kind in kinds else None

    selected = _select_from_files(
        ctx, args, "text", read_syslog, select, as_event=lambda event: event.as_dict(), counts=("lines", "events")
    )
    return {
        "kinds": sorted(kinds),
        "failed_login_threshold": ctx.config.logs.failed_login_threshold,
        **selected,
    }


def _select_from_files(
    ctx: CollectContext,
    args: FileArgs,
    file_format: FileKind,
    read: Callable[[Path, list[ParseProblem]], Iterable[Any]],
    select: Callable[[Any], Any],
    *,
    as_event: Callable[[Any], dict[str, Any]],
    counts: tuple[str, str],
) -> dict[str, Any]:
    """What the file collectors share: read each log file, keep the rows `select` answers (not None) as
    `as_event` of its answer, the first args.max_events of them. Each file's entry in ``sources`` counts the rows
    read and selected under the two names in `counts`."""
    problems: list[ParseProblem] = []
    sources, events = [], []
    existing, missing = _paths(ctx, args)
    read_name, selected_name = counts
    for path in log_files(existing, file_format, problems):
        rows = selected = 0
        problems_before = len(problems)
        for row in read(path, problems):
            rows += 1
            answer = select(row)
            if answer is None:
                continue
            selected += 1
            if len(events) < args.max_events:
                events.append(as_event(answer))
        sources.append({"file": str(path), read_name: rows, selected_name: selected,
                        **_unread(rows, problems[problems_before:])})  # fmt: skip
    return {
        "sources": sources,
        "missing_paths": missing,
        "records_scanned": sum(s[read_name] for s in sources),
        "events": events,
        "truncated": sum(s[selected_name] for s in sources) > len(events),
        **_problems(problems),
    }


@tool(
    "logs.cloudwatch_events",
    source="logs",
    description="Events from CloudWatch Logs groups (logs:FilterLogEvents): CloudTrail events delivered to "
    "CloudWatch and syslog auth lines, selected as the file collectors select them.",
    args=CloudWatchArgs,
    operations=("logs:FilterLogEvents",),
)
def cloudwatch_events(ctx: CollectContext, args: CloudWatchArgs) -> dict[str, Any]:
    groups = args.log_groups if args.log_groups is not None else ctx.config.logs.cloudwatch_log_groups
    end_ms = int(time.time() * 1000)
    start_ms = end_ms - int(args.hours * 3600 * 1000)
    sources: list[dict[str, Any]] = []
    cloudtrail: list[dict[str, Any]] = []
    auth: list[dict[str, Any]] = []
    other = 0
    if groups:
        regions = args.regions or ctx.aws.regions
        for region in regions:
            for group in groups:
                source: dict[str, Any] = {"log_group": group, "region": region}
                sources.append(source)
                try:
                    events, truncated = read_cloudwatch(
                        ctx.aws, region, group, start_ms, end_ms, args.max_events, args.filter_pattern
                    )
                except ClientError as error:
                    source["error"] = str(error.response.get("Error", {}).get("Code", "ClientError"))
                    continue
                source.update(events=len(events), truncated=truncated)
                for event in events:
                    parsed = parse_cloudwatch_message(event)
                    if isinstance(parsed, CloudTrailRecord):
                        if is_selected(parsed.record, CONTROL_EVENT_NAMES, CONTROL_IDENTITY_TYPES):
                            cloudtrail.append(_cloudtrail_event(parsed))
                    elif isinstance(parsed, SyslogLine) and (found := auth_event(parsed)) is not None:
                        auth.append(found.as_dict())
                    else:
                        other += 1
    return {
        "failed_login_threshold": ctx.config.logs.failed_login_threshold,
        "start": start_ms,
        "end": end_ms,
        "sources": sources,
        "records_scanned": sum(s.get("events", 0) for s in sources),
        "cloudtrail_events": cloudtrail,
        "auth_events": auth,
        "other_messages": other,
    }
