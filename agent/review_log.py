"""The review log: every reviewer decision, append-only and hash-chained, and what it means now.

Decisions (approve, reject, edit, regenerate, attach) are rows in SQLite (WAL) at `workspace.review_db`.
Triggers refuse UPDATE and DELETE, and each row's hash covers its content and the previous row's hash
(tools/chain.py), so a row changed behind SQLite's back breaks the chain and `verify()` names it.

Edited and regenerated drafts are kept in a second insert-only table, `draft_records`, keyed by the
hash of the whole draft (text, verifier result, findings, evidence, provenance: everything approval
and the derived state rest on). The decision row records that hash in its `detail` (`draft_hash`),
so the chain covers the draft's contents: a draft changed in SQLite no longer matches its row, `verify()`
names the row, and the session does not use it.

Logs written before drafts were chained keep theirs in the `drafts` table, keyed by the hash of the
text only: they stay readable, and `verify()` checks their text as before (their verifier result and
findings are not covered by the chain).

Each decision is signed by the workspace key (tools/signing.py) in `review_signatures`: the signature
covers the row's seq and chain hash (so its reviewer, action and draft) and the OS user who made it. A row
without a signature, or signed by another key, is named by `verify_signatures`; with `anchors`, the new
head is also appended outside the workspace, which is what shows a row cut from the end.

The review state of a control is never stored: `derive_review` replays the log over the latest
report. An approval holds only while the text and the evidence it saw are unchanged. `apply_review`
puts that state into a report (`ControlResult.review`), for `auditor report` and for the run that
writes one; `approved_attachments` gives the manual evidence reviewers accepted, with its period.
"""

from __future__ import annotations

import getpass
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Self

from agent.report_schema import Attachment, ControlResult, ExceptionResponse, ReadinessReport, ReviewState
from tools.chain import GENESIS, append_transaction, canonical_json, chain_hash, fields_except, sha256_hex
from tools.config import date_range
from tools.signing import PublicKey, Signer

Action = Literal["approve", "reject", "edit", "regenerate", "attach", "respond"]
ACTIONS: tuple[Action, ...] = ("approve", "reject", "edit", "regenerate", "attach", "respond")
# The TUI's view of a draft; the report states it as a ReviewState (see review_state).
DraftState = Literal["draft", "approved", "rejected", "stale"]

# PRAGMA user_version of a log this code writes. 0: a log from before versions were kept, whose CHECK
# constraint may not know `respond` (see _migrate); 1: its CHECK lists every action in ACTIONS.
SCHEMA_VERSION = 1
# The review_log table's columns in order, each with its SQL declaration; LogEntry has a field of each name.
_COLUMN_DECLARATIONS = {
    "seq": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "at": "TEXT NOT NULL",
    "reviewer": "TEXT NOT NULL",
    "action": "TEXT NOT NULL CHECK (action IN (" + ", ".join(f"'{action}'" for action in ACTIONS) + "))",
    "control_id": "TEXT NOT NULL",
    "run_id": "TEXT NOT NULL",
    "before_hash": "TEXT NOT NULL",
    "after_hash": "TEXT NOT NULL",
    "evidence_hash": "TEXT NOT NULL",
    "reason": "TEXT",
    "detail": "TEXT NOT NULL",
    "prev_hash": "TEXT NOT NULL",
    "hash": "TEXT NOT NULL UNIQUE",
}
_COLUMNS = ", ".join(_COLUMN_DECLARATIONS)
_INSERT_ENTRY = f"INSERT INTO review_log ({_COLUMNS}) VALUES ({', '.join('?' * len(_COLUMN_DECLARATIONS))})"


def _review_log_table(name: str) -> str:
    columns = ",\n".join(f"    {column} {declaration}" for column, declaration in _COLUMN_DECLARATIONS.items())
    return f"\nCREATE TABLE IF NOT EXISTS {name} (\n{columns}\n);\n"


