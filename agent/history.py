"""Run history and drift: what each run found, and what changed between two runs.

The run store (agent/runs.py) knows every run, finished or not; each finished run's report.json holds what
it found. A report is large (every finding with its reasons), so each run's digest — summary, per-control
status and counts, and its failing findings — is kept beside the report in digest.json, written the first
time it is read and rebuilt when the report changes. History and observation periods read only digests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agent.report import read_report
from agent.report_schema import ControlResult, ReadinessReport
from agent.runs import RunStore
from tools.findings import Finding
from tools.workspace import Workspace

DIGEST_FILENAME = "digest.json"
DIGEST_VERSION = 1
# Findings that count against a control: fail, and error (unreadable evidence is never taken as a pass).
FAILING = ("fail", "error")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExceptionEntry(_Model):
    """One failing finding of one control: an exception in auditor's terms."""

    control: str
    check: str
    resource: str
    status: str  # fail | error
    reason: str
    evidence_ids: list[str] = Field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.control, self.check, self.resource)


class ControlDigest(_Model):
    status: str
    kind: str
    findings: dict[str, int] = Field(default_factory=dict)  # finding status -> how many


class RunDigest(_Model):
    """What one run's report says, in a few kilobytes."""

    version: int = DIGEST_VERSION
    source_stamp: str  # the report.json size and mtime it was built from
    run_id: str
    started_at: datetime
    finished_at: datetime | None
    trigger: str
    full: bool  # every control judged by this run (not a --controls run merged into an earlier report)
    readiness_pct: float
    controls_evidenced_pct: float
    control_counts: dict[str, int]
    criteria: dict[str, int]  # ready, partial, gap, not_assessed
    fix_items: int
    evidence_head: str | None  # "seq:record_hash"
    unread_sources: list[str] = Field(default_factory=list)
    controls: dict[str, ControlDigest]  # only the controls this run judged itself
    exceptions: list[ExceptionEntry] = Field(default_factory=list)


class HistoryEntry(_Model):
    run_id: str
    started_at: datetime
    finished_at: datetime | None
    trigger: str
    status: str  # the run store's: running | completed | failed
    error: str | None = None
    full: bool | None = None  # None: the run left no report
    readiness_pct: float | None = None
    control_counts: dict[str, int] = Field(default_factory=dict)
    fix_items: int | None = None
    exceptions: int | None = None
    evidence_head: str | None = None
    unread_sources: list[str] = Field(default_factory=list)


# -- digests ----------------------------------------------------------------------------------------


def digest_report(report: ReadinessReport, source_stamp: str = "") -> RunDigest:
    run = report.run
    own = [c for c in report.controls if c.run_id in (None, run.id)]
    head = run.evidence_head
    return RunDigest(
        source_stamp=source_stamp,
        run_id=run.id,
        started_at=run.started_at,
        finished_at=run.finished_at,
        trigger=run.trigger,
        full=run.merged_from is None,
        readiness_pct=report.summary.readiness_pct,
        controls_evidenced_pct=report.summary.controls_evidenced_pct,
        control_counts=report.summary.control_counts,
        criteria={
            "ready": report.summary.ready,
            "partial": report.summary.partial,
            "gap": report.summary.gap,
            "not_assessed": report.summary.not_assessed,
        },
        fix_items=len(report.fix_list),
        evidence_head=f"{head.seq}:{head.record_hash}" if head else None,
        unread_sources=[s.source for s in run.sources if s.state == "error"],
        controls={c.id: ControlDigest(status=c.status, kind=c.kind, findings=_count_statuses(c.findings)) for c in own},
        exceptions=[_exception(c, f) for c in own for f in c.findings if f.status in FAILING],
    )


def run_digest(workspace: Workspace, run_id: str) -> RunDigest | None:
    """The run's digest (None: it wrote no report), from digest.json while the report is unchanged."""
    report_path = workspace.reports_dir / run_id / "report.json"
    try:
        stat = report_path.stat()
    except FileNotFoundError:
        return None
    stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
    cached_path = report_path.with_name(DIGEST_FILENAME)
    cached = _read_cached(cached_path, stamp)
    if cached is not None:
        return cached
    digest = digest_report(read_report(workspace, run_id), stamp)
    _write_cache(cached_path, digest)
    return digest


def _read_cached(path: Path, stamp: str) -> RunDigest | None:
    try:
        digest = RunDigest.model_validate_json(path.read_bytes())
    except (FileNotFoundError, ValueError):  # none yet, or from another version: rebuilt
        return None
    return digest if digest.source_stamp == stamp and digest.version == DIGEST_VERSION else None


