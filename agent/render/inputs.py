"""What the CSV and HTML renderings read besides the report: gathered once from the workspace.

first_seen: for each failing or unjudged finding (check, resource, status), the start of the earliest run whose
report had it, from the run digests (agent/history.py, a few kilobytes per run). Digests keep only fail and
error findings, so a pass or not-applicable finding's first seen is its control's assessed_at (the run that
judged it): finding that out from every full report.json would read megabytes per run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from agent.history import run_digests, runs_as_signed
from agent.report import MODEL_WRITTEN, model_written_unreviewed
from agent.report_schema import ControlResult, ReadinessReport
from knowledge.catalog import Catalog
from knowledge.citations import evidence_id_of
from tools.findings import Finding
from tools.locker import EvidenceLocker, EvidenceRecord
from tools.signing import PublicKey, Signer
from tools.workspace import Workspace

FindingKey = tuple[str, str, str]  # (check, resource, status)


@dataclass(frozen=True)
class ReadinessPoint:
    run_id: str
    at: datetime
    readiness_pct: float


@dataclass(frozen=True)
class ReportInputs:
    report: ReadinessReport
    catalog: Catalog
    evidence: Mapping[str, EvidenceRecord] = field(default_factory=dict)  # the items the report cites, by id
    history: list[ReadinessPoint] = field(default_factory=list)  # full runs, oldest first
    first_seen: Mapping[FindingKey, datetime] = field(default_factory=dict)

    def first_seen_of(self, control: ControlResult, finding: Finding) -> datetime | None:
        seen = self.first_seen.get((finding.check, finding.resource, str(finding.status)))
        return seen or control.assessed_at or self.report.run.started_at


def reviewed_text(control: ControlResult) -> str | None:
    """The narrative as reviewed: an edit or regeneration replaces the draft; None when the draft was rejected."""
    review = control.review
    if review is not None and review.state == "rejected":
        return None
    return (review.text if review else None) or control.narrative.text


def review_line(control: ControlResult) -> str:
    """One sentence on where the narrative stands in review (plain text, as agent/report.py words it)."""
    review = control.review
    unreviewed = model_written_unreviewed(control)
    if review is None:
        return f"{MODEL_WRITTEN}." if unreviewed else "Review state not recorded (an older report)."
    on = f" on {review.at:%Y-%m-%d}" if review.at else ""
    if review.state == "rejected":
        reason = f" Reason: {review.note}" if review.note else ""
        return f"Rejected by {review.reviewer}{on}: draft withheld.{reason}"
    if review.state == "approved":
        edited = f"; text edited by {review.edited_by} on {review.edited_at:%Y-%m-%d}" if review.edited_at else ""
        return f"Reviewed: approved by {review.reviewer}{on}{edited}."
    if review.state == "edited":
        return f"Edited by {review.reviewer}{on}, awaiting approval."
    draft = (
        MODEL_WRITTEN
        if unreviewed
        else ("Regenerated draft, awaiting review" if review.text else "Draft, awaiting review")
    )
    return f"{draft}{f' ({review.note})' if review.note else ''}."


def cited_evidence_ids(report: ReadinessReport) -> set[str]:
    """Every evidence id the report refers to: findings, narratives, fix list, incidents, attachments."""
    ids = {e for c in report.controls for f in c.findings for e in f.evidence_ids}
    ids |= {e for c in report.controls for cited in c.narrative.citations if (e := evidence_id_of(cited))}
    ids |= {e for c in report.controls for e in c.narrative.provenance.evidence_ids}
    ids |= {e for item in report.fix_list for e in item.evidence_ids}
    ids |= {a.evidence_id for c in report.controls if c.review for a in c.review.attachments}
    return ids


def gather(
    workspace: Workspace, report: ReadinessReport, catalog: Catalog, public: PublicKey, signer: Signer | None = None
) -> ReportInputs:
    """The cited evidence items' records (metadata, not data), the readiness history and first-seen times (from
    the runs whose report is the one they signed with `public`; `signer`: see agent/history.py run_digests)."""
    wanted = cited_evidence_ids(report)
    evidence: dict[str, EvidenceRecord] = {}
    if workspace.locker_db.is_file():
        with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
            evidence = {record.id: record for record in locker.list() if record.id in wanted}
    history: list[ReadinessPoint] = []
    first_seen: dict[FindingKey, datetime] = {}
    if workspace.runs_db.is_file():
        runs, _ = runs_as_signed(workspace, public, signer)  # each run as its signed report says, where it has one
        records = [run for run in runs if run.status == "completed"]
        digests = run_digests(workspace, public, [r.id for r in records], signer).found
        for record in sorted(records, key=lambda r: r.started_at):
            digest = digests.get(record.id)
            if digest is None:
                continue
            if digest.full:
                history.append(ReadinessPoint(digest.run_id, digest.started_at, digest.readiness_pct))
            for entry in digest.exceptions:
                first_seen.setdefault((entry.check, entry.resource, entry.status), digest.started_at)
    return ReportInputs(report, catalog, evidence, history, first_seen)
