"""The evidence locker: every collected item, redacted, content-addressed and hash-chained.

Rows live in SQLite (WAL mode, so readers never block the writer) and are append-only: there is no update
or delete code path, and triggers refuse both. Each row's ``record_hash`` covers its fields and the previous
row's hash (``prev_hash``), so ``verify()`` can name every item that was edited, removed or moved. The data
itself is a blob at ``blobs_dir/<sha256[:2]>/<sha256>``, stored as canonical JSON (or UTF-8 text), and its
sha256 is checked on every read.

``seq`` is the item's position. It is not part of the record hash: order is authenticated by the chain of
``prev_hash`` links, which lets verify() tell a reordered item from an edited one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
from collections import Counter
from collections.abc import Container, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tools.chain import GENESIS, append_transaction, canonical_json, chain_hash, fields_except, sha256_hex
from tools.redact import redact

JSON_CONTENT = "application/json"
TEXT_CONTENT = "text/plain; charset=utf-8"
DEFAULT_TTL = timedelta(hours=24)
# The largest single evidence item: collectors bound what they keep, so more means a runaway input.
MAX_BLOB_BYTES = 256 * 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS evidence (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    tool TEXT NOT NULL,
    operation TEXT NOT NULL,
    params TEXT NOT NULL,
    collected_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    redactions TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    record_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS evidence_by_call ON evidence (tool, params, expires_at);
CREATE INDEX IF NOT EXISTS evidence_by_run ON evidence (run_id);
CREATE TRIGGER IF NOT EXISTS evidence_no_update BEFORE UPDATE ON evidence
BEGIN SELECT RAISE(ABORT, 'evidence is append-only: rows cannot be updated'); END;
CREATE TRIGGER IF NOT EXISTS evidence_no_delete BEFORE DELETE ON evidence
BEGIN SELECT RAISE(ABORT, 'evidence is append-only: rows cannot be deleted'); END;
"""

_COLUMNS = (
    "seq, id, run_id, source, tool, operation, params, collected_at, expires_at, sha256, size, content_type, "
    "redactions, prev_hash, record_hash"
)
_COLUMN_NAMES = tuple(_COLUMNS.split(", "))  # each one an EvidenceRecord field
_JSON_COLUMNS = ("params", "redactions")  # stored as canonical JSON text


class EvidenceNotFound(LookupError):
    pass


class EvidenceTooLarge(ValueError):
    """An item's stored form is larger than MAX_BLOB_BYTES; it is refused, not stored."""


class TamperedEvidence(Exception):
    """A stored item no longer matches its recorded hash (or its blob is gone)."""


@dataclass(frozen=True)
class EvidenceRecord:
    id: str  # the first 12 hex characters of record_hash; cited as [ev:<id>]
    seq: int
    run_id: str
    source: str
    tool: str
    operation: str
    params: dict[str, Any]
    collected_at: str  # UTC, ISO 8601
    expires_at: str
    sha256: str  # of the stored blob bytes
    size: int
    content_type: str
    redactions: dict[str, int]
    prev_hash: str
    record_hash: str

    def hashed_fields(self) -> dict[str, Any]:
        """What record_hash covers (with prev_hash): everything but the position and the hash itself."""
        return fields_except(self, "id", "seq", "prev_hash", "record_hash")

    @property
    def redaction_count(self) -> int:
        return sum(self.redactions.values())


@dataclass(frozen=True)
class Problem:
    item_id: str | None  # None only where a removed item's id cannot be known
    seq: int | None  # None where the position is unknown
    kind: str  # row_changed | blob_changed | blob_missing | removed | reordered
    detail: str


@dataclass(frozen=True)
class ExpectedHead:
    """A chain head noted outside the locker: by a finished run (runs.sqlite), or from a report (--head).

    The chain alone cannot show that items were cut from its end; a head noted elsewhere can.
    """

    record_hash: str
    seq: int | None = None
    noted_by: str = "--head"


@dataclass
class VerifyReport:
    items: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class LockerStats:
    items: int
    runs: int
    blobs: int  # distinct blobs: identical data is stored once
    stored_bytes: int  # sum of distinct blob sizes


def _utc_iso(moment: datetime) -> str:
    # One fixed format, so ISO strings compare in time order inside SQLite.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _encode(data: Any) -> tuple[bytes, str]:
    if isinstance(data, str):
        return data.encode("utf-8"), TEXT_CONTENT
    return canonical_json(data), JSON_CONTENT


def _decode(payload: bytes, content_type: str) -> Any:
    text = payload.decode("utf-8")
    return json.loads(text) if content_type == JSON_CONTENT else text


