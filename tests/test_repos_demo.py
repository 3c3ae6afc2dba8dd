"""The demo company's repository and GitHub: the checks find exactly what tools/demo documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence
from tools.config import AuditorConfig
from tools.context import CollectContext
from tools.demo.expected import compare, load_expected
from tools.demo.github import GithubApiServer, acme_routes
from tools.demo.repo import DEMO_REPO_NAME, create_demo_repo
from tools.findings import Finding
from tools.redact import redact
from tools.repos import checks as _checks  # noqa: F401  (registers the checks)
from tools.repos import collectors as _collectors  # noqa: F401  (registers the collectors)
from tools.repos.git import GitRepo


def collect_and_check(config: AuditorConfig, tools: list[str], check_ids: list[str]) -> list[Finding]:
    """Collect, store as the locker does (secrets redacted), and run the checks."""
    ctx = CollectContext(config)
    items = []
    for name in tools:
        spec = TOOLS[name]
        items.append(StoredEvidence(name, name, {}, redact(spec.func(ctx, spec.args_model())).data))
    view = EvidenceView(items)
    return [finding for check_id in check_ids for finding in CHECKS[check_id].func(view)]


def test_demo_repository_is_the_same_on_every_machine(tmp_path: Path) -> None:
    first = GitRepo(create_demo_repo(tmp_path / "one"))
    second = GitRepo(create_demo_repo(tmp_path / "two"))
    assert first.head() == second.head()
    assert first.name == DEMO_REPO_NAME
    # A second call on the same folder keeps the repository; a foreign folder is refused.
    assert GitRepo(create_demo_repo(tmp_path / "one")).head() == first.head()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        create_demo_repo(tmp_path / "other")


def test_demo_repository_findings_match_the_expected_yaml(tmp_path: Path) -> None:
    path = create_demo_repo(tmp_path / "acme-platform")
    config = AuditorConfig.model_validate({"repos": {"local": [str(path)]}})
    check_ids = [c for c in CHECKS if c.startswith("repo.")]
    findings = collect_and_check(config, ["git.repository_files", "git.commits", "git.history"], check_ids)
    expected = load_expected()
    assert compare(expected, findings, set(check_ids)) == []
    assert {c for c in expected if c.startswith("repo.")} == set(check_ids)  # every repository check is documented


def test_acme_github_findings_match_the_expected_yaml() -> None:
    with GithubApiServer(acme_routes()) as server:
        config = AuditorConfig.model_validate(
            {"github": {"api_url": server.url, "owner": "acme-ai", "repos": ["platform"]}}
        )
        check_ids = [c for c in CHECKS if c.startswith("github.")]
        findings = collect_and_check(config, [name for name in TOOLS if name.startswith("github.")], check_ids)
    expected = load_expected()
    assert compare(expected, findings, set(check_ids)) == []
    assert {c for c in expected if c.startswith("github.")} == set(check_ids)  # every GitHub check is documented
