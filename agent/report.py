"""From per-control results to the readiness report (auditor.readiness/v2), and its two renderings.

Control status (control_status; not-applicable and out-of-scope findings are set aside, "judged" = the rest):
- fail: a judged finding failed, and it is critical/high severity or no check passed outright.
- partial: some findings failed (medium/low severity only) and at least one check passed outright.
- error: nothing failed but some finding could not be judged (unreadable source, check crashed): never a pass.
- pass: at least one check ran on in-scope evidence and every judged finding passed.
- not_applicable: nothing was judged (every finding not applicable or out of scope, or none at all).
- manual controls: awaiting_evidence until an approved attachment covering the current period exists, then
  evidenced. Hybrid controls take the automated status, except that a pass without such an attachment is
  awaiting_evidence (the manual half is missing). Every control with a design statement only a person can
  evidence (`provide`) is hybrid or manual (knowledge/control_library.py refuses an automated one), so checks
  alone never pass a control whose design they do not wholly test.
A finding without a severity counts as high (fail closed).

Criterion status (criterion_status, over the controls mapped to it):
- gap: a mapped control is fail or partial.
- ready: every mapped control is pass or evidenced, and at least one maps the criterion strongly (not listed in
  its weak_criteria): a weak control alone never makes a criterion ready.
- not_assessed: no mapped control is pass, evidenced, fail or partial (or no control maps it).
- partial: anything else.
readiness_pct = ready / criteria_total * 100 over every criterion in the catalog, one decimal.

The fix list has one line per (resource, check) that failed or could not be judged, with every control it
affects, ordered by severity; possible incidents correlate log findings by one principal within an hour.
The appendix lists every resource the audit scope set aside (tools/scope.py), with its reason and controls.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from agent.report_schema import (
    CONTROL_STATUSES,
    Attachment,
    ControlResult,
    ControlStatus,
    CriterionResult,
    CriterionStatus,
    FixItem,
    IncidentEvent,
    OutOfScopeItem,
    PossibleIncident,
    ReadinessReport,
    RunInfo,
    Summary,
)
from knowledge.catalog import Catalog
from tools.config import DEFAULT_DUE_DAYS
from tools.findings import SEVERITY_ORDER, Finding, Severity, Status
from tools.workspace import Workspace

LATEST = "latest"
# Log findings by one principal this close together are reported together as a possible incident.
INCIDENT_WINDOW = timedelta(hours=1)

_SET_ASIDE = (Status.NOT_APPLICABLE, Status.OUT_OF_SCOPE)
_SEVERE = (Severity.CRITICAL, Severity.HIGH)
_EVIDENCED = ("pass", "evidenced")


class StatusVerdict(NamedTuple):
    status: ControlStatus
    reason: str


def effective_severity(finding: Finding) -> Severity:
    return finding.severity or Severity.HIGH


def control_status(kind: str, findings: Iterable[Finding], *, evidenced: bool = False) -> StatusVerdict:
    """A control's status and why; `evidenced`: an approved attachment covers the current period."""
    if kind == "manual":
        if evidenced:
            return StatusVerdict("evidenced", "An approved attachment covers the current period.")
        return StatusVerdict("awaiting_evidence", "No approved attachment covers the current period yet.")
    verdict = _automated_status(list(findings))
    if kind == "hybrid" and verdict.status == "pass":
        if evidenced:
            return StatusVerdict("pass", f"{verdict.reason} An approved attachment covers the manual part.")
        missing = "No approved attachment covers the manual part yet."
        return StatusVerdict("awaiting_evidence", f"{verdict.reason} {missing}")
    return verdict


def _automated_status(findings: list[Finding]) -> StatusVerdict:
    judged = [f for f in findings if f.status not in _SET_ASIDE]
    failed = [f for f in judged if f.status == Status.FAIL]
    errors = [f for f in judged if f.status == Status.ERROR]
    checks = {f.check for f in judged}
    # A check passes outright when it judged something and every judged finding of it passed.
    passed_checks = checks - {f.check for f in failed + errors}
    if failed:
        severe = [f for f in failed if effective_severity(f) in _SEVERE]
        worst = severe[0] if severe else failed[0]
        counted = f"{len(failed)} finding(s) failed, e.g. {worst.check} on {worst.resource}"
        if severe:
            return StatusVerdict("fail", f"{counted} ({effective_severity(worst)} severity).")
        if not passed_checks:
            return StatusVerdict("fail", f"{counted}; no check passed.")
        return StatusVerdict(
            "partial", f"{counted} (medium/low severity); {len(passed_checks)} of {len(checks)} check(s) passed."
        )
    if errors:
        return StatusVerdict("error", f"{len(errors)} finding(s) could not be judged: {errors[0].reason}")
    if judged:
        ran = f"{len(checks)} check(s) ran on in-scope evidence and all {len(judged)} finding(s) passed."
        return StatusVerdict("pass", ran)
    if findings:
        return StatusVerdict("not_applicable", f"No check applied: {findings[0].reason}")
    return StatusVerdict("not_applicable", "No check found anything to judge.")


