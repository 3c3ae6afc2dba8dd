"""Fixtures shared across the suite; the review app's fixtures are in tui_fixtures.py, loaded as a plugin.

Test modules request fixtures and never import each other. Whole demo runs and the demo company are
session-scoped: built on first use, torn down when the session ends. A test that needs one of them, a
knowledge (re)build or an `auditor run` in a subprocess is marked `slow`, so `pytest -m "not slow"` stays fast.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tools.config import AuditorConfig, load_config
from tools.workspace import Workspace

if TYPE_CHECKING:
    from tools.demo import DemoEnvironment

pytest_plugins = ["tui_fixtures"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The reference data beside the repo; tests that need it skip with a reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (it sits beside the repo in CI)")
    return SHARED_DATA


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def closed_loopback_url() -> str:
    """An http URL on loopback where nothing listens: every connection is refused at once."""
    return f"http://127.0.0.1:{free_loopback_port()}"


@pytest.fixture(scope="session", autouse=True)
def _no_real_aws() -> Iterator[None]:
    # Tests must never reach real AWS: fake credentials, and no profile or config from the machine.
    # Session-wide and autouse, so it is in place before any other fixture, the session's demo runs included;
    # a test's own monkeypatch of these variables is undone after that test.
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        yield


@pytest.fixture(scope="session", autouse=True)
def _signing_key_outside_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Tests never read or create a key under ~/.config: the signing key (and anchor file) live in a session
    # tmp folder, outside every workspace. A test that wants its own key monkeypatches XDG_CONFIG_HOME again.
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        monkeypatch.delenv("AUDITOR_SIGNING_KEY", raising=False)
        yield


@pytest.fixture(scope="session", autouse=True)
def _knowledge_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # The prebuilt knowledge store that new workspaces copy (knowledge.store.prebuilt_store_dir) is built
    # once per session in a tmp folder, never under the user's ~/.cache.
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


def _serve_moto() -> Iterator[str]:
    from tools.demo.server import MotoServer  # moto takes seconds to import; most tests never need it

    server = MotoServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real moto server on a free loopback port, shared by the session; yields its endpoint URL."""
    yield from _serve_moto()


@pytest.fixture(scope="module")
def own_moto_server() -> Iterator[str]:
    """A moto server of the requesting module's own, for a module whose changes to AWS other tests must not see."""
    yield from _serve_moto()


@pytest.fixture(scope="session")
def aws_organization(moto_server: str) -> Callable[[int], list[str]]:
    """`aws_organization(n)`: an AWS Organization on the moto server (in moto's default account, shared by the
    session) with n new member accounts; the first gets a password policy that passes the length check, the
    others none. Returns the new accounts' ids, sorted."""
    from tools.demo.organization import create_member_accounts, member_session

    def create(members: int) -> list[str]:
        ids = create_member_accounts(moto_server, members)
        iam = member_session(moto_server, ids[0]).client("iam", endpoint_url=moto_server)
        iam.update_account_password_policy(MinimumPasswordLength=14)
        return ids

    return create


@pytest.fixture(scope="session")
def demo_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnvironment]:
    """A REAL DemoCompany (moto server on loopback, demo git repository, demo logs), shared by the session."""
    from tools.demo import DemoCompany  # moto takes seconds to import; most tests never need it

    with DemoCompany(tmp_path_factory.mktemp("acme")) as environment:
        yield environment


