"""The report as CSV, one row per finding (a finding under two controls is two rows): for spreadsheets."""

from __future__ import annotations

import csv
import io

from agent.render.inputs import ReportInputs
from tools.findings import Finding

COLUMNS = ("control", "criteria", "check", "severity", "status", "resource", "reason", "evidence_ids", "first_seen")


def render_csv(inputs: ReportInputs) -> str:
    """Every finding of every control. first_seen: see agent/render/inputs.py."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for control in inputs.report.controls:
        for finding in control.findings:
            seen = inputs.first_seen_of(control, finding)
            writer.writerow(
                (
                    control.id,
                    " ".join(control.criteria),
                    finding.check,
                    _severity(finding),
                    str(finding.status),
                    _cell(finding.resource),
                    _cell(finding.reason),
                    " ".join(finding.evidence_ids),
                    seen.isoformat() if seen else "",
                )
            )
    return out.getvalue()


def _severity(finding: Finding) -> str:
    return str(finding.severity) if finding.severity else ""


def _cell(text: str) -> str:
    # Evidence is hostile input: a cell starting with = + - @ is a formula to a spreadsheet (CSV injection).
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