def criterion_status(criterion_id: str, controls: Iterable[ControlResult]) -> CriterionStatus:
    mapped = list(controls)
    statuses = [c.status for c in mapped]
    if any(s in ("fail", "partial") for s in statuses):
        return "gap"
    if not any(s in _EVIDENCED for s in statuses):
        return "not_assessed"
    strong = any(criterion_id not in c.weak_criteria for c in mapped)
    if all(s in _EVIDENCED for s in statuses) and strong:
        return "ready"
    return "partial"


def has_current_attachment(control_id: str, attachments: Iterable[Attachment], day: date) -> bool:
    """A reviewer approved an attachment for this control whose period covers `day`."""
    return any(a.control_id == control_id and a.approved and a.covers(day) for a in attachments)


def aggregate(
    company: str,
    run: RunInfo,
    results: Iterable[ControlResult],
    catalog: Catalog,
    *,
    attachments: Iterable[Attachment] = (),
    due_days: Mapping[Severity, int] | None = None,
) -> ReadinessReport:
    """The report: statuses, criteria and summary (see assess), then the fix list, possible incidents and the
    out-of-scope appendix."""
    controls, criteria, summary = assess(results, catalog, attachments, run.started_at.date())
    return ReadinessReport(
        company=company,
        run=run,
        summary=summary,
        criteria=criteria,
        controls=controls,
        possible_incidents=possible_incidents(controls),
        fix_list=fix_list(controls, run.started_at.date(), due_days or DEFAULT_DUE_DAYS),
        out_of_scope=out_of_scope(controls),
    )


def reassess(report: ReadinessReport, catalog: Catalog, attachments: Iterable[Attachment]) -> ReadinessReport:
    """The report with statuses, criteria and summary derived again with the attachments known now: reviewers
    attach manual evidence after a run. Findings, and so the fix list and incidents, are unchanged."""
    controls, criteria, summary = assess(report.controls, catalog, attachments, report.run.started_at.date())
    return report.model_copy(update={"controls": controls, "criteria": criteria, "summary": summary})


def assess(
    results: Iterable[ControlResult], catalog: Catalog, attachments: Iterable[Attachment], run_date: date
) -> tuple[list[ControlResult], list[CriterionResult], Summary]:
    """Every control's status from its findings and attachments (an approved one covering the run's date
    evidences it), every criterion's status from its controls, and the summary."""
    attachments = list(attachments)
    controls = []
    for result in sorted(results, key=lambda r: r.id):
        verdict = control_status(
            result.kind, result.findings, evidenced=has_current_attachment(result.id, attachments, run_date)
        )
        controls.append(result.model_copy(update={"status": verdict.status, "status_reason": verdict.reason}))
    criteria = []
    for criterion_id in catalog.ids():
        mapped = [c for c in controls if criterion_id in c.criteria]
        criteria.append(
            CriterionResult(
                id=criterion_id, status=criterion_status(criterion_id, mapped), control_ids=[c.id for c in mapped]
            )
        )
    return controls, criteria, summarize(criteria, controls)


def summarize(criteria: list[CriterionResult], controls: list[ControlResult]) -> Summary:
    counts = {s: sum(1 for c in criteria if c.status == s) for s in ("ready", "partial", "gap", "not_assessed")}
    control_counts = {s: n for s in CONTROL_STATUSES if (n := sum(1 for c in controls if c.status == s))}
    evidenced = sum(control_counts.get(s, 0) for s in _EVIDENCED)
    return Summary(
        criteria_total=len(criteria),
        ready=counts["ready"],
        partial=counts["partial"],
        gap=counts["gap"],
        not_assessed=counts["not_assessed"],
        readiness_pct=_percent(counts["ready"], len(criteria)),
        controls_total=len(controls),
        controls_evidenced=evidenced,
        controls_evidenced_pct=_percent(evidenced, len(controls)),
        control_counts=control_counts,
    )


def _percent(part: int, whole: int) -> float:
    return round(part / whole * 100, 1) if whole else 0.0


