"""Data for the TUI tests, and checks that the review session reads it right.

Two sources:
- a REAL run: `DemoCompany` (moto server, demo git repo, demo logs) and the offline agent, run once per
  test process; every test gets its own copy of that workspace. Pilot tests use it.
- a FIXTURE report built from the report models with fixed ids and times (labelled as such), saved
  where the agent saves reports. Snapshot tests use it, because a real run's ids and times change.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from agent.api import run_proof, save_report
from agent.config import AuditorConfig, ReviewConfig, load_config
from agent.report_schema import (
    ControlResult,
    CriterionResult,
    Narrative,
    Provenance,
    ReadinessReport,
    RunInfo,
    Summary,
    ToolCallRecord,
    VerifierResult,
    WriterInfo,
)
from agent.workspace import Workspace
from tools.findings import Finding, Status
from tui.session import SERIES_ORDER, ReviewSession

FIXED_NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
REVIEWER = "dana"


def fixed_clock() -> datetime:
    return FIXED_NOW


# ------------------------------------------------------------------------------------- real run


@cache
def demo_template() -> tuple[Path, Path]:
    """(config file, workspace) of one offline run over the demo company, built once per process.

    The demo servers stay up until the process ends, so a regenerate that must collect again can.
    """
    from tools.demo import DemoCompany

    root = Path(tempfile.mkdtemp(prefix="tui-demo-"))
    demo = DemoCompany(root / "acme")
    environment = demo.start()
    atexit.register(shutil.rmtree, root, True)
    atexit.register(demo.stop)
    config = load_config(environment.config_path)
    run_proof(config, Workspace.at(config.workspace_dir), model=None, trigger="demo")
    return environment.config_path, config.workspace_dir


def demo_config(tmp_path: Path) -> tuple[AuditorConfig, Workspace]:
    """A private copy of the demo run's workspace, with a fixed reviewer name."""
    config_path, template = demo_template()
    target = tmp_path / "workspace"
    shutil.copytree(template, target, ignore=shutil.ignore_patterns("checkpoints.sqlite*"))
    config = load_config(config_path, workspace=target)
    config = config.model_copy(update={"review": ReviewConfig(reviewer=REVIEWER)})
    return config, Workspace.at(target)


def demo_session(tmp_path: Path, model: object = None) -> ReviewSession:
    config, workspace = demo_config(tmp_path)
    return ReviewSession.open(config, workspace, model=model, clock=fixed_clock)


# ------------------------------------------------------------------------------- fixture report


def _control(
    control_id: str,
    title: str,
    criteria: list[str],
    status: str,
    text: str,
    findings: list[Finding],
    kind: str = "automated",
) -> ControlResult:
    evidence = sorted({evidence_id for finding in findings for evidence_id in finding.evidence_ids})
    return ControlResult(
        id=control_id,
        title=title,
        criteria=criteria,
        kind=kind,
        status=status,
        findings=findings,
        narrative=Narrative(
            status="verified",
            text=text,
            citations=[],
            verifier=VerifierResult(passed=True, sentences=3, cited_sentences=3),
            provenance=Provenance(
                writer="offline",
                provider="offline",
                model="deterministic-v1",
                evidence_ids=evidence,
                retrieved_chunk_ids=criteria,
                tool_calls=[ToolCallRecord(tool="aws.iam.credential_report", evidence_id=evidence[0])]
                if evidence
                else [],
            ),
        ),
    )


