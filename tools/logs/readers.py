"""Streaming log readers with bounded memory: CloudTrail files, JSON lines, syslog/auth.log, CloudWatch Logs.

Files may be gzip-compressed (detected by their first bytes, not their name). A malformed line or record is
skipped, reported as a ParseProblem (``file:line: reason``, or ``file:record N: reason`` inside a JSON
document, where lines mean little) appended to the caller's list, and reading goes on.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

import ijson

GZIP_MAGIC = b"\x1f\x8b"
# Where a JSON document's syntax error is located precisely by re-reading it with the json module;
# larger documents report the record the error follows instead. json.loads needs about 8 times the text
# in memory, so this keeps a damaged file's re-read under ~100 MB.
MAX_BYTES_TO_LOCATE_ERROR = 12 * 1024 * 1024


@dataclass(frozen=True)
class ParseProblem:
    file: str
    where: str  # a line number, or "record N" inside a JSON document
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.where}: {self.reason}"


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip."""
    with open(path, "rb") as probe:
        compressed = probe.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else open(path, "rb")


# What reading a damaged or vanished file raises (gzip.BadGzipFile is an OSError).
READ_ERRORS = (OSError, EOFError, zlib.error)


def sniff(path: Path) -> Literal["json", "text", "empty"]:
    """What a log file holds, by its first non-blank byte: JSON ('{' or '['), text, or nothing."""
    with open_binary(path) as stream:
        head = stream.read(4096).lstrip()
    if not head:
        return "empty"
    return "json" if head[:1] in (b"{", b"[") else "text"


# -- CloudTrail ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CloudTrailRecord:
    location: str  # "file:record N" or "file:line"
    record: dict[str, Any]


def read_cloudtrail(path: Path, problems: list[ParseProblem]) -> Iterator[CloudTrailRecord]:
    """CloudTrail events from a file in any of the forms it is found in.

    CloudTrail's own S3 files (``{"Records": [...]}``, also several such documents in a row), bare
    arrays of events, and JSON lines with one event (or one ``{"Records": [...]}``) per line.
    """
    name = str(path)
    try:
        layout = _json_layout(path)
    except READ_ERRORS as error:
        problems.append(ParseProblem(name, "1", f"cannot read file: {error}"))
        return
    if layout == "lines":
        for line_number, value in read_json_lines(path, problems):
            records = value.get("Records") if isinstance(value, dict) and "Records" in value else [value]
            for record in records if isinstance(records, list) else [records]:
                if _is_event(record, name, str(line_number), problems):
                    yield CloudTrailRecord(f"{name}:{line_number}", record)
        return
    prefix = "item" if layout == "array" else "Records.item"
    count = 0
    try:
        with open_binary(path) as stream:
            for count, record in enumerate(ijson.items(stream, prefix, multiple_values=True, use_float=True), 1):
                if _is_event(record, name, f"record {count}", problems):
                    yield CloudTrailRecord(f"{name}:record {count}", record)
    except ijson.JSONError as error:
        problems.append(_locate_json_error(path, count, error))
    except READ_ERRORS as error:
        problems.append(ParseProblem(name, f"record {count + 1}", f"file ends early or is damaged: {error}"))


def _json_layout(path: Path) -> Literal["records", "array", "lines"]:
    with open_binary(path) as stream:
        events = ijson.parse(stream, multiple_values=True)
        try:
            _, first, _ = next(events)
            if first == "start_array":
                return "array"
            if first == "start_map" and next(events)[1:] == ("map_key", "Records"):
                return "records"
        except (ijson.JSONError, StopIteration):
            pass  # a broken first line: JSON lines reading reports it and carries on
    return "lines"


def _is_event(record: Any, name: str, where: str, problems: list[ParseProblem]) -> bool:
    if not isinstance(record, dict):
        problems.append(ParseProblem(name, where, f"not a JSON object but {type(record).__name__}"))
        return False
    missing = [key for key in ("eventName", "eventTime") if not isinstance(record.get(key), str)]
    if missing:
        problems.append(ParseProblem(name, where, f"not a CloudTrail event: no {' or '.join(missing)}"))
        return False
    return True


def _locate_json_error(path: Path, records_read: int, error: Exception) -> ParseProblem:
    """The line of a JSON syntax error, found by the json module (small files), else the record after."""
    first_line = str(error).strip().splitlines()[0]
    # Bounded by what is read, not by the file's size: a small gzip file can unpack to gigabytes.
    with open_binary(path) as stream:
        try:
            payload = stream.read(MAX_BYTES_TO_LOCATE_ERROR + 1)
        except READ_ERRORS:
            payload = b""
    if payload and len(payload) <= MAX_BYTES_TO_LOCATE_ERROR:
        try:
            json.loads(payload.decode("utf-8", errors="replace"))
        except json.JSONDecodeError as located:
            return ParseProblem(str(path), str(located.lineno), f"invalid JSON, reading stopped: {located.msg}")
    return ParseProblem(str(path), f"record {records_read + 1}", f"invalid JSON, reading stopped: {first_line}")