def fix_list(controls: list[ControlResult], run_date: date, due_days: Mapping[Severity, int]) -> list[FixItem]:
    """One item per (resource, check) that failed or could not be judged, with every control it affects."""
    by_problem: dict[tuple[str | None, str, str], list[tuple[ControlResult, Finding]]] = {}
    for control in controls:
        for finding in control.findings:
            if finding.status in (Status.FAIL, Status.ERROR):
                key = (finding.account, finding.resource, finding.check)
                by_problem.setdefault(key, []).append((control, finding))
    items = []
    for (account, resource, check_id), affected in by_problem.items():
        findings = [finding for _, finding in affected]
        failing = [f for f in findings if f.status == Status.FAIL]
        shown = (failing or findings)[0]
        severity = effective_severity(shown)
        items.append(
            FixItem(
                resource=resource,
                check=check_id,
                status="fail" if failing else "error",
                severity=shown.severity,
                reason=shown.reason,
                controls=sorted({control.id for control, _ in affected}),
                owner_role=" / ".join(sorted({control.owner_role for control, _ in affected if control.owner_role})),
                due=run_date + timedelta(days=due_days[severity]),
                evidence_ids=sorted({e for f in findings for e in f.evidence_ids}),
                account=account,
            )
        )
    rank = {severity: index for index, severity in enumerate(SEVERITY_ORDER)}
    return sorted(
        items,
        key=lambda i: (rank[i.severity or Severity.HIGH], i.status != "fail", i.resource, i.check, i.account or ""),
    )


def report_accounts(report: ReadinessReport) -> list[str]:
    """The AWS accounts the report's findings name; with two or more, the renderings add an account column."""
    return sorted({f.account for control in report.controls for f in control.findings if f.account is not None})


def out_of_scope(controls: list[ControlResult]) -> list[OutOfScopeItem]:
    """One item per resource and reason the audit scope set aside, with the controls and checks concerned."""
    by_reason: dict[tuple[str, str], list[tuple[str, Finding]]] = {}
    for control in controls:
        for finding in control.findings:
            if finding.status == Status.OUT_OF_SCOPE:
                by_reason.setdefault((finding.resource, finding.reason), []).append((control.id, finding))
    return [
        OutOfScopeItem(
            resource=resource,
            reason=reason,
            controls=sorted({control_id for control_id, _ in found}),
            checks=sorted({finding.check for _, finding in found}),
            evidence_ids=sorted({e for _, finding in found for e in finding.evidence_ids}),
        )
        for (resource, reason), found in sorted(by_reason.items())
    ]


# -- possible incidents ----------------------------------------------------------------------------


class _Signal(NamedTuple):
    principal: str
    at: datetime
    finding: Finding


def possible_incidents(controls: list[ControlResult]) -> list[PossibleIncident]:
    """Failing log findings of different checks by one principal within INCIDENT_WINDOW of each other.

    A log finding takes part when its facts name the `principal` (several: comma-separated) and the
    `first` / `last` event times; only those two times are known, so those are what is correlated.
    """
    signals: dict[str, list[_Signal]] = {}
    controls_of: dict[tuple[str, str], set[str]] = {}
    for control in controls:
        for finding in control.findings:
            if finding.status != Status.FAIL or not finding.facts.get("principal"):
                continue
            key = (finding.check, finding.resource)
            if key in controls_of:  # the same finding under another control
                controls_of[key].add(control.id)
                continue
            controls_of[key] = {control.id}
            times = {_parse_time(finding.facts.get("first")), _parse_time(finding.facts.get("last"))} - {None}
            for principal in str(finding.facts["principal"]).split(", "):
                signals.setdefault(principal, []).extend(_Signal(principal, at, finding) for at in times)
    incidents = []
    for principal, found in sorted(signals.items()):
        found.sort(key=lambda s: (s.at, s.finding.check, s.finding.resource))
        for cluster in _clusters(found):
            earliest: dict[tuple[str, str], _Signal] = {}
            for signal in cluster:
                earliest.setdefault((signal.finding.check, signal.finding.resource), signal)
            checks = sorted({check for check, _ in earliest})
            if len(checks) < 2:
                continue
            minutes = round((cluster[-1].at - cluster[0].at).total_seconds() / 60)
            incidents.append(
                PossibleIncident(
                    principal=principal,
                    summary=f"{principal}: {', '.join(checks)} within {minutes} minute(s).",
                    first_at=cluster[0].at,
                    last_at=cluster[-1].at,
                    events=[
                        IncidentEvent(
                            check=s.finding.check,
                            resource=s.finding.resource,
                            at=s.at,
                            reason=s.finding.reason,
                            evidence_ids=s.finding.evidence_ids,
                        )
                        for s in earliest.values()
                    ],
                    controls=sorted(set().union(*(controls_of[key] for key in earliest))),
                )
            )
    return sorted(incidents, key=lambda i: (i.first_at, i.principal))


