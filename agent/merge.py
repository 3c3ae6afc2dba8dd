"""`auditor merge`: one report from the workspaces of several runs, one per AWS account (a CI matrix job, a
Kubernetes Indexed Job pod), with an account column.

A part is a workspace after `auditor run`. It is merged only when the whole workspace verifies with the given
public key, as `auditor verify` checks it (agent/integrity.verify_workspace: run signatures and their chain,
evidence chain and blobs, reports, review log, and the run's signed head line), and when its latest report is
the one its run signed. Otherwise the merge is refused, naming the part and each problem: a part that does not
verify is never half-merged.

Each part's findings from AWS checks carry the part's account (from its aws.iam.account_summary evidence; a
part that read an organization already names its accounts). Findings from other sources (GitHub, git, logs)
that several parts judged alike are kept once. Control and criterion statuses are derived again from the merged
findings (agent/report.aggregate), so a control passes only if it passed in every account.

The output folder holds report.json/.md/.csv/.html, parts.json (each part's run, account, evidence chain head
and signed head line, and the sha256 of each merged report file), parts.signature.json (the merging key's
signature over parts.json) and parts/<label>/, a copy of each part's locker, run store, review log and reports.
`verify_merged` (`auditor verify --merged OUT`) checks the signature, every report file against parts.json, and
each part's copy again as the merge checked it; a part also checks on its own:
`auditor -w OUT/parts/<label> verify --public-key KEY`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.integrity import IntegrityReport, ReportNotSigned, read_signed_report, verify_workspace
from agent.package import signature_problems
from agent.render.csv import render_csv
from agent.render.html import render_html
from agent.render.inputs import ReportInputs, cited_evidence_ids
from agent.report import aggregate, latest_run_id, render_markdown, report_accounts
from agent.report_schema import ControlResult, EvidenceHead, Narrative, ReadinessReport, RunInfo, VerifierResult
from agent.runs import RunStore
from knowledge.catalog import Catalog
from tools.catalog import CHECKS, TOOLS, load_all
from tools.chain import sha256_hex
from tools.findings import Finding, Severity
from tools.locker import EvidenceLocker, EvidenceRecord
from tools.runner import reads_aws
from tools.signing import PublicKey, Signer
from tools.sources import SourceStatus
from tools.workspace import Workspace

MANIFEST = "parts.json"
MANIFEST_FORMAT = "agentic-auditor/merge/1"
MANIFEST_SIGNATURE = "parts.signature.json"
SIGNATURE_FORMAT = "agentic-auditor/merge-manifest/1"
REPORT_FILES = ("report.json", "report.md", "report.csv", "report.html")
# Workspace contents a part's copy leaves out: derived (knowledge store) or only for resuming (checkpoints).
NOT_COPIED = ("knowledge", "checkpoints.sqlite*")
# Worst first: the merged narrative takes the worst status of its parts, a source the worst state.
NARRATIVE_ORDER = ("fallback", "repaired", "verified")
SOURCE_ORDER = ("error", "ok", "not_configured")


class PartRefused(Exception):
    """A part that cannot be merged: it does not verify, or another part read its account."""


class MergeUsageError(Exception):
    """What the command was given cannot be merged as asked: a folder with no report, an output folder in use."""


@dataclass(frozen=True)
class Part:
    folder: Path
    label: str  # the account it read, or `run-<run id>` when it read several (or none): its folder under parts/
    account: str | None  # stamped on its AWS findings; None when its findings already name their accounts
    evidence_head: EvidenceHead | None
    signed_head: str | None  # the head line its run signed (auditor-head:...)
    report: ReadinessReport
    evidence: Mapping[str, EvidenceRecord]  # its locker's records (metadata, not data), by evidence id


def read_part(folder: Path, public: PublicKey) -> Part:
    """The part's latest signed report, after its whole workspace verified; PartRefused otherwise."""
    workspace = Workspace.at(folder)
    run_id = latest_run_id(workspace)
    if run_id is None:
        raise MergeUsageError(f"{folder}: no report to merge (run `auditor run` with this workspace first)")
    signed_head = RunStore(workspace.runs_db).head_line(run_id) if workspace.runs_db.exists() else None
    integrity = verify_workspace(workspace, public, [signed_head] if signed_head else [])
    if signed_head is None:
        integrity.problems.append(f"run {run_id} has no signed head line")
    if not integrity.ok:
        raise PartRefused(f"{folder}: does not verify with key {public.key_id}: {_problems(integrity)}")
    try:
        report = read_signed_report(workspace, public, run_id)
    except ReportNotSigned as exc:
        raise PartRefused(f"{folder}: {exc}") from exc
    account = None if report_accounts(report) else _account_read(workspace)
    label = account or f"run-{run_id}"
    return Part(folder, label, account, report.run.evidence_head, signed_head, report, _evidence_records(workspace))


def part_accounts(part: Part) -> list[str]:
    """The AWS accounts a part read: those its findings name (an organization), else the one it signed in to."""
    return report_accounts(part.report) or ([part.account] if part.account else [])


