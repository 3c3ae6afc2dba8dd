"""Streaming log readers with bounded memory: CloudTrail files, JSON lines, syslog/auth.log, CloudWatch Logs.

Files may be gzip-compressed (detected by their first bytes, not their name). A malformed line or record is
skipped, reported as a ParseProblem (``file:line: reason``, or ``file:record N: reason`` inside a JSON
document, where lines mean little) appended to the caller's list, and reading goes on.

Hostile input is bounded (the MAX_* constants below): JSON nesting depth, one CloudTrail record's size, a line's
length, the bytes a file unpacks to and its compression ratio. A file that crosses a bound, or that the
interpreter cannot read (MemoryError, RecursionError), is stopped with a problem marked ``stops_file``: the
collector then records the file as unreadable, so no check reads "no log" or a pass from it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

import ijson
from ijson.common import ObjectBuilder

from tools.redact import marker, redact

GZIP_MAGIC = b"\x1f\x8b"
# Where a JSON document's syntax error is located precisely by re-reading it with the json module;
# larger documents report the record the error follows instead. json.loads needs about 8 times the text
# in memory, so this keeps a damaged file's re-read under ~100 MB.
MAX_BYTES_TO_LOCATE_ERROR = 12 * 1024 * 1024

# Bounds on hostile input. CloudTrail nests under 20 levels and its records are at most a few hundred KB;
# CloudTrail's own gzip files compress about 10-20:1.
MAX_JSON_DEPTH = 64
MAX_RECORD_BYTES = 1024 * 1024  # one CloudTrail record, or one JSON line
MAX_LINE_BYTES = 64 * 1024  # one syslog line
MAX_FILE_BYTES = 2 * 1024**3  # what one file yields, after decompression
MAX_COMPRESSION_RATIO = 100
_READ_CHUNK = 64 * 1024
_RATIO_CHECKED_FROM = 1024 * 1024  # a tiny gzip file may compress far better; its size is harmless


class InputBoundExceeded(ValueError):
    """A file crossed one of the MAX_* bounds; reading it stops."""


@dataclass(frozen=True)
class ParseProblem:
    file: str
    where: str  # a line number, or "record N" inside a JSON document
    reason: str
    stops_file: bool = False  # the rest of the file was not read: the file is unreadable, not just one line

    def __str__(self) -> str:
        return f"{self.file}:{self.where}: {self.reason}"


class _HashingFile(io.RawIOBase):
    """A file on disk whose bytes are hashed as they are read: the file's digest comes from the one pass."""

    def __init__(self, file: io.BufferedReader) -> None:
        self._file = file
        self._hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._file.readinto(buffer)
        self._hash.update(memoryview(buffer)[:count])
        return count

    def tell(self) -> int:
        return self._file.tell()

    def finish(self) -> str:
        """The digest of the whole file: what was not read yet (a gzip trailer) is hashed first."""
        while chunk := self._file.read(_READ_CHUNK):
            self._hash.update(chunk)
        return self._hash.hexdigest()

    def close(self) -> None:
        self._file.close()
        super().close()