_TABLES = (
    _review_log_table("review_log")
    + """
CREATE INDEX IF NOT EXISTS review_log_control ON review_log (control_id, seq);

CREATE TABLE IF NOT EXISTS review_signatures (
    seq INTEGER PRIMARY KEY,
    os_user TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS drafts (
    text_hash TEXT PRIMARY KEY,
    control_id TEXT NOT NULL,
    control_json TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS draft_records (
    draft_hash TEXT PRIMARY KEY,
    control_id TEXT NOT NULL,
    control_json TEXT NOT NULL
);
"""
)


def _refuse_changes(table: str, refusal: str) -> str:
    """Triggers that make SQLite itself refuse any UPDATE or DELETE of the table's rows, saying `refusal`."""
    return "".join(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table}\n"
        f"BEGIN SELECT RAISE(ABORT, '{refusal}: {verb} refused'); END;\n"
        for verb in ("UPDATE", "DELETE")
    )


_SCHEMA = (
    _TABLES
    + _refuse_changes("review_log", "the review log is append-only")
    + _refuse_changes("review_signatures", "review signatures are insert-only")
    + _refuse_changes("drafts", "drafts are insert-only")
    + _refuse_changes("draft_records", "drafts are insert-only")
)


class ReviewLogError(Exception):
    """The review log cannot be opened or written."""


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring a log written by an older version up to SCHEMA_VERSION, in place and in one transaction.

    SQLite cannot change a CHECK constraint, so a review_log whose CHECK misses an action is rebuilt:
    the rows are copied unchanged (same seq, hashes and detail), so the hash chain and the signatures
    (keyed by seq, in their own table) stay valid. DROP TABLE fires no DELETE trigger; _SCHEMA then
    puts the index and the append-only triggers back on the new table."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ReviewLogError(
            f"{path}: the review log has schema version {version}, newer than this auditor's {SCHEMA_VERSION}; "
            "upgrade agentic-auditor to read it"
        )
    if version == SCHEMA_VERSION:
        return
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'review_log'").fetchone()
    rebuild = ""
    if row is not None and not all(f"'{action}'" in row[0] for action in ACTIONS):
        rebuild = (
            "DROP TABLE IF EXISTS review_log_migrating;"
            + _review_log_table("review_log_migrating")
            + f"INSERT INTO review_log_migrating ({_COLUMNS}) SELECT {_COLUMNS} FROM review_log;"
            "DROP TABLE review_log;"
            "ALTER TABLE review_log_migrating RENAME TO review_log;"
        )
    try:
        db.executescript(f"BEGIN IMMEDIATE; {rebuild} {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
    except sqlite3.DatabaseError as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise ReviewLogError(
            f"{path}: cannot upgrade the review log to schema version {SCHEMA_VERSION}: {exc}"
        ) from exc


def text_hash(text: str) -> str:
    return sha256_hex(text.encode("utf-8"))


def draft_hash(control_json: str) -> str:
    """The hash of a stored draft: of its canonical JSON, so it covers every field and not the formatting."""
    return sha256_hex(canonical_json(json.loads(control_json)))


def evidence_fingerprint(control: ControlResult) -> str:
    """One hash over every evidence id the control's findings and narrative rest on."""
    ids = set(control.narrative.provenance.evidence_ids)
    for finding in control.findings:
        ids.update(finding.evidence_ids)
    return sha256_hex(canonical_json(sorted(ids)))


@dataclass(frozen=True)
class LogEntry:
    seq: int
    at: str  # ISO 8601, UTC
    reviewer: str
    action: Action
    control_id: str
    run_id: str
    before_hash: str
    after_hash: str
    evidence_hash: str
    reason: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def payload(self) -> dict[str, Any]:
        """What the row's hash covers: everything but the hashes of the chain itself."""
        return fields_except(self, "prev_hash", "hash")

    def row(self) -> tuple[Any, ...]:
        """The entry as a review_log row: its fields in _COLUMNS order, detail as JSON."""
        return tuple(
            json.dumps(self.detail, sort_keys=True) if column == "detail" else getattr(self, column)
            for column in _COLUMN_DECLARATIONS
        )

    @property
    def draft_key(self) -> str:
        """Where the row's draft is kept: its chained draft hash, or (older logs) the hash of its text."""
        return str(self.detail.get("draft_hash") or self.after_hash)


@dataclass(frozen=True)
class ChainReport:
    entries: int
    problems: list[str] = field(default_factory=list)
    broken_rows: frozenset[int] = frozenset()  # seq of each row a problem names

    @property
    def ok(self) -> bool:
        return not self.problems


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ReviewLog:
    """The append-only decision record in `review.sqlite`."""

    def __init__(
        self,
        path: Path,
        clock: Callable[[], datetime] | None = None,
        *,
        signer: Signer | None = None,
        anchors: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.clock = clock or _utc_now  # stamps entries; the session dates an attachment's default period by it
        self.signer = signer  # without one, appended decisions are unsigned (and `verify_signatures` says so)
        self.anchors = anchors  # called with each new signed head, to keep it outside the workspace
        # One connection shared by the UI thread and workers: the lock serialises its use.
        self._lock = threading.RLock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ReviewLogError(f"{self.path}: cannot open the review log: {exc}") from exc
        try:
            _migrate(self._db, self.path)
        except ReviewLogError:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return append_transaction(self._db, self._lock)

    def append(
        self,
        *,
        reviewer: str,
        action: Action,
        control_id: str,
        run_id: str,
        before_hash: str,
        after_hash: str,
        evidence_hash: str,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
        draft: ControlResult | None = None,
    ) -> LogEntry:
        """Record one decision; `draft` is the new text's control for edit and regenerate."""
        if action not in ACTIONS:
            raise ReviewLogError(f"unknown review action {action!r}")
        if action in ("edit", "regenerate") and draft is None:
            raise ReviewLogError(f"a {action} decision needs the new draft")
        draft_json = draft.model_dump_json() if draft is not None else None
        if draft_json is not None:
            # The row's hash covers the draft's hash, so the chain covers the draft's contents.
            detail = {**(detail or {}), "draft_hash": draft_hash(draft_json)}
        with self._write() as db:
            head = db.execute("SELECT seq, hash FROM review_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS)
            entry = LogEntry(
                seq=seq,
                at=self.clock().astimezone(UTC).isoformat(timespec="seconds"),
                reviewer=reviewer,
                action=action,
                control_id=control_id,
                run_id=run_id,
                before_hash=before_hash,
                after_hash=after_hash,
                evidence_hash=evidence_hash,
                reason=reason,
                detail=detail or {},
                prev_hash=prev_hash,
                hash="",
            )
            entry = LogEntry(**{**entry.__dict__, "hash": chain_hash(prev_hash, entry.payload())})
            if draft_json is not None:
                db.execute(
                    "INSERT OR IGNORE INTO draft_records (draft_hash, control_id, control_json) VALUES (?, ?, ?)",
                    (entry.draft_key, control_id, draft_json),
                )
            db.execute(_INSERT_ENTRY, entry.row())
            if self.signer is not None:
                os_user = getpass.getuser()
                db.execute(
                    "INSERT INTO review_signatures (seq, os_user, key_id, signature) VALUES (?, ?, ?, ?)",
                    (
                        entry.seq,
                        os_user,
                        self.signer.public.key_id,
                        self.signer.sign(_signed_decision(entry.seq, entry.hash, os_user)),
                    ),
                )
        if self.signer is not None and self.anchors is not None:
            self.anchors({"review": [entry.seq, entry.hash]})
        return entry

    def head(self) -> tuple[int, str] | None:
        """(seq, hash) of the newest decision: signed into each run's record, so a later cut shows."""
        with self._lock:
            row = self._db.execute("SELECT seq, hash FROM review_log ORDER BY seq DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else None

    def verify_signatures(self, public: PublicKey) -> list[str]:
        """Decisions not signed by `public`: appended without the key, with another key, or re-chained."""
        return list(self.signature_problems(public).values())

    def signature_problems(self, public: PublicKey) -> dict[int, str]:
        """`verify_signatures` by seq: what is wrong with each decision whose signature does not verify."""
        with self._lock:
            signed = {
                row[0]: row[1:]
                for row in self._db.execute("SELECT seq, os_user, key_id, signature FROM review_signatures")
            }
        problems = {}
        for entry in self.entries():
            if entry.seq not in signed:
                problems[entry.seq] = (
                    f"row {entry.seq}: {entry.action} by {entry.reviewer!r} is not signed (appended "
                    "without the workspace key)"
                )
                continue
            os_user, key_id, signature = signed[entry.seq]
            if not public.verifies(_signed_decision(entry.seq, entry.hash, os_user), signature):
                problems[entry.seq] = (
                    f"row {entry.seq}: {entry.action} by {entry.reviewer!r} (OS user {os_user}) has a "
                    f"signature that does not verify with key {public.key_id} (signed by key {key_id}, "
                    "or the row was re-chained)"
                )
        return problems

    def os_users(self) -> dict[int, str]:
        """By seq, the OS user each signed decision names (signed with it: `verify_signatures` checks)."""
        with self._lock:
            return dict(self._db.execute("SELECT seq, os_user FROM review_signatures").fetchall())

    def entries(self, control_id: str | None = None) -> list[LogEntry]:
        query = "SELECT * FROM review_log"
        params: tuple[str, ...] = ()
        if control_id is not None:
            query += " WHERE control_id = ?"
            params = (control_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY seq", params).fetchall()
        return [_entry_from_row(row) for row in rows]

    def _draft_rows(self) -> tuple[dict[str, str], dict[str, str]]:
        """(chained drafts by draft hash, older drafts by text hash), as stored."""
        with self._lock:
            chained = self._db.execute("SELECT draft_hash, control_json FROM draft_records").fetchall()
            legacy = self._db.execute("SELECT text_hash, control_json FROM drafts").fetchall()
        return dict(chained), dict(legacy)

    def drafts(self) -> dict[str, ControlResult]:
        """Drafts by `LogEntry.draft_key`; a draft that no longer matches its hash is left out (`verify()` names it)."""
        chained, legacy = self._draft_rows()
        drafts: dict[str, ControlResult] = {}
        for key, raw in legacy.items():
            control = _parse_draft(raw)
            if control is not None and text_hash(control.narrative.text) == key:
                drafts[key] = control
        for key, raw in chained.items():
            control = _parse_draft(raw) if _draft_matches(key, raw) else None
            if control is not None:
                drafts[key] = control
        return drafts

    def verify(self) -> ChainReport:
        """Recompute the chain; every row whose hash, link or draft does not match is a problem."""
        problems: list[str] = []
        broken: set[int] = set()

        def problem(seq: int, text: str) -> None:
            problems.append(f"row {seq}: {text}")
            broken.add(seq)

        prev_hash = GENESIS
        entries = self.entries()
        for expected_seq, entry in enumerate(entries, start=1):
            if entry.seq != expected_seq:
                problem(entry.seq, f"expected sequence number {expected_seq} (a row is missing)")
            if entry.prev_hash != prev_hash:
                problem(entry.seq, "does not link to the previous row's hash")
            if chain_hash(entry.prev_hash, entry.payload()) != entry.hash:
                problem(entry.seq, "content does not match its hash (the row was altered)")
            prev_hash = entry.hash
        chained, legacy = self._draft_rows()
        for entry in entries:
            if entry.action not in ("edit", "regenerate"):
                continue
            key = entry.detail.get("draft_hash")
            raw = chained.get(key) if key else legacy.get(entry.after_hash)
            if raw is None:
                problem(entry.seq, f"its draft {entry.draft_key[:12]} is missing")
                continue
            if key and not _draft_matches(key, raw):
                problem(
                    entry.seq,
                    "its stored draft was altered (its fields, e.g. the verifier result, no longer "
                    "match the hash the chain recorded)",
                )
                continue
            draft = _parse_draft(raw)
            if draft is None:
                problem(entry.seq, "its stored draft cannot be read")
            elif text_hash(draft.narrative.text) != entry.after_hash:
                problem(entry.seq, "its draft text was altered")
        return ChainReport(entries=len(entries), problems=problems, broken_rows=frozenset(broken))


def _signed_decision(seq: int, row_hash: str, os_user: str) -> dict[str, Any]:
    return {"format": "agentic-auditor/review-decision/1", "seq": seq, "hash": row_hash, "os_user": os_user}


def _draft_matches(key: str, raw: str) -> bool:
    try:
        return draft_hash(raw) == key
    except ValueError:  # not JSON any more
        return False


def _parse_draft(raw: str) -> ControlResult | None:
    try:
        return ControlResult.model_validate_json(raw)
    except ValueError:
        return None


def _entry_from_row(row: tuple[Any, ...]) -> LogEntry:
    (seq, at, reviewer, action, control_id, run_id, before, after, evidence, reason, detail, prev, hash_) = row
    return LogEntry(
        seq=seq,
        at=at,
        reviewer=reviewer,
        action=action,
        control_id=control_id,
        run_id=run_id,
        before_hash=before,
        after_hash=after,
        evidence_hash=evidence,
        reason=reason,
        detail=json.loads(detail),
        prev_hash=prev,
        hash=hash_,
    )


@dataclass(frozen=True)
class ControlReview:
    """A control as the reviewer sees it now: the draft under review and its derived state."""

    control: ControlResult  # the report's result, or the edited / regenerated draft that replaced it
    state: DraftState
    note: str | None = None  # the rejection reason, or why an approval no longer holds
    attachments: tuple[str, ...] = ()  # evidence ids of manual evidence attached by reviewers
    decided_by: str | None = None
    decided_at: str | None = None
    replaced_by: LogEntry | None = None  # the edit or regeneration whose draft is under review (None: the run's)

    @property
    def id(self) -> str:
        return self.control.id

    @property
    def awaiting_review(self) -> bool:
        return self.state in ("draft", "stale")

    @property
    def text_hash(self) -> str:
        return text_hash(self.control.narrative.text)

    @property
    def evidence_hash(self) -> str:
        return evidence_fingerprint(self.control)


def derive_review(
    report_control: ControlResult, entries: Iterable[LogEntry], drafts: dict[str, ControlResult]
) -> ControlReview:
    """Replay one control's decisions over its result in the latest report.

    A decision applies when it was made on the text now under review (its before-hash). Edits and
    regenerations replace the draft; an approval holds only while the evidence it saw is unchanged.
    An earlier approval that no longer applies makes the control "stale" (awaiting review again).
    """
    control = report_control
    current_hash = text_hash(control.narrative.text)
    state: DraftState = "draft"
    note: str | None = None
    decided: LogEntry | None = None
    replaced_by: LogEntry | None = None
    attachments: list[str] = []
    last_verdict: LogEntry | None = None  # the latest approve / reject, applied or not

    for entry in entries:
        if entry.action == "respond":
            continue  # a response answers an exception; it neither changes nor decides the narrative
        if entry.action == "attach":
            attachments.append(str(entry.detail.get("evidence_id", "")))
            if state == "approved":
                state, note, decided = "stale", f"manual evidence attached by {entry.reviewer} after approval", entry
            continue
        if entry.action in ("approve", "reject"):
            last_verdict = entry
        if entry.before_hash != current_hash:
            continue
        if entry.action in ("edit", "regenerate"):
            replacement = drafts.get(entry.draft_key)
            if replacement is None:
                continue
            # An edit changes only the text: keep this run's findings and evidence under it.
            control = (
                control.model_copy(update={"narrative": replacement.narrative})
                if entry.action == "edit"
                else replacement
            )
            current_hash = entry.after_hash
            replaced_by = entry
            was_approved = state == "approved"
            state = "stale" if was_approved else "draft"
            note = f"{'edited' if entry.action == 'edit' else 'regenerated'} after approval" if was_approved else None
            decided = entry
        elif entry.action == "approve":
            if entry.evidence_hash == evidence_fingerprint(control):
                state, note, decided = "approved", None, entry
        elif entry.action == "reject":
            state, note, decided = "rejected", entry.reason, entry

    if (
        state == "draft"
        and last_verdict is not None
        and last_verdict.action == "approve"
        and decided is not last_verdict
    ):
        # Approved once, but on other text or other evidence than what is under review now.
        changed = "text" if last_verdict.after_hash != current_hash else "evidence"
        state, note = "stale", f"{changed} changed since {last_verdict.reviewer} approved it ({last_verdict.at})"
    return ControlReview(
        control=control,
        state=state,
        note=note,
        attachments=tuple(attachments),
        decided_by=decided.reviewer if decided else None,
        decided_at=decided.at if decided else None,
        replaced_by=replaced_by,
    )


def group_entries(entries: Iterable[LogEntry]) -> dict[str, list[LogEntry]]:
    by_control: dict[str, list[LogEntry]] = {}
    for entry in entries:
        by_control.setdefault(entry.control_id, []).append(entry)
    return by_control


# -- the review in the report ----------------------------------------------------------------------------


def review_state(
    review: ControlReview, attachments: Iterable[Attachment] = (), responses: Iterable[ExceptionResponse] = ()
) -> ReviewState:
    """A control's review as the report states it: approved, rejected, edited (awaiting approval) or awaiting review."""
    replaced_by = review.replaced_by
    edit = replaced_by if replaced_by is not None and replaced_by.action == "edit" else None
    common = {
        "note": review.note,
        "text": review.control.narrative.text if replaced_by is not None else None,
        "edited_by": edit.reviewer if edit else None,
        "edited_at": edit.at if edit else None,
        "attachments": list(attachments),
        "responses": list(responses),
    }
    if review.state in ("approved", "rejected"):
        return ReviewState.model_validate(
            {"state": review.state, "reviewer": review.decided_by, "at": review.decided_at, **common}
        )
    if edit is not None:
        return ReviewState.model_validate({"state": "edited", "reviewer": edit.reviewer, "at": edit.at, **common})
    return ReviewState.model_validate({"state": "awaiting_review", **common})


def apply_review(report: ReadinessReport, review_log: ReviewLog) -> ReadinessReport:
    """The report with every control's review state as the log has it now; statuses and drafts are left as they are."""
    entries = review_log.entries()
    by_control = group_entries(entries)
    drafts = review_log.drafts()
    attachments: dict[str, list[Attachment]] = {}
    for attachment in _attachments(entries):
        attachments.setdefault(attachment.control_id, []).append(attachment)
    responses = exception_responses(entries)
    controls = [
        control.model_copy(
            update={
                "review": review_state(
                    derive_review(control, by_control.get(control.id, []), drafts),
                    attachments.get(control.id, []),
                    responses.get(control.id, []),
                )
            }
        )
        for control in report.controls
    ]
    return report.model_copy(update={"controls": controls})


def exception_responses(entries: Iterable[LogEntry]) -> dict[str, list[ExceptionResponse]]:
    """Control id -> the responses recorded for its exceptions: the latest per (check, resource), oldest first."""
    latest: dict[tuple[str, str, str], ExceptionResponse] = {}
    for entry in entries:
        if entry.action != "respond":
            continue
        detail = entry.detail
        remediation = detail.get("remediation_date")
        response = ExceptionResponse(
            control_id=entry.control_id,
            check=str(detail.get("check", "")),
            resource=str(detail.get("resource", "")),
            cause=str(detail.get("cause", "")),
            response=str(detail.get("response", "")),
            remediation_date=date.fromisoformat(remediation) if remediation else None,
            compensating_control=detail.get("compensating_control") or None,
            responded_by=entry.reviewer,
            responded_at=datetime.fromisoformat(entry.at),
        )
        latest.pop((entry.control_id, response.check, response.resource), None)
        latest[(entry.control_id, response.check, response.resource)] = response
    by_control: dict[str, list[ExceptionResponse]] = {}
    for response in latest.values():
        by_control.setdefault(response.control_id, []).append(response)
    return by_control


def manual_attachments(review_log: ReviewLog) -> list[Attachment]:
    """Every file reviewers attached, oldest first; approved when the latest verdict on its control since is approve."""
    return _attachments(review_log.entries())


def approved_attachments(review_log: ReviewLog) -> dict[str, list[Attachment]]:
    """Control id -> the attachments a reviewer approved, oldest first, each with the period it covers."""
    approved: dict[str, list[Attachment]] = {}
    for attachment in manual_attachments(review_log):
        if attachment.approved:
            approved.setdefault(attachment.control_id, []).append(attachment)
    return approved


def attachment_record(attachment: Attachment) -> dict[str, str]:
    """What a narrative may say of an attachment, as the review log records it: the verifier's support for a
    sentence citing it (the locker holds the file itself)."""
    return {
        "file": Path(attachment.file).name,
        "attached_by": attachment.attached_by,
        "attached_at": attachment.attached_at.date().isoformat(),
        "period_start": attachment.period_start.isoformat(),
        "period_end": attachment.period_end.isoformat(),
        "approved_by": attachment.approved_by or "",
        "approved_at": attachment.approved_at.date().isoformat() if attachment.approved_at else "",
    }


def _attachments(entries: Iterable[LogEntry]) -> list[Attachment]:
    # A verdict on a control covers every file attached to it before: an approval accepts them (the reviewer
    # approved with them in place), a rejection withdraws that until the next approval.
    attachments: list[Attachment] = []
    for entry in entries:
        if entry.action == "attach":
            attachments.append(_attachment(entry))
        elif entry.action in ("approve", "reject"):
            approval = (
                {"approved_by": entry.reviewer, "approved_at": datetime.fromisoformat(entry.at)}
                if entry.action == "approve"
                else {"approved_by": None, "approved_at": None}
            )
            attachments = [
                a.model_copy(update=approval) if a.control_id == entry.control_id else a for a in attachments
            ]
    return attachments


def _attachment(entry: LogEntry) -> Attachment:
    attached_at = datetime.fromisoformat(entry.at)
    if "period_start" in entry.detail:
        start, end = date.fromisoformat(entry.detail["period_start"]), date.fromisoformat(entry.detail["period_end"])
    else:  # attached before periods were recorded: the quarter it was attached in (today's default)
        start, end = quarter_of(attached_at.date())
    return Attachment(
        control_id=entry.control_id,
        evidence_id=str(entry.detail.get("evidence_id", "")),
        file=str(entry.detail.get("path", "")),
        note=entry.reason,
        attached_by=entry.reviewer,
        attached_at=attached_at,
        period_start=start,
        period_end=end,
    )


# -- the period an attachment covers ---------------------------------------------------------------------

_QUARTER = re.compile(r"(\d{4})-?Q([1-4])", re.IGNORECASE)


def quarter_of(day: date) -> tuple[date, date]:
    """The first and last day of the calendar quarter `day` falls in."""
    first_month = (day.month - 1) // 3 * 3 + 1
    start = date(day.year, first_month, 1)
    next_start = date(day.year + 1, 1, 1) if first_month == 10 else date(day.year, first_month + 3, 1)
    return start, next_start - timedelta(days=1)


def parse_period(text: str, today: date) -> tuple[date, date]:
    """A period as a reviewer types it: empty (the quarter of `today`), "2025-Q1", or "2025-01-01..2025-03-31"."""
    text = text.strip()
    if not text:
        return quarter_of(today)
    quarter = _QUARTER.fullmatch(text)
    if quarter:
        return quarter_of(date(int(quarter[1]), int(quarter[2]) * 3 - 2, 1))
    if ".." not in text:
        raise ValueError(f"period {text!r}: write a quarter (2025-Q1) or two dates (2025-01-01..2025-03-31)")
    return date_range(text)
