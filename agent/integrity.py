"""Signed run records, and the whole-workspace check behind `auditor verify`.

At the end of every run, `sign_run` signs one record (README "Integrity" documents the format):

    {"format": "agentic-auditor/run/1", "run_id", "trigger", "signed_at", "key_id",
     "previous": sha256 of the previous signed record's canonical JSON (null for the first),
     "evidence_head": {"seq", "record_hash"} | null,   the locker chain's head at the end of the run
     "items": {evidence id: record hash},               every item this run collected
     "results": {control id: sha256 of its stored result JSON in runs.sqlite},
     "report": {"json": sha256, "md": sha256} | null,    reports/<run>/report.json and report.md
     "review_head": {"seq", "hash"} | null}             the review log's newest decision

It is stored in runs.sqlite (`run_signatures`: canonical JSON, base64 signature, head line) and, for runs
that write a report, as a detached copy in reports/<run>/signature.json. The head line (tools/signing.py
anchors) is printed after the run and appended to the anchor file outside the workspace.

`verify_workspace` checks everything against a public key from outside the workspace: each record's
signature and the chain of `previous` links, the locker chain and blobs against every signed head, that every
locker item was collected by a signed run, each report's hashes, each run's stored results, the review log's
chain, signatures and signed heads, and every anchor given. A store that signed records say exists and
that is gone is an error, never "0 items".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from agent.report_schema import ReadinessReport
from agent.review_log import ReviewLog
from agent.runs import RunStore
from tools.chain import canonical_json, sha256_hex
from tools.config import AuditorConfig
from tools.locker import EvidenceLocker, ExpectedHead
from tools.signing import (
    ANCHOR_PREFIX,
    PublicKey,
    Signer,
    SigningError,
    append_anchor,
    load_signer,
    make_anchor,
    read_anchor,
)
from tools.workspace import Workspace

RUN_FORMAT = "agentic-auditor/run/1"
SIGNATURE_FILE = "signature.json"


def sign_run(config: AuditorConfig, workspace: Workspace, runs: RunStore, locker: EvidenceLocker, run_id: str) -> str:
    """Sign the finished run's record; store it, append its head line outside the workspace, return the line."""
    signer = load_signer(config, create=True)
    earlier = [payload for signed_id, payload, _ in runs.signed_records() if signed_id != run_id]
    record = runs.get(run_id)
    head = locker.head()
    review_head = _review_head(workspace)
    report = _report_hashes(workspace.reports_dir / run_id)
    payload = {
        "format": RUN_FORMAT,
        "run_id": run_id,
        "trigger": record.trigger if record else "unknown",
        "signed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "key_id": signer.public.key_id,
        "previous": sha256_hex(earlier[-1].encode()) if earlier else None,
        "evidence_head": {"seq": head.seq, "record_hash": head.record_hash} if head else None,
        "items": {item.id: item.record_hash for item in locker.list(run_id=run_id)},
        "results": {control_id: sha256_hex(text.encode()) for control_id, text in runs.result_texts(run_id).items()},
        "report": report,
        "review_head": {"seq": review_head[0], "hash": review_head[1]} if review_head else None,
    }
    text = canonical_json(payload).decode()
    signature = signer.sign(payload)
    line = make_anchor(
        signer,
        {
            "workspace": str(workspace.root),
            "run_id": run_id,
            "record": sha256_hex(text.encode()),
            "evidence": [head.seq, head.record_hash] if head else None,
            "review": list(review_head) if review_head else None,
        },
    )
    runs.save_signed_record(run_id, text, signature, line)
    if report is not None:
        detached = {"payload": payload, "signature": signature}
        (workspace.reports_dir / run_id / SIGNATURE_FILE).write_text(json.dumps(detached, indent=2) + "\n", "utf-8")
    append_anchor(config, line)
    return line


def review_anchors(config: AuditorConfig, workspace: Workspace, signer: Signer) -> Callable[[dict[str, Any]], None]:
    """For ReviewLog(anchors=...): each new decision's signed head goes to the anchor file."""
    return lambda head: append_anchor(config, make_anchor(signer, {"workspace": str(workspace.root), **head}))


