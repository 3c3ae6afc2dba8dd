"""Fixtures for the review app's tests (loaded as a plugin by conftest.py). Two sources of review data:

- a REAL run: `DemoCompany` (moto server, demo git repo, demo logs) and the offline agent, run once per
  session; `demo_session(path)` opens a private copy of that workspace. Pilot tests use it.
- a FIXTURE report built from the report models with fixed ids and times (labelled as such), saved
  where the agent saves reports; `fixture_session(path)` opens it. Snapshot tests use it, because a real
  run's ids and times change.

agent.api and tools.demo are imported inside the fixtures: each takes seconds to import, and every test
session loads this plugin.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from agent.report_schema import (
    ControlResult,
    CriterionResult,
    Narrative,
    Provenance,
    ReadinessReport,
    Summary,
    ToolCallRecord,
    VerifierResult,
)
from tools.config import AuditorConfig, ReviewConfig, load_config
from tools.findings import Finding, Status
from tools.workspace import Workspace
from tui.session import ReviewSession

if TYPE_CHECKING:
    from textual.pilot import Pilot

FIXED_NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
REVIEWER = "dana"


def fixed_clock() -> datetime:
    return FIXED_NOW


@pytest.fixture(scope="session")
def reviewer() -> str:
    """The reviewer name every review session here is opened with."""
    return REVIEWER


@pytest.fixture(scope="session")
def until() -> Callable[..., Awaitable[None]]:
    """`await until(pilot, predicate)`: let the app run until `predicate()` holds (workers post messages the
    screen handles later)."""

    async def wait(pilot: Pilot, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            assert loop.time() < deadline, "timed out waiting for the app"
            await pilot.pause(0.05)

    return wait


# ------------------------------------------------------------------------------------- real run


@pytest.fixture(scope="session")
def tui_demo_run(
    tmp_path_factory: pytest.TempPathFactory, workspace_with_knowledge: Callable[[Path], Workspace]
) -> Iterator[tuple[Path, Path]]:
    """(config file, workspace) of one offline run over its own demo company, made once per session.

    Its own demo company, seeded afresh: other tests change the moto state the session's demo_environment
    shares. The demo servers stay up until the session ends, so a regenerate that must collect again can.
    """
    from agent.api import run_proof
    from tools.demo import DemoCompany

    with DemoCompany(tmp_path_factory.mktemp("tui-demo") / "acme") as environment:
        config = load_config(environment.config_path)
        run_proof(config, workspace_with_knowledge(config.workspace_dir), model=None, trigger="demo")
        yield environment.config_path, config.workspace_dir


@pytest.fixture(scope="session")
def copy_demo_run(tui_demo_run: tuple[Path, Path]) -> Callable[[Path], tuple[AuditorConfig, Workspace]]:
    """`copy_demo_run(path)`: a private copy of the demo run's workspace under `path`, with a fixed reviewer."""
    config_path, template = tui_demo_run

    def copy(path: Path) -> tuple[AuditorConfig, Workspace]:
        target = path / "workspace"
        shutil.copytree(template, target, ignore=shutil.ignore_patterns("checkpoints.sqlite*"))
        config = load_config(config_path, workspace=target)
        config = config.model_copy(update={"review": ReviewConfig(reviewer=REVIEWER)})
        return config, Workspace.at(target)

    return copy


@pytest.fixture(scope="session")
def demo_session(copy_demo_run: Callable[[Path], tuple[AuditorConfig, Workspace]]) -> Callable[..., ReviewSession]:
    """`demo_session(path, model=None)`: a review session over a private copy of the demo run."""

    def open_session(path: Path, model: object = None) -> ReviewSession:
        config, workspace = copy_demo_run(path)
        return ReviewSession.open(config, workspace, model=model, clock=fixed_clock)

    return open_session


# ------------------------------------------------------------------------------- fixture report


def _finding(check: str, status: Status, resource: str, reason: str, evidence_ids: list[str] | None = None) -> Finding:
    return Finding(check=check, status=status, resource=resource, reason=reason, evidence_ids=evidence_ids or [])


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
    from evals.bench.synthetic_report import offline_run

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
                _finding(
                    "aws.iam.console_user_mfa",
                    Status.FAIL,
                    "user/bob",
                    "bob has a console password and no MFA device",
                    [mfa],
                ),
                _finding("aws.iam.console_user_mfa", Status.PASS, "user/alice", "alice has an MFA device", [mfa]),
            ],
        ),
        _control(
            "IAM-02",
            "Root account locked down",
            ["CC6.1"],
            "pass",
            "The root user has MFA and no access keys [CC6.1] [ev:0a1b2c3d4e5f].",
            [_finding("aws.iam.root_mfa", Status.PASS, "root", "the root user has MFA", [mfa])],
        ),
        _control(
            "LOG-01",
            "Audit logging in every region",
            ["CC7.2"],
            "partial",
            "CloudTrail records management events in every region [CC7.2] [ev:1b2c3d4e5f60]. "
            "Log file validation is off for one trail [ev:1b2c3d4e5f60].",
            [
                _finding("aws.cloudtrail.multi_region", Status.PASS, "trail/main", "main is multi-region", [trail]),
                _finding(
                    "aws.cloudtrail.log_file_validation",
                    Status.FAIL,
                    "trail/main",
                    "log file validation is off for main",
                    [trail],
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
                _finding(
                    "aws.s3.bucket_encryption",
                    Status.PASS,
                    "bucket/ml-training-data",
                    "ml-training-data uses SSE-KMS",
                    [bucket],
                )
            ],
        ),
        _control(
            "GOV-01",
            "Code of conduct acknowledged",
            ["CC1.1"],
            "awaiting_evidence",
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
            [_finding("aws.backup.plan_exists", Status.ERROR, "backup", "AccessDenied reading backup plans")],
        ),
        _control(
            "PI-01",
            "Batch job input validation",
            ["PI1.2"],
            "awaiting_evidence",
            "Inputs to batch jobs are validated before processing [PI1.2].",
            [],
            kind="manual",
        ),
        _control(
            "PRIV-01",
            "Privacy notice published",
            ["P1.1"],
            "awaiting_evidence",
            "The privacy notice is published on the website [P1.1].",
            [],
            kind="manual",
        ),
    ]
    criteria = sorted({criterion for control in controls for criterion in control.criteria})
    return ReadinessReport(
        company="Acme AI",
        run=offline_run("20250301T090000Z-fixtur", FIXED_NOW, FIXED_NOW, trigger="demo"),
        summary=Summary(
            criteria_total=61,
            ready=2,
            partial=1,
            gap=2,
            not_assessed=56,
            readiness_pct=3.3,
            controls_total=len(controls),
            controls_evidenced=2,
            controls_evidenced_pct=round(200 / len(controls), 1),
        ),
        criteria=[CriterionResult(id=criterion, status="partial", control_ids=[]) for criterion in criteria],
        controls=controls,
    )


@pytest.fixture(scope="session")
def fixture_session() -> Callable[[Path], ReviewSession]:
    """`fixture_session(path)`: a review session over the FIXTURE report, saved in a workspace under `path`."""
    from agent.api import save_report

    def open_session(path: Path) -> ReviewSession:
        workspace = Workspace.at(path / "fixture-workspace")
        save_report(workspace, fixture_report())
        config = AuditorConfig(workspace=workspace.root, review=ReviewConfig(reviewer=REVIEWER))
        return ReviewSession.open(config, workspace, model=None, clock=fixed_clock)

    return open_session