def fixture_report() -> ReadinessReport:
    """A FIXTURE (not a run): eight controls over five series, fixed ids and times."""
    mfa = "0a1b2c3d4e5f"
    trail = "1b2c3d4e5f60"
    bucket = "2c3d4e5f6071"
    controls = [
        _control(
            "IAM-01",
            "Multi-factor authentication for console users",
            ["CC6.1", "CC6.2"],
            "fail",
            "Acme AI requires MFA for every console user [CC6.1] [CC6.1/pof/4]. The credential report shows "
            "that bob signs in with a password and no MFA device [ev:0a1b2c3d4e5f]. Access reviews follow "
            "the access control policy [policy:access-control.md#mfa].",
            [
                Finding(
                    check="aws.iam.console_user_mfa",
                    status=Status.FAIL,
                    resource="user/bob",
                    reason="bob has a console password and no MFA device",
                    evidence_ids=[mfa],
                ),
                Finding(
                    check="aws.iam.console_user_mfa",
                    status=Status.PASS,
                    resource="user/alice",
                    reason="alice has an MFA device",
                    evidence_ids=[mfa],
                ),
            ],
        ),
        _control(
            "IAM-02",
            "Root account locked down",
            ["CC6.1"],
            "pass",
            "The root user has MFA and no access keys [CC6.1] [ev:0a1b2c3d4e5f].",
            [
                Finding(
                    check="aws.iam.root_mfa",
                    status=Status.PASS,
                    resource="root",
                    reason="the root user has MFA",
                    evidence_ids=[mfa],
                )
            ],
        ),
        _control(
            "LOG-01",
            "Audit logging in every region",
            ["CC7.2"],
            "partial",
            "CloudTrail records management events in every region [CC7.2] [ev:1b2c3d4e5f60]. "
            "Log file validation is off for one trail [ev:1b2c3d4e5f60].",
            [
                Finding(
                    check="aws.cloudtrail.multi_region",
                    status=Status.PASS,
                    resource="trail/main",
                    reason="main is multi-region",
                    evidence_ids=[trail],
                ),
                Finding(
                    check="aws.cloudtrail.log_file_validation",
                    status=Status.FAIL,
                    resource="trail/main",
                    reason="log file validation is off for main",
                    evidence_ids=[trail],
                ),
            ],
        ),
        _control(
            "DATA-01",
            "Encryption of data at rest",
            ["CC6.7", "C1.1"],
            "pass",
            "Every bucket is encrypted with KMS [CC6.7] [C1.1] [ev:2c3d4e5f6071].",
            [
                Finding(
                    check="aws.s3.bucket_encryption",
                    status=Status.PASS,
                    resource="bucket/ml-training-data",
                    reason="ml-training-data uses SSE-KMS",
                    evidence_ids=[bucket],
                )
            ],
        ),
        _control(
            "GOV-01",
            "Code of conduct acknowledged",
            ["CC1.1"],
            "manual",
            "Staff acknowledge the code of conduct each year [CC1.1] [CC1.1/pof/2].",
            [],
            kind="manual",
        ),
        _control(
            "AVL-01",
            "Backups with tested restores",
            ["A1.2"],
            "error",
            "Backup plans could not be read in this run [A1.2].",
            [
                Finding(
                    check="aws.backup.plan_exists",
                    status=Status.ERROR,
                    resource="backup",
                    reason="AccessDenied reading backup plans",
                )
            ],
        ),
        _control(
            "PI-01",
            "Batch job input validation",
            ["PI1.2"],
            "manual",
            "Inputs to batch jobs are validated before processing [PI1.2].",
            [],
            kind="manual",
        ),
        _control(
            "PRIV-01",
            "Privacy notice published",
            ["P1.1"],
            "manual",
            "The privacy notice is published on the website [P1.1].",
            [],
            kind="manual",
        ),
    ]
    criteria = sorted({criterion for control in controls for criterion in control.criteria})
    return ReadinessReport(
        company="Acme AI",
        run=RunInfo(
            id="20250301T090000Z-fixtur",
            started_at=FIXED_NOW,
            finished_at=FIXED_NOW,
            trigger="demo",
            writer=WriterInfo(provider="offline", model="deterministic-v1"),
        ),
        summary=Summary(criteria_total=61, ready=2, partial=1, gap=2, not_assessed=56, readiness_pct=40.0),
        criteria=[CriterionResult(id=criterion, status="partial", control_ids=[]) for criterion in criteria],
        controls=controls,
    )


def fixture_session(tmp_path: Path) -> ReviewSession:
    workspace = Workspace.at(tmp_path / "fixture-workspace")
    save_report(workspace, fixture_report())
    config = AuditorConfig(workspace=workspace.root, review=ReviewConfig(reviewer=REVIEWER))
    return ReviewSession.open(config, workspace, model=None, clock=fixed_clock)


# ------------------------------------------------------------------------------------------ tests


def test_demo_run_is_grouped_by_series_in_criteria_order(tmp_path):
    session = demo_session(tmp_path)
    groups = session.groups()
    series = [group.series for group in groups]
    assert series == sorted(series, key=SERIES_ORDER.index)
    assert sum(len(group.reviews) for group in groups) == len(session.report.controls)
    assert all(review.state == "draft" for review in session.reviews.values())
    assert groups[0].title  # series titles come from the catalog


def test_fixture_session_reads_the_saved_report(tmp_path):
    session = fixture_session(tmp_path)
    assert [group.series for group in session.groups()] == ["CC1", "CC6", "CC7", "A1", "PI1", "P1"]
    assert session.counts()["awaiting"] == 8
