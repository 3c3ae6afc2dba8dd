"""The run store: every run, its plans, per-control results and reasoning, in SQLite (WAL).

One connection per RunStore, shared by the parallel control branches under a lock (opening one per call
cost more than the writes); WAL lets the TUI read while a run writes. synchronous=NORMAL: in WAL mode a
commit survives the process being killed (kill -9 keeps every saved control result); only a power cut
may lose the last commits, and the database stays consistent.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from agent.report_schema import ControlResult, EvidenceHead, WriterInfo
from tools.redact import redact
from tools.sources import SourceProblem

RunStatus = Literal["running", "completed", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    writer_provider TEXT NOT NULL,
    writer_model TEXT NOT NULL,
    control_ids TEXT NOT NULL,
    error TEXT
);
CREATE TABLE IF NOT EXISTS plans (
    run_id TEXT NOT NULL REFERENCES runs(id),
    control_id TEXT NOT NULL,
    plan TEXT NOT NULL,
    tool_calls TEXT NOT NULL,
    PRIMARY KEY (run_id, control_id)
);
CREATE TABLE IF NOT EXISTS control_results (
    run_id TEXT NOT NULL REFERENCES runs(id),
    control_id TEXT NOT NULL,
    result TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (run_id, control_id)
);
CREATE TABLE IF NOT EXISTS reasoning (
    run_id TEXT NOT NULL REFERENCES runs(id),
    control_id TEXT NOT NULL,
    reasoning TEXT NOT NULL,
    PRIMARY KEY (run_id, control_id)
);
CREATE TABLE IF NOT EXISTS evidence_heads (
    run_id TEXT PRIMARY KEY REFERENCES runs(id),
    seq INTEGER NOT NULL,
    record_hash TEXT NOT NULL,
    noted_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS source_problems (
    run_id TEXT NOT NULL REFERENCES runs(id),
    source TEXT NOT NULL,
    cause TEXT NOT NULL,
    fix TEXT NOT NULL,
    PRIMARY KEY (run_id, source, cause)
);
CREATE TABLE IF NOT EXISTS run_signatures (
    run_id TEXT PRIMARY KEY REFERENCES runs(id),
    payload TEXT NOT NULL,
    signature TEXT NOT NULL,
    head_line TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id),
    at TEXT NOT NULL,
    control_id TEXT,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
-- Two caches, each row signed with the run's key (agent/history.py, agent/nodes.py): whoever can write this file
-- cannot sign, so a row changed behind the tool's back does not verify, is never read, and is built again from
-- what it caches. (Their unsigned predecessors, run_digests and verdicts, are dropped: caches, rebuilt on use.)
-- A digest of each finished run's report, so history and observation periods never read the reports themselves:
-- summary, per-control finding counts and exceptions, each JSON. source_stamp names the report.json it was
-- built from (a changed report gets a new digest); details_sha256 is of the controls and exceptions texts, so
-- the signature over the summary row is checked without reading them.
DROP TABLE IF EXISTS run_digests;
CREATE TABLE IF NOT EXISTS signed_digests (
    run_id TEXT PRIMARY KEY REFERENCES runs(id),
    source_stamp TEXT NOT NULL,
    summary TEXT NOT NULL,
    controls TEXT NOT NULL,
    exceptions TEXT NOT NULL,
    details_sha256 TEXT NOT NULL,
    signature TEXT NOT NULL
);
-- Each control's latest verifier verdict (VerifierResult JSON) with the sha256 of everything it read
-- (agent/verifier.py verification_digest): a run whose draft and context are identical reuses it.
DROP TABLE IF EXISTS verdicts;
CREATE TABLE IF NOT EXISTS signed_verdicts (
    control_id TEXT PRIMARY KEY,
    inputs_sha256 TEXT NOT NULL,
    verdict TEXT NOT NULL,
    signature TEXT NOT NULL
);
"""


