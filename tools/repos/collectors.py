"""Repository collectors: local git repositories (git CLI) and GitHub (REST). They fetch; checks judge.

Every collector returns ``{"repos": [entry, ...]}`` with one entry per repository (``{"org": ...}`` for
organisation members). A repository that cannot be read gets an entry ``{"repo": ..., "error": "..."}``
so the others are still collected and the check can report exactly what failed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.catalog import tool
from tools.context import CollectContext
from tools.repos.checks import CI_FILES, CODEOWNERS_PATHS, DEPENDENCY_UPDATE_FILES
from tools.repos.git import GitError, GitRepo
from tools.repos.github import GithubError, api_path, repository_full_name, repository_path

# Files whose content the checks judge: code owners, CI definitions, dependency update bots; and security policies
# and pre-commit hooks.
KNOWN_FILES = frozenset(
    {
        *CODEOWNERS_PATHS,
        *DEPENDENCY_UPDATE_FILES,
        *CI_FILES,
        "SECURITY.md",
        ".github/SECURITY.md",
        ".pre-commit-config.yaml",
    }
)
WORKFLOW_FOLDER = ".github/workflows/"
MAX_LISTED_FILES = 20_000


def is_known_file(path: str) -> bool:
    in_workflows = path.startswith(WORKFLOW_FOLDER) and path.endswith((".yml", ".yaml"))
    return path in KNOWN_FILES or in_workflows


# -- local git ---------------------------------------------------------------------------------


class GitArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repos: list[str] | None = Field(default=None, description="Local repository paths; all configured when omitted")


class RepositoryFilesArgs(GitArgs):
    max_file_bytes: int = Field(default=65_536, ge=1, description="Longest file content kept, per file")


class CommitsArgs(GitArgs):
    limit: int = Field(default=100, ge=1, le=10_000, description="How many of the latest commits")


class HistoryArgs(GitArgs):
    max_bytes: int = Field(default=10_000_000, ge=1_000, description="Most bytes of `git log -p` output read per repo")
    max_commits: int | None = Field(default=None, ge=1, description="Most commits read per repo")


def _local_repos(ctx: CollectContext, args: GitArgs) -> list[Path]:
    if args.repos is not None:
        return [ctx.config.resolve(Path(path)) for path in args.repos]
    return [ctx.config.resolve(path) for path in ctx.config.repos.local]


def _for_each_local_repo(
    ctx: CollectContext, args: GitArgs, read: Callable[[GitRepo], dict[str, Any]]
) -> dict[str, Any]:
    entries = []
    for path in _local_repos(ctx, args):
        try:
            repo = GitRepo(path)
            entries.append({"repo": repo.name, "path": str(path), **read(repo)})
        except GitError as error:
            entries.append({"repo": path.name, "path": str(path), "error": str(error)})
    return {"repos": entries}


# What a git collector reads from one repository: read(the collector's arguments, the repository) -> its entry.
LocalRead = Callable[[Any, GitRepo], dict[str, Any]]


def local_repo_tool(
    name: str, description: str, *, args: type[GitArgs], operations: tuple[str, ...]
) -> Callable[[LocalRead], LocalRead]:
    """Register the decorated `read(args, repo)` as the git collector `name`, which reads each local repository
    (_for_each_local_repo)."""

    def register(read: LocalRead) -> LocalRead:
        @tool(name, source="git", description=description, args=args, operations=operations)
        def collect(ctx: CollectContext, request: GitArgs) -> dict[str, Any]:
            return _for_each_local_repo(ctx, request, lambda repo: read(request, repo))

        return read

    return register


@local_repo_tool(
    "git.repository_files",
    "Files in each local repository's HEAD tree, with the contents of CODEOWNERS, CI workflows "
    "and dependency-update configs (Dependabot, Renovate).",
    args=RepositoryFilesArgs,
    operations=("git ls-tree", "git cat-file"),
)
def repository_files(args: RepositoryFilesArgs, repo: GitRepo) -> dict[str, Any]:
    files = repo.tree_files()
    contents: dict[str, str] = {}
    cut: list[str] = []
    redacted_before_cut: dict[str, dict[str, int]] = {}
    for path, _size in files:
        if is_known_file(path):
            file = repo.read_file(path, args.max_file_bytes)
            contents[path] = file.text
            if file.truncated:
                cut.append(path)
            if file.redactions:  # the locker does not see these secrets: they are counted here
                redacted_before_cut[path] = file.redactions
    return {
        "head": repo.head(),
        "branch": repo.branch(),
        "file_count": len(files),
        "files": [path for path, _ in files[:MAX_LISTED_FILES]],
        "files_truncated": len(files) > MAX_LISTED_FILES,
        "contents": contents,
        "contents_truncated": cut,
        "redacted_before_cut": redacted_before_cut,
    }


@local_repo_tool(
    "git.commits",
    "The latest commits of each local repository (HEAD) with author, date and git's signature verdict.",
    args=CommitsArgs,
    operations=("git log",),
)
def commits(args: CommitsArgs, repo: GitRepo) -> dict[str, Any]:
    found = repo.commits(args.limit)
    return {
        "head": repo.head(),
        "limit": args.limit,
        "commits": [
            {
                "sha": c.sha,
                "signature": c.signature,
                "author": c.author,
                "author_email": c.author_email,
                "date": c.date,
                "subject": c.subject,
            }
            for c in found
        ],
    }


@local_repo_tool(
    "git.history",
    "Patches of every commit on every branch (`git log --all -p`), bounded in size. Secrets in "
    "them are replaced by [REDACTED:<kind>] markers when stored.",
    args=HistoryArgs,
    operations=("git log -p",),
)
def history(args: HistoryArgs, repo: GitRepo) -> dict[str, Any]:
    found, bytes_read, truncated = repo.history(args.max_bytes, args.max_commits)
    problem = repo.history_problem()
    return {
        "history_complete": problem is None,
        "history_problem": problem,
        "max_bytes": args.max_bytes,
        "bytes_read": bytes_read,
        "truncated": truncated,
        "commits": [
            {
                "sha": c.sha,
                "author": c.author,
                "date": c.date,
                "subject": c.subject,
                "files": [{"path": f.path, "patch": f.patch} for f in c.files],
            }
            for c in found
        ],
    }


# -- GitHub ------------------------------------------------------------------------------------


class GithubArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repos: list[str] | None = Field(
        default=None, description="'owner/name' or 'name' (with [github] owner); all configured when omitted"
    )


class BranchArgs(GithubArgs):
    branch: str | None = Field(
        default=None, description="Branch to read; each repository's default branch when omitted"
    )


class PullsArgs(GithubArgs):
    since: datetime | None = Field(
        default=None, description="Pull requests merged at or after this time; 90 days ago when omitted"
    )
    max_pulls: int = Field(default=200, ge=1, le=2_000, description="Most merged pull requests read per repo")


class OrgArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org: str | None = Field(default=None, description="Organisation; [github] owner when omitted")


def trimmed(value: Any) -> Any:
    """GitHub's answer without its hypermedia links (`*_url`, `_links`), which are most of its size."""
    if isinstance(value, dict):
        return {
            key: trimmed(item)
            for key, item in value.items()
            if key != "_links" and (key == "html_url" or not key.endswith("url"))
        }
    if isinstance(value, list):
        return [trimmed(item) for item in value]
    return value