def _clusters(signals: list[_Signal]) -> list[list[_Signal]]:
    """Runs of time-sorted signals where each is within INCIDENT_WINDOW of the one before."""
    clusters: list[list[_Signal]] = []
    for signal in signals:
        if clusters and signal.at - clusters[-1][-1].at <= INCIDENT_WINDOW:
            clusters[-1].append(signal)
        else:
            clusters.append([signal])
    return clusters


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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


def merge_into_latest(
    workspace: Workspace, results: list[ControlResult], library_ids: Iterable[str]
) -> tuple[list[ControlResult], str | None]:
    """A `--controls` run's results, with every other control of the library taken as it was from the latest
    report (keeping the run and date that judged it): a partial run updates the report, not replaces it.

    Returns the merged results and the run id they were merged from (None: no earlier report to merge into).
    """
    base_id = latest_run_id(workspace)
    if base_id is None:
        return results, None
    try:
        base = read_report(workspace, base_id)
    except (OSError, ValueError):  # gone, or unreadable (pydantic's ValidationError is a ValueError)
        return results, None
    judged = {result.id for result in results}
    wanted = set(library_ids)
    carried = [
        control
        if control.run_id
        else control.model_copy(
            update={"run_id": base.run.id, "assessed_at": base.run.finished_at or base.run.started_at}
        )
        for control in base.controls
        if control.id not in judged and control.id in wanted
    ]
    return [*results, *carried], base.run.id


def keep_other_checks(
    workspace: Workspace, results: list[ControlResult], checks: frozenset[str]
) -> list[ControlResult]:
    """A `--checks` run's results, each control keeping the latest report's findings of the checks not run: a
    control judged again on one check is not judged on that check alone."""
    base_id = latest_run_id(workspace)
    try:
        base = {control.id: control for control in read_report(workspace, base_id).controls} if base_id else {}
    except (OSError, ValueError):
        base = {}
    kept = []
    for result in results:
        earlier = [f for f in base[result.id].findings if f.check not in checks] if result.id in base else []
        kept.append(result.model_copy(update={"findings": [*result.findings, *earlier]}))
    return kept


def _write_atomically(path: Path, text: str) -> None:
    # A reader (the TUI, CI) never sees half a report.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


# -- Markdown ------------------------------------------------------------------------------------------

CRITERION_LABEL = {"ready": "Ready", "partial": "Partial", "gap": "Gap", "not_assessed": "Not assessed"}
CONTROL_LABEL: dict[str, str] = {
    "pass": "pass",
    "evidenced": "evidenced",
    "partial": "PARTIAL",
    "fail": "FAIL",
    "error": "ERROR",
    "awaiting_evidence": "awaiting evidence",
    "not_applicable": "not applicable",
}


