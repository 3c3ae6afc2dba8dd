"""Local git collectors and checks on real repositories made with the git CLI in tmp_path."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence
from tools.config import AuditorConfig
from tools.context import CollectContext
from tools.findings import Status
from tools.redact import redact
from tools.repos import checks as repo_checks
from tools.repos import collectors  # noqa: F401  (registers the collectors)
from tools.repos.git import GitError, GitRepo

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", "-C", str(path), *args],
        env={**os.environ, **IDENTITY, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def commit_files(
    path: Path, message: str, files: dict[str, str], *extra: str, date: str = "2025-01-01T10:00:00+00:00"
) -> None:
    for relative, content in files.items():
        (path / relative).parent.mkdir(parents=True, exist_ok=True)
        (path / relative).write_text(content)
        git(path, "add", "--", relative)
    git(
        path,
        "commit",
        "-q",
        "--no-gpg-sign",
        *extra,
        "-m",
        message,
        env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "service"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit_files(path, "Initial commit", {"README.md": "# service\n", "src/app.py": "print('hi')\n"})
    commit_files(
        path,
        "Add owners and CI",
        {
            "CODEOWNERS": "# owners\n*  @team-a\n/docs/  @docs-team  # docs\n\n",
            ".github/workflows/test.yaml": "on: [push, pull_request]\njobs: {}\n",
        },
        date="2025-01-02T10:00:00+00:00",
    )
    return path


def run_tool(name: str, config: AuditorConfig, **args: object) -> StoredEvidence:
    """Collect with a registered tool, store it as the locker would (redacted), and hand it back."""
    spec = TOOLS[name]
    data = spec.func(CollectContext(config), spec.args_model(**args))
    return StoredEvidence(id=name.replace(".", "")[:12], tool=name, params=args, data=redact(data).data)


def evaluate(check_id: str, *items: StoredEvidence) -> list:
    return CHECKS[check_id].func(EvidenceView(list(items)))


def config_for(*paths: Path) -> AuditorConfig:
    return AuditorConfig.model_validate({"repos": {"local": [str(p) for p in paths]}})


def snapshot(git_dir: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(git_dir)): (p.stat().st_size, p.stat().st_mtime_ns) for p in git_dir.rglob("*") if p.is_file()
    }


def test_repo_identity_tree_and_commits(repo: Path) -> None:
    reader = GitRepo(repo)
    assert reader.name == "service"  # no remote: the folder name
    git(repo, "remote", "add", "origin", "git@github.com:acme-ai/service.git")
    assert reader.name == "acme-ai/service"
    assert reader.branch() == "main"
    assert sorted(path for path, _ in reader.tree_files()) == [
        ".github/workflows/test.yaml",
        "CODEOWNERS",
        "README.md",
        "src/app.py",
    ]
    commits = reader.commits(10)
    assert [c.subject for c in commits] == ["Add owners and CI", "Initial commit"]
    assert {c.signature for c in commits} == {"N"}
    assert commits[0].date == "2025-01-02T10:00:00+00:00"
    assert commits[0].sha == git(repo, "rev-parse", "HEAD").strip()


def test_collectors_never_change_the_repository(repo: Path) -> None:
    (repo / "README.md").write_text(
        "edited but not staged\n"
    )  # a dirty work tree would make `git status` refresh the index
    before = snapshot(repo / ".git")
    config = config_for(repo)
    for name in ("git.repository_files", "git.commits", "git.history"):
        run_tool(name, config)
    assert snapshot(repo / ".git") == before


def test_repository_files_reads_known_files(repo: Path) -> None:
    entry = run_tool("git.repository_files", config_for(repo)).data["repos"][0]
    assert entry["file_count"] == 4
    assert sorted(entry["contents"]) == [".github/workflows/test.yaml", "CODEOWNERS"]
    assert entry["contents"]["CODEOWNERS"].startswith("# owners")
    assert entry["head"] == git(repo, "rev-parse", "HEAD").strip()


def test_repository_checks_on_a_repo_without_dependency_updates(repo: Path) -> None:
    files = run_tool("git.repository_files", config_for(repo))
    [owners] = evaluate("repo.codeowners", files)
    assert (owners.status, owners.facts["rules"], owners.facts["default_owner"]) == (Status.PASS, 2, True)
    [ci] = evaluate("repo.ci_workflows", files)
    assert (ci.status, ci.facts["workflows_on_pull_request"]) == (Status.PASS, 1)
    [updates] = evaluate("repo.dependency_updates", files)
    assert updates.status == Status.FAIL
    commit_files(repo, "Add renovate", {"renovate.json": "{}\n"})
    [updates] = evaluate("repo.dependency_updates", run_tool("git.repository_files", config_for(repo)))
    assert (updates.status, updates.facts["config"]) == (Status.PASS, "renovate.json")


def test_codeowners_without_rules_fails(tmp_path: Path) -> None:
    path = tmp_path / "r"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit_files(path, "owners", {".github/CODEOWNERS": "# nobody yet\n/docs/\n"})
    [finding] = evaluate("repo.codeowners", run_tool("git.repository_files", config_for(path)))
    assert (finding.status, finding.facts["rules"], finding.facts["path"]) == (Status.FAIL, 0, ".github/CODEOWNERS")


def test_unreadable_and_empty_repositories(tmp_path: Path) -> None:
    not_git = tmp_path / "plain"
    not_git.mkdir()
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    config = config_for(not_git, empty, tmp_path / "missing")
    commits = run_tool("git.commits", config)
    first, second, third = commits.data["repos"]
    assert "not a git repository" in first["error"] and "not a directory" in third["error"]
    assert second["commits"] == []
    statuses = [f.status for f in evaluate("repo.signed_commits", commits)]
    assert statuses == [Status.ERROR, Status.NOT_APPLICABLE, Status.ERROR]
    with pytest.raises(GitError, match="not a git repository"):
        GitRepo(not_git)


def test_nothing_configured_is_not_applicable_and_missing_evidence_is_an_error() -> None:
    [finding] = evaluate("repo.codeowners", run_tool("git.repository_files", AuditorConfig()))
    assert finding.status == Status.NOT_APPLICABLE
    [finding] = evaluate("repo.codeowners")
    assert finding.status == Status.ERROR


def test_history_is_bounded_and_drops_the_cut_commit(repo: Path) -> None:
    commit_files(repo, "Big change", {"data.txt": "x" * 5000 + "\n"}, date="2025-01-03T10:00:00+00:00")
    reader = GitRepo(repo)
    full, full_bytes, truncated = reader.history(1_000_000)
    assert not truncated and [c.subject for c in full] == ["Big change", "Add owners and CI", "Initial commit"]
    cut, cut_bytes, truncated = reader.history(full_bytes - 10)
    assert truncated and cut_bytes == full_bytes - 10
    # The cut fell inside the oldest commit, which is left out rather than kept half-read.
    assert [c.subject for c in cut] == ["Big change", "Add owners and CI"]
    assert [f.path for f in full[2].files] == ["README.md", "src/app.py"]
    git(repo, "rm", "-q", "src/app.py")
    git(repo, "commit", "-q", "-m", "Delete app")
    [deleted] = reader.history(1_000_000)[0][0].files
    assert deleted.path == "src/app.py" and "-print('hi')" in deleted.patch


def test_secrets_in_history_flags_the_commit_that_added_the_key(repo: Path) -> None:
    # AWS's documented example key: the locker's redactor turns it into [REDACTED:aws_access_key].
    commit_files(
        repo, "Add deploy config", {"deploy/env": "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nREGION=eu-west-1\n"}
    )
    commit_files(repo, "Remove key", {"deploy/env": "REGION=eu-west-1\n"})
    added = git(repo, "rev-parse", "HEAD~1").strip()
    history = run_tool("git.history", config_for(repo))
    assert "AKIAIOSFODNN7EXAMPLE" not in str(history.data)
    findings = evaluate("repo.secrets_in_history", history)
    assert [(f.status, f.resource) for f in findings] == [(Status.FAIL, f"service@{added[:12]}:deploy/env")]
    assert findings[0].facts["kinds"] == "aws_access_key" and findings[0].facts["secrets"] == 1


def test_secrets_check_passes_a_clean_history_and_reports_truncation(repo: Path, tmp_path: Path) -> None:
    [finding] = evaluate("repo.secrets_in_history", run_tool("git.history", config_for(repo)))
    assert (finding.status, finding.facts["commits"], finding.facts["truncated"]) == (Status.PASS, 2, False)
    # An old large commit beyond the bound: the newer commits are judged, and the reason says where reading stopped.
    path = tmp_path / "big-then-small"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit_files(path, "Add data", {"data.txt": "y" * 3000 + "\n"})
    commit_files(path, "Small fix", {"fix.txt": "ok\n"})
    [finding] = evaluate("repo.secrets_in_history", run_tool("git.history", config_for(path), max_bytes=1_000))
    assert (finding.status, finding.facts["commits"], finding.facts["truncated"]) == (Status.PASS, 1, True)
    assert "history cut at 1,000 bytes" in finding.reason
    # Not even the newest commit fits: that cannot be judged.
    commit_files(path, "More data", {"more.txt": "z" * 3000 + "\n"})
    [finding] = evaluate("repo.secrets_in_history", run_tool("git.history", config_for(path), max_bytes=1_000))
    assert finding.status == Status.ERROR and "raise max_bytes" in finding.reason


def test_added_markers_ignores_removed_lines_and_headers() -> None:
    patch = (
        "--- a/[REDACTED:generic_token]\n+++ b/x\n@@ -1,2 +1,2 @@\n"
        "-old [REDACTED:aws_access_key]\n+new [REDACTED:jwt] and [REDACTED:jwt]\n context [REDACTED:private_key]\n"
    )
    assert repo_checks.added_markers(patch) == {"jwt": 2}


@pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")
def test_signed_commits_pass_when_every_commit_is_signed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    try:
        subprocess.run(
            [
                "gpg",
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--quick-gen-key",
                "Signer <signer@example.com>",
                "ed25519",
                "sign",
                "never",
            ],
            check=True,
            capture_output=True,
        )
        listing = subprocess.run(
            ["gpg", "--list-secret-keys", "--with-colons"], check=True, capture_output=True, text=True
        ).stdout
        fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
        path = tmp_path / "signed"
        path.mkdir()
        git(path, "init", "-q", "-b", "main")
        git(path, "config", "user.signingkey", fingerprint)
        commit_files(path, "signed one", {"a.txt": "a\n"}, "-S")
        commit_files(path, "signed two", {"b.txt": "b\n"}, "-S")
        [finding] = evaluate("repo.signed_commits", run_tool("git.commits", config_for(path)))
        assert (finding.status, finding.facts["signed"], finding.facts["verified"]) == (Status.PASS, 2, 2)
        commit_files(path, "unsigned", {"c.txt": "c\n"})
        [finding] = evaluate("repo.signed_commits", run_tool("git.commits", config_for(path)))
        assert (finding.status, finding.facts["unsigned"], finding.facts["signed"]) == (Status.FAIL, 1, 2)
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], check=False, capture_output=True)


def commit_with_signature_header(path: Path) -> str:
    """A commit on top of HEAD that carries a (meaningless) signature header, so git has one to verify."""
    tree = git(path, "rev-parse", "HEAD^{tree}").strip()
    parent = git(path, "rev-parse", "HEAD").strip()
    signature = "-----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----"
    raw = (
        f"tree {tree}\nparent {parent}\nauthor A <a@example.com> 1735725600 +0000\n"
        f"committer A <a@example.com> 1735725600 +0000\ngpgsig {signature}\n\nsigned?\n"
    )
    sha = subprocess.run(
        ["git", "-C", str(path), "hash-object", "-t", "commit", "-w", "--stdin"],
        input=raw,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    git(path, "update-ref", "refs/heads/main", sha)
    return sha


def test_a_repository_config_cannot_make_the_collector_run_a_program(tmp_path: Path) -> None:
    """`%G?` verifies signatures with `gpg.program`; a hostile repo's own value must never be run."""
    path = tmp_path / "hostile"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit_files(path, "first", {"a.txt": "a\n"})
    sha = commit_with_signature_header(path)
    marker = tmp_path / "ran"
    program = tmp_path / "evil-gpg.sh"
    program.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    program.chmod(0o755)
    for key in ("gpg.program", "gpg.openpgp.program", "gpg.ssh.program", "gpg.x509.program"):
        git(path, "config", key, str(program))

    commits = GitRepo(path).commits(5)

    assert [c.sha for c in commits][0] == sha
    assert not marker.exists(), "the repository's gpg.program was run"