class _BoundedReader(io.RawIOBase):
    """A file's bytes (decompressed when gzip), counted as they are read: past MAX_FILE_BYTES, or past
    MAX_COMPRESSION_RATIO times the compressed bytes consumed, reading raises InputBoundExceeded."""

    def __init__(self, path: Path, compressed: bool) -> None:
        self._path = path
        self._file = _HashingFile(open(path, "rb"))  # noqa: SIM115 - closed by close()
        self._gzip = gzip.GzipFile(fileobj=self._file) if compressed else None
        self._yielded = 0
        # A parser sets these: one JSON token (a huge string) is held whole in memory before any event.
        self.bytes_per_token: int | None = None
        self.yielded_at_last_event = 0

    def note_event(self) -> None:
        self.yielded_at_last_event = self._yielded

    def sha256(self) -> str:
        """The sha256 of the whole file as stored (compressed when gzip), once it has been read to its end."""
        return self._file.finish()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = (self._gzip or self._file).readinto(buffer)
        self._yielded += count
        if self.bytes_per_token is not None and self._yielded - self.yielded_at_last_event > self.bytes_per_token:
            raise InputBoundExceeded(
                f"{self._path}: one JSON value larger than {MAX_RECORD_BYTES} bytes (MAX_RECORD_BYTES)"
            )
        if self._yielded > MAX_FILE_BYTES:
            raise InputBoundExceeded(f"{self._path} unpacks to more than {MAX_FILE_BYTES} bytes (MAX_FILE_BYTES)")
        if self._gzip is not None and self._yielded > _RATIO_CHECKED_FROM:
            consumed = max(self._file.tell(), 1)
            if self._yielded > MAX_COMPRESSION_RATIO * consumed:
                raise InputBoundExceeded(
                    f"{self._path} is a decompression bomb: {consumed} compressed bytes unpacked to more than "
                    f"{self._yielded} (over {MAX_COMPRESSION_RATIO}:1, MAX_COMPRESSION_RATIO)"
                )
        return count

    def close(self) -> None:
        if self._gzip is not None:
            self._gzip.close()
        self._file.close()
        super().close()


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip, within MAX_FILE_BYTES and MAX_COMPRESSION_RATIO."""
    with open(path, "rb") as probe:
        compressed = probe.read(2) == GZIP_MAGIC
    return io.BufferedReader(_BoundedReader(path, compressed), buffer_size=_READ_CHUNK)


# What reading a damaged or vanished file raises (gzip.BadGzipFile is an OSError).
READ_ERRORS = (OSError, EOFError, zlib.error)
# What stops a file that is readable but hostile: a bound crossed, or input the interpreter cannot hold.
STOPPING_ERRORS = (InputBoundExceeded, MemoryError, RecursionError)


def _stopped(path: Path, where: str, error: BaseException) -> ParseProblem:
    reason = str(error) if isinstance(error, InputBoundExceeded) else f"{type(error).__name__} while reading"
    return ParseProblem(str(path), where, f"reading stopped: {reason}", stops_file=True)


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
        layout = json_layout(path)
    except STOPPING_ERRORS as error:
        problems.append(_stopped(path, "1", error))
        return
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
    count = 0
    try:
        with open_binary(path) as stream:
            for count, record in enumerate(_json_records(stream, layout, name), 1):
                if _is_event(record, name, f"record {count}", problems):
                    yield CloudTrailRecord(f"{name}:record {count}", record)
    except STOPPING_ERRORS as error:
        problems.append(_stopped(path, f"record {count + 1}", error))
    except ijson.JSONError as error:
        problems.append(_locate_json_error(path, count, error))
    except READ_ERRORS as error:
        problems.append(ParseProblem(name, f"record {count + 1}", f"file ends early or is damaged: {error}"))


def _json_events(stream: IO[bytes]) -> Iterator[tuple[str, Any]]:
    """ijson's flat events, with no single token (a huge string or key) over MAX_RECORD_BYTES of input."""
    reader = stream.raw if isinstance(stream, io.BufferedReader) else None
    if isinstance(reader, _BoundedReader):
        reader.bytes_per_token = MAX_RECORD_BYTES + 2 * _READ_CHUNK  # ijson reads ahead one chunk
    for event in ijson.basic_parse(stream, multiple_values=True, use_float=True, buf_size=_READ_CHUNK):
        if isinstance(reader, _BoundedReader):
            reader.note_event()
        yield event