# -- JSON lines -----------------------------------------------------------------------------------


def read_lines(path: Path, problems: list[ParseProblem]) -> Iterator[tuple[int, str]]:
    """(line number, text) for each non-blank line; bytes that are not UTF-8 become U+FFFD."""
    line_number = 0
    try:
        with open_binary(path) as stream:
            for line_number, raw in enumerate(stream, 1):
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if text.strip():
                    yield line_number, text
    except READ_ERRORS as error:
        problems.append(ParseProblem(str(path), str(line_number + 1), f"file ends early or is damaged: {error}"))


def read_json_lines(path: Path, problems: list[ParseProblem]) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each line of a JSON lines file; a line that is not JSON is reported."""
    for line_number, text in read_lines(path, problems):
        try:
            yield line_number, json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(ParseProblem(str(path), str(line_number), f"invalid JSON: {error.msg}"))


# -- syslog / auth.log ------------------------------------------------------------------------------

_SYSLOG = re.compile(
    r"^(?P<timestamp>[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}"  # RFC 3164: "Feb  3 14:10:21"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"  # RFC 3339 (rsyslog high precision)
    r" (?P<host>\S+) (?P<process>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: ?(?P<message>.*)$"
)


@dataclass(frozen=True)
class SyslogLine:
    location: str
    timestamp: str  # as written; RFC 3164 has no year
    host: str
    process: str
    pid: int | None
    message: str


def parse_syslog_line(text: str, location: str) -> SyslogLine | None:
    match = _SYSLOG.match(text)
    if match is None:
        return None
    pid = match["pid"]
    return SyslogLine(
        location, match["timestamp"], match["host"], match["process"], int(pid) if pid else None, match["message"]
    )


def read_syslog(path: Path, problems: list[ParseProblem]) -> Iterator[SyslogLine]:
    for line_number, text in read_lines(path, problems):
        line = parse_syslog_line(text, f"{path}:{line_number}")
        if line is None:
            problems.append(ParseProblem(str(path), str(line_number), f"not a syslog line: {text[:60]!r}"))
        else:
            yield line


@dataclass
class AuthEvent:
    """One security-relevant syslog line: a login, a failure, a sudo command, an account change."""

    kind: str
    location: str
    timestamp: str
    host: str
    process: str
    user: str | None = None
    source_ip: str | None = None
    detail: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "location": self.location, "timestamp": self.timestamp, "host": self.host,
            "process": self.process, "user": self.user, "source_ip": self.source_ip, "detail": self.detail,
        }  # fmt: skip


# Event kinds, each from one message shape. sshd's PAM "authentication failure" lines are kinds too:
# counting conventions (which lines make one attempt) belong to the checks.
_SSH_PROCESSES = {"sshd", "sshd-session"}
_SSH_PATTERNS = [
    ("ssh_failed_login", re.compile(
        r"^Failed (?P<method>\S+) for (?P<invalid>invalid user )?(?P<user>.*?) from (?P<ip>\S+) port \d+")),
    ("ssh_accepted_login", re.compile(r"^Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<ip>\S+) port \d+")),
    ("ssh_invalid_user", re.compile(r"^Invalid user (?P<user>.*?) from (?P<ip>\S+?)(?: port \d+)?\s*$")),
]  # fmt: skip
_PAM_AUTH_FAILURE = re.compile(r"^pam_unix\((?P<service>[^:)]+):auth\): authentication failure;(?P<fields>.*)$")
_PAM_SESSION_OPENED = re.compile(r"^pam_unix\((?P<service>[^:)]+):session\): session opened for user (?P<user>[^\s(]+)")
_PAM_PASSWORD_CHANGED = re.compile(r"^pam_unix\(passwd:chauthtok\): password changed for (?P<user>\S+)")
_SUDO = re.compile(
    r"^\s*(?P<user>\S+) : (?:(?P<problem>[^;]*?) ; )?TTY=(?P<tty>\S+) ; PWD=(?P<pwd>.*?) ; USER=(?P<run_as>\S+) ;"
    r"(?: [A-Z]+=\S* ;)* COMMAND=(?P<command>.*)$"
)
_ACCOUNT_PATTERNS = [
    ("user_created", re.compile(r"^new user: name=(?P<user>[^,]+), UID=(?P<uid>\d+)")),
    ("group_created", re.compile(r"^new group: name=(?P<group>[^,]+), GID=(?P<gid>\d+)")),
    ("user_added_to_group", re.compile(r"^add '(?P<user>[^']+)' to (?:shadow )?group '(?P<group>[^']+)'")),
    ("password_changed", re.compile(r"^change user '(?P<user>[^']+)' password")),
    ("user_deleted", re.compile(r"^delete user '(?P<user>[^']+)'")),
]
_ACCOUNT_PROCESSES = {"useradd", "groupadd", "usermod", "userdel"}
_KEY_VALUE = re.compile(r"(\w+)=(\S*)")


def auth_event(line: SyslogLine) -> AuthEvent | None:
    """The auth event a syslog line records, or None for lines about anything else."""
    base = {"location": line.location, "timestamp": line.timestamp, "host": line.host, "process": line.process}
    message = line.message
    if line.process in _SSH_PROCESSES:
        for kind, pattern in _SSH_PATTERNS:
            if match := pattern.match(message):
                detail = {"method": match["method"]} if "method" in pattern.groupindex else {}
                if match.groupdict().get("invalid"):
                    detail["invalid_user"] = "true"
                return AuthEvent(kind, user=match["user"], source_ip=match["ip"], detail=detail, **base)
    if match := _PAM_AUTH_FAILURE.match(message):
        fields = dict(_KEY_VALUE.findall(match["fields"]))
        return AuthEvent(
            "auth_failure", user=fields.get("user") or None, source_ip=fields.get("rhost") or None,
            detail={"service": match["service"]}, **base,
        )  # fmt: skip
    if match := _PAM_SESSION_OPENED.match(message):
        return AuthEvent("session_opened", user=match["user"], detail={"service": match["service"]}, **base)
    if match := _PAM_PASSWORD_CHANGED.match(message):
        return AuthEvent("password_changed", user=match["user"], **base)
    if line.process == "sudo" and (match := _SUDO.match(message)):
        kind = "sudo_denied" if match["problem"] else "sudo_command"
        detail = {"run_as": match["run_as"], "command": match["command"], "tty": match["tty"]}
        if match["problem"]:
            detail["problem"] = match["problem"].strip()
        return AuthEvent(kind, user=match["user"], detail=detail, **base)
    if line.process in _ACCOUNT_PROCESSES:
        for kind, pattern in _ACCOUNT_PATTERNS:
            if match := pattern.match(message):
                groups = match.groupdict()
                user = groups.pop("user", None)
                return AuthEvent(kind, user=user, detail={k: v for k, v in groups.items() if v}, **base)
    return None


def read_auth_events(path: Path, problems: list[ParseProblem]) -> Iterator[AuthEvent]:
    for line in read_syslog(path, problems):
        event = auth_event(line)
        if event is not None:
            yield event


# -- CloudWatch Logs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogEvent:
    location: str  # "log group/stream@timestamp"
    timestamp: str  # ISO 8601, from CloudWatch's millisecond timestamp
    message: str


def read_cloudwatch(
    aws: Any,
    region: str,
    log_group: str,
    start_ms: int,
    end_ms: int,
    max_events: int,
    filter_pattern: str | None = None,
) -> tuple[list[LogEvent], bool]:
    """Events of one log group through the read-only session (logs:FilterLogEvents), oldest first.

    At most max_events are read (botocore's MaxItems); returns (events, truncated).
    """
    params: dict[str, Any] = {
        "logGroupName": log_group,
        "startTime": start_ms,
        "endTime": end_ms,
        "PaginationConfig": {"MaxItems": max_events},
    }
    if filter_pattern:
        params["filterPattern"] = filter_pattern
    result = aws.paginate("logs", "filter_log_events", region, **params)
    events = [
        LogEvent(
            f"{log_group}/{event.get('logStreamName', '?')}@{event['timestamp']}",
            datetime.fromtimestamp(event["timestamp"] / 1000, UTC).isoformat(),
            event.get("message", ""),
        )
        for event in result.get("events", [])
    ]
    return events, bool(result.get("NextToken"))


def parse_cloudwatch_message(event: LogEvent) -> CloudTrailRecord | SyslogLine | None:
    """A CloudWatch message as a CloudTrail event (CloudTrail delivers JSON) or a syslog line, if it is one."""
    text = event.message.strip()
    if text.startswith("{"):
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            return None
        if isinstance(record, dict) and isinstance(record.get("eventName"), str):
            return CloudTrailRecord(event.location, record)
        return None
    return parse_syslog_line(text, event.location)