def _write_cache(path: Path, digest: RunDigest) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(digest.model_dump_json(), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:  # a read-only workspace still answers, only slower next time
        temporary.unlink(missing_ok=True)


def _count_statuses(findings: Iterable[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.status] = counts.get(finding.status, 0) + 1
    return counts


def _exception(control: ControlResult, finding: Finding) -> ExceptionEntry:
    return ExceptionEntry(
        control=control.id,
        check=finding.check,
        resource=finding.resource,
        status=finding.status,
        reason=finding.reason,
        evidence_ids=list(finding.evidence_ids),
    )


# -- history ----------------------------------------------------------------------------------------


def run_history(workspace: Workspace) -> list[HistoryEntry]:
    """Every run the run store knows, newest first, with what its report says (regenerations left out: they
    redraft one control for the reviewer and judge nothing for the record)."""
    entries = []
    for record in RunStore(workspace.runs_db).runs(limit=1_000_000):
        if record.trigger == "regenerate":
            continue
        digest = run_digest(workspace, record.id) if record.status == "completed" else None
        entry = HistoryEntry(
            run_id=record.id,
            started_at=record.started_at,
            finished_at=record.finished_at,
            trigger=record.trigger,
            status=record.status,
            error=record.error,
        )
        if digest is not None:
            entry = entry.model_copy(
                update={
                    "full": digest.full,
                    "readiness_pct": digest.readiness_pct,
                    "control_counts": digest.control_counts,
                    "fix_items": digest.fix_items,
                    "exceptions": len(digest.exceptions),
                    "evidence_head": digest.evidence_head,
                    "unread_sources": digest.unread_sources,
                }
            )
        entries.append(entry)
    return entries


def history_markdown(entries: list[HistoryEntry]) -> str:
    lines = [
        "| Run | Started (UTC) | Trigger | Status | Readiness | Controls | Exceptions | Evidence head |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        readiness = f"{e.readiness_pct:.1f}%" if e.readiness_pct is not None else "—"
        status = (
            e.status
            + ("" if e.full in (None, True) else " (--controls)")
            + (f", unread: {', '.join(e.unread_sources)}" if e.unread_sources else "")
        )
        counts = ", ".join(f"{n} {k}" for k, n in e.control_counts.items()) or "—"
        lines.append(
            f"| {e.run_id} | {e.started_at:%Y-%m-%d %H:%M} | {e.trigger} | {status} | {readiness} | "
            f"{counts} | {e.exceptions if e.exceptions is not None else '—'} | {e.evidence_head or '—'} |"
        )
    return "\n".join(lines) + "\n"


# -- drift between two runs ---------------------------------------------------------------------------


class DiffEntry(_Model):
    control: str
    check: str
    resource: str
    status_before: str | None
    status_after: str | None
    reason: str
    evidence_before: list[str] = Field(default_factory=list)
    evidence_after: list[str] = Field(default_factory=list)


class ResourceEntry(_Model):
    resource: str
    controls: list[str]
    checks: list[str]
    evidence_ids: list[str]


class RunDiff(_Model):
    before: str
    after: str
    readiness_before: float
    readiness_after: float
    control_counts_before: dict[str, int]
    control_counts_after: dict[str, int]
    new_failures: list[DiffEntry] = Field(default_factory=list)
    fixed: list[DiffEntry] = Field(default_factory=list)
    still_failing: list[DiffEntry] = Field(default_factory=list)
    new_resources: list[ResourceEntry] = Field(default_factory=list)
    removed_resources: list[ResourceEntry] = Field(default_factory=list)
    # Configuration drift: the same check on the same resource read something different (its reason or facts).
    changed: list[DiffEntry] = Field(default_factory=list)


class HistoryError(Exception):
    """A run to compare is missing or has no report; the message says which."""


def full_run_ids(workspace: Workspace) -> list[str]:
    """Completed runs that judged every control and wrote a report, newest first."""
    return [e.run_id for e in run_history(workspace) if e.status == "completed" and e.full]


def diff_runs(workspace: Workspace, before: str | None = None, after: str | None = None) -> RunDiff:
    """What changed from run `before` to run `after`. Without `after`: to the latest full run; without either:
    between the two latest full runs."""
    if after is None:
        latest = full_run_ids(workspace)
        if before is None:
            latest = latest[:2]
            before = latest[1] if len(latest) == 2 else None
        after = latest[0] if latest else None
        if before is None or after is None:
            raise HistoryError("two finished full runs are needed to compare (auditor history lists the runs)")
    return compare_reports(_report(workspace, before), _report(workspace, after))


def _report(workspace: Workspace, run_id: str) -> ReadinessReport:
    try:
        return read_report(workspace, run_id)
    except FileNotFoundError:
        raise HistoryError(f"no report for run {run_id} in {workspace.reports_dir}") from None


def compare_reports(before: ReadinessReport, after: ReadinessReport) -> RunDiff:
    old, new = _findings_by_key(before), _findings_by_key(after)
    diff = RunDiff(
        before=before.run.id,
        after=after.run.id,
        readiness_before=before.summary.readiness_pct,
        readiness_after=after.summary.readiness_pct,
        control_counts_before=before.summary.control_counts,
        control_counts_after=after.summary.control_counts,
    )
    for key in sorted(old.keys() | new.keys()):
        was, now = old.get(key), new.get(key)
        failed_before = was is not None and was.status in FAILING
        fails_now = now is not None and now.status in FAILING
        if fails_now and not failed_before:
            diff.new_failures.append(_diff_entry(key, was, now))
        elif failed_before and now is not None and not fails_now:
            diff.fixed.append(_diff_entry(key, was, now))
        elif failed_before and fails_now:
            diff.still_failing.append(_diff_entry(key, was, now))
        if (
            was is not None
            and now is not None
            and was.status == now.status
            and (was.reason, was.facts) != (now.reason, now.facts)
        ):
            diff.changed.append(_diff_entry(key, was, now))
    old_resources, new_resources = _by_resource(old), _by_resource(new)
    diff.new_resources = [new_resources[r] for r in sorted(new_resources.keys() - old_resources.keys())]
    diff.removed_resources = [old_resources[r] for r in sorted(old_resources.keys() - new_resources.keys())]
    return diff


def _findings_by_key(report: ReadinessReport) -> dict[tuple[str, str, str], Finding]:
    return {(c.id, f.check, f.resource): f for c in report.controls for f in c.findings if f.status != "not_applicable"}


def _diff_entry(key: tuple[str, str, str], was: Finding | None, now: Finding | None) -> DiffEntry:
    control, check, resource = key
    return DiffEntry(
        control=control,
        check=check,
        resource=resource,
        status_before=was.status if was else None,
        status_after=now.status if now else None,
        reason=(now or was).reason,  # type: ignore[union-attr]  (one of them exists)
        evidence_before=list(was.evidence_ids) if was else [],
        evidence_after=list(now.evidence_ids) if now else [],
    )


def _by_resource(findings: dict[tuple[str, str, str], Finding]) -> dict[str, ResourceEntry]:
    grouped: dict[str, ResourceEntry] = {}
    for (control, check, resource), finding in findings.items():
        entry = grouped.setdefault(resource, ResourceEntry(resource=resource, controls=[], checks=[], evidence_ids=[]))
        for values, value in ((entry.controls, control), (entry.checks, check)):
            if value not in values:
                values.append(value)
        entry.evidence_ids.extend(e for e in finding.evidence_ids if e not in entry.evidence_ids)
    return grouped


def diff_markdown(diff: RunDiff) -> str:
    lines = [
        f"# Changes from run {diff.before} to run {diff.after}",
        "",
        f"Readiness: {diff.readiness_before:.1f}% -> {diff.readiness_after:.1f}%",
        "",
    ]
    sections = (
        ("New failures", diff.new_failures),
        ("Fixed", diff.fixed),
        ("Still failing", diff.still_failing),
        ("Changed (configuration drift)", diff.changed),
    )
    for title, entries in sections:
        lines += [f"## {title} ({len(entries)})", ""]
        lines += [
            f"- {e.control} `{e.check}` on `{e.resource}`: {e.status_before or 'absent'} -> "
            f"{e.status_after or 'absent'}. {e.reason} "
            f"(evidence: {', '.join(e.evidence_after or e.evidence_before) or 'none'})"
            for e in entries
        ]
        lines.append("")
    for title, resources in (("New resources", diff.new_resources), ("Removed resources", diff.removed_resources)):
        lines += [f"## {title} ({len(resources)})", ""]
        lines += [
            f"- `{r.resource}`: {', '.join(r.controls)} ({', '.join(r.checks)}; evidence: "
            f"{', '.join(r.evidence_ids) or 'none'})"
            for r in resources
        ]
        lines.append("")
    return "\n".join(lines)


def dump_json(value: BaseModel | list[BaseModel]) -> str:
    if isinstance(value, list):
        return json.dumps([item.model_dump(mode="json") for item in value], indent=2) + "\n"
    return value.model_dump_json(indent=2) + "\n"
