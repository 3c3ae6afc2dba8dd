"""The auditor's evidence package: one zip an auditor can check without the workspace.

    index.html                     the report (agent/render/html.py)
    report.json                    the report with the review decisions as they stand
    review-log.json                every review log entry, with its chain hashes
    chain.json                     the evidence chain's records, from the first to the report's head
    controls/<ID>/narrative.md     the narrative as reviewed (a rejected draft is withheld)
    controls/<ID>/findings.json    its findings
    controls/<ID>/review.json      its review state (decision, edits, attachments, exception responses)
    controls/<ID>/evidence/<ev>.json   the evidence items it cites, as stored (redacted before storing)
    manifest.json                  every other file with its sha256 and size, the chain head, the run ids

verify_package checks every file against the manifest (changed, removed, or added), the evidence chain (each
record's hash, its link to the one before, its place; the last is the head the manifest and report name), every
evidence file against its record's sha256, and the review log's chain. A changed manifest is caught by comparing
its chain head with the one the report and chain give; sign the manifest for more (see `auditor verify`).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from agent.render.html import render_html
from agent.render.inputs import ReportInputs, review_line, reviewed_text
from agent.report_schema import ControlResult
from agent.review_log import ReviewLog
from tools.chain import GENESIS, chain_hash
from tools.locker import EvidenceLocker, EvidenceRecord, TamperedEvidence
from tools.workspace import Workspace

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


@dataclass
class PackageReport:
    files: int = 0
    evidence_items: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def build_package(workspace: Workspace, inputs: ReportInputs, out: Path) -> PackageReport:
    """Write the package for the report in `inputs` to `out` (a .zip)."""
    report = inputs.report
    files: dict[str, bytes] = {
        "index.html": render_html(inputs).encode(),
        "report.json": (report.to_json() + "\n").encode(),
    }
    summary = PackageReport()
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        head = report.run.evidence_head
        chain = [r for r in locker.list() if head is None or r.seq <= head.seq]
        files["chain.json"] = _json([_chain_record(r) for r in chain])
        by_id = {record.id: record for record in chain}
        for control in report.controls:
            folder = f"controls/{control.id}"
            files[f"{folder}/narrative.md"] = _narrative(control).encode()
            files[f"{folder}/findings.json"] = _json([f.model_dump(mode="json") for f in control.findings])
            files[f"{folder}/review.json"] = _json(control.review.model_dump(mode="json") if control.review else None)
            for evidence_id in sorted(_cited(control)):
                record = by_id.get(evidence_id) or locker.get(evidence_id)
                if record is None:
                    summary.problems.append(f"{control.id}: evidence {evidence_id} is not in the locker")
                    continue
                try:
                    files[f"{folder}/evidence/{evidence_id}.json"] = locker.blob(record)
                except TamperedEvidence as exc:
                    summary.problems.append(str(exc))
                    continue
                summary.evidence_items += 1
    with ReviewLog(workspace.review_db) as review_log:
        files["review-log.json"] = _json(
            [{**e.payload(), "prev_hash": e.prev_hash, "hash": e.hash} for e in review_log.entries()]
        )
    manifest = {
        "version": MANIFEST_VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "company": report.company,
        "run_ids": sorted({report.run.id, *(c.run_id for c in report.controls if c.run_id)}),
        "evidence_head": report.run.evidence_head.model_dump() if report.run.evidence_head else None,
        "files": [
            {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for path, data in sorted(files.items())
        ],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(files.items()):
            archive.writestr(path, data)
        archive.writestr(MANIFEST, _json(manifest))
    summary.files = len(files) + 1
    return summary


def verify_package(path: Path) -> PackageReport:
    """Every problem with the package at `path`, each named; empty when it holds what its manifest says."""
    result = PackageReport()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return PackageReport(problems=[f"{path}: not a readable zip ({exc})"])
    with archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            return PackageReport(problems=[f"{path}: no {MANIFEST}"])
        try:
            manifest = json.loads(archive.read(MANIFEST))
            listed = {entry["path"]: entry for entry in manifest["files"]}
        except (ValueError, KeyError, TypeError) as exc:
            return PackageReport(problems=[f"{MANIFEST} cannot be read: {exc}"])
        for name in sorted(listed):
            if name not in names:
                result.problems.append(f"{name}: listed in the manifest, missing from the package")
            elif hashlib.sha256(archive.read(name)).hexdigest() != listed[name]["sha256"]:
                result.problems.append(f"{name}: changed (its sha256 differs from the manifest's)")
        for name in sorted(names - set(listed) - {MANIFEST}):
            result.problems.append(f"{name}: in the package but not in the manifest")
        result.files = len(names)
        contents = {name: archive.read(name) for name in names & set(listed)}
    records = _loaded(contents, "chain.json", result)
    result.problems += _chain_problems("evidence chain", records or [], _record_payload)
    result.problems += _head_problems(records or [], manifest.get("evidence_head"), contents)
    by_id = {r["id"]: r for r in records or [] if isinstance(r, dict)}
    for name, data in sorted(contents.items()):
        parts = PurePosixPath(name).parts
        if len(parts) == 4 and parts[0] == "controls" and parts[2] == "evidence":
            evidence_id = PurePosixPath(name).stem
            result.evidence_items += 1
            record = by_id.get(evidence_id)
            if record is None:
                result.problems.append(f"{name}: evidence {evidence_id} is not in the chain")
            elif hashlib.sha256(data).hexdigest() != record.get("sha256"):
                result.problems.append(f"{name}: does not match the sha256 its chain record holds")
    entries = _loaded(contents, "review-log.json", result)
    result.problems += _chain_problems("review log", entries or [], _entry_payload)
    return result


# -- building ----------------------------------------------------------------------------------------------


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()


def _chain_record(record: EvidenceRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "id": record.id,
        **record.hashed_fields(),
        "prev_hash": record.prev_hash,
        "record_hash": record.record_hash,
    }


def _cited(control: ControlResult) -> set[str]:
    ids = {e for f in control.findings for e in f.evidence_ids} | set(control.narrative.provenance.evidence_ids)
    if control.review:
        ids |= {a.evidence_id for a in control.review.attachments}
    return ids


def _narrative(control: ControlResult) -> str:
    text = reviewed_text(control)
    return (
        f"# {control.id} {control.title}\n\nStatus: {control.status}. {control.status_reason}\n\n"
        f"{review_line(control)}\n" + (f"\n{text}\n" if text else "")
    )


# -- verifying ---------------------------------------------------------------------------------------------


_RECORD_FIELDS = (
    "run_id",
    "source",
    "tool",
    "operation",
    "params",
    "collected_at",
    "expires_at",
    "sha256",
    "size",
    "content_type",
    "redactions",
)
_ENTRY_FIELDS = (
    "seq",
    "at",
    "reviewer",
    "action",
    "control_id",
    "run_id",
    "before_hash",
    "after_hash",
    "evidence_hash",
    "reason",
    "detail",
)


def _record_payload(record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    return {name: record[name] for name in _RECORD_FIELDS}, record["record_hash"]


def _entry_payload(entry: dict[str, Any]) -> tuple[dict[str, Any], str]:
    return {name: entry[name] for name in _ENTRY_FIELDS}, entry["hash"]


def _loaded(contents: dict[str, bytes], name: str, result: PackageReport) -> list[Any] | None:
    if name not in contents:
        return None  # reported as missing against the manifest already
    try:
        loaded = json.loads(contents[name])
    except ValueError as exc:
        result.problems.append(f"{name}: not JSON ({exc})")
        return None
    return loaded if isinstance(loaded, list) else None


def _chain_problems(label: str, items: Iterable[Any], payload_of) -> list[str]:  # noqa: ANN001
    """Each item's hash over its payload and the previous hash; consecutive seq from 1; links in order."""
    problems, prev_hash = [], GENESIS
    for expected_seq, item in enumerate(items, start=1):
        try:
            payload, item_hash = payload_of(item)
            seq, linked = item["seq"], item["prev_hash"]
        except (KeyError, TypeError):
            problems.append(f"{label}: item {expected_seq} lacks fields")
            continue
        if seq != expected_seq:
            problems.append(f"{label}: item {seq} where {expected_seq} was expected (an item is missing)")
        if linked != prev_hash:
            problems.append(f"{label}: item {seq} does not link to the item before it")
        if chain_hash(linked, payload) != item_hash:
            problems.append(f"{label}: item {seq} does not match its hash (it was altered)")
        prev_hash = item_hash
    return problems


def _head_problems(records: list[Any], head: dict[str, Any] | None, contents: dict[str, bytes]) -> list[str]:
    """The chain ends at the head the manifest names, and the report names the same head."""
    if head is None:
        return [] if not records else ["manifest: no evidence head, but the package holds an evidence chain"]
    last = records[-1] if records and isinstance(records[-1], dict) else {}
    problems = []
    if last.get("record_hash") != head.get("record_hash") or last.get("seq") != head.get("seq"):
        problems.append(
            f"evidence chain: it ends at seq {last.get('seq')}, not at the head the manifest names "
            f"(seq {head.get('seq')})"
        )
    try:
        report_head = json.loads(contents.get("report.json", b"{}")).get("run", {}).get("evidence_head")
    except ValueError:
        report_head = None  # report.json's sha256 is already checked against the manifest
    if report_head != head:
        problems.append("manifest: its evidence head differs from the one report.json names")
    return problems
