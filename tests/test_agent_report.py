"""Readiness report: control and criterion statuses, the summary, the Markdown and the files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.report import aggregate, control_status, criterion_status, latest_run_id, read_report, render_markdown, write_report
from agent.report_schema import ControlResult, Narrative, Provenance, ReadinessReport, RunInfo, VerifierResult, WriterInfo
from agent.workspace import Workspace
from knowledge.catalog import load_catalog
from tools.findings import Finding, Status


def _finding(check: str, status: Status, resource: str = "r") -> Finding:
    return Finding(check=check, status=status, resource=resource, reason=f"{resource} is {status.value}.", evidence_ids=["0a1b2c3d4e5f"])


@pytest.mark.parametrize(
    ("kind", "statuses", "expected"),
    [
        ("manual", [], "manual"),
        ("automated", [], "error"),
        ("automated", [("a", Status.PASS), ("a", Status.NOT_APPLICABLE), ("b", Status.NOT_APPLICABLE)], "pass"),
        ("automated", [("a", Status.PASS), ("a", Status.FAIL)], "fail"),
        ("hybrid", [("a", Status.PASS), ("b", Status.FAIL)], "partial"),
        ("automated", [("a", Status.PASS), ("b", Status.ERROR)], "error"),
        ("automated", [("a", Status.FAIL), ("b", Status.ERROR)], "fail"),
    ],
)
def test_control_status(kind: str, statuses: list[tuple[str, Status]], expected: str) -> None:
    assert control_status(kind, [_finding(check, status) for check, status in statuses]) == expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], "not_assessed"),
        (["manual", "manual"], "not_assessed"),
        (["pass", "manual"], "ready"),
        (["fail", "error", "manual"], "gap"),
        (["pass", "fail"], "partial"),
        (["partial"], "partial"),
    ],
)
def test_criterion_status(statuses: list[str], expected: str) -> None:
    assert criterion_status(statuses) == expected


def _result(control_id: str, criteria: list[str], status: str, findings: list[Finding], narrative_status: str = "verified") -> ControlResult:
    return ControlResult(
        id=control_id,
        title=f"Control {control_id}",
        criteria=criteria,
        kind="manual" if status == "manual" else "automated",
        status=status,
        findings=findings,
        narrative=Narrative(
            status=narrative_status,
            text=f"{control_id} narrative [{criteria[0]}].",
            citations=[criteria[0]],
            verifier=VerifierResult(passed=True, sentences=1, cited_sentences=1),
            provenance=Provenance(writer="offline", provider="offline", model="deterministic-v1"),
        ),
    )


def _report() -> ReadinessReport:
    run = RunInfo(id="20250101T000000Z-abcdef", started_at=datetime(2025, 1, 1, tzinfo=UTC), writer=WriterInfo(provider="offline", model="deterministic-v1"))
    results = [
        _result("IAM-01", ["CC6.1", "CC6.2"], "fail", [_finding("aws.iam.console_user_mfa", Status.FAIL, "bob")]),
        _result("IAM-02", ["CC6.1"], "pass", [_finding("aws.iam.root_mfa", Status.PASS, "root")], "fallback"),
        _result("NET-01", ["CC6.6"], "pass", [_finding("aws.ec2.sg_admin_ports_open", Status.PASS)]),
        _result("GOV-01", ["CC1.1"], "manual", []),
    ]
    return aggregate("Acme AI", run, results, load_catalog())


def test_aggregate_counts_and_readiness() -> None:
    report = _report()
    by_id = {c.id: c for c in report.criteria}
    assert (by_id["CC6.1"].status, by_id["CC6.2"].status, by_id["CC6.6"].status, by_id["CC1.1"].status) == ("partial", "gap", "ready", "not_assessed")
    assert by_id["CC6.1"].control_ids == ["IAM-01", "IAM-02"]
    s = report.summary
    assert (s.criteria_total, s.ready, s.partial, s.gap, s.not_assessed) == (61, 1, 1, 1, 58)
    assert s.readiness_pct == 33.3  # 1 ready of 3 assessed
    # The JSON is the contract: it validates against the schema model and carries the schema id.
    assert ReadinessReport.model_validate_json(report.to_json()) == report
    assert '"schema": "auditor.readiness/v1"' in report.to_json()


def test_markdown_puts_summary_then_gaps_with_fixes_then_criteria() -> None:
    markdown = render_markdown(_report())
    summary, gaps, criteria = markdown.index("## Summary"), markdown.index("## Gaps and what to fix"), markdown.index("## Criteria")
    assert summary < gaps < criteria
    assert "**Readiness: 33.3%**" in markdown
    assert "- **aws.iam.console_user_mfa** `bob`: bob is fail. [ev:0a1b2c3d4e5f]" in markdown[gaps:criteria]
    assert "Narratives replaced by the offline writer after failing verification: IAM-02." in markdown
    # A control under two criteria prints its narrative once and points to it the second time.
    assert markdown.count("IAM-01 narrative [CC6.1].") == 1
    assert "Narrative under CC6.1 above." in markdown


def test_write_report_files_and_latest_pointer(tmp_path: Path) -> None:
    workspace = Workspace.at(tmp_path)
    report = _report()
    folder = write_report(workspace, report)
    assert sorted(p.name for p in folder.iterdir()) == ["report.json", "report.md"]
    pointer = workspace.reports_dir / "latest"
    assert pointer.is_file() and not pointer.is_symlink()
    assert latest_run_id(workspace) == report.run.id
    assert read_report(workspace, report.run.id) == report
