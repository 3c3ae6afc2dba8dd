"""The report as one self-contained HTML file: inline CSS and SVG, no script, no network, printable.

Order: readiness, possible incidents, the prioritised fix list, charts (criteria status by series; readiness over
time once there are two full runs), the criteria, every control (narrative with its citations linked, findings,
review state, exceptions), the out-of-scope appendix and the evidence appendix. Anchors: #crit-CC6.1,
#control-IAM-01, #ev-<evidence id>; a citation is linked only when its anchor is in the file.

Everything from the report is escaped: evidence (resource names, reasons, parameters) is hostile input.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from html import escape

from agent.render.inputs import ReadinessPoint, ReportInputs, cited_evidence_ids, review_line, reviewed_text
from agent.report import CONTROL_LABEL, CRITERION_LABEL, report_accounts
from agent.report_schema import ControlResult, ReadinessReport
from knowledge.citations import evidence_id_of
from tools.findings import Status

_CRITERION_STATUSES = ("ready", "partial", "gap", "not_assessed")
_CITATION = re.compile(r"\[([^\[\]\s]+)\]")
_BAR_WIDTH = 420  # px of the longest bar in the series chart
_ROW = 22  # px per bar row

_CSS = """
:root{--fg:#1b1f24;--bg:#fff;--muted:#57606a;--line:#d0d7de;--panel:#f6f8fa;--link:#0550ae;
--ready:#2da44e;--partial:#d4a72c;--gap:#cf222e;--not_assessed:#8c959f;--pass:#2da44e;--fail:#cf222e;
--error:#bc4c00;--other:#8c959f}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#8d96a0;--line:#30363d;
--panel:#161b22;--link:#4493f8;--ready:#3fb950;--partial:#d29922;--gap:#f85149;--not_assessed:#6e7681;
--pass:#3fb950;--fail:#f85149;--error:#db6d28;--other:#6e7681}}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);
margin:0 auto;max-width:1100px;padding:24px}
a{color:var(--link)}
h1{font-size:1.7em;margin:.2em 0}h2{border-bottom:1px solid var(--line);padding-bottom:.2em;margin-top:2em}
h3{margin:1.4em 0 .3em}
.muted{color:var(--muted)}.small{font-size:.85em}
.headline{display:flex;gap:24px;align-items:center;flex-wrap:wrap;background:var(--panel);
border:1px solid var(--line);border-radius:8px;padding:16px}
.big{font-size:2.6em;font-weight:700;line-height:1}
.warn{border-left:4px solid var(--gap);background:var(--panel);padding:8px 12px;margin:8px 0}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:.92em}
th,td{border:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
th{background:var(--panel)}
td.wrap{overflow-wrap:anywhere;word-break:break-word}
code{font-size:.9em}a code,td.due{white-space:nowrap}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:.8em;font-weight:600;color:#fff;
background:var(--other);white-space:nowrap}
.b-ready,.b-pass,.b-evidenced{background:var(--pass)}.b-partial{background:var(--partial);color:#1b1f24}
.b-gap,.b-fail,.b-critical,.b-high{background:var(--fail)}.b-error,.b-medium{background:var(--error)}
.control{border:1px solid var(--line);border-radius:8px;padding:4px 16px 12px;margin:16px 0}
.narrative p{margin:.5em 0}
.review{background:var(--panel);padding:6px 10px;border-radius:6px}
svg text{fill:var(--fg);font:12px system-ui,sans-serif}
svg .ready{fill:var(--ready)}svg .partial{fill:var(--partial)}svg .gap{fill:var(--gap)}
svg .not_assessed{fill:var(--not_assessed)}svg .line{stroke:var(--link);fill:none;stroke-width:2}
svg .dot{fill:var(--link)}svg .axis{stroke:var(--line)}
.legend span{margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
nav ul{columns:3;padding-left:18px}
@media print{body{max-width:none;padding:0;font-size:11pt;color:#000;background:#fff}nav{display:none}
a{color:#000;text-decoration:none}.control,tr,figure{break-inside:avoid}h2{break-after:avoid}
.headline,th,.review,.warn{background:#fff}}
"""


def render_html(inputs: ReportInputs) -> str:
    report = inputs.report
    evidence_ids = cited_evidence_ids(report)
    anchors = {f"crit-{c.id}" for c in report.criteria} | {f"control-{c.id}" for c in report.controls}
    anchors |= {f"ev-{e}" for e in evidence_ids}
    many_accounts = len(report_accounts(report)) > 1  # then findings and fixes get an Account column
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        f"<title>SOC 2 readiness: {_e(report.company)}</title>",
        f"<style>{_CSS}</style></head><body>",
        *_headline(report),
        *_contents(),
        *_incidents(report),
        *_fix_list(report),
        *_charts(inputs),
        *_criteria(inputs),
        '<h2 id="controls">Controls</h2>',
        *(line for control in report.controls for line in _control(control, anchors, many_accounts)),
        *_out_of_scope(report),
        *_evidence_appendix(inputs, evidence_ids),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


@functools.lru_cache(maxsize=1 << 16)
def _escape(text: str) -> str:
    return escape(text, quote=True)


def _e(value: object) -> str:
    # Cached: check ids, statuses, evidence ids and dates repeat thousands of times in a large report.
    return _escape(str(value))


def _badge(status: str, label: str | None = None) -> str:
    return f'<span class="badge b-{_e(status)}">{_e(label or status)}</span>'


def _evidence_links(ids: Iterable[str]) -> str:
    return " ".join(_evidence_link(e) for e in ids)


@functools.lru_cache(maxsize=1 << 16)
def _evidence_link(evidence_id: str) -> str:
    return f'<a href="#ev-{_e(evidence_id)}"><code>ev:{_e(evidence_id)}</code></a>'


def _control_links(ids: Iterable[str]) -> str:
    return ", ".join(f'<a href="#control-{_e(c)}">{_e(c)}</a>' for c in ids)


# -- the top: readiness, incidents, fix list ------------------------------------------------------------


def _headline(report: ReadinessReport) -> list[str]:
    run, s = report.run, report.summary
    finished = f", finished {run.finished_at:%Y-%m-%d %H:%M} UTC" if run.finished_at else ""
    counts = ", ".join(f"{n} {CONTROL_LABEL[k]}" for k, n in s.control_counts.items())
    lines = [
        f"<h1>SOC 2 readiness: {_e(report.company)}</h1>",
        f'<p class="muted">Run <code>{_e(run.id)}</code> ({_e(run.trigger)}), started '
        f"{run.started_at:%Y-%m-%d %H:%M} UTC{finished}. Narratives written by {_e(run.writer.provider)} "
        f"({_e(run.writer.model)}).</p>",
        '<div class="headline">',
        f'<div><div class="big">{s.readiness_pct:.1f}%</div><div class="muted">readiness</div></div>',
        f"<div>{s.ready} of {s.criteria_total} criteria ready; {s.partial} partial, {s.gap} gap, "
        f"{s.not_assessed} not assessed.<br>Controls evidenced: {s.controls_evidenced} of {s.controls_total} "
        f"({s.controls_evidenced_pct:.1f}%): {_e(counts)}.<br>To fix: {len(report.fix_list)}; "
        f"possible incidents: {len(report.possible_incidents)}.</div>",
        "</div>",
    ]
    for source in run.sources:
        if source.state == "error":
            lines.append(
                f'<p class="warn"><strong>Incomplete: {_e(source.source)} could not be read</strong>: '
                f"{_e(source.cause)} (fix: {_e(source.fix)}); its checks say error.</p>"
            )
    if run.merged_from:
        lines.append(
            f'<p class="muted">This run judged only some controls; the others are as in run '
            f"<code>{_e(run.merged_from)}</code>.</p>"
        )
    return lines


def _contents() -> list[str]:
    entries = [
        ("incidents", "Possible incidents"),
        ("fix", "What to fix"),
        ("charts", "Charts"),
        ("criteria", "Criteria"),
        ("controls", "Controls"),
        ("evidence", "Evidence appendix"),
    ]
    items = "".join(f'<li><a href="#{anchor}">{label}</a></li>' for anchor, label in entries)
    return [f"<nav><ul>{items}</ul></nav>"]


def _incidents(report: ReadinessReport) -> list[str]:
    lines = ['<h2 id="incidents">Possible incidents</h2>']
    if not report.possible_incidents:
        return lines + ["<p>None: no principal's log findings of different checks fell within an hour.</p>"]
    lines.append("<p>Log findings by one principal close together in time: look at these first.</p>")
    for incident in report.possible_incidents:
        lines.append(
            f'<div class="warn"><strong>{_e(incident.principal)}</strong>, '
            f"{incident.first_at:%Y-%m-%d %H:%M} to {incident.last_at:%H:%M} UTC "
            f"(controls {_control_links(incident.controls)})<ul>"
        )
        for event in incident.events:
            lines.append(
                f"<li>{event.at:%H:%M} {_e(event.check)} <code>{_e(event.resource)}</code>: "
                f"{_e(event.reason)} {_evidence_links(event.evidence_ids)}</li>"
            )
        lines.append("</ul></div>")
    return lines


def _fix_list(report: ReadinessReport) -> list[str]:
    lines = ['<h2 id="fix">What to fix</h2>']
    if not report.fix_list:
        return lines + ["<p>No check failed or errored.</p>"]
    many_accounts = len(report_accounts(report)) > 1
    lines += [
        "<p>Most severe first: one row per resource and problem, with the controls it affects.</p>",
        "<table><tr><th>Severity</th><th>Due</th><th>Owner</th>"
        + ("<th>Account</th>" if many_accounts else "")
        + "<th>Resource</th><th>Problem</th><th>Controls</th><th>Evidence</th></tr>",
    ]
    for item in report.fix_list:
        severity = str(item.severity or "unrated")
        problem = item.check if item.status == "fail" else f"{item.check} (could not be judged)"
        account = f"<td>{_e(item.account or '')}</td>" if many_accounts else ""
        lines.append(
            f'<tr><td>{_badge(severity)}</td><td class="due">{item.due:%Y-%m-%d}</td>'
            f"<td>{_e(item.owner_role or 'not set')}</td>{account}"
            f'<td class="wrap"><code>{_e(item.resource)}</code></td><td class="wrap">{_e(problem)}: '
            f"{_e(item.reason)}</td><td>{_control_links(item.controls)}</td>"
            f"<td>{_evidence_links(item.evidence_ids)}</td></tr>"
        )
    return lines + ["</table>"]


# -- charts -----------------------------------------------------------------------------------------------


def _charts(inputs: ReportInputs) -> list[str]:
    lines = ['<h2 id="charts">Charts</h2>', *_series_chart(inputs)]
    if len(inputs.history) >= 2:
        lines += _history_chart(inputs.history)
    else:
        lines.append('<p class="muted">Readiness over time appears once there are two full runs.</p>')
    return lines


def _series_chart(inputs: ReportInputs) -> list[str]:
    """One stacked bar per criterion series (CC1..CC9, A1, C1, PI1, P1..P8): its criteria by status."""
    counts: dict[str, dict[str, int]] = {series: {} for series in inputs.catalog.series()}
    for criterion in inputs.report.criteria:
        known = inputs.catalog.get(criterion.id)
        series = known.series if known else criterion.id.split(".")[0]
        tally = counts.setdefault(series, {})
        tally[criterion.status] = tally.get(criterion.status, 0) + 1
    widest = max((sum(t.values()) for t in counts.values()), default=1) or 1
    unit = _BAR_WIDTH / widest
    label_width, height = 48, _ROW * len(counts) + 8
    rows = []
    for index, (series, tally) in enumerate(counts.items()):
        y = 4 + index * _ROW
        rows.append(f'<text x="0" y="{y + 14}">{_e(series)}</text>')
        x = float(label_width)
        for status in _CRITERION_STATUSES:
            n = tally.get(status, 0)
            if n:
                rows.append(
                    f'<rect class="{status}" x="{x:.1f}" y="{y}" width="{n * unit:.1f}" height="{_ROW - 6}">'
                    f"<title>{_e(series)}: {n} {CRITERION_LABEL[status].lower()}</title></rect>"
                )
                x += n * unit
        rows.append(f'<text x="{x + 6:.1f}" y="{y + 14}">{sum(tally.values())}</text>')
    legend = "".join(
        f'<span><i style="background:var(--{s})"></i>{CRITERION_LABEL[s]}</span>' for s in _CRITERION_STATUSES
    )
    width = label_width + _BAR_WIDTH + 40
    return [
        "<figure><figcaption><strong>Criteria by status, per series</strong></figcaption>",
        f'<svg role="img" aria-label="Criteria by status per series" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        *rows,
        "</svg>",
        f'<div class="legend small">{legend}</div></figure>',
    ]


def _history_chart(history: list[ReadinessPoint]) -> list[str]:
    """Readiness of each full run, oldest first: a line over 0..100%."""
    width, height, left, top, bottom = 560, 200, 40, 10, 30
    plot_w, plot_h = width - left - 10, height - top - bottom
    step = plot_w / max(len(history) - 1, 1)
    points = [(left + i * step, top + plot_h * (1 - p.readiness_pct / 100)) for i, p in enumerate(history)]
    rows = [
        f'<line class="axis" x1="{left}" y1="{top + plot_h * (1 - v / 100)}" x2="{width - 10}" '
        f'y2="{top + plot_h * (1 - v / 100)}"/><text x="0" y="{top + plot_h * (1 - v / 100) + 4}">{v}%</text>'
        for v in (0, 50, 100)
    ]
    rows.append(f'<polyline class="line" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}"/>')
    for (x, y), point in zip(points, history, strict=True):
        rows.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{point.at:%Y-%m-%d %H:%M}: '
            f"{point.readiness_pct:.1f}% (run {_e(point.run_id)})</title></circle>"
        )
    # The first and last run's dates, kept inside the chart.
    for (x, _), point, anchor in ((points[0], history[0], "start"), (points[-1], history[-1], "end")):
        rows.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="{anchor}">{point.at:%Y-%m-%d}</text>')
    return [
        f"<figure><figcaption><strong>Readiness over time</strong> ({len(history)} full runs)</figcaption>",
        f'<svg role="img" aria-label="Readiness over time" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        *rows,
        "</svg></figure>",
    ]


# -- criteria and controls --------------------------------------------------------------------------------


def _criteria(inputs: ReportInputs) -> list[str]:
    lines = ['<h2 id="criteria">Criteria</h2>']
    for criterion in inputs.report.criteria:
        known = inputs.catalog.get(criterion.id)
        controls = _control_links(criterion.control_ids) or "no control in this run covers it"
        lines += [
            f'<h3 id="crit-{_e(criterion.id)}">{_e(criterion.id)} '
            f"{_badge(criterion.status, CRITERION_LABEL[criterion.status])}</h3>",
            f"<blockquote>{_e(known.text)}</blockquote>" if known else "",
            f"<p>Controls: {controls}</p>",
        ]
    return lines


def _control(control: ControlResult, anchors: set[str], many_accounts: bool = False) -> list[str]:
    criteria = ", ".join(f'<a href="#crit-{_e(c)}">{_e(c)}</a>' for c in control.criteria)
    flags = " (offline fallback)" if control.narrative.status == "fallback" else ""
    lines = [
        f'<section class="control" id="control-{_e(control.id)}">',
        f"<h3>{_e(control.id)} {_e(control.title)} {_badge(control.status, CONTROL_LABEL[control.status])}"
        f"{_e(flags)}</h3>",
        f'<p class="small muted">Criteria: {criteria}. Kind: {_e(control.kind)}. Owner: '
        f"{_e(control.owner_role or 'not set')}."
        + (f" Judged in run <code>{_e(control.run_id)}</code>." if control.run_id else "")
        + "</p>",
    ]
    if control.status_reason:
        lines.append(f"<p><em>{_e(control.status_reason)}</em></p>")
    for found in control.possible_injections:
        lines.append(
            f'<p class="warn"><strong>Possible prompt injection</strong> in {_e(found.source)}: '
            f"“{_e(found.excerpt)}” reads as an instruction (“{_e(found.phrase)}”). It reached the model "
            "only as data; check where it came from.</p>"
        )
    lines += _narrative(control, anchors)
    lines += _findings(control, many_accounts)
    lines += _exceptions(control)
    return lines + ["</section>"]


def _narrative(control: ControlResult, anchors: set[str]) -> list[str]:
    """The narrative as reviewed (an edit replaces the draft; a rejected draft is withheld), citations linked."""
    lines = [f'<div class="review">{_e(review_line(control))}</div>']
    text = reviewed_text(control)
    if text:
        paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
        linked = "".join(f"<p>{_linked(p, anchors)}</p>" for p in paragraphs)
        lines.append(f'<div class="narrative">{linked}</div>')
    attachments = control.review.attachments if control.review else []
    if attachments:
        lines.append("<ul>")
        for attachment in attachments:
            approval = f"approved by {attachment.approved_by}" if attachment.approved else "not approved yet"
            lines.append(
                f"<li>Manual evidence <code>{_e(attachment.file)}</code> "
                f"{_evidence_links([attachment.evidence_id])}, covering {attachment.period_start} to "
                f"{attachment.period_end}, attached by {_e(attachment.attached_by)}; {_e(approval)}.</li>"
            )
        lines.append("</ul>")
    return lines


def _linked(text: str, anchors: set[str]) -> str:
    """Escaped text whose [citations] link to the evidence appendix, the criteria or a control, when present."""
    out, last = [], 0
    for match in _CITATION.finditer(text):
        out.append(_e(text[last : match.start()]))
        cited = match.group(1)
        evidence_id = evidence_id_of(cited)
        if evidence_id is not None:
            target = f"ev-{evidence_id}"
        elif cited.startswith("control:"):
            target = f"control-{cited.removeprefix('control:')}"
        else:
            target = f"crit-{cited.split('/pof/')[0]}"
        label = f"[{_e(cited)}]"
        out.append(f'<a href="#{_e(target)}">{label}</a>' if target in anchors else label)
        last = match.end()
    out.append(_e(text[last:]))
    return "".join(out)


def _findings(control: ControlResult, many_accounts: bool) -> list[str]:
    if not control.findings:
        return ['<p class="muted">No findings.</p>']
    lines = [
        "<table><tr><th>Status</th><th>Severity</th><th>Check</th>"
        + ("<th>Account</th>" if many_accounts else "")
        + "<th>Resource</th><th>Reason</th><th>Evidence</th></tr>"
    ]
    for finding in control.findings:
        severity = str(finding.severity) if finding.severity else ""
        account = f"<td>{_e(finding.account or '')}</td>" if many_accounts else ""
        lines.append(
            f"<tr><td>{_badge(str(finding.status))}</td><td>{_e(severity)}</td><td>{_e(finding.check)}</td>{account}"
            f'<td class="wrap"><code>{_e(finding.resource)}</code></td><td class="wrap">{_e(finding.reason)}</td>'
            f"<td>{_evidence_links(finding.evidence_ids)}</td></tr>"
        )
    return lines + ["</table>"]


def _exceptions(control: ControlResult) -> list[str]:
    """Each exception (failed finding) with the management response recorded for it, or none yet."""
    failed = [f for f in control.findings if f.status == Status.FAIL]
    if not failed:
        return []
    responses = control.review.responses if control.review else []
    lines = ["<p><strong>Exceptions and management responses</strong></p><ul>"]
    for finding in failed:
        response = next((r for r in reversed(responses) if r.answers(finding)), None)
        what = f"<code>{_e(finding.resource)}</code> ({_e(finding.check)})"
        if response is None:
            lines.append(f"<li>{what}: no response yet.</li>")
            continue
        due = f"; remediation by {response.remediation_date}" if response.remediation_date else ""
        compensating = (
            f"; compensating control: {_e(response.compensating_control)}" if response.compensating_control else ""
        )
        lines.append(
            f"<li>{what}: cause: {_e(response.cause)}; response: {_e(response.response)}{due}{compensating} "
            f"({_e(response.responded_by)}, {response.responded_at:%Y-%m-%d}).</li>"
        )
    return lines + ["</ul>"]


# -- appendices -------------------------------------------------------------------------------------------


def _out_of_scope(report: ReadinessReport) -> list[str]:
    if not report.out_of_scope:
        return []
    lines = [
        '<h2 id="out-of-scope">Appendix: out of scope</h2>',
        "<table><tr><th>Resource</th><th>Reason</th><th>Controls</th><th>Checks</th><th>Evidence</th></tr>",
    ]
    for item in report.out_of_scope:
        lines.append(
            f'<tr><td class="wrap"><code>{_e(item.resource)}</code></td><td>{_e(item.reason)}</td>'
            f"<td>{_control_links(item.controls)}</td><td>{_e(', '.join(item.checks))}</td>"
            f"<td>{_evidence_links(item.evidence_ids)}</td></tr>"
        )
    return lines + ["</table>"]


def _evidence_appendix(inputs: ReportInputs, evidence_ids: set[str]) -> list[str]:
    """One row per cited evidence item: what collected it, when, its hash and redactions (the data stays in the
    locker and the evidence package)."""
    lines = [
        '<h2 id="evidence">Evidence appendix</h2>',
        f"<p>{len(evidence_ids)} evidence items cited. Their data, redacted, is in the evidence locker "
        "(<code>auditor evidence show ID</code>) and the auditor's evidence package.</p>",
        "<table><tr><th>Id</th><th>Collected by</th><th>Parameters</th><th>Collected at</th>"
        "<th>SHA-256</th><th>Redactions</th></tr>",
    ]
    for evidence_id in sorted(evidence_ids):
        record = inputs.evidence.get(evidence_id)
        if record is None:
            lines.append(
                f'<tr id="ev-{_e(evidence_id)}"><td><code>ev:{_e(evidence_id)}</code></td>'
                '<td colspan="5" class="muted">Not in this workspace\'s evidence locker.</td></tr>'
            )
            continue
        params = json.dumps(record.params, sort_keys=True, ensure_ascii=False)
        redactions = ", ".join(f"{kind} {n}" for kind, n in sorted(record.redactions.items())) or "none"
        lines.append(
            f'<tr id="ev-{_e(evidence_id)}"><td><code>ev:{_e(evidence_id)}</code></td>'
            f'<td>{_e(record.source)}: {_e(record.tool)}</td><td class="wrap"><code>{_e(params)}</code></td>'
            f'<td>{_e(record.collected_at)}</td><td class="wrap"><code>{_e(record.sha256)}</code></td>'
            f"<td>{_e(redactions)}</td></tr>"
        )
    return lines + ["</table>"]