def _problems(integrity: IntegrityReport) -> str:
    return "; ".join(integrity.problems)


def _account_read(workspace: Workspace) -> str | None:
    """The AWS account the part's credentials belong to, from its newest account summary evidence."""
    if not workspace.locker_db.exists():
        return None
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        for record in locker.list(tool="aws.iam.account_summary", limit=1):
            data = locker.read(record.id)
            if isinstance(data, dict) and data.get("account_id"):
                return str(data["account_id"])
    return None


def _evidence_records(workspace: Workspace) -> dict[str, EvidenceRecord]:
    if not workspace.locker_db.exists():
        return {}
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        return {record.id: record for record in locker.list()}


def _cited_records(parts: list[Part], report: ReadinessReport) -> dict[str, EvidenceRecord]:
    """The records of the evidence the merged report cites, from the parts that hold them (the HTML's evidence
    appendix: collector, time and sha256 of each item)."""
    wanted = cited_evidence_ids(report)
    return {item: record for part in parts for item, record in part.evidence.items() if item in wanted}


def merge_reports(parts: list[Part], catalog: Catalog, due_days: Mapping[Severity, int]) -> ReadinessReport:
    """One report over every part: each control's findings from every part, statuses derived again."""
    load_all()  # which checks read AWS, from the check registry
    versions: dict[str, list[tuple[Part, ControlResult]]] = {}
    for part in parts:
        for control in part.report.controls:
            versions.setdefault(control.id, []).append((part, control))
    runs = [part.report.run for part in parts]
    run = RunInfo(
        id="merged-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        started_at=min(run.started_at for run in runs),
        finished_at=max(run.finished_at or run.started_at for run in runs),
        writer=runs[0].writer,
        sources=_merge_sources(parts),
    )
    attachments = [a for part in parts for c in part.report.controls if c.review for a in c.review.attachments]
    merged = [_merge_control(found) for found in versions.values()]
    return aggregate(parts[0].report.company, run, merged, catalog, attachments=attachments, due_days=due_days)


def _merge_sources(parts: list[Part]) -> list[SourceStatus]:
    """Each source once: ok only if no part met a problem with it; a problem names the part it was met in."""
    merged: dict[str, SourceStatus] = {}
    for part in parts:
        for status in part.report.run.sources:
            if status.state == "error":
                status = status.model_copy(update={"cause": f"{part.label}: {status.cause}"})
            kept = merged.get(status.source)
            if kept is None or SOURCE_ORDER.index(status.state) < SOURCE_ORDER.index(kept.state):
                merged[status.source] = status
            elif status.state == kept.state == "error":
                merged[status.source] = kept.model_copy(update={"cause": f"{kept.cause}; {status.cause}"})
    return list(merged.values())


def _merge_control(found: list[tuple[Part, ControlResult]]) -> ControlResult:
    findings: list[Finding] = []
    for part, control in found:
        for finding in control.findings:
            if part.account is not None and finding.account is None and _about_aws(part, finding):
                finding = finding.model_copy(update={"account": part.account})
            if finding not in findings:  # the same repository or log judged alike by several parts: once
                findings.append(finding)
    first = found[0][1]
    return first.model_copy(
        update={
            "findings": findings,
            "narrative": _merge_narratives([(part.label, control.narrative) for part, control in found]),
            "review": None,  # reviews are per workspace; their approved attachments count (merge_reports)
            "run_id": None,
            "assessed_at": max((c.assessed_at for _, c in found if c.assessed_at), default=None),
            "possible_injections": [i for _, c in found for i in c.possible_injections],
        }
    )


def _about_aws(part: Part, finding: Finding) -> bool:
    """Whether the finding judged what the part read from its AWS account (so it is that account's): by its
    evidence where it names some (a log check also reads local files, whose events are no account's in
    particular), else by whether its check reads AWS."""
    if finding.evidence_ids:
        tools = {part.evidence[item].tool for item in finding.evidence_ids if item in part.evidence}
    else:
        spec = CHECKS.get(finding.check)
        tools = set(spec.needs) if spec else set()
    return any(reads_aws(TOOLS[tool]) for tool in tools if tool in TOOLS)


def _merge_narratives(narratives: list[tuple[str, Narrative]]) -> Narrative:
    """One narrative: the parts' own, each under its label, unless they all say the same."""
    if len({narrative.text for _, narrative in narratives}) == 1:
        return narratives[0][1]
    texts = [narrative for _, narrative in narratives]
    first = texts[0]
    return Narrative(
        status=min((n.status for n in texts), key=NARRATIVE_ORDER.index),
        text="\n\n".join(f"{label}: {narrative.text}" for label, narrative in narratives),
        citations=_union(n.citations for n in texts),
        verifier=VerifierResult(
            passed=all(n.verifier.passed for n in texts),
            problems=[f"{label}: {p}" for label, n in narratives for p in n.verifier.problems],
            sentences=sum(n.verifier.sentences for n in texts),
            cited_sentences=sum(n.verifier.cited_sentences for n in texts),
        ),
        provenance=first.provenance.model_copy(
            update={
                "evidence_ids": _union(n.provenance.evidence_ids for n in texts),
                "retrieved_chunk_ids": _union(n.provenance.retrieved_chunk_ids for n in texts),
                "tool_calls": [call for n in texts for call in n.provenance.tool_calls],
            }
        ),
    )