def signed_items(workspace: Workspace, public: PublicKey) -> frozenset[str]:
    """Record hashes of every item a run signed by `public` collected: the only earlier items a run reuses."""
    if not workspace.runs_db.exists():
        return frozenset()
    return frozenset(
        hash_ for record in _valid_records(RunStore(workspace.runs_db), public) for hash_ in record["items"].values()
    )


def signed_report_hashes(workspace: Workspace, public: PublicKey) -> dict[str, str]:
    """The sha256 of reports/<run>/report.json each run signed by `public` names, by run id: what history, diff
    and periods build on (runs.sqlite's records; `auditor verify` also checks the detached copies)."""
    if not workspace.runs_db.exists():
        return {}
    return {
        record["run_id"]: record["report"]["json"]
        for record in _valid_records(RunStore(workspace.runs_db), public)
        if record.get("report")
    }


def _valid_records(runs: RunStore, public: PublicKey) -> list[dict[str, Any]]:
    records = []
    for _, text, signature in runs.signed_records():
        payload = _json(text)
        if isinstance(payload, dict) and public.verifies(payload, signature):
            records.append(payload)
    return records


def _review_head(workspace: Workspace) -> tuple[int, str] | None:
    if not workspace.review_db.exists():
        return None
    with ReviewLog(workspace.review_db) as review_log:
        return review_log.head()


def _report_hashes(folder: Path) -> dict[str, str] | None:
    if not (folder / "report.json").is_file():
        return None
    return {
        name: sha256_hex((folder / f"report.{name}").read_bytes())
        for name in ("json", "md")
        if (folder / f"report.{name}").is_file()
    }


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


# -- verifying -------------------------------------------------------------------------------------------


@dataclass
class IntegrityReport:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # one line per part that was checked and found intact

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_workspace(
    workspace: Workspace, public: PublicKey, heads: list[str] = (), anchor_file_lines: list[str] = ()
) -> IntegrityReport:
    """Check every signed record, store and anchor of the workspace against `public` (see the module doc).

    `heads` are given by the user (--head): head lines, or bare evidence record hashes (a report's
    run.evidence_head). `anchor_file_lines` come from the anchor file, which may hold other workspaces' heads:
    only this workspace's count.
    """
    report = IntegrityReport()
    records = _signed_records(workspace, public, report)
    anchors = [*((line, False) for line in heads), *((line, True) for line in anchor_file_lines)]
    expected_heads, review_heads = _anchor_heads(workspace, public, anchors, records, report)
    if workspace.runs_db.exists():  # heads noted before runs were signed (and still noted beside the signed ones)
        expected_heads[:0] = [
            ExpectedHead(record_hash, seq, noted_by=f"run {run_id}")
            for run_id, seq, record_hash in RunStore(workspace.runs_db).evidence_heads()
        ]
    for run_id, record in records.items():
        if record["evidence_head"]:
            head = record["evidence_head"]
            expected_heads.append(ExpectedHead(head["record_hash"], head["seq"], noted_by=f"signed run {run_id}"))
        if record["review_head"]:
            review_heads.append((record["review_head"]["seq"], record["review_head"]["hash"], f"signed run {run_id}"))
    _check_locker(workspace, records, expected_heads, report)
    _check_reports(workspace, records, report)
    _check_run_rows(workspace, records, report)
    _check_review_log(workspace, public, review_heads, report)
    # History and periods read each run's digest from the run store, signed: agent.history names an unsigned one
    # (imported here: it builds on this module's signed report hashes).
    from agent.history import stored_digest_problems

    with_report = [run_id for run_id, record in records.items() if record.get("report")]
    report.problems += stored_digest_problems(workspace, with_report, public)
    _check_cached_verdicts(workspace, public, report)
    return report