def new_run_id() -> str:
    """Sortable and unique: `20250101T120000Z-3fa2c1`."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoredDigest:
    """One run's digest as stored: the JSON texts agent/history.py writes, signs and reads."""

    run_id: str
    source_stamp: str
    summary: str
    controls: str
    exceptions: str
    details_sha256: str
    signature: str


@dataclass(frozen=True)
class StoredVerdict:
    """A control's cached verifier verdict as stored: agent/nodes.py writes, signs and reads it."""

    control_id: str
    inputs_sha256: str
    verdict: str  # VerifierResult JSON
    signature: str

    def signed_payload(self) -> dict[str, str]:
        """What its signature covers: the control, everything the verifier read (its hash) and the verdict."""
        return {"control_id": self.control_id, "inputs_sha256": self.inputs_sha256, "verdict": self.verdict}


@dataclass(frozen=True)
class RunRecord:
    id: str
    started_at: datetime
    finished_at: datetime | None
    trigger: str
    status: RunStatus
    writer: WriterInfo
    control_ids: list[str]
    error: str | None


_RESULT_OF_CONTROL = "SELECT result FROM control_results WHERE run_id = ? AND control_id = ?"


class RunStore:
    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.db_path, timeout=30, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._started: dict[str, datetime] = {}  # run id -> started_at
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:  # one transaction per call, one call at a time
            yield self._db

    def _one(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Row | None:
        """The first row the query answers, or None."""
        with self._connect() as db:
            return db.execute(sql, params).fetchone()

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._connect() as db:
            return db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- runs ------------------------------------------------------------------------------------

    def start(self, run_id: str, *, trigger: str, writer: WriterInfo, control_ids: list[str]) -> RunRecord:
        with self._connect() as db:
            db.execute(
                "INSERT INTO runs (id, started_at, trigger, status, writer_provider, writer_model, control_ids) "
                "VALUES (?, ?, ?, 'running', ?, ?, ?)",
                (run_id, now().isoformat(), trigger, writer.provider, writer.model, json.dumps(control_ids)),
            )
        return self.get(run_id)  # type: ignore[return-value]

    def restart(self, run_id: str) -> None:
        """Mark an interrupted run as running again (`--resume`)."""
        with self._connect() as db:
            db.execute("UPDATE runs SET status = 'running', error = NULL, finished_at = NULL WHERE id = ?", (run_id,))

    def finish(self, run_id: str, status: RunStatus, error: str | None = None) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE id = ?",
                (status, now().isoformat(), error, run_id),
            )

    def get(self, run_id: str) -> RunRecord | None:
        row = self._one("SELECT * FROM runs WHERE id = ?", (run_id,))
        return _record(row) if row else None

    def started_at(self, run_id: str) -> datetime | None:
        """When the run started. It never changes, so each control's steps ask the database once per run."""
        if run_id not in self._started:
            record = self.get(run_id)
            if record is None:
                return None
            self._started[run_id] = record.started_at
        return self._started[run_id]

    def runs(self, limit: int = 50) -> list[RunRecord]:
        rows = self._all("SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT ?", (limit,))
        return [_record(row) for row in rows]

    def resumable(self) -> RunRecord | None:
        """The newest run that did not complete (killed or failed), if it is the newest run."""
        latest = self.runs(limit=1)
        return latest[0] if latest and latest[0].status != "completed" and latest[0].trigger != "regenerate" else None

    def note_evidence_head(self, run_id: str, seq: int, record_hash: str) -> None:
        """The evidence chain's last item when the run finished: `auditor verify` checks it is still there."""
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO evidence_heads (run_id, seq, record_hash, noted_at) VALUES (?, ?, ?, ?)",
                (run_id, seq, record_hash, now().isoformat()),
            )

    def note_chain_head(self, run_id: str, locker: Any) -> EvidenceHead | None:
        """Note the locker's current head (an `EvidenceLocker`) for this run; returns it for the report."""
        head = locker.head()
        if head is None:
            return None
        self.note_evidence_head(run_id, head.seq, head.record_hash)
        return EvidenceHead(seq=head.seq, record_hash=head.record_hash)

    def evidence_heads(self) -> list[tuple[str, int, str]]:
        """(run id, seq, record hash) for every finished run that noted one, oldest first."""
        rows = self._all("SELECT run_id, seq, record_hash FROM evidence_heads ORDER BY seq")
        return [(row["run_id"], row["seq"], row["record_hash"]) for row in rows]

    def save_signed_record(self, run_id: str, payload: str, signature: str, head_line: str) -> None:
        """The run's signed record (agent/integrity.py): canonical JSON, its base64 ed25519 signature, and
        the signed head line printed for the CI log."""
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO run_signatures (run_id, payload, signature, head_line) VALUES (?, ?, ?, ?)",
                (run_id, payload, signature, head_line),
            )

    def head_line(self, run_id: str) -> str | None:
        row = self._one("SELECT head_line FROM run_signatures WHERE run_id = ?", (run_id,))
        return row["head_line"] if row else None

    def signed_records(self) -> list[tuple[str, str, str]]:
        """(run id, payload, signature) of every signed run, in the order they were signed."""
        rows = self._all("SELECT run_id, payload, signature FROM run_signatures ORDER BY rowid")
        return [(row["run_id"], row["payload"], row["signature"]) for row in rows]

    def result_texts(self, run_id: str) -> dict[str, str]:
        """Each control's stored result JSON, as stored (what a run's signature covers)."""
        rows = self._all("SELECT control_id, result FROM control_results WHERE run_id = ?", (run_id,))
        return {row["control_id"]: row["result"] for row in rows}

    # -- per control ---------------------------------------------------------------------------------

    def save_plan(
        self, run_id: str, control_id: str, plan: list[dict[str, Any]], tool_calls: list[dict[str, Any]]
    ) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO plans (run_id, control_id, plan, tool_calls) VALUES (?, ?, ?, ?)",
                (run_id, control_id, json.dumps(plan, default=str), json.dumps(tool_calls, default=str)),
            )

    def save_result(
        self,
        run_id: str,
        result: ControlResult,
        reasoning: dict[str, Any],
        events: Iterable[dict[str, Any]] = (),
    ) -> ControlResult | None:
        """Store a control's result, its reasoning and its events (`kind`, `control_id`, `message`) in one
        transaction. A result the run holds already for the control (saved by a step killed before its
        checkpoint was written) is kept: it is returned, and nothing is stored."""
        result_json = result.model_dump_json(by_alias=True)
        # The model's reasoning may quote evidence or a prompt: stored only redacted.
        reasoning_json = json.dumps(redact(reasoning).data)
        with self._connect() as db:
            saved = db.execute(_RESULT_OF_CONTROL, (run_id, result.id)).fetchone()
            if saved:
                return ControlResult.model_validate_json(saved["result"])
            db.execute(
                "INSERT OR REPLACE INTO control_results (run_id, control_id, result, saved_at) VALUES (?, ?, ?, ?)",
                (run_id, result.id, result_json, now().isoformat()),
            )
            db.execute(
                "INSERT OR REPLACE INTO reasoning (run_id, control_id, reasoning) VALUES (?, ?, ?)",
                (run_id, result.id, reasoning_json),
            )
            db.executemany(
                "INSERT INTO events (run_id, at, control_id, kind, message) VALUES (?, ?, ?, ?, ?)",
                [(run_id, now().isoformat(), e.get("control_id"), e["kind"], e["message"]) for e in events],
            )
        return None

    def results(self, run_id: str) -> list[ControlResult]:
        rows = self._all("SELECT result FROM control_results WHERE run_id = ? ORDER BY control_id", (run_id,))
        return [ControlResult.model_validate_json(row["result"]) for row in rows]

    def result(self, run_id: str, control_id: str) -> ControlResult | None:
        row = self._one(_RESULT_OF_CONTROL, (run_id, control_id))
        return ControlResult.model_validate_json(row["result"]) if row else None

    def plan(self, run_id: str, control_id: str) -> dict[str, Any] | None:
        row = self._one("SELECT plan, tool_calls FROM plans WHERE run_id = ? AND control_id = ?", (run_id, control_id))
        return {"plan": json.loads(row["plan"]), "tool_calls": json.loads(row["tool_calls"])} if row else None

    def reasoning(self, run_id: str, control_id: str) -> dict[str, Any] | None:
        row = self._one("SELECT reasoning FROM reasoning WHERE run_id = ? AND control_id = ?", (run_id, control_id))
        return json.loads(row["reasoning"]) if row else None

    def note_source_problem(self, run_id: str, problem: SourceProblem) -> None:
        """A source the run could not read: kept so that a resumed run still reports it."""
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO source_problems (run_id, source, cause, fix) VALUES (?, ?, ?, ?)",
                (run_id, problem.source, problem.cause, problem.fix),
            )

    def source_problems(self, run_id: str) -> list[SourceProblem]:
        """What the run met so far; none blocks its source again (the cause may be fixed before a resume)."""
        rows = self._all("SELECT source, cause, fix FROM source_problems WHERE run_id = ? ORDER BY rowid", (run_id,))
        return [SourceProblem(row["source"], row["cause"], row["fix"]) for row in rows]

    def events(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._all("SELECT at, control_id, kind, message FROM events WHERE run_id = ? ORDER BY seq", (run_id,))
        return [dict(row) for row in rows]

    # -- signed caches: digests (agent/history.py) and verdicts (agent/nodes.py) ---------------------------

    def save_digest(self, digest: StoredDigest) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO signed_digests (run_id, source_stamp, summary, controls, exceptions, "
                "details_sha256, signature) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    digest.run_id,
                    digest.source_stamp,
                    digest.summary,
                    digest.controls,
                    digest.exceptions,
                    digest.details_sha256,
                    digest.signature,
                ),
            )

    def digests(self, run_ids: list[str], *, with_details: bool = True) -> dict[str, StoredDigest]:
        """The stored digests of these runs by run id; without details only the summaries are read (controls
        and exceptions are left empty)."""
        details = "controls, exceptions" if with_details else "'' AS controls, '' AS exceptions"
        rows = self._all(
            f"SELECT run_id, source_stamp, summary, {details}, details_sha256, signature FROM signed_digests "
            "WHERE run_id IN (SELECT value FROM json_each(?))",  # one parameter, however many runs
            (json.dumps(run_ids),),
        )
        return {row["run_id"]: StoredDigest(*row) for row in rows}

    def verdict(self, control_id: str) -> StoredVerdict | None:
        row = self._one("SELECT * FROM signed_verdicts WHERE control_id = ?", (control_id,))
        return StoredVerdict(**row) if row else None

    def verdicts(self) -> list[StoredVerdict]:
        return [StoredVerdict(**row) for row in self._all("SELECT * FROM signed_verdicts ORDER BY control_id")]

    def save_verdict(self, verdict: StoredVerdict) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO signed_verdicts (control_id, inputs_sha256, verdict, signature) "
                "VALUES (?, ?, ?, ?)",
                (verdict.control_id, verdict.inputs_sha256, verdict.verdict, verdict.signature),
            )


def _record(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        started_at=datetime.fromisoformat(row["started_at"]),
        finished_at=datetime.fromisoformat(row["finished_at"]) if row["finished_at"] else None,
        trigger=row["trigger"],
        status=row["status"],
        writer=WriterInfo(provider=row["writer_provider"], model=row["writer_model"]),
        control_ids=json.loads(row["control_ids"]),
        error=row["error"],
    )