def _union(lists: Iterable[list[str]]) -> list[str]:
    return list(dict.fromkeys(item for items in lists for item in items))


def merge_parts(
    folders: list[Path],
    out: Path,
    public: PublicKey,
    signer: Signer,
    catalog: Catalog,
    due_days: Mapping[Severity, int],
) -> tuple[ReadinessReport, list[Part]]:
    """Verify every part against `public`, then write the merged report, the manifest signed by `signer` and a
    copy of each part to `out`."""
    if out.exists() and any(out.iterdir()):
        raise MergeUsageError(f"{out}: not empty; merge into a new folder")
    parts = [read_part(folder, public) for folder in folders]  # every part verifies before anything is written
    # An account in two parts would be counted twice (each finding, each failure): one run per account.
    readers: dict[str, list[Part]] = {}
    for part in parts:
        for key in {part.label, *part_accounts(part)}:
            readers.setdefault(key, []).append(part)
    repeated = {key: found for key, found in readers.items() if len(found) > 1}
    if repeated:
        named = "; ".join(
            f"{key} ({', '.join(str(part.folder) for part in found)})" for key, found in sorted(repeated.items())
        )
        raise PartRefused(f"more than one part read {named}: merge one run per account")
    report = merge_reports(parts, catalog, due_days)
    out.mkdir(parents=True, exist_ok=True)
    inputs = ReportInputs(report=report, catalog=catalog, evidence=_cited_records(parts, report))
    rendered = {
        "report.json": report.to_json() + "\n",
        "report.md": render_markdown(report, catalog),
        "report.csv": render_csv(inputs),
        "report.html": render_html(inputs),
    }
    for name, text in rendered.items():
        (out / name).write_text(text, encoding="utf-8")
    for part in parts:
        shutil.copytree(part.folder, out / "parts" / part.label, ignore=shutil.ignore_patterns(*NOT_COPIED))
    manifest = {
        "format": MANIFEST_FORMAT,
        "merged_run": report.run.id,
        "key_id": public.key_id,
        "files": {name: sha256_hex((out / name).read_bytes()) for name in REPORT_FILES},
        "parts": [
            {
                "label": part.label,
                "account": part.account,
                "accounts": part_accounts(part),
                "source": str(part.folder),
                "copy": f"parts/{part.label}",
                "run_id": part.report.run.id,
                "evidence_head": part.evidence_head.model_dump() if part.evidence_head else None,
                "signed_head": part.signed_head,
            }
            for part in parts
        ],
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    signature = {"format": SIGNATURE_FORMAT, "key_id": signer.public.key_id, "signature": signer.sign(manifest)}
    (out / MANIFEST_SIGNATURE).write_text(json.dumps(signature, indent=2) + "\n", encoding="utf-8")
    return report, parts


def verify_merged(out: Path, public: PublicKey) -> list[str]:
    """Every problem with the merged folder `out`, each named; empty when parts.json is signed by `public`, each
    report file is the one it lists, and each part's copy verifies with `public` and holds the run it lists."""
    manifest_path, signature_path = out / MANIFEST, out / MANIFEST_SIGNATURE
    try:
        manifest = json.loads(manifest_path.read_bytes())
        files, entries = dict(manifest["files"]), list(manifest["parts"])
    except FileNotFoundError:
        return [f"{manifest_path}: missing: not a folder `auditor merge` wrote"]
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{manifest_path} cannot be read: {exc}"]
    signature = signature_path.read_bytes() if signature_path.is_file() else None
    problems = signature_problems(manifest, signature, public, (MANIFEST, MANIFEST_SIGNATURE))
    for name in REPORT_FILES:
        if name not in files:
            problems.append(f"{name}: not listed in {MANIFEST}")
        elif not (out / name).is_file():
            problems.append(f"{name}: listed in {MANIFEST}, missing")
        elif sha256_hex((out / name).read_bytes()) != files[name]:
            problems.append(f"{name}: changed since the merge (its sha256 differs from {MANIFEST}'s)")
    for entry in entries:
        try:
            part = read_part(out / entry["copy"], public)
        except (PartRefused, MergeUsageError) as exc:
            problems.append(f"part {entry.get('label')}: {exc}")
            continue
        except (KeyError, TypeError) as exc:
            problems.append(f"{MANIFEST}: a part entry cannot be read: {exc}")
            continue
        if (part.report.run.id, part.signed_head) != (entry.get("run_id"), entry.get("signed_head")):
            problems.append(f"part {entry.get('label')}: its copy holds run {part.report.run.id}, not the one listed")
    return problems
