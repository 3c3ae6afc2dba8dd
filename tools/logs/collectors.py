"""Log collectors: CloudTrail files, auth logs and CloudWatch Logs. They select events; checks judge.

Selecting events by name or kind is a parameterised query (a fetch). Every file is read once, whole, with no
event cap: CloudTrail files through the one-pass engine (tools/logs/engine.py), which answers all the named
queries (tools/logs/queries.CONTROL_QUERIES) in that pass; each stored event names the queries it answered,
and each file its size, sha256, record count, time span and per-query counts. Each collector records the
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
from tools.logs.engine import scan_cloudtrail
from tools.logs.queries import (
    AUTH_EVENT_KINDS,
    CONTROL_QUERIES,
    CONTROL_QUERY_INDEX,
    EventQuery,
    FileKind,
    QueryIndex,
    log_files,
)
from tools.logs.readers import (
    AuthEvent,
    CloudTrailRecord,
    ParseProblem,
    SyslogLine,
    auth_event,
    parse_cloudwatch_message,
    read_cloudwatch,
    read_syslog,
)

MAX_PROBLEMS_KEPT = 200


class FileArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paths: list[str] | None = Field(default=None, description="Log files or folders; [logs] paths when omitted")


class CloudTrailArgs(FileArgs):
    queries: list[str] | None = Field(
        default=None, description=f"Control queries to answer; all of {[q.name for q in CONTROL_QUERIES]} when omitted"
    )
    event_names: list[str] | None = Field(
        default=None, description="More event names to keep, answered as one more query named 'event_names'"
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


def _cloudtrail_event(record: CloudTrailRecord, queries: tuple[str, ...]) -> dict[str, Any]:
    return {"location": record.location, "event": record.record, "queries": list(queries)}


def cloudtrail_queries(args: CloudTrailArgs) -> tuple[EventQuery, ...]:
    """The queries a call answers: the control queries it names (all when it names none), and its event names."""
    by_name = {query.name: query for query in CONTROL_QUERIES}
    unknown = sorted(set(args.queries or ()) - set(by_name))
    if unknown:
        raise ValueError(f"unknown CloudTrail queries {unknown}; known: {sorted(by_name)}")
    chosen = [by_name[name] for name in args.queries] if args.queries is not None else list(CONTROL_QUERIES)
    if args.event_names:
        chosen.append(EventQuery("event_names", "The event names asked for", frozenset(args.event_names)))
    return tuple(chosen)


@tool(
    "logs.cloudtrail_events",
    source="logs",
    description="CloudTrail events from the configured log files (S3 delivery files, arrays or JSON lines, "
    "gzip or not), every file read once whole: the events answering the control queries (console logins, root "
    "use, audit logging changes, IAM changes, new users and keys, security group ingress), with each file's "
    "size, sha256, record count, time span and per-query counts.",
    args=CloudTrailArgs,
    operations=("read files",),
)
def cloudtrail_events(ctx: CollectContext, args: CloudTrailArgs) -> dict[str, Any]:
    existing, missing = _paths(ctx, args)
    problems: list[ParseProblem] = []
    files = log_files(existing, "json", problems)
    return {
        "failed_login_threshold": ctx.config.logs.failed_login_threshold,
        **scan_cloudtrail_files(cloudtrail_queries(args), ((path, str(path)) for path in files), problems),
        "missing_paths": missing,
    }


def scan_cloudtrail_files(
    queries: tuple[EventQuery, ...], files: Iterable[tuple[Path, str]], problems: list[ParseProblem]
) -> dict[str, Any]:
    """The evidence of one pass over each CloudTrail file ((path, name) pairs): per file its description and
    per-query counts, the events that answered a query (each naming its queries), and the parse problems."""
    index = QueryIndex(queries)
    sources, events = [], []
    for path, name in files:
        problems_before = len(problems)
        scan = scan_cloudtrail(path, index, problems, name)
        sources.append({**scan.summary(), **_unread(scan.records, problems[problems_before:])})
        events += scan.matches
    return {
        "queries": {
            query.name: {**query.as_dict(), "count": sum(s["queries"][query.name] for s in sources)}
            for query in queries
        },
        "event_names": sorted({name for query in queries for name in query.event_names}),
        "sources": sources,
        "records_scanned": sum(s["records"] for s in sources),
        "events": events,
        **_problems(problems),
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
    """Read each log file once, keep every row `select` answers (not None) as `as_event` of its answer. Each
    file's entry in ``sources`` counts the rows read and selected under the two names in `counts`."""
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
            events.append(as_event(answer))
        sources.append(
            {"file": str(path), read_name: rows, selected_name: selected, **_unread(rows, problems[problems_before:])}
        )
    return {
        "sources": sources,
        "missing_paths": missing,
        "records_scanned": sum(s[read_name] for s in sources),
        "events": events,
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
                        if queries := CONTROL_QUERY_INDEX.answered_by_record(parsed.record):
                            cloudtrail.append(_cloudtrail_event(parsed, queries))
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
