"""Run history and drift: what each run found, and what changed between two runs.

The run store (agent/runs.py) knows every run, finished or not; each finished run's report.json holds what
it found. A report is large (every finding with its reasons), so each run's digest — its summary, per control
the finding counts, and its failing findings — is kept in the run store, written after the run (or the first
time it is read) and rebuilt when the report changes. History and observation periods read only digests, and
history only their summaries.

A digest is built only from a report.json whose bytes are the ones its run's signed record names (checked with
the caller's public key), and is stored with that hash: a report changed or unsigned since is left out of every
figure, and named (`Digests.rejected`), never read as what the run found. A stored digest is signed with the
workspace's key (by the run, or by a reader that holds the key) and read only if its signature verifies with the
caller's public key: whoever can write runs.sqlite cannot sign, so a figure changed there is never shown; the
digest is built again from the signed report instead (and `auditor verify` names the changed row).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from agent.integrity import signed_report_hashes
from agent.report_schema import ControlResult, ReadinessReport
from agent.runs import RunRecord, RunStore, StoredDigest
from tools.chain import sha256_hex
from tools.findings import Finding
from tools.signing import PublicKey, Signer
from tools.workspace import Workspace

# Part of each stored digest's source stamp: a digest of an older layout is rebuilt from its report.
DIGEST_VERSION = 3
VERIFY_HINT = "excluded; run `auditor verify`"
# Findings that count against a control: fail, and error (unreadable evidence is never taken as a pass).
FAILING = ("fail", "error")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExceptionEntry(NamedTuple):
    """One failing finding of one control: an exception in auditor's terms. A tuple: a year of daily runs
    holds tens of thousands of them."""

    control: str
    check: str
    resource: str
    status: str  # fail | error
    reason: str
    evidence_ids: list[str]


class ControlDigest(NamedTuple):
    status: str  # the control's
    findings: dict[str, int]  # finding status -> how many


class RunSummary(_Model):
    """What one run's report says overall, in a few hundred bytes: all `auditor history` shows."""

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
    exception_count: int


class RunDigest(RunSummary):
    """The summary, and per control this run judged itself its status and finding counts, and its exceptions."""

    controls: dict[str, ControlDigest]
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
    report_problem: str | None = None  # its report.json is not the one the run signed: left out


class Digests(NamedTuple):
    found: dict[str, RunSummary]  # by run id: runs whose report is the one they signed
    rejected: dict[str, str]  # by run id: why the run's report was left out


# -- digests ----------------------------------------------------------------------------------------


def digest_report(report: ReadinessReport) -> RunDigest:
    run = report.run
    own = [c for c in report.controls if c.run_id in (None, run.id)]
    head = run.evidence_head
    exceptions = [_exception(c, f) for c in own for f in c.findings if f.status in FAILING]
    return RunDigest(
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
        exception_count=len(exceptions),
        controls={c.id: ControlDigest(str(c.status), _count_statuses(c.findings)) for c in own},
        exceptions=exceptions,
    )


# Each of these takes `signer`, the workspace's key when the caller holds it: a digest built from its report is then
# stored, signed, for the next read. Without it (an auditor checking with --public-key), a digest not stored signed
# is built from its report again at each read: the same figures, more slowly.


def run_digest(workspace: Workspace, public: PublicKey, run_id: str, signer: Signer | None = None) -> RunDigest | None:
    """The run's digest (None: it wrote no report, or its report is not the one it signed)."""
    return run_digests(workspace, public, [run_id], signer).found.get(run_id)  # type: ignore[return-value]


def run_digests(
    workspace: Workspace, public: PublicKey, run_ids: Iterable[str], signer: Signer | None = None
) -> Digests:
    """The digests of these runs that wrote a report the run signed with `public`, and the runs left out."""
    return _digests(workspace, public, list(run_ids), signer, with_details=True)


def run_summaries(
    workspace: Workspace, public: PublicKey, run_ids: Iterable[str], signer: Signer | None = None
) -> Digests:
    """The summaries of these runs' digests (what history shows): no controls or exceptions read."""
    return _digests(workspace, public, list(run_ids), signer, with_details=False)