def _json_records(stream: IO[bytes], layout: Literal["records", "array"], name: str) -> Iterator[Any]:
    """The items of each top-level array (layout "array") or of each top-level ``Records`` array.

    Built from ijson's flat events rather than ijson.items, whose per-level prefixes grow with the square of
    the depth: here nesting is counted, and stopped past MAX_JSON_DEPTH, and each record's size is bounded.
    """
    level = 1 if layout == "array" else 2  # the depth of the array whose items are records
    depth = 0
    key = None  # the last key of the top-level object
    in_records = False
    builder: ObjectBuilder | None = None
    record_bytes = 0
    for event, value in _json_events(stream):
        if event in ("start_map", "start_array"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise InputBoundExceeded(f"{name}: JSON nested deeper than {MAX_JSON_DEPTH} levels (MAX_JSON_DEPTH)")
        if builder is not None:
            builder.event(event, value)
            record_bytes += len(value) if isinstance(value, str) else 8
            if record_bytes > MAX_RECORD_BYTES:
                raise InputBoundExceeded(f"{name}: a record larger than {MAX_RECORD_BYTES} bytes (MAX_RECORD_BYTES)")
        elif in_records and depth == level + 1:  # a record that is an object or array starts
            builder, record_bytes = ObjectBuilder(), 0
            builder.event(event, value)
        elif in_records and depth == level and event not in ("end_map", "end_array"):
            yield value  # a scalar where a record should be: the caller reports it
        elif event == "start_array" and depth == level and (layout == "array" or key == "Records"):
            in_records = True
        elif event == "map_key" and depth == 1:
            key = value
        if event in ("end_map", "end_array"):
            if builder is not None and depth == level + 1:
                yield builder.value
                builder = None
            elif in_records and depth == level:
                in_records = False
            depth -= 1


def json_layout(path: Path) -> Literal["records", "array", "lines"]:
    with open_binary(path) as stream:
        # Flat events: ijson.parse's prefixes cost the square of the depth on deeply nested input.
        events = _json_events(stream)
        try:
            first, _ = next(events)
            if first == "start_array":
                return "array"
            if first == "start_map" and next(events) == ("map_key", "Records"):
                return "records"
        except (ijson.JSONError, StopIteration):
            pass  # a broken first line: JSON lines reading reports it and carries on
    return "lines"


def _is_event(record: Any, name: str, where: str, problems: list[ParseProblem]) -> bool:
    if not isinstance(record, dict):
        problems.append(ParseProblem(name, where, f"not a JSON object but {type(record).__name__}"))
        return False
    # A record without an eventTime is still an event: read and counted, its time said to be unknown.
    if not isinstance(record.get("eventName"), str):
        problems.append(ParseProblem(name, where, "not a CloudTrail event: no eventName"))
        return False
    return True


def _locate_json_error(path: Path, records_read: int, error: Exception) -> ParseProblem:
    """The line of a JSON syntax error, found by the json module (small files), else the record after."""
    first_line = str(error).strip().splitlines()[0]
    # Bounded by what is read, not by the file's size: a small gzip file can unpack to gigabytes.
    with open_binary(path) as stream:
        try:
            payload = stream.read(MAX_BYTES_TO_LOCATE_ERROR + 1)
        except (*READ_ERRORS, InputBoundExceeded):
            payload = b""
    if payload and len(payload) <= MAX_BYTES_TO_LOCATE_ERROR:
        try:
            json.loads(payload.decode("utf-8", errors="replace"))
        except json.JSONDecodeError as located:
            return ParseProblem(str(path), str(located.lineno), f"invalid JSON, reading stopped: {located.msg}")
        except RecursionError:
            pass  # too deep for the json module: the record it follows is named instead
    return ParseProblem(str(path), f"record {records_read + 1}", f"invalid JSON, reading stopped: {first_line}")


# -- JSON lines -----------------------------------------------------------------------------------


def read_lines(path: Path, problems: list[ParseProblem], max_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, str]]:
    """(line number, text) for each non-blank line; bytes that are not UTF-8 become U+FFFD.

    A line longer than max_bytes is skipped (read through in bounded pieces) and reported. A secret cut in two
    by a line break is redacted in both lines (each half alone looks like nothing), so each line is given out
    once the next one has been read."""
    held: tuple[int, str] | None = None
    for line_number, text in _bounded_lines(path, problems, max_bytes):
        if held is not None:
            earlier, text = redact_split_secret(held[1], text)
            yield held[0], earlier
        held = (line_number, text)
    if held is not None:
        yield held


# The end of a line and the start of the next that may be two halves of one token (not a line that starts
# with an RFC 3339 time, as a new syslog record does); tokens worth a marker are at least 16 characters.
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_\-+/=.]+")
_TIME_FIRST = re.compile(r"\d{4}-\d\d-\d\dT")
_SHORTEST_TOKEN = 16