def _for_each_github_repo(
    ctx: CollectContext, args: GithubArgs, read: Callable[[str], dict[str, Any]]
) -> dict[str, Any]:
    entries = []
    for name in args.repos if args.repos is not None else ctx.config.github.repos:
        try:
            full_name = repository_full_name(name, ctx.config.github.owner)
        except ValueError as error:
            entries.append({"repo": name, "error": str(error)})
            continue
        try:
            entries.append({"repo": full_name, **read(full_name)})
        except GithubError as error:
            entries.append({"repo": full_name, "error": str(error), "http_status": error.status})
    return {"repos": entries}


# What a GitHub collector reads from one repository: read(ctx, the collector's arguments, "owner/name") -> its entry.
GithubRead = Callable[[CollectContext, Any, str], dict[str, Any]]


def github_repo_tool(
    name: str, description: str, *, args: type[GithubArgs], operations: tuple[str, ...]
) -> Callable[[GithubRead], GithubRead]:
    """Register the decorated `read(ctx, args, full_name)` as the GitHub collector `name`, which reads each
    configured repository (_for_each_github_repo)."""

    def register(read: GithubRead) -> GithubRead:
        @tool(name, source="github", description=description, args=args, operations=operations)
        def collect(ctx: CollectContext, request: GithubArgs) -> dict[str, Any]:
            return _for_each_github_repo(ctx, request, lambda full_name: read(ctx, request, full_name))

        return read

    return register


