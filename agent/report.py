"""From per-control results to the readiness report (auditor.readiness/v1), and its two renderings.

Control status (from its findings; not-applicable findings are ignored, checks are judged apart):
- manual: a manual control (people attach its evidence in review).
- error: no finding could be judged, or a check only errored while none failed.
- pass: every check passed (a check passes when all its judged findings pass).
- fail: every judged check failed.
- partial: some checks passed and some failed.
A control whose checks found nothing to judge (all not applicable) passes: there is no exception.

Criterion status (from the controls mapped to it in this run; "assessed" = status other than manual):
- not_assessed: no assessed control (only manual controls, whose evidence is attached in review).
- ready: every assessed control passes.
- gap: no assessed control passes or is partial (all fail or error: no working control evidence).
- partial: anything in between.
readiness_pct = ready / (criteria_total - not_assessed) * 100, one decimal (0.0 when nothing was assessed).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from agent.report_schema import (
    ControlResult,
    ControlStatus,
    CriterionResult,
    CriterionStatus,
    ReadinessReport,
    RunInfo,
    Summary,
)
from agent.workspace import Workspace
from knowledge.catalog import Catalog
from tools.findings import Finding, Status

LATEST = "latest"


def control_status(kind: str, findings: Iterable[Finding]) -> ControlStatus:
    if kind == "manual":
        return "manual"
    by_check: dict[str, set[Status]] = {}
    for finding in findings:
        if finding.status != Status.NOT_APPLICABLE:
            by_check.setdefault(finding.check, set()).add(finding.status)
        else:
            by_check.setdefault(finding.check, set())
    if not by_check:
        return "error"
    check_outcomes = set()
    for statuses in by_check.values():
        if Status.FAIL in statuses:
            check_outcomes.add("fail")
        elif Status.ERROR in statuses:
            check_outcomes.add("error")
        else:
            check_outcomes.add("pass")  # all pass, or nothing applicable
    if check_outcomes == {"pass"}:
        return "pass"
    if "fail" in check_outcomes:
        return "partial" if "pass" in check_outcomes else "fail"
    return "error"


def criterion_status(statuses: Iterable[ControlStatus]) -> CriterionStatus:
    assessed = [s for s in statuses if s != "manual"]
    if not assessed:
        return "not_assessed"
    if all(s == "pass" for s in assessed):
        return "ready"
    if not any(s in ("pass", "partial") for s in assessed):
        return "gap"
    return "partial"


def aggregate(company: str, run: RunInfo, results: Iterable[ControlResult], catalog: Catalog) -> ReadinessReport:
    controls = sorted(results, key=lambda r: r.id)
    criteria: list[CriterionResult] = []
    for criterion_id in catalog.ids():
        mapped = [c for c in controls if criterion_id in c.criteria]
        criteria.append(CriterionResult(id=criterion_id, status=criterion_status(c.status for c in mapped), control_ids=[c.id for c in mapped]))
    counts = {status: sum(1 for c in criteria if c.status == status) for status in ("ready", "partial", "gap", "not_assessed")}
    assessed = len(criteria) - counts["not_assessed"]
    summary = Summary(
        criteria_total=len(criteria),
        ready=counts["ready"],
        partial=counts["partial"],
        gap=counts["gap"],
        not_assessed=counts["not_assessed"],
        readiness_pct=round(counts["ready"] / assessed * 100, 1) if assessed else 0.0,
    )
    return ReadinessReport(company=company, run=run, summary=summary, criteria=criteria, controls=controls)


def has_gap(report: ReadinessReport) -> bool:
    return report.summary.gap > 0


# -- files -------------------------------------------------------------------------------------------


def write_report(workspace: Workspace, report: ReadinessReport) -> Path:
    """Write reports/<run id>/report.json and report.md and point reports/latest at the run."""
    folder = workspace.reports_dir / report.run.id
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(folder / "report.json", report.to_json() + "\n")
    _write_atomically(folder / "report.md", render_markdown(report))
    _write_atomically(workspace.reports_dir / LATEST, report.run.id + "\n")
    return folder


def latest_run_id(workspace: Workspace) -> str | None:
    pointer = workspace.reports_dir / LATEST
    if not pointer.is_file():
        return None
    run_id = pointer.read_text(encoding="utf-8").strip()
    return run_id or None


def read_report(workspace: Workspace, run_id: str) -> ReadinessReport:
    path = workspace.reports_dir / run_id / "report.json"
    return ReadinessReport.model_validate_json(path.read_text(encoding="utf-8"))


def _write_atomically(path: Path, text: str) -> None:
    # A reader (the TUI, CI) never sees half a report.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


# -- Markdown ------------------------------------------------------------------------------------------

_CRITERION_LABEL = {"ready": "Ready", "partial": "Partial", "gap": "Gap", "not_assessed": "Not assessed"}
_CONTROL_LABEL = {"pass": "pass", "fail": "FAIL", "partial": "PARTIAL", "manual": "manual", "error": "ERROR"}


def render_markdown(report: ReadinessReport, catalog: Catalog | None = None) -> str:
    """For people: summary first, then the gaps with what to fix, then every criterion with its narratives."""
    from knowledge.catalog import load_catalog

    catalog = catalog or load_catalog()
    s = report.summary
    run = report.run
    controls = {c.id: c for c in report.controls}
    lines = [
        f"# SOC 2 readiness: {report.company}",
        "",
        f"Run `{run.id}` ({run.trigger}), started {run.started_at:%Y-%m-%d %H:%M} UTC"
        + (f", finished {run.finished_at:%Y-%m-%d %H:%M} UTC" if run.finished_at else "")
        + f". Narratives written by {run.writer.provider} ({run.writer.model}).",
        "",
        "## Summary",
        "",
        f"**Readiness: {s.readiness_pct:.1f}%** of the {s.criteria_total - s.not_assessed} assessed criteria are ready.",
        "",
        "| Criteria | Ready | Partial | Gap | Not assessed |",
        "|---:|---:|---:|---:|---:|",
        f"| {s.criteria_total} | {s.ready} | {s.partial} | {s.gap} | {s.not_assessed} |",
        "",
        _control_counts(report.controls),
        "",
    ]
    fallbacks = [c.id for c in report.controls if c.narrative.status == "fallback"]
    if fallbacks:
        lines += [f"Narratives replaced by the offline writer after failing verification: {', '.join(fallbacks)}.", ""]

    failing = [c for c in report.controls if c.status in ("fail", "partial", "error")]
    lines += ["## Gaps and what to fix", ""]
    if not failing:
        lines += ["No automated control has a failing check.", ""]
    for control in failing:
        lines += [f"### {control.id} {control.title} ({_CONTROL_LABEL[control.status]}; {', '.join(control.criteria)})", ""]
        for finding in control.findings:
            if finding.status in (Status.FAIL, Status.ERROR):
                evidence = " ".join(f"[ev:{e}]" for e in finding.evidence_ids)
                lines.append(f"- **{finding.check}** `{finding.resource}`: {finding.reason} {evidence}".rstrip())
        lines.append("")

    lines += ["## Criteria", ""]
    shown: dict[str, str] = {}  # control id -> criterion under which its narrative was printed
    for criterion in report.criteria:
        known = catalog.get(criterion.id)
        lines += [f"### {criterion.id}: {_CRITERION_LABEL[criterion.status]}", ""]
        if known:
            lines += [f"> {known.text}", ""]
        if not criterion.control_ids:
            lines += ["No control in this run covers this criterion.", ""]
        for control_id in criterion.control_ids:
            control = controls[control_id]
            flag = " (offline fallback)" if control.narrative.status == "fallback" else ""
            heading = f"#### {control.id} {control.title} [{_CONTROL_LABEL[control.status]}]{flag}"
            if control_id in shown:
                lines += [heading, "", f"Narrative under {shown[control_id]} above.", ""]
                continue
            shown[control_id] = criterion.id
            lines += [heading, "", control.narrative.text, ""]
    return "\n".join(lines).rstrip() + "\n"


def _control_counts(controls: list[ControlResult]) -> str:
    counts: dict[str, int] = {}
    for control in controls:
        counts[control.status] = counts.get(control.status, 0) + 1
    order = ("pass", "partial", "fail", "error", "manual")
    parts = [f"{counts[s]} {s}" for s in order if counts.get(s)]
    return f"Controls: {len(controls)} ({', '.join(parts)})." if parts else "Controls: none."