def _check_run_rows(workspace: Workspace, records: dict[str, dict[str, Any]], report: IntegrityReport) -> None:
    """Each signed run's row in runs.sqlite says what its signed record does. The rows are not signed: history and
    periods take a run with a signed report as the report says (agent/history.py runs_as_signed), so a row changed
    to hide a run (marked failed, or a regeneration) hides nothing there, but someone changed it."""
    if not workspace.runs_db.exists():
        return
    store = RunStore(workspace.runs_db)
    for run_id, record in sorted(records.items()):
        row = store.get(run_id)
        if row is None:
            report.problems.append(f"run {run_id}: signed, but its row in {workspace.runs_db.name} is missing")
            continue
        if record.get("report") and row.status != "completed":
            report.problems.append(
                f"run {run_id}: {workspace.runs_db.name} says it is {row.status}, but its signed record names the "
                "report it wrote (history and periods count it from that report)"
            )
        if row.trigger != record.get("trigger"):
            report.problems.append(
                f"run {run_id}: {workspace.runs_db.name} says its trigger is {row.trigger!r}, its signed record "
                f"{record.get('trigger')!r}"
            )
        started_at = _report_start(workspace.reports_dir / run_id / "report.json") if record.get("report") else None
        if started_at is not None and row.started_at != started_at:
            report.problems.append(
                f"run {run_id}: {workspace.runs_db.name} says it started at {row.started_at.isoformat()}, its signed "
                f"report at {started_at.isoformat()}"
            )


def _check_cached_verdicts(workspace: Workspace, public: PublicKey, report: IntegrityReport) -> None:
    """Each verifier verdict a run cached is signed by the key: one that is not is never reused (the draft is
    verified again), but someone wrote it (say, a rejected draft marked as passed)."""
    if not workspace.runs_db.exists():
        return
    unsigned = [
        stored.control_id
        for stored in RunStore(workspace.runs_db).verdicts()
        if not public.verifies(stored.signed_payload(), stored.signature)
    ]
    if unsigned:  # one line: under another key every row fails, and 139 lines would bury the rest
        shown = ", ".join(unsigned[:10]) + (f" and {len(unsigned) - 10} more" if len(unsigned) > 10 else "")
        report.problems.append(
            f"control {shown}: the cached verifier verdict in runs.sqlite is not signed with key {public.key_id}: "
            "changed after it was written, or written under another key (runs verify the draft again)"
        )


class _ReportRun(msgspec.Struct):
    started_at: datetime


class _ReportStart(msgspec.Struct):
    run: _ReportRun


def _report_start(path: Path) -> datetime | None:
    """When the run of a report.json started (None: no such report, or not one): decoding only that field."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=_ReportStart).run.started_at
    except (OSError, msgspec.ValidationError, msgspec.DecodeError):
        return None


def _signed_records(workspace: Workspace, public: PublicKey, report: IntegrityReport) -> dict[str, dict[str, Any]]:
    """Signed run records that verify, by run id, from runs.sqlite and the reports' detached copies."""
    stored: dict[str, tuple[str, str]] = {}
    if workspace.runs_db.exists():
        runs = RunStore(workspace.runs_db)
        stored = {run_id: (text, signature) for run_id, text, signature in runs.signed_records()}
    detached = {}
    for path in sorted(workspace.reports_dir.glob(f"*/{SIGNATURE_FILE}")):
        content = _json(path.read_text(encoding="utf-8"))
        if not isinstance(content, dict) or not public.verifies(content.get("payload"), content.get("signature", "")):
            report.problems.append(f"{path}: the detached run signature does not verify with key {public.key_id}")
            continue
        detached[path.parent.name] = content["payload"]
    if detached and not workspace.runs_db.exists():
        report.problems.append(
            f"the run store {workspace.runs_db} is missing, but {len(detached)} signed report(s) "
            "say runs were recorded there"
        )
    records: dict[str, dict[str, Any]] = {}
    for run_id, (text, signature) in stored.items():
        payload = _json(text)
        if not isinstance(payload, dict) or not public.verifies(payload, signature) or payload.get("run_id") != run_id:
            report.problems.append(
                f"run {run_id}: its signed record does not verify with key {public.key_id} "
                "(altered, or signed by another key)"
            )
            continue
        records[run_id] = payload
    for run_id, payload in detached.items():
        if run_id not in records and workspace.runs_db.exists() and run_id not in stored:
            report.problems.append(
                f"run {run_id}: its signed record is missing from {workspace.runs_db} "
                f"(reports/{run_id}/{SIGNATURE_FILE} has it)"
            )
        elif run_id in records and records[run_id] != payload:
            report.problems.append(
                f"run {run_id}: runs.sqlite and reports/{run_id}/{SIGNATURE_FILE} hold different signed records"
            )
        records.setdefault(run_id, payload)
    known = {sha256_hex(canonical_json(record)) for record in records.values()}
    for record in records.values():
        if record["previous"] is not None and record["previous"] not in known:
            report.problems.append(
                f"run {record['run_id']}: the signed record before it is missing (deleted from the run store)"
            )
    if workspace.runs_db.exists():
        _check_runs(RunStore(workspace.runs_db), records, report)
    if records:
        report.checked.append(f"{len(records)} signed run record(s) verified with key {public.key_id}")
    return records