def _branch(ctx: CollectContext, full_name: str, branch: str | None) -> str:
    return branch or ctx.github.get(repository_path(full_name))["default_branch"]


def _part(fetch: Callable[[], Any], refused: type[Exception] = GithubError) -> Any:
    """One part of an entry; a refusal (GithubError, or another API's `refused` error with its HTTP `status`)
    becomes {"error", "http_status"} so the rest is kept."""
    try:
        return fetch()
    except refused as error:
        return {"error": str(error), "http_status": error.status}


@github_repo_tool(
    "github.repository",
    "Each GitHub repository's settings: visibility, default branch, security and analysis features.",
    args=GithubArgs,
    operations=("GET /repos/{owner}/{repo}",),
)
def repository(ctx: CollectContext, args: GithubArgs, name: str) -> dict[str, Any]:
    return {"data": trimmed(ctx.github.get(repository_path(name)))}


@github_repo_tool(
    "github.branch_protection",
    "Classic branch protection of each repository's default branch (or a named branch). "
    "An unprotected branch is recorded as protected: false.",
    args=BranchArgs,
    operations=("GET /repos/{owner}/{repo}", "GET /repos/{owner}/{repo}/branches/{branch}/protection"),
)
def branch_protection(ctx: CollectContext, args: BranchArgs, name: str) -> dict[str, Any]:
    branch = _branch(ctx, name, args.branch)
    try:
        protection = ctx.github.get(repository_path(name, "branches", branch, "protection"))
    except GithubError as error:
        # GitHub answers 404 "Branch not protected" for a branch without protection: that is data.
        if error.status == 404 and "not protected" in str(error).lower():
            return {"branch": branch, "protected": False}
        raise
    return {"branch": branch, "protected": True, "protection": trimmed(protection)}


@github_repo_tool(
    "github.rulesets",
    "Repository rulesets and the rules in force on each repository's default branch (or a named "
    "branch), including rules inherited from organisation rulesets.",
    args=BranchArgs,
    operations=("GET /repos/{owner}/{repo}/rulesets", "GET /repos/{owner}/{repo}/rules/branches/{branch}"),
)
def rulesets(ctx: CollectContext, args: BranchArgs, name: str) -> dict[str, Any]:
    branch = _branch(ctx, name, args.branch)
    return {
        "branch": branch,
        "rulesets": _part(lambda: trimmed(ctx.github.paginate(repository_path(name, "rulesets")))),
        "branch_rules": _part(lambda: trimmed(ctx.github.paginate(repository_path(name, "rules", "branches", branch)))),
    }