def render_markdown(report: ReadinessReport, catalog: Catalog | None = None) -> str:
    """For people: possible incidents, the summary, the fix list, then every criterion with its narratives."""
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
    ]
    lines += _sources_markdown(run)
    lines += _incidents_markdown(report)
    lines += [
        "## Summary",
        "",
        f"**Readiness: {s.readiness_pct:.1f}%**: {s.ready} of the {s.criteria_total} criteria are ready "
        "(every control mapped to them passes or is evidenced).",
        "",
        "| Criteria | Ready | Partial | Gap | Not assessed |",
        "|---:|---:|---:|---:|---:|",
        f"| {s.criteria_total} | {s.ready} | {s.partial} | {s.gap} | {s.not_assessed} |",
        "",
        f"Controls evidenced (pass or evidenced): {s.controls_evidenced} of {s.controls_total} "
        f"({s.controls_evidenced_pct:.1f}%)." + _control_counts(s),
        "",
    ]
    fallbacks = [c.id for c in report.controls if c.narrative.status == "fallback"]
    if fallbacks:
        lines += [f"Narratives replaced by the offline writer after failing verification: {', '.join(fallbacks)}.", ""]
    injected = [c.id for c in report.controls if c.possible_injections]
    if injected:
        listed = ", ".join(injected)
        lines += [f"Possible prompt injections in the evidence or documents of: {listed} (see each control).", ""]
    awaiting = [c.id for c in report.controls if c.status == "awaiting_evidence"]
    if awaiting:
        lines += [f"Awaiting evidence (attach it in `auditor review`): {', '.join(awaiting)}.", ""]

    lines += _fix_list_markdown(report)

    lines += ["## Criteria", ""]
    shown: dict[str, str] = {}  # control id -> criterion under which its narrative was printed
    for criterion in report.criteria:
        known = catalog.get(criterion.id)
        lines += [f"### {criterion.id}: {CRITERION_LABEL[criterion.status]}", ""]
        if known:
            lines += [f"> {known.text}", ""]
        if not criterion.control_ids:
            lines += ["No control in this run covers this criterion.", ""]
        for control_id in criterion.control_ids:
            control = controls[control_id]
            flag = " (offline fallback)" if control.narrative.status == "fallback" else ""
            weak = " (supports this criterion weakly)" if criterion.id in control.weak_criteria else ""
            earlier = f" (judged in run {control.run_id})" if control.run_id not in (None, run.id) else ""
            heading = f"#### {control.id} {control.title} [{CONTROL_LABEL[control.status]}]{flag}{weak}{earlier}"
            if control_id in shown:
                lines += [heading, "", f"[Narrative under {shown[control_id]} above](#control-{control.id}).", ""]
                continue
            shown[control_id] = criterion.id
            status_line = [f"*{control.status_reason}*", ""] if control.status_reason else []
            anchor = [f'<a id="control-{control.id}"></a>', "", heading, ""]
            lines += [*anchor, *status_line, *_injections_markdown(control), *_reviewed_narrative(control), ""]
    lines += _out_of_scope_markdown(report)
    return "\n".join(lines).rstrip() + "\n"


MODEL_WRITTEN = "Model-written, not yet reviewed"


def model_written_unreviewed(control: ControlResult) -> bool:
    """The narrative shown is the run's model-written draft, and no reviewer has decided on it yet."""
    review = control.review
    unreviewed = review is None or (review.state == "awaiting_review" and review.text is None)
    return control.narrative.provenance.writer == "llm" and unreviewed


def _injections_markdown(control: ControlResult) -> list[str]:
    lines = [
        f"> **Possible prompt injection** in [{found.source}]: “{found.excerpt}” reads as an instruction "
        f"(“{found.phrase}”). It reached the model only as data; check where it came from."
        for found in control.possible_injections
    ]
    return [*lines, ""] if lines else []


def _reviewed_narrative(control: ControlResult) -> list[str]:
    """The narrative as reviewed: an edit (or a regeneration) replaces the draft; a rejected draft is withheld."""
    label = model_written_unreviewed(control)
    review = control.review
    if review is None:  # a report written before review states were recorded
        return [f"{MODEL_WRITTEN}.", "", control.narrative.text] if label else [control.narrative.text]
    on = f" on {review.at:%Y-%m-%d}" if review.at else ""
    text = review.text or control.narrative.text
    if review.state == "rejected":
        reason = f" Reason: {review.note}" if review.note else ""
        lines = [f"**Rejected by {review.reviewer}{on} — draft withheld.**{reason}"]
    elif review.state == "approved":
        edited = f"; text edited by {review.edited_by} on {review.edited_at:%Y-%m-%d}" if review.edited_at else ""
        lines = [f"Reviewed: approved by {review.reviewer}{on}{edited}.", "", text]
    elif review.state == "edited":
        lines = [f"Edited by {review.reviewer}{on}, awaiting approval.", "", text]
    else:
        draft = "Regenerated draft, awaiting review" if review.text else "Draft, awaiting review"
        draft = MODEL_WRITTEN if label else draft
        lines = [f"{draft}{f' ({review.note})' if review.note else ''}.", "", text]
    if review.attachments:
        lines.append("")
    for attachment in review.attachments:
        approval = f"approved by {attachment.approved_by}" if attachment.approved else "not approved yet"
        lines += [
            f"- Manual evidence `{Path(attachment.file).name}` [ev:{attachment.evidence_id}], covering "
            f"{attachment.period_start} to {attachment.period_end}, attached by {attachment.attached_by}; {approval}.",
        ]
    return lines + _exception_responses_markdown(control)