def _check_runs(runs: RunStore, records: dict[str, dict[str, Any]], report: IntegrityReport) -> None:
    """Completed runs must be signed, and their stored results must be what was signed."""
    for run in runs.runs(limit=1_000_000):
        record = records.get(run.id)
        if record is None:
            if run.status == "completed":
                report.problems.append(f"run {run.id}: completed, but has no signed record")
            continue
        stored = {control_id: sha256_hex(text.encode()) for control_id, text in runs.result_texts(run.id).items()}
        for control_id in sorted(set(stored) | set(record["results"])):
            if stored.get(control_id) != record["results"].get(control_id):
                state = "missing" if control_id not in stored else "not what the run signed (changed or added)"
                report.problems.append(f"run {run.id}: the stored result of {control_id} in runs.sqlite is {state}")


def _anchor_heads(
    workspace: Workspace,
    public: PublicKey,
    anchors: list[tuple[str, bool]],
    records: dict[str, dict[str, Any]],
    report: IntegrityReport,
) -> tuple[list[ExpectedHead], list[tuple[int, str, str]]]:
    """Evidence and review heads stated by anchors; a run anchor must match the run's signed record.

    Each anchor is (line, only_if_this_workspace): lines from the anchor file naming another workspace are skipped.
    """
    evidence_heads, review_heads, used = [], [], 0
    for line, only_this_workspace in anchors:
        if not line.startswith(ANCHOR_PREFIX):
            evidence_heads.append(ExpectedHead(line.strip(), noted_by="--head"))
            used += 1
            continue
        try:
            head = read_anchor(line, public)
        except SigningError as exc:
            if not only_this_workspace:  # the anchor file may hold heads signed by another key (another workspace)
                report.problems.append(f"--head: {exc}")
            continue
        if only_this_workspace and head.get("workspace") != str(workspace.root):
            continue
        used += 1
        noted_by = f"the anchor of {head.get('run_id') or 'a review decision'}"
        if head.get("run_id"):
            record = records.get(head["run_id"])
            if record is None or sha256_hex(canonical_json(record)) != head["record"]:
                report.problems.append(
                    f"run {head['run_id']}: its signed record is "
                    f"{'missing' if record is None else 'not the one anchored'} (an anchor "
                    "outside the workspace names it): the run store was cut or rewritten"
                )
        if head.get("evidence"):
            evidence_heads.append(ExpectedHead(head["evidence"][1], head["evidence"][0], noted_by=noted_by))
        if head.get("review"):
            review_heads.append((head["review"][0], head["review"][1], noted_by))
    if used:
        report.checked.append(f"{used} anchor(s) outside the workspace checked")
    return evidence_heads, review_heads


def _check_locker(
    workspace: Workspace, records: dict[str, dict[str, Any]], heads: list[ExpectedHead], report: IntegrityReport
) -> None:
    signed = {hash_: run_id for run_id, record in records.items() for hash_ in record["items"].values()}
    if not workspace.locker_db.exists():
        # Never created here: a deleted locker must not verify as "intact: 0 items".
        report.problems.append(
            f"No evidence locker at {workspace.locker_db}"
            + (
                f", but signed runs or anchors say it held evidence ({len(signed)} signed item(s))"
                if signed or heads
                else ": nothing to verify"
            )
        )
        return
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        chain = locker.verify(expected_heads=heads)
        items = locker.list()
        stats = locker.stats()
    for problem in chain.problems:
        where = f"item {problem.item_id or '(unknown id)'}" + (f" (seq {problem.seq})" if problem.seq else "")
        report.problems.append(f"locker {problem.kind}: {where}: {problem.detail}")
    present = {item.record_hash for item in items}
    unsigned = [item for item in items if item.record_hash not in signed]
    for item in unsigned:
        report.problems.append(
            f"locker unsigned: item {item.id} (seq {item.seq}, run {item.run_id}, {item.tool}) "
            "was not collected by any signed run: never reused, not evidence of anything"
        )
    named = {problem.item_id for problem in chain.problems}  # removals the chain walk already reported
    missing = [
        f"{hash_[:12]} (run {run_id})"
        for hash_, run_id in signed.items()
        if hash_ not in present and hash_[:12] not in named
    ]
    if missing:
        report.problems.append(
            f"locker removed: {len(missing)} item(s) signed runs collected are gone: "
            + ", ".join(missing[:5])
            + (" ..." if len(missing) > 5 else "")
        )
    report.checked.append(
        f"Evidence locker intact: {stats.items} items in {stats.runs} run(s), hash chain and "
        f"{stats.blobs} blobs ({stats.stored_bytes:,} bytes) verified against {len(heads)} head(s); "
        "every item collected by a signed run"
    )