def redact_split_secret(earlier: str, later: str) -> tuple[str, str]:
    """The two lines with a secret that spans the break between them replaced by its marker in both; unchanged
    when the joined halves are no secret, or when each half already is one (redaction finds those)."""
    tail = _TOKEN_RUN.match(earlier[::-1])  # the token run the line ends with, reversed
    head = _TOKEN_RUN.match(later)
    if tail is None or head is None or tail.end() + head.end() < _SHORTEST_TOKEN or _TIME_FIRST.match(later):
        return earlier, later
    first_half, second_half = earlier[len(earlier) - tail.end() :], head.group()
    joined = redact(first_half + second_half)
    if not joined.counts or redact(first_half).counts or redact(second_half).counts:  # halves: rarely read
        return earlier, later
    shown = marker(next(iter(joined.counts)))
    return earlier[: len(earlier) - tail.end()] + shown, shown + later[head.end() :]


def _bounded_lines(path: Path, problems: list[ParseProblem], max_bytes: int) -> Iterator[tuple[int, str]]:
    line_number = 0
    try:
        with open_binary(path) as stream:
            while raw := stream.readline(max_bytes + 1):
                line_number += 1
                if len(raw) > max_bytes and not raw.endswith(b"\n"):
                    while (rest := stream.readline(max_bytes)) and not rest.endswith(b"\n"):
                        pass
                    reason = f"line longer than {max_bytes} bytes, skipped"
                    problems.append(ParseProblem(str(path), str(line_number), reason))
                    continue
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if text.strip():
                    yield line_number, text
    except STOPPING_ERRORS as error:
        problems.append(_stopped(path, str(line_number + 1), error))
    except READ_ERRORS as error:
        problems.append(ParseProblem(str(path), str(line_number + 1), f"file ends early or is damaged: {error}"))


def read_json_lines(path: Path, problems: list[ParseProblem]) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each line of a JSON lines file; a line that is not JSON is reported."""
    for line_number, text in read_lines(path, problems, MAX_RECORD_BYTES):
        try:
            yield line_number, json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(ParseProblem(str(path), str(line_number), f"invalid JSON: {error.msg}"))
        except RecursionError:
            problems.append(ParseProblem(str(path), str(line_number), "invalid JSON: nested too deep"))


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
            # Redacted before it is cut: a cut secret no longer looks like one.
            shown = redact(text).data[:60]
            problems.append(ParseProblem(str(path), str(line_number), f"not a syslog line: {shown!r}"))
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
        return asdict(self)


# Event kinds, each from one message shape. sshd's PAM "authentication failure" lines are kinds too:
# counting conventions (which lines make one attempt) belong to the checks.
_SSH_PROCESSES = {"sshd", "sshd-session"}
_SSH_PATTERNS = [
    (
        "ssh_failed_login",
        re.compile(r"^Failed (?P<method>\S+) for (?P<invalid>invalid user )?(?P<user>.*?) from (?P<ip>\S+) port \d+"),
    ),
    ("ssh_accepted_login", re.compile(r"^Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<ip>\S+) port \d+")),
    ("ssh_invalid_user", re.compile(r"^Invalid user (?P<user>.*?) from (?P<ip>\S+?)(?: port \d+)?\s*$")),
]
_PAM_AUTH_FAILURE = re.compile(r"^pam_unix\((?P<service>[^:)]+):auth\): authentication failure;(?P<fields>.*)$")
_PAM_SESSION_OPENED = re.compile(r"^pam_unix\((?P<service>[^:)]+):session\): session opened for user (?P<user>[^\s(]+)")
# PAM refusing an account after too many failures: pam_tally/pam_tally2 ("tally 6, deny 5"), pam_faillock.
_PAM_LOCKOUTS = [
    re.compile(r"^pam_tally2?\((?P<service>[^:)]+):auth\): user (?P<user>\S+) \(\d+\) tally (?P<tally>\d+), deny \d+"),
    re.compile(r"^pam_faillock\((?P<service>[^:)]+):auth\): Consecutive login failures for user (?P<user>\S+) account"),
]
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
            "auth_failure",
            user=fields.get("user") or None,
            source_ip=fields.get("rhost") or None,
            detail={"service": match["service"]},
            **base,
        )
    for pattern in _PAM_LOCKOUTS:
        if match := pattern.match(message):
            detail = {key: value for key, value in match.groupdict().items() if key != "user" and value}
            return AuthEvent("account_locked", user=match["user"], detail=detail, **base)
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
