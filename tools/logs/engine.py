"""One streaming pass per CloudTrail file: every query answered, the file described, nothing capped.

For each file the pass keeps what makes its result reproducible without storing the log: the file's size and
sha256 (as stored, compressed when gzip), how many records it holds and their first and last eventTime, how
many events answered each query, and those events whole.

The fast path reads CloudTrail's own layouts (``{"Records": [...]}``, also several in a row, and bare arrays)
in pieces of about PIECE_BYTES. A piece ends where a record seems to end (``},{"eventVersion"``) and is kept
only when msgspec decodes it as a list of records: a piece that starts at a true record start decodes only if
it also ends at one, since JSON's syntax decides each byte's meaning from the bytes before it. Each piece is
decoded twice in C: once into the raw bytes of its records (to bound their size and to decode the matches
whole), once into the three fields the queries and the time span need, skipping the rest. Anything else (JSON
lines, a record that is not an event, damage, a crossed bound) is read again from the start by the exact
reader, tools/logs/readers.read_cloudtrail, which reports each problem by file and record.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import msgspec

from tools.logs.queries import QueryIndex
from tools.logs.readers import (
    MAX_RECORD_BYTES,
    READ_ERRORS,
    STOPPING_ERRORS,
    ParseProblem,
    json_layout,
    open_binary,
    read_cloudtrail,
)

PIECE_BYTES = 8 * 1024 * 1024
_CUTS_TRIED = 8  # candidate record ends tried per piece before the file goes to the exact reader
_TAIL_SEARCHED = 256 * 1024  # where a piece's last record end is looked for first


@dataclass
class FileScan:
    """What one pass over one CloudTrail file found."""

    file: str
    size: int | None = None  # bytes as stored
    sha256: str | None = None
    records: int = 0
    first_event: str | None = None
    last_event: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # query name -> events that answered it
    matches: list[dict[str, Any]] = field(default_factory=list)  # {"location", "event", "queries"}

    def note_time(self, event_time: Any) -> None:
        if isinstance(event_time, str):
            if self.first_event is None or event_time < self.first_event:
                self.first_event = event_time
            if self.last_event is None or event_time > self.last_event:
                self.last_event = event_time

    def note_match(self, location: str, record: dict[str, Any], queries: tuple[str, ...]) -> None:
        for name in queries:
            self.counts[name] += 1
        self.matches.append({"location": location, "event": record, "queries": list(queries)})

    def summary(self) -> dict[str, Any]:
        """The file's entry in the evidence's ``sources``."""
        return {
            "file": self.file,
            "size": self.size,
            "sha256": self.sha256,
            "records": self.records,
            "matched": len(self.matches),
            "first_event": self.first_event,
            "last_event": self.last_event,
            "queries": dict(self.counts),
        }


def scan_cloudtrail(path: Path, index: QueryIndex, problems: list[ParseProblem], name: str | None = None) -> FileScan:
    """Answer every query of `index` over one CloudTrail file in one pass. `name` is how the file is named in
    locations and problems (an S3 object read from a temporary file), its path when omitted."""
    name = name or str(path)
    problems_before = len(problems)
    try:
        layout = json_layout(path)
        if layout != "lines":
            with open_binary(path) as stream:
                scan = _fresh_scan(name, path, index)
                _fast_scan(stream, layout, scan, index)
                scan.sha256 = stream.raw.sha256()  # type: ignore[attr-defined]
                return scan
    except (_NotSimple, msgspec.DecodeError, *STOPPING_ERRORS, *READ_ERRORS):
        del problems[problems_before:]  # the exact reader reports what is wrong, from the start
    return _exact_scan(path, name, index, problems)


def _fresh_scan(name: str, path: Path, index: QueryIndex) -> FileScan:
    try:
        size = path.stat().st_size
    except OSError:
        size = None  # gone or unreadable: the reader reports why
    return FileScan(name, size=size, counts={query.name: 0 for query in index.queries})


def _exact_scan(path: Path, name: str, index: QueryIndex, problems: list[ParseProblem]) -> FileScan:
    """The same answers through the exact reader, for files the fast path does not take."""
    scan = _fresh_scan(name, path, index)
    problems_before = len(problems)
    for record in read_cloudtrail(path, problems):
        scan.records += 1
        scan.note_time(record.record.get("eventTime"))
        if queries := index.answered_by_record(record.record):
            scan.note_match(record.location.replace(str(path), name, 1), record.record, queries)
    for position in range(problems_before, len(problems)):
        problem = problems[position]
        problems[position] = ParseProblem(
            name, problem.where, problem.reason.replace(str(path), name), problem.stops_file
        )
    try:
        with open(path, "rb") as stored:
            scan.sha256 = hashlib.file_digest(stored, "sha256").hexdigest()
    except OSError:
        scan.sha256 = None  # the file's error is already among the problems
    return scan


# -- the fast path -------------------------------------------------------------------------------------


class _NotSimple(Exception):
    """The file is not in a shape the fast path reads: the exact reader reads it."""


class _Identity(msgspec.Struct):
    type: str | None = None


class _Fields(msgspec.Struct):
    """What the queries and the time span read of a record; msgspec skips everything else unbuilt."""

    eventName: str  # noqa: N815 - CloudTrail's field name
    eventTime: str | None = None  # noqa: N815
    userIdentity: _Identity | None = None  # noqa: N815


_RAW_RECORDS = msgspec.json.Decoder(list[msgspec.Raw])
_RECORD_FIELDS = msgspec.json.Decoder(list[_Fields])
_ANY = msgspec.json.Decoder()

_OPENINGS = {"records": rb'\s*\{\s*"Records"\s*:\s*\[\s*', "array": rb"\s*\[\s*"}
_AFTER_ARRAY = {"records": rb"\s*\}\s*", "array": rb"\s*"}  # what follows the records array's "]"
# A record ends where another starts; CloudTrail writes eventVersion first. Any "},{" is the fallback.
_RECORD_ENDS = (re.compile(rb'\}\s*,\s*(?=\{\s*"eventVersion")'), re.compile(rb"\}\s*,\s*(?=\{)"))
_BLANK_TO_END = re.compile(rb"\s*\Z")


def _fast_scan(stream: IO[bytes], layout: Literal["records", "array"], scan: FileScan, index: QueryIndex) -> None:
    opening = re.compile(_OPENINGS[layout])
    empty = re.compile(_OPENINGS[layout] + rb"\]" + _AFTER_ARRAY[layout])
    # The last record of a document: its "}", the document's closing, then the end or another document.
    document_end = re.compile(rb"\}\s*\]" + _AFTER_ARRAY[layout] + rb"(?=[\[{]|\Z)")
    buffer, position, at_end = b"", 0, False
    in_document = False
    while True:
        if not at_end and len(buffer) - position < PIECE_BYTES:
            more = stream.read(PIECE_BYTES)
            buffer, position, at_end = buffer[position:] + more, 0, not more
        if not in_document:
            if at_end and _BLANK_TO_END.match(buffer, position):
                return
            if match := empty.match(buffer, position):
                position = match.end()
                continue
            match = opening.match(buffer, position)
            if match is None:
                raise _NotSimple("not a CloudTrail document")
            position, in_document = match.end(), True
            continue
        cut = _piece_end(buffer, position, document_end, at_end)
        if cut is None:
            if at_end or len(buffer) - position > PIECE_BYTES + MAX_RECORD_BYTES:
                raise _NotSimple("no record end found")
            buffer, position = buffer[position:] + stream.read(PIECE_BYTES), 0
            continue
        text, raws, resume, closes_document = cut
        _scan_piece(text, raws, scan, index)
        position = resume
        in_document = not closes_document


_Piece = tuple[bytes, list[msgspec.Raw], int, bool]


def _piece_end(buffer: bytes, start: int, document_end: re.Pattern[bytes], at_end: bool) -> _Piece | None:
    """The longest piece from `start` that decodes as whole records: (its records as a JSON array, their raw
    bytes, where reading resumes, whether the document closes there); None when none is found in the buffer."""
    closing = document_end.search(buffer, start)
    if closing is not None and (at_end or closing.end() < len(buffer)):
        if decoded := _decoded(buffer, start, closing.start() + 1):
            return *decoded, closing.end(), True
    limit = closing.start() + 1 if closing is not None else len(buffer)
    for record_end in _RECORD_ENDS:
        for begin in (max(start, limit - _TAIL_SEARCHED), start):
            candidates = list(record_end.finditer(buffer, begin, limit))
            for match in reversed(candidates[-_CUTS_TRIED:]):
                if decoded := _decoded(buffer, start, match.start() + 1):
                    return *decoded, match.end(), False
            if candidates:
                break
    return None


def _decoded(buffer: bytes, start: int, end: int) -> tuple[bytes, list[msgspec.Raw]] | None:
    text = b"[" + buffer[start:end] + b"]"
    try:
        return text, _RAW_RECORDS.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return None


def _scan_piece(text: bytes, raws: list[msgspec.Raw], scan: FileScan, index: QueryIndex) -> None:
    if raws and max(map(len, raws)) > MAX_RECORD_BYTES:
        raise _NotSimple("a record over MAX_RECORD_BYTES")  # the exact reader stops the file, naming the record
    first_record = scan.records + 1
    scan.records += len(raws)
    answered = index.answered
    for number, fields in enumerate(_RECORD_FIELDS.decode(text), first_record):  # typed: skips unread fields
        scan.note_time(fields.eventTime)
        identity = fields.userIdentity
        if queries := answered(fields.eventName, identity.type if identity is not None else None):
            record = _ANY.decode(raws[number - first_record])
            scan.note_match(f"{scan.file}:record {number}", record, queries)