def _digests(
    workspace: Workspace, public: PublicKey, run_ids: list[str], signer: Signer | None, *, with_details: bool
) -> Digests:
    """From the run store while the report is the signed one and unchanged since its digest was stored, and the
    stored digest is signed with `public`'s key; else built from the report's bytes once they match the signed
    hash (and stored, signed, if there is a `signer`)."""
    signed = signed_report_hashes(workspace, public)
    store = RunStore(workspace.runs_db)
    try:
        stored = store.digests(run_ids, with_details=with_details)
        # Consecutive runs mostly store the same controls and exceptions text: each distinct text is decoded once.
        decoded: dict[str, Any] = {}
        digests = Digests({}, {})
        for run_id in run_ids:
            path = workspace.reports_dir / run_id / "report.json"
            try:
                stat = path.stat()
            except FileNotFoundError:
                if run_id in signed:  # the run signed a report that is gone: said, not passed over in silence
                    digests.rejected[run_id] = f"report missing — {VERIFY_HINT}"
                continue
            stamp = _stamp(signed.get(run_id), stat)
            kept = stored.get(run_id)
            if (
                kept is not None
                and run_id in signed
                and kept.source_stamp == stamp
                and _verifies(kept, public, with_details)
            ):
                digests.found[run_id] = _decoded(kept, with_details, decoded)
                continue
            data = path.read_bytes()
            problem = report_problem(data, signed.get(run_id), public)
            if problem:
                digests.rejected[run_id] = problem
                continue
            digests.found[run_id] = digest = digest_report(ReadinessReport.model_validate_json(data))
            if signer is not None:
                store.save_digest(_signed(_encoded(digest, stamp), signer))
        return digests
    finally:
        store.close()


def _stamp(signed_hash: str | None, stat: os.stat_result) -> str:
    """What a stored digest is bound to: the signed hash it was built from, and the file as it was then."""
    return f"{DIGEST_VERSION}:{signed_hash}:{stat.st_size}:{stat.st_mtime_ns}"


def stored_digest_problems(workspace: Workspace, run_ids: Iterable[str], public: PublicKey) -> list[str]:
    """Each stored digest of these runs (those that signed a report) not signed with `public`'s key: changed behind
    the tool's back (say, a readiness raised) or copied from another run's row. History and periods never read
    such a row, but someone wrote it."""
    if not workspace.runs_db.exists():
        return []
    store = RunStore(workspace.runs_db)
    try:
        stored = store.digests(sorted(run_ids), with_details=True)
    finally:
        store.close()
    return [
        f"run {run_id}: its digest in runs.sqlite is not signed with key {public.key_id}: it was changed after it "
        "was written, or copied from another run (history and periods do not read it)"
        for run_id, kept in sorted(stored.items())
        if not _verifies(kept, public, with_details=True)
    ]


def report_problem(data: bytes, signed_hash: str | None, public: PublicKey) -> str | None:
    """Why a report.json's bytes are not to be used (None: they are the ones the run signed)."""
    if signed_hash is None:
        return f"report signed by no run with key {public.key_id} — {VERIFY_HINT}"
    if sha256_hex(data) != signed_hash:
        return f"report changed after signing — {VERIFY_HINT}"
    return None


def _encoded(digest: RunDigest, stamp: str) -> StoredDigest:
    controls = json.dumps(digest.controls)  # tuples become arrays: [status, {finding status: n}]
    exceptions = json.dumps(digest.exceptions)
    return StoredDigest(
        run_id=digest.run_id,
        source_stamp=stamp,
        summary=digest.model_dump_json(include=set(RunSummary.model_fields)),
        controls=controls,
        exceptions=exceptions,
        details_sha256=_details_sha256(controls, exceptions),
        signature="",
    )


def _details_sha256(controls: str, exceptions: str) -> str:
    # Both are JSON texts, which never hold a raw NUL: joined by one, the pair is unambiguous.
    return sha256_hex(f"{controls}\0{exceptions}".encode())


def _payload(stored: StoredDigest) -> dict[str, str]:
    """What a stored digest's signature covers: its summary, and its details through their hash (so that
    history, which reads only summaries, checks the signature without reading the details)."""
    return {
        "run_id": stored.run_id,
        "source_stamp": stored.source_stamp,
        "summary": stored.summary,
        "details_sha256": stored.details_sha256,
    }


def _signed(stored: StoredDigest, signer: Signer) -> StoredDigest:
    return replace(stored, signature=signer.sign(_payload(stored)))


def _verifies(stored: StoredDigest, public: PublicKey, with_details: bool) -> bool:
    """The stored digest is the one a holder of `public`'s key wrote (with its details, when they were read)."""
    if with_details and _details_sha256(stored.controls, stored.exceptions) != stored.details_sha256:
        return False
    return public.verifies(_payload(stored), stored.signature)


