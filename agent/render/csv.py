"""The report as CSV, one row per finding (a finding under two controls is two rows): for spreadsheets."""

from __future__ import annotations

import csv
import io

from agent.render.inputs import ReportInputs
from agent.report import report_accounts
from tools.findings import Finding

COLUMNS = ("control", "criteria", "check", "severity", "status", "resource", "reason", "evidence_ids", "first_seen")


def render_csv(inputs: ReportInputs) -> str:
    """Every finding of every control. first_seen: see agent/render/inputs.py. An `account` column follows
    `status` when the findings name more than one AWS account."""
    many_accounts = len(report_accounts(inputs.report)) > 1
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    at = COLUMNS.index("resource")  # the account goes before the resource, which is named within it
    writer.writerow((*COLUMNS[:at], "account", *COLUMNS[at:]) if many_accounts else COLUMNS)
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
                    *((finding.account or "",) if many_accounts else ()),
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