@pytest.fixture(scope="session")
def knowledge_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A knowledge store built once per session; workspaces get copies of it, which is much faster than a build."""
    from knowledge.store import KnowledgeStore

    workspace = Workspace.at(tmp_path_factory.mktemp("knowledge-template"))
    KnowledgeStore.open(workspace.chroma_dir)  # the first open builds it
    return workspace.chroma_dir


@pytest.fixture(scope="session")
def workspace_with_knowledge(knowledge_template: Path) -> Callable[[Path], Workspace]:
    """`workspace_with_knowledge(path)`: a fresh workspace at `path` with a copy of the built knowledge store."""

    def make(path: Path) -> Workspace:
        workspace = Workspace.at(path)
        shutil.copytree(knowledge_template, workspace.chroma_dir, dirs_exist_ok=True)
        return workspace

    return make


@pytest.fixture(scope="session")
def approved_access_review() -> Callable[..., None]:
    """`approved_access_review(workspace, evidence_id, path, reason=None)`: dana attaches the Q1 2026 access
    review at `path` (2026-01-01 to 2026-03-31) to IAM-11 in the workspace's review log, then approves IAM-11."""
    from agent.review_log import ReviewLog

    def attach(workspace: Workspace, evidence_id: str, path: str, reason: str | None = None) -> None:
        with ReviewLog(workspace.review_db) as log:
            common = {
                "reviewer": "dana",
                "control_id": "IAM-11",
                "run_id": "-",
                "before_hash": "",
                "after_hash": "",
                "evidence_hash": "",
            }
            period = {"period_start": "2026-01-01", "period_end": "2026-03-31"}
            log.append(
                action="attach", reason=reason, detail={"evidence_id": evidence_id, "path": path, **period}, **common
            )
            log.append(action="approve", **common)

    return attach


@pytest.fixture(scope="session")
def signed_report_workspace() -> Callable[[Path], Workspace]:
    """`signed_report_workspace(path)`: a small workspace without a demo run: a synthetic report of run
    "synthetic" whose findings cite three real locker items, an approval and a rejection in the review log,
    and the run signed as a real run's end signs it (agent/integrity.py)."""
    from agent.integrity import sign_run
    from agent.report import write_report
    from agent.report_schema import EvidenceHead
    from agent.review_log import ReviewLog, text_hash
    from agent.runs import RunStore
    from evals.bench.synthetic_report import HOSTILE, synthetic_inputs
    from tools.locker import EvidenceLocker

    def make(path: Path) -> Workspace:
        workspace = Workspace.at(path)
        workspace.locker_db.parent.mkdir(parents=True, exist_ok=True)
        report = synthetic_inputs(controls=3, evidence=3, runs=1).report
        with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
            stored = [
                locker.put(
                    "synthetic",
                    "aws",
                    "aws.s3.list_buckets",
                    "s3:ListBuckets",
                    {"n": n},
                    {"buckets": [f"b{n}"], "note": HOSTILE},
                )
                for n in range(3)
            ]
            controls = [
                c.model_copy(
                    update={"findings": [f.model_copy(update={"evidence_ids": [stored[i].id]}) for f in c.findings]}
                )
                for i, c in enumerate(report.controls)
            ]
            head = EvidenceHead(seq=stored[-1].seq, record_hash=stored[-1].record_hash)
            run = report.run.model_copy(update={"evidence_head": head})
            report = report.model_copy(update={"controls": controls, "run": run})
            write_report(workspace, report)
            with ReviewLog(workspace.review_db) as review_log:
                review_log.append(
                    reviewer="ana",
                    action="approve",
                    control_id=controls[0].id,
                    run_id="synthetic",
                    before_hash="",
                    after_hash="",
                    evidence_hash="",
                )
                rejected = text_hash(controls[2].narrative.text)
                review_log.append(
                    reviewer="bo",
                    action="reject",
                    control_id=controls[2].id,
                    run_id="synthetic",
                    before_hash=rejected,
                    after_hash=rejected,
                    evidence_hash="",
                    reason="cites the wrong bucket",
                )
            config = AuditorConfig(workspace=workspace.root)
            sign_run(config, workspace, RunStore(workspace.runs_db), locker, report.run.id)
        return workspace

    return make


@pytest.fixture(scope="session")
def demo_config(demo_environment: DemoEnvironment) -> Callable[..., AuditorConfig]:
    """`demo_config(workspace, **run_settings)`: the demo's auditor.toml pointed at `workspace`."""

    def make(workspace: Workspace, **run_settings: object) -> AuditorConfig:
        config = load_config(demo_environment.config_path, workspace=workspace.root)
        if run_settings:
            config = config.model_copy(update={"run": config.run.model_copy(update=run_settings)})
        return config

    return make