def _decoded(stored: StoredDigest, with_details: bool, decoded: dict[str, Any]) -> RunDigest | RunSummary:
    """The stored digest as a model; `decoded` holds the controls and exceptions already decoded, by text
    (shared between digests: read, never changed)."""
    summary = RunSummary.model_validate_json(stored.summary)
    if not with_details:
        return summary
    if stored.controls not in decoded:
        entries = json.loads(stored.controls)
        decoded[stored.controls] = {control: ControlDigest(*entry) for control, entry in entries.items()}
    if stored.exceptions not in decoded:
        decoded[stored.exceptions] = [ExceptionEntry(*entry) for entry in json.loads(stored.exceptions)]
    # Built without validation (a year of runs holds ~50,000 control entries): the summary was validated, and
    # the rest was written by _encoded under the same DIGEST_VERSION.
    return RunDigest.model_construct(
        **dict(summary), controls=decoded[stored.controls], exceptions=decoded[stored.exceptions]
    )


def _count_statuses(findings: Iterable[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[str(finding.status)] = counts.get(str(finding.status), 0) + 1
    return counts


def _exception(control: ControlResult, finding: Finding) -> ExceptionEntry:
    return ExceptionEntry(
        control=control.id,
        check=finding.check,
        resource=finding.resource,
        status=str(finding.status),
        reason=finding.reason,
        evidence_ids=list(finding.evidence_ids),
    )


# -- history ----------------------------------------------------------------------------------------


def runs_as_signed(
    workspace: Workspace, public: PublicKey, signer: Signer | None = None
) -> tuple[list[RunRecord], Digests]:
    """Every run the run store knows, newest first, and the summaries of those whose report is the one they signed.

    The run store's rows are not signed: whoever can write it could mark a finished run failed or a regeneration,
    or move its start, and so hide it from history and periods. So a run with a signed report is taken as that
    report says (completed, its start, end and trigger), and a row counts as it is only for a run without one;
    `auditor verify` names a row that disagrees with the run's signed record."""
    rows = RunStore(workspace.runs_db).runs(limit=1_000_000)
    summaries = run_summaries(workspace, public, [row.id for row in rows], signer)
    runs = []
    for row in rows:
        summary = summaries.found.get(row.id)
        if summary is not None:
            row = replace(
                row,
                started_at=summary.started_at,
                finished_at=summary.finished_at,
                trigger=summary.trigger,
                status="completed",
                error=None,
            )
        runs.append(row)
    runs.sort(key=lambda run: (run.started_at, run.id), reverse=True)
    return runs, summaries


def run_history(workspace: Workspace, public: PublicKey, signer: Signer | None = None) -> list[HistoryEntry]:
    """Every run, newest first, with what its report says (regenerations left out: they redraft one control for the
    reviewer and judge nothing for the record)."""
    runs, summaries = runs_as_signed(workspace, public, signer)
    entries = []
    for record in runs:
        if record.trigger == "regenerate":
            continue
        digest = summaries.found.get(record.id)
        entry = HistoryEntry(
            run_id=record.id,
            started_at=record.started_at,
            finished_at=record.finished_at,
            trigger=record.trigger,
            status=record.status,
            error=record.error,
            report_problem=summaries.rejected.get(record.id),
        )
        if digest is not None:
            entry = entry.model_copy(
                update={
                    "full": digest.full,
                    "readiness_pct": digest.readiness_pct,
                    "control_counts": digest.control_counts,
                    "fix_items": digest.fix_items,
                    "exceptions": digest.exception_count,
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
            + (f", {e.report_problem}" if e.report_problem else "")
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


class ReportRejected(HistoryError):
    """A run to compare has a report.json that is not the one the run signed."""


def diff_runs(workspace: Workspace, public: PublicKey, before: str | None = None, after: str | None = None) -> RunDiff:
    """What changed from run `before` to run `after`. Without `after`: to the latest full run; without either:
    between the two latest full runs. A run whose report is not the one it signed is never skipped over: its
    report is refused (ReportRejected), as `auditor report` refuses it."""
    if after is None:
        # Runs whose report is rejected stay candidates (their report cannot say whether they were full).
        entries = run_history(workspace, public)
        latest = [e.run_id for e in entries if e.status == "completed" and (e.full or e.report_problem)]
        if before is None:
            latest = latest[:2]
            before = latest[1] if len(latest) == 2 else None
        after = latest[0] if latest else None
        if before is None or after is None:
            raise HistoryError("two finished full runs are needed to compare (auditor history lists the runs)")
    signed = signed_report_hashes(workspace, public)
    return compare_reports(_report(workspace, public, signed, before), _report(workspace, public, signed, after))


def _report(workspace: Workspace, public: PublicKey, signed: dict[str, str], run_id: str) -> ReadinessReport:
    """The run's report, read once, checked against the hash its run signed, then parsed."""
    path = workspace.reports_dir / run_id / "report.json"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise HistoryError(f"no report for run {run_id} in {workspace.reports_dir}") from None
    problem = report_problem(data, signed.get(run_id), public)
    if problem:
        raise ReportRejected(f"run {run_id}: {path}: {problem}")
    return ReadinessReport.model_validate_json(data)


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