@tool(
    "github.pulls",
    source="github",
    description="Pull requests merged since a date (default: the last 90 days) with their reviews.",
    args=PullsArgs,
    operations=("GET /repos/{owner}/{repo}/pulls", "GET /repos/{owner}/{repo}/pulls/{number}/reviews"),
)
def pulls(ctx: CollectContext, args: PullsArgs) -> dict[str, Any]:
    since = args.since or datetime.now(UTC) - timedelta(days=90)
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)

    def read(name: str) -> dict[str, Any]:
        merged: list[dict[str, Any]] = []
        truncated = False
        listing = {"state": "closed", "sort": "updated", "direction": "desc"}
        for pull in ctx.github.iter_pages(repository_path(name, "pulls"), listing):
            # Sorted by last update, newest first: a PR merged after `since` was updated after it too.
            if _parse_time(pull["updated_at"]) < since:
                break
            if not pull.get("merged_at") or _parse_time(pull["merged_at"]) < since:
                continue
            if len(merged) == args.max_pulls:
                truncated = True
                break
            reviews = ctx.github.paginate(repository_path(name, "pulls", str(pull["number"]), "reviews"))
            merged.append(
                {
                    "number": pull["number"],
                    "title": pull.get("title"),
                    "author": (pull.get("user") or {}).get("login"),
                    "base": (pull.get("base") or {}).get("ref"),
                    "merged_at": pull["merged_at"],
                    "merge_commit_sha": pull.get("merge_commit_sha"),
                    "head_sha": (pull.get("head") or {}).get("sha"),
                    "html_url": pull.get("html_url"),
                    "reviews": [
                        {
                            "user": (review.get("user") or {}).get("login"),
                            "state": review.get("state"),
                            "submitted_at": review.get("submitted_at"),
                            "commit_id": review.get("commit_id"),
                        }
                        for review in reviews
                    ],
                }
            )
        return {"since": since.isoformat(), "pulls": merged, "truncated": truncated}

    return _for_each_github_repo(ctx, args, read)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _open_alerts_tool(feature: str, description: str, drop: tuple[str, ...] = ()) -> None:
    """Register `github.<feature>_alerts`: the open alerts of a security feature of each repository, without the
    fields named in `drop`."""

    @github_repo_tool(
        f"github.{feature.replace('-', '_')}_alerts",
        description,
        args=GithubArgs,
        operations=(f"GET /repos/{{owner}}/{{repo}}/{feature}/alerts",),
    )
    def read(ctx: CollectContext, args: GithubArgs, name: str) -> dict[str, Any]:
        alerts = ctx.github.paginate(repository_path(name, feature, "alerts"), {"state": "open"})
        return {"alerts": [{k: v for k, v in trimmed(alert).items() if k not in drop} for alert in alerts]}


_open_alerts_tool("dependabot", "Open Dependabot (vulnerable dependency) alerts of each repository.")
_open_alerts_tool("code-scanning", "Open code scanning (e.g. CodeQL) alerts of each repository.")
# GitHub returns the secret in clear: it never enters the evidence.
_open_alerts_tool(
    "secret-scanning",
    "Open secret scanning alerts of each repository (the leaked secret itself is not kept).",
    drop=("secret",),
)


@tool(
    "github.org_members",
    source="github",
    description="Organisation members, and those without two-factor authentication (filter=2fa_disabled; "
    "needs an organisation owner's token).",
    args=OrgArgs,
    operations=("GET /orgs/{org}/members",),
)
def org_members(ctx: CollectContext, args: OrgArgs) -> dict[str, Any]:
    org = args.org or ctx.config.github.owner
    if org is None:
        return {"org": None}
    try:
        members = ctx.github.paginate(api_path("orgs", org, "members"), {"filter": "all"})
        without_2fa = ctx.github.paginate(api_path("orgs", org, "members"), {"filter": "2fa_disabled"})
    except GithubError as error:
        return {"org": org, "error": str(error), "http_status": error.status}
    return {
        "org": org,
        "members": sorted(member["login"] for member in members),
        "without_2fa": sorted(member["login"] for member in without_2fa),
    }
