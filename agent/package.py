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
    manifest.signature.json        {"format", "key_id", "signature"}: the workspace key's ed25519 signature
                                   over the manifest's canonical JSON (tools/signing.py)

verify_package checks the manifest's signature against a public key from outside the package, every file against
the manifest (changed, removed, or added), the evidence chain (each record's hash, its link to the one before, its
place; the last is the head the manifest and report name), every evidence file against its record's sha256, and
the review log's chain. Whoever rewrites files and the manifest to match cannot sign the new manifest.
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
from tools.signing import PublicKey, Signer
from tools.workspace import Workspace

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
MANIFEST_SIGNATURE = "manifest.signature.json"
SIGNATURE_FORMAT = "agentic-auditor/package-manifest/1"


@dataclass
class PackageReport:
    files: int = 0
    # Each control folder holds a copy of every item it cites: an item three controls cite is three copies.
    evidence_copies: int = 0
    evidence_ids: set[str] = field(default_factory=set)  # the distinct items those copies hold
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def evidence_summary(self) -> str:
        """'44 evidence items (102 copies, one in each control folder that cites the item)'."""
        return (
            f"{len(self.evidence_ids)} evidence items ({self.evidence_copies} copies, one in each control "
            "folder that cites the item)"
        )


def build_package(workspace: Workspace, inputs: ReportInputs, out: Path, signer: Signer) -> PackageReport:
    """Write the package for the report in `inputs` to `out` (a .zip), its manifest signed by `signer`."""
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
                summary.evidence_copies += 1
                summary.evidence_ids.add(evidence_id)
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
        signature = {"format": SIGNATURE_FORMAT, "key_id": signer.public.key_id, "signature": signer.sign(manifest)}
        archive.writestr(MANIFEST_SIGNATURE, _json(signature))
    summary.files = len(files) + 2
    return summary


def verify_package(path: Path, public: PublicKey) -> PackageReport:
    """Every problem with the package at `path`, each named; empty when it holds what its manifest says and the
    manifest is signed by `public`."""
    result = PackageReport()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return PackageReport(problems=[f"{path}: not a readable zip ({exc})"])
    with archive:
        # Folder entries carry no content (`zip -r` adds them, `export package` does not): not files to account for.
        names = {info.filename for info in archive.infolist() if not (info.is_dir() and info.file_size == 0)}
        if MANIFEST not in names:
            return PackageReport(problems=[f"{path}: no {MANIFEST}"])
        try:
            manifest = json.loads(archive.read(MANIFEST))
            listed = {entry["path"]: entry for entry in manifest["files"]}
        except (ValueError, KeyError, TypeError) as exc:
            return PackageReport(problems=[f"{MANIFEST} cannot be read: {exc}"])
        signature = archive.read(MANIFEST_SIGNATURE) if MANIFEST_SIGNATURE in names else None
        result.problems += signature_problems(manifest, signature, public)
        for name in sorted(listed):
            if name not in names:
                result.problems.append(f"{name}: listed in the manifest, missing from the package")
            elif hashlib.sha256(archive.read(name)).hexdigest() != listed[name]["sha256"]:
                result.problems.append(f"{name}: changed (its sha256 differs from the manifest's)")
        for name in sorted(names - set(listed) - {MANIFEST, MANIFEST_SIGNATURE}):
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
            result.evidence_copies += 1
            result.evidence_ids.add(evidence_id)
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


def signature_problems(
    manifest: Any,
    signature_file: bytes | None,
    public: PublicKey,
    names: tuple[str, str] = (MANIFEST, MANIFEST_SIGNATURE),
) -> list[str]:
    """What is wrong with a manifest's detached signature file ({"format", "key_id", "signature"}); `names`: the
    manifest's file name and its signature's, as the problems name them."""
    manifest_name, signature_name = names
    if signature_file is None:
        return [f"{signature_name}: missing: the manifest is not signed"]
    try:
        signature = json.loads(signature_file)
        signed_by, encoded = signature["key_id"], signature["signature"]
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{signature_name} cannot be read: {exc}"]
    if public.verifies(manifest, encoded):
        return []
    if signed_by != public.key_id:
        return [f"{manifest_name}: its signature names key {signed_by}, and does not verify with key {public.key_id}"]
    return [f"{manifest_name}: its signature does not verify with key {public.key_id}: the manifest was rewritten"]


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