def _check_reports(workspace: Workspace, records: dict[str, dict[str, Any]], report: IntegrityReport) -> None:
    checked = 0
    for run_id, record in records.items():
        if record["report"] is None:
            continue
        checked += 1
        folder = workspace.reports_dir / run_id
        for name, digest in record["report"].items():
            path = folder / f"report.{name}"
            problem = _report_file_problem(path, path.read_bytes() if path.is_file() else None, run_id, digest)
            if problem:
                report.problems.append(problem)
    for path in sorted(workspace.reports_dir.glob("*/report.json")):
        if path.parent.name not in records:
            report.problems.append(_unsigned_report(path))
    if checked:
        report.checked.append(f"{checked} report(s) match their signed hashes")


def _report_file_problem(path: Path, data: bytes | None, run_id: str, digest: str) -> str | None:
    if data is None:
        return f"report {path} is missing (run {run_id} signed it)"
    if sha256_hex(data) != digest:
        return f"report {path} was changed after run {run_id} signed it"
    return None


def _unsigned_report(path: Path) -> str:
    return f"report {path} is not signed by any run"


class ReportNotSigned(Exception):
    """A run's report.json is not the one its run signed: changed, or signed by no run (or by another key)."""


def read_signed_report(workspace: Workspace, public: PublicKey, run_id: str) -> ReadinessReport:
    """reports/<run>/report.json, only when its bytes are the ones the run's signed record (verified with
    `public`) names; ReportNotSigned naming the file otherwise. FileNotFoundError when there is no report.

    The bytes are read once, checked, then parsed: what is rendered is what was checked.
    """
    path = workspace.reports_dir / run_id / "report.json"
    data = path.read_bytes()
    record = _signed_records(workspace, public, IntegrityReport()).get(run_id)
    digest = (record.get("report") or {}).get("json") if record else None
    if digest is None:
        raise ReportNotSigned(f"{_unsigned_report(path)} (with key {public.key_id})")
    problem = _report_file_problem(path, data, run_id, digest)
    if problem:
        raise ReportNotSigned(problem)
    return ReadinessReport.model_validate_json(data)


def _check_review_log(
    workspace: Workspace, public: PublicKey, heads: list[tuple[int, str, str]], report: IntegrityReport
) -> None:
    if not workspace.review_db.exists():
        if heads:
            report.problems.append(
                f"the review log {workspace.review_db} is missing, but {heads[0][2]} signed its "
                f"head (decision {heads[0][0]})"
            )
        return
    with ReviewLog(workspace.review_db) as review_log:
        chain = review_log.verify()
        report.problems.extend(f"review log: {problem}" for problem in chain.problems)
        report.problems.extend(f"review log: {problem}" for problem in review_log.verify_signatures(public))
        by_seq = {entry.seq: entry.hash for entry in review_log.entries()}
    for seq, hash_, noted_by in heads:
        if by_seq.get(seq) != hash_:
            report.problems.append(
                f"review log: decision {seq}, signed as the head by {noted_by}, is "
                f"{'missing' if seq not in by_seq else 'not the one signed'}: the log was cut "
                "or rewritten"
            )
    report.checked.append(
        f"review log: {chain.entries} decision(s), chain and signatures verified against {len(heads)} signed head(s)"
    )