class EvidenceLocker:
    def __init__(self, db_path: Path, blobs_dir: Path, default_ttl: timedelta = DEFAULT_TTL) -> None:
        self.db_path = Path(db_path)
        self.blobs_dir = Path(blobs_dir)
        self.default_ttl = default_ttl
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.blobs_dir.mkdir(parents=True, exist_ok=True)
        # One connection per thread (sqlite3 connections must not be shared across threads); the append
        # lock keeps this process's writers in order, BEGIN IMMEDIATE does the same across processes.
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._append_lock = threading.Lock()
        self._connection().executescript(_SCHEMA)

    # -- connections ---------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def close(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> EvidenceLocker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write_transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return append_transaction(self._connection(), self._append_lock)

    # -- writing -------------------------------------------------------------------------------------

    def put(
        self,
        run_id: str,
        source: str,
        tool: str,
        operation: str,
        params: dict[str, Any],
        data: Any,
        ttl: timedelta | None = None,
    ) -> EvidenceRecord:
        """Redact, store the blob, append the row. Secrets never reach the blob, the params or the database."""
        redacted_data, data_redactions = redact(data)
        redacted_params, params_redactions = redact(params)
        redactions = dict(sorted((Counter(data_redactions) + Counter(params_redactions)).items()))
        payload, content_type = _encode(redacted_data)
        if len(payload) > MAX_BLOB_BYTES:
            raise EvidenceTooLarge(
                f"{tool}: evidence of {len(payload)} bytes is larger than {MAX_BLOB_BYTES} (MAX_BLOB_BYTES); not stored"
            )
        digest = sha256_hex(payload)
        self._write_blob(digest, payload)

        collected = datetime.now(UTC)
        with self._write_transaction() as connection:
            last = connection.execute("SELECT seq, record_hash FROM evidence ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
            unsealed = EvidenceRecord(
                id="",
                seq=seq,
                run_id=run_id,
                source=source,
                tool=tool,
                operation=operation,
                params=json.loads(canonical_json(redacted_params)),
                collected_at=_utc_iso(collected),
                expires_at=_utc_iso(collected + (ttl if ttl is not None else self.default_ttl)),
                sha256=digest,
                size=len(payload),
                content_type=content_type,
                redactions=redactions,
                prev_hash=prev_hash,
                record_hash="",
            )
            record_hash = chain_hash(prev_hash, unsealed.hashed_fields())
            record = replace(unsealed, id=record_hash[:12], record_hash=record_hash)
            connection.execute(f"INSERT INTO evidence ({_COLUMNS}) VALUES ({', '.join('?' * 15)})", _row_values(record))
        return record

    def _blob_path(self, digest: str) -> Path:
        return self.blobs_dir / digest[:2] / digest

    def _write_blob(self, digest: str, payload: bytes) -> None:
        path = self._blob_path(digest)
        if path.exists() and sha256_hex(path.read_bytes()) == digest:
            return  # content-addressed: the same bytes are already there (a tampered copy is replaced)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file in the same folder, then rename: readers see either no blob or the whole
        # blob. No fsync, matching SQLite's synchronous=NORMAL: a power cut can lose the newest items (which
        # verify() reports and a new run collects again), never corrupt older ones. fsync cost 4 ms a put.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(payload)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    # -- reading -------------------------------------------------------------------------------------

    def get(self, item_id: str) -> EvidenceRecord | None:
        row = self._connection().execute(f"SELECT {_COLUMNS} FROM evidence WHERE id = ?", (item_id,)).fetchone()
        return _record(row) if row else None

    def read(self, item_id: str) -> Any:
        """The stored (redacted) data of an item, after checking its blob against the recorded sha256."""
        record = self.get(item_id)
        if record is None:
            raise EvidenceNotFound(f"no evidence item {item_id!r} in {self.db_path}")
        return self.read_record(record)

    def read_record(self, record: EvidenceRecord) -> Any:
        return _decode(self.blob(record), record.content_type)

    def blob(self, record: EvidenceRecord) -> bytes:
        """The item's stored bytes (its sha256 is record.sha256), checked; TamperedEvidence if changed or gone."""
        path = self._blob_path(record.sha256)
        try:
            payload = path.read_bytes()
        except FileNotFoundError:
            raise TamperedEvidence(f"evidence {record.id}: blob {path} is missing") from None
        actual = sha256_hex(payload)
        if actual != record.sha256:
            raise TamperedEvidence(
                f"evidence {record.id}: blob {path} was changed (sha256 {actual}, recorded {record.sha256})"
            )
        return payload

    def list(
        self, run_id: str | None = None, tool: str | None = None, limit: int | None = None
    ) -> list[EvidenceRecord]:
        """Items in chain order; with a limit, the newest `limit` of them."""
        conditions, values = [], []
        if run_id is not None:
            conditions.append("run_id = ?")
            values.append(run_id)
        if tool is not None:
            conditions.append("tool = ?")
            values.append(tool)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        query = f"SELECT {_COLUMNS} FROM evidence {where} ORDER BY seq DESC"
        if limit is not None:
            query += " LIMIT ?"
            values.append(limit)
        rows = self._connection().execute(query, values).fetchall()
        return [_record(row) for row in reversed(rows)]

    def find_fresh(
        self,
        tool: str,
        params: dict[str, Any],
        now: datetime | None = None,
        *,
        max_age: timedelta | None = None,
        only_run: str | None = None,
        signed: Container[str] = (),
    ) -> EvidenceRecord | None:
        """The newest reusable item from the same tool with the same (redacted, canonical) params.

        Reusable: unexpired, collected less than `max_age` ago when one is given, and its record hash in
        `signed` (items a signed run collected: an item appended by anyone else is never reused). With
        `only_run`, only that run's own items are, whatever their age or signature (a resumed run that must
        not reuse older evidence; its own items are signed when it finishes).
        """
        redacted_params, _ = redact(params)
        now = now or datetime.now(UTC)
        if only_run is not None:
            condition, values = "run_id = ?", [only_run]
        else:
            oldest = now - max_age if max_age is not None else datetime.min.replace(tzinfo=UTC)
            condition, values = "expires_at > ? AND collected_at > ?", [_utc_iso(now), _utc_iso(oldest)]
        rows = self._connection().execute(
            f"SELECT {_COLUMNS} FROM evidence WHERE tool = ? AND params = ? AND {condition} ORDER BY seq DESC",
            (tool, canonical_json(redacted_params).decode(), *values),
        )
        for row in rows:
            record = _record(row)
            if only_run is not None or record.record_hash in signed:
                return record
        return None

    def head(self) -> EvidenceRecord | None:
        """The last item of the chain: recording its hash elsewhere lets a later verify() spot truncation."""
        row = self._connection().execute(f"SELECT {_COLUMNS} FROM evidence ORDER BY seq DESC LIMIT 1").fetchone()
        return _record(row) if row else None

    def count(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM evidence").fetchone()[0]

    def stats(self) -> LockerStats:
        items, runs = self._connection().execute("SELECT COUNT(*), COUNT(DISTINCT run_id) FROM evidence").fetchone()
        blobs, stored_bytes = (
            self._connection()
            .execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM (SELECT DISTINCT sha256, size FROM evidence)")
            .fetchone()
        )
        return LockerStats(items=items, runs=runs, blobs=blobs, stored_bytes=stored_bytes)

    # -- verifying -----------------------------------------------------------------------------------

    def verify(self, expected_heads: Iterable[ExpectedHead] = ()) -> VerifyReport:
        """Walk the chain and every blob; name each item that was changed, removed or moved.

        `expected_heads` are heads noted earlier (by finished runs, or from a report): items removed from
        the end of the chain, which leave no gap behind them, are found only against them.
        """
        rows = self._connection().execute(f"SELECT {_COLUMNS} FROM evidence ORDER BY seq").fetchall()
        records = [_record(row, strict=False) for row in rows]
        problems = [
            *_row_problems(records),
            *_order_problems(records),
            *self._blob_problems(records),
            *_head_problems(records, expected_heads),
        ]
        # A rewritten row can be reported twice (its own hash, and the next row's link to it): keep the first.
        unique: dict[tuple[str | None, int | None, str], Problem] = {}
        for problem in sorted(problems, key=lambda problem: problem.seq if problem.seq is not None else 1 << 62):
            unique.setdefault((problem.item_id, problem.seq, problem.kind), problem)
        return VerifyReport(items=len(records), problems=list(unique.values()))

    def unreferenced_blobs(self) -> list[Path]:
        """Blob files no item points to: left by rows that were deleted, or by a collection killed between
        writing its blob and its row. Not proof of tampering by itself, so verify() does not count them."""
        referenced = {row[0] for row in self._connection().execute("SELECT DISTINCT sha256 FROM evidence")}
        return sorted(
            path
            for path in self.blobs_dir.glob("??/*")
            if path.is_file() and not path.name.startswith(".tmp-") and path.name not in referenced
        )

    def _blob_problems(self, records: list[EvidenceRecord]) -> Iterator[Problem]:
        status: dict[str, str | None] = {}  # sha256 -> problem kind; identical data shares one blob
        for record in records:
            if record.sha256 not in status:
                status[record.sha256] = self._blob_problem(record.sha256)
            kind = status[record.sha256]
            if kind is not None:
                detail = "its blob is missing" if kind == "blob_missing" else "its blob bytes were changed"
                yield Problem(record.id, record.seq, kind, detail)

    def _blob_problem(self, digest: str) -> str | None:
        path = self._blob_path(digest)
        try:
            payload = path.read_bytes()
        except FileNotFoundError:
            return "blob_missing"
        return None if sha256_hex(payload) == digest else "blob_changed"


def _row_problems(records: list[EvidenceRecord]) -> Iterator[Problem]:
    """Rows whose fields no longer match their hash, and rows missing from the chain."""
    by_hash = {record.record_hash for record in records}
    previous: EvidenceRecord | None = None
    for record in records:
        if (
            chain_hash(record.prev_hash, record.hashed_fields()) != record.record_hash
            or record.id != record.record_hash[:12]
        ):
            yield Problem(record.id, record.seq, "row_changed", "its fields no longer match its record hash")
        expected_seq = previous.seq + 1 if previous else 1
        for missing_seq in range(expected_seq, record.seq):
            # The item just before this one is named by this one's prev_hash; earlier ones cannot be.
            missing_id = record.prev_hash[:12] if missing_seq == record.seq - 1 else None
            yield Problem(missing_id, missing_seq, "removed", f"seq {missing_seq} is missing before item {record.id}")
        if record.seq == expected_seq and record.prev_hash != GENESIS and record.prev_hash not in by_hash:
            if previous is not None:
                # It links to a hash no row has, with no gap in seq. Two tamperings look exactly alike here:
                # the linked item was deleted and the later rows renumbered, or the row before was rewritten
                # with a recomputed hash (which replaces the original item just the same). Name both.
                yield Problem(
                    record.prev_hash[:12],
                    None,
                    "removed",
                    f"item {record.id} (seq {record.seq}) links to item {record.prev_hash[:12]}, which is "
                    f"not in the chain: it was removed and the rows after it renumbered, or item "
                    f"{previous.id} (seq {previous.seq}) was rewritten in its place with a new hash",
                )
            else:
                yield Problem(
                    record.prev_hash[:12],
                    None,
                    "removed",
                    f"the start of the chain, before item {record.id}, is missing",
                )
        previous = record


def _head_problems(records: list[EvidenceRecord], expected_heads: Iterable[ExpectedHead]) -> Iterator[Problem]:
    """Heads noted earlier that the chain no longer holds (at their position, where that was noted)."""
    by_hash = {record.record_hash: record for record in records}
    for head in expected_heads:
        found = by_hash.get(head.record_hash)
        if found is None:
            where = f" at seq {head.seq}" if head.seq is not None else ""
            yield Problem(
                head.record_hash[:12],
                head.seq,
                "removed",
                f"the chain head noted by {head.noted_by}{where} is not in the chain: the chain was cut "
                "short or rewritten",
            )
        elif head.seq is not None and found.seq != head.seq:
            yield Problem(
                found.id,
                found.seq,
                "reordered",
                f"{head.noted_by} noted it as the chain head at seq {head.seq}, but it sits at seq {found.seq}",
            )


def _order_problems(records: list[EvidenceRecord]) -> Iterator[Problem]:
    """Items whose seq differs from their place along the chain of prev_hash links."""
    by_hash = {record.record_hash: record for record in records}
    successor = {record.prev_hash: record for record in records}
    place: dict[str, int] = {}
    for start in records:
        # Segments start at the genesis or after a link to a missing row (reported as removed above).
        if start.prev_hash in by_hash:
            continue
        expected, current = (1 if start.prev_hash == GENESIS else start.seq), start
        while current is not None and current.id not in place:
            place[current.id] = expected
            expected += 1
            current = successor.get(current.record_hash)
    for record in records:
        if place.get(record.id) == record.seq:
            continue
        linked = by_hash.get(record.prev_hash)
        after = f"after item {linked.id} (seq {linked.seq})" if linked else "first"
        yield Problem(record.id, record.seq, "reordered", f"the chain puts it {after}, but it sits at seq {record.seq}")


def _row_values(record: EvidenceRecord) -> tuple[Any, ...]:
    return tuple(
        canonical_json(getattr(record, name)).decode() if name in _JSON_COLUMNS else getattr(record, name)
        for name in _COLUMN_NAMES
    )


def _json_or_text(text: str) -> Any:
    """A stored JSON column, or its raw text where someone made it invalid (its hash then fails)."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _record(row: tuple[Any, ...], *, strict: bool = True) -> EvidenceRecord:
    """A row as a record; `strict=False` (verify) keeps an unparsable column as text instead of raising."""
    load = json.loads if strict else _json_or_text
    values = zip(_COLUMN_NAMES, row, strict=True)
    return EvidenceRecord(**{name: load(value) if name in _JSON_COLUMNS else value for name, value in values})