# -- settings and histories that would change what git shows ---------------------------------------------


def read_back(path: Path) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(subjects from `commits`, (subject, files) from `history`): what the collectors parse."""
    reader = GitRepo(path)
    history = reader.history(1_000_000)[0]
    return [c.subject for c in reader.commits(10)], [(c.subject, [f.path for f in c.files]) for c in history]


def test_repository_settings_do_not_change_what_is_parsed(repo: Path) -> None:
    commit_files(repo, "Ünïcode subject", {"docs/é.md": "é\n"}, date="2025-01-03T10:00:00+00:00")
    expected = read_back(repo)
    assert expected[0] == ["Ünïcode subject", "Add owners and CI", "Initial commit"]
    # UTF-16 output would put NULs everywhere; no prefixes would break the "diff --git a/ b/" header.
    settings = {"i18n.logOutputEncoding": "UTF-16", "diff.noprefix": "true", "diff.mnemonicPrefix": "true"}
    for key, value in settings.items():
        git(repo, "config", key, value)
    assert read_back(repo) == expected


@pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")
def test_log_show_signature_adds_nothing_to_the_output(repo: Path) -> None:
    sha = commit_with_signature_header(repo)
    git(repo, "config", "log.showSignature", "true")  # would print gpg's verdict lines among the commits
    subjects, history = read_back(repo)
    assert subjects == ["signed?", "Add owners and CI", "Initial commit"]
    assert [subject for subject, _ in history] == subjects
    assert GitRepo(repo).commits(1)[0].sha == sha


def test_inherited_git_variables_do_not_redirect_the_reader(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    commit_files(other, "Other repository", {"x.txt": "x\n"})
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))  # as inside a git hook
    assert GitRepo(repo).commits(1)[0].subject == "Add owners and CI"


def history_finding(path: Path) -> tuple[dict, object]:
    evidence = run_tool("git.history", config_for(path))
    [finding] = evaluate("repo.secrets_in_history", evidence)
    return evidence.data["repos"][0], finding


def test_a_whole_history_is_complete(repo: Path) -> None:
    entry, finding = history_finding(repo)
    assert (entry["history_complete"], entry["history_problem"], finding.status) == (True, None, Status.PASS)


def test_a_shallow_clone_cannot_show_that_no_secret_was_ever_committed(repo: Path, tmp_path: Path) -> None:
    commit_files(repo, "Third", {"c.txt": "c\n"}, date="2025-01-03T10:00:00+00:00")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    entry, finding = history_finding(shallow)
    assert entry["history_complete"] is False and entry["history_problem"].startswith("shallow clone")
    assert finding.status == Status.ERROR and "shallow clone" in finding.reason


def test_replaced_and_grafted_histories_are_reported(repo: Path) -> None:
    first, second = git(repo, "rev-list", "HEAD").split()[::-1]
    # A replacement that hides the second commit's real content behind the first one's.
    git(repo, "replace", second, first)
    entry, finding = history_finding(repo)
    assert entry["history_problem"].startswith("replace refs") and finding.status == Status.ERROR
    # Read as stored: the real second commit, not its replacement.
    assert [c["subject"] for c in entry["commits"]] == ["Add owners and CI", "Initial commit"]
    git(repo, "replace", "-d", second)
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "grafts").write_text(f"{second}\n")  # cuts the history after the second commit
    entry, finding = history_finding(repo)
    assert entry["history_problem"].startswith("grafted history") and finding.status == Status.ERROR