def _exception_responses_markdown(control: ControlResult) -> list[str]:
    """Each exception of the control with the response a person recorded for it, or "no response yet"."""
    failed = [f for f in control.findings if f.status == Status.FAIL]
    if not failed:
        return []
    responses = control.review.responses if control.review else []
    lines = ["", "Exceptions and management responses:"]
    for finding in failed:
        response = next((r for r in reversed(responses) if r.answers(finding)), None)
        if response is None:
            lines.append(f"- `{finding.resource}` ({finding.check}): no response yet.")
            continue
        due = f"; remediation by {response.remediation_date}" if response.remediation_date else ""
        compensating = (
            f"; compensating control: {response.compensating_control}" if response.compensating_control else ""
        )
        lines.append(
            f"- `{finding.resource}` ({finding.check}): cause: {response.cause}; response: {response.response}"
            f"{due}{compensating} ({response.responded_by}, {response.responded_at:%Y-%m-%d})."
        )
    return lines


def _sources_markdown(run: RunInfo) -> list[str]:
    """What this run could not read, what was not configured, and what it took from an earlier report."""
    lines = []
    for source in run.sources:
        if source.state == "error":
            lines.append(
                f"**Incomplete: {source.source} could not be read**: {source.cause} (fix: {source.fix}); "
                "its checks say error."
            )
    unconfigured = [f"{s.source} ({s.cause})" for s in run.sources if s.state == "not_configured" and s.source != "llm"]
    if unconfigured:
        lines.append(f"Not configured, so their checks are not applicable: {'; '.join(unconfigured)}.")
    if run.merged_from:
        lines.append(
            "This run judged only the controls it was asked for; the others are as in run "
            f"`{run.merged_from}` (their headings say so)."
        )
    return [line for entry in lines for line in (entry, "")]


def _incidents_markdown(report: ReadinessReport) -> list[str]:
    if not report.possible_incidents:
        return []
    lead = "Log findings by one principal close together in time: look at these first."
    lines = ["## Possible incidents", "", lead, ""]
    for incident in report.possible_incidents:
        lines.append(
            f"- **{incident.principal}**, {incident.first_at:%Y-%m-%d %H:%M} to {incident.last_at:%H:%M} UTC"
            f"{_age(incident.last_at, report.run.started_at)} (controls {', '.join(incident.controls)}):"
        )
        for event in incident.events:
            evidence = " ".join(f"[ev:{e}]" for e in event.evidence_ids)
            lines.append(f"  - {event.at:%H:%M} {event.check} `{event.resource}`: {event.reason} {evidence}".rstrip())
    return lines + [""]


def _age(event_at: datetime, run_at: datetime) -> str:
    """How long before the run the events happened: old events are history to answer, not an attack under way."""
    days = (run_at.date() - event_at.date()).days
    return f", {days} days before this run" if days > 1 else ""


def _fix_list_markdown(report: ReadinessReport) -> list[str]:
    lines = ["## What to fix", ""]
    if not report.fix_list:
        return lines + ["No check failed or errored.", ""]
    lines += ["Most severe first; one line per resource and problem, with the controls it affects.", ""]
    many_accounts = len(report_accounts(report)) > 1
    for item in report.fix_list:
        severity = (item.severity or "unrated").upper()
        problem = item.check if item.status == "fail" else f"{item.check} (could not be judged)"
        evidence = " ".join(f"[ev:{e}]" for e in item.evidence_ids)
        account = f"account {item.account}, " if many_accounts and item.account else ""
        owner = item.owner_role or "owner not set"
        lines.append(
            f"- **{severity}** due {item.due:%Y-%m-%d}, {owner}: {account}`{item.resource}` "
            f"{problem}: {item.reason} ({', '.join(item.controls)}) {evidence}".rstrip()
        )
    return lines + [""]


def _out_of_scope_markdown(report: ReadinessReport) -> list[str]:
    if not report.out_of_scope:
        return []
    lines = [
        "## Appendix: out of scope",
        "",
        "Resources the audit scope set aside for the controls listed (`[scope]` in auditor.toml, `applies_to` in "
        "the control library): those controls count them as neither pass nor fail.",
        "",
    ]
    for item in report.out_of_scope:
        evidence = " ".join(f"[ev:{e}]" for e in item.evidence_ids)
        concerned = f"{', '.join(item.controls)}; {', '.join(item.checks)}"
        lines.append(f"- `{item.resource}`: {item.reason} ({concerned}) {evidence}".rstrip())
    return lines + [""]


def _control_counts(summary: Summary) -> str:
    parts = [f"{n} {CONTROL_LABEL[status]}" for status, n in summary.control_counts.items()]
    return f" Controls by status: {', '.join(parts)}." if parts else ""
