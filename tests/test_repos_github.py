"""GitHub collectors and checks against GitHub's published examples.

The responses are GitHub's own published example responses (the examples in its OpenAPI description,
../shared/data/github-api/), served over real HTTP by a loopback server (tools/demo/github.py). They are
documentation examples, not recordings of a live account.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence
from tools.config import AuditorConfig, GithubConfig
from tools.context import CollectContext
from tools.demo.github import GithubApiServer, Reply
from tools.findings import Finding, Status
from tools.redact import redact
from tools.repos import checks as _checks  # noqa: F401  (registers the checks)
from tools.repos import collectors as _collectors  # noqa: F401  (registers the collectors)
from tools.repos.github import GithubClient, GithubError, api_path, repository_full_name, repository_path

OWNER, REPO = "octocat", "Hello-World"
FULL = f"{OWNER}/{REPO}"
# Values for the path templates of index.json's operations.
PATH_VALUES = {
    "owner": OWNER,
    "repo": REPO,
    "branch": "master",
    "pull_number": "1347",
    "org": OWNER,
    "ruleset_id": "42",
}
GITHUB_TOOLS = [name for name in TOOLS if name.startswith("github.")]


def published(folder: Path, file: str) -> Any:
    return json.loads((folder / file).read_text(encoding="utf-8"))["value"]


def published_routes(folder: Path) -> dict[str, Any]:
    """Each published example served at its operation's path, filled in for octocat/Hello-World."""
    routes = {}
    for entry in json.loads((folder / "index.json").read_text(encoding="utf-8")):
        path = entry["operation"].split(" ", 1)[1].format(**PATH_VALUES)
        routes[path] = published(folder, entry["file"])
    return routes


@pytest.fixture(scope="module")
def examples(shared_data: Path) -> Path:
    return shared_data / "github-api"


@pytest.fixture(scope="module")
def github_server(examples: Path) -> Iterator[GithubApiServer]:
    with GithubApiServer(published_routes(examples)) as server:
        yield server


def github_config(url: str, **extra: Any) -> AuditorConfig:
    return AuditorConfig.model_validate({"github": {"api_url": url, "owner": OWNER, "repos": [REPO], **extra}})


def collect_all(config: AuditorConfig) -> list[StoredEvidence]:
    """Every GitHub collector once, stored as the locker stores evidence (redacted)."""
    ctx = CollectContext(config)
    items = []
    for name in GITHUB_TOOLS:
        spec = TOOLS[name]
        args = {"since": "2011-01-01T00:00:00Z"} if name == "github.pulls" else {}
        data = spec.func(ctx, spec.args_model(**args))
        items.append(StoredEvidence(id=name.replace(".", "")[:12], tool=name, params=args, data=redact(data).data))
    return items


def evaluate(check_id: str, items: list[StoredEvidence]) -> list[Finding]:
    return CHECKS[check_id].func(EvidenceView(items))


def test_checks_on_published_examples(github_server: GithubApiServer, examples: Path) -> None:
    items = collect_all(github_config(github_server.url))

    [protection] = evaluate("github.branch_protection", items)
    # The example protection allows force pushes and deletions; its branch rules block neither.
    assert (protection.status, protection.resource) == (Status.FAIL, f"{FULL}:master")
    assert protection.facts["protected_by"] == "branch protection and rulesets"
    assert "force pushes and deletion" in protection.reason

    [reviews] = evaluate("github.required_reviews", items)
    expected_count = published(examples, "repos-get-branch-protection.json")["required_pull_request_reviews"][
        "required_approving_review_count"
    ]
    assert (reviews.status, reviews.facts["required_approvals"]) == (Status.PASS, expected_count)

    # The example protection binds administrators too (enforce_admins enabled).
    [admins] = evaluate("github.enforce_admins", items)
    assert (admins.status, admins.resource, admins.facts["enforce_admins"]) == (Status.PASS, f"{FULL}:master", True)

    # PR 1347 by octocat, whose only review is octocat's own approval.
    [pull] = evaluate("github.pr_approved_before_merge", items)
    assert (pull.status, pull.resource, pull.facts["self_approvals"]) == (Status.FAIL, f"{FULL}#1347", 1)

    for check_id, file, path in [
        ("github.dependabot_alerts_open", "dependabot-list-alerts-for-repo.json", "dependabot"),
        ("github.code_scanning_alerts_open", "code-scanning-list-alerts-for-repo.json", "code-scanning"),
    ]:
        open_numbers = [a["number"] for a in published(examples, file) if a["state"] == "open"]
        findings = evaluate(check_id, items)
        assert [(f.status, f.resource) for f in findings] == [(Status.FAIL, f"{FULL}/{path}/{n}") for n in open_numbers]
    [dependabot] = evaluate("github.dependabot_alerts_open", items)
    assert dependabot.facts["package"] == "ansible" and dependabot.facts["severity"] == "medium"

    # The one secret scanning example is resolved: nothing open.
    [secrets] = evaluate("github.secret_scanning_alerts_open", items)
    assert (secrets.status, secrets.resource) == (Status.PASS, FULL)

    [member] = evaluate("github.org_members_2fa", items)
    assert (member.status, member.resource) == (Status.FAIL, "octocat/octocat")


def test_collectors_ask_for_open_alerts_and_never_keep_a_secret(github_server: GithubApiServer) -> None:
    items = {item.tool: item for item in collect_all(github_config(github_server.url))}
    assert any("/secret-scanning/alerts?" in r and "state=open" in r for r in github_server.requests)
    alert = items["github.secret_scanning_alerts"].data["repos"][0]["alerts"][0]
    assert "secret" not in alert and alert["secret_type"] == "adafruit_io_key"
    repository = items["github.repository"].data["repos"][0]["data"]
    assert repository["default_branch"] == "master" and "forks_url" not in repository and "html_url" in repository
    pulls = items["github.pulls"].data["repos"][0]["pulls"]
    assert [(p["number"], p["author"], [r["state"] for r in p["reviews"]]) for p in pulls] == [
        (1347, "octocat", ["APPROVED"])
    ]


def test_pulls_before_the_window_are_not_collected(github_server: GithubApiServer) -> None:
    ctx = CollectContext(github_config(github_server.url))
    data = TOOLS["github.pulls"].func(ctx, TOOLS["github.pulls"].args_model())  # default: the last 90 days
    assert data["repos"][0]["pulls"] == []
    [finding] = evaluate("github.pr_approved_before_merge", [StoredEvidence("p1", "github.pulls", {}, data)])
    assert finding.status == Status.NOT_APPLICABLE


def test_pagination_follows_link_headers(github_server: GithubApiServer, examples: Path) -> None:
    client = GithubClient(github_server.url, per_page=1)
    start = len(github_server.requests)
    alerts = client.paginate(f"/repos/{FULL}/dependabot/alerts", {"state": "open"})
    assert [a["number"] for a in alerts] == [
        a["number"] for a in published(examples, "dependabot-list-alerts-for-repo.json")
    ]
    sent = github_server.requests[start:]
    assert len(sent) == 2 and "page=2" in sent[1] and "state=open" in sent[1]


def test_token_is_sent_checked_and_never_shown(examples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "ghp_" + "A1b2C3d4" * 4 + "ZZZZ"
    with GithubApiServer(published_routes(examples), token=token) as server:
        with pytest.raises(GithubError, match="no token") as no_token:
            GithubClient(server.url).get(f"/repos/{FULL}")
        assert no_token.value.status == 401
        with pytest.raises(GithubError, match="missing, expired or wrong") as wrong:
            GithubClient(server.url, "ghp_wrong").get(f"/repos/{FULL}")
        assert "ghp_wrong" not in str(wrong.value)
        monkeypatch.setenv("ACME_READONLY_TOKEN", token)
        client = GithubClient.from_config(GithubConfig(api_url=server.url, token_env="ACME_READONLY_TOKEN"))
        assert client.get(f"/repos/{FULL}")["full_name"] == FULL
        assert token not in repr(client)
        # A collector records the refusal per repository and the check reports it as an error.
        monkeypatch.delenv("ACME_READONLY_TOKEN")
        ctx = CollectContext(github_config(server.url, token_env="ACME_READONLY_TOKEN"))
        data = TOOLS["github.dependabot_alerts"].func(ctx, TOOLS["github.dependabot_alerts"].args_model())
        assert data["repos"][0]["http_status"] == 401
        [finding] = evaluate(
            "github.dependabot_alerts_open", [StoredEvidence("d1", "github.dependabot_alerts", {}, data)]
        )
        assert finding.status == Status.ERROR and "401" in finding.reason


def test_unprotected_branch_is_data_and_other_refusals_are_errors(examples: Path) -> None:
    repository = published(examples, "repos-get.json")
    routes = {
        "/repos/acme/open": {**repository, "full_name": "acme/open", "default_branch": "main"},
        "/repos/acme/open/branches/main/protection": Reply(404, {"message": "Branch not protected"}),
        "/repos/acme/open/rules/branches/main": [],
        "/repos/acme/open/rulesets": [],
        "/repos/acme/open/dependabot/alerts": Reply(
            403, {"message": "Dependabot alerts are disabled for this repository."}
        ),
        "/repos/acme/limited/dependabot/alerts": Reply(
            403,
            {"message": "API rate limit exceeded"},
            (("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "1700000000")),
        ),
    }
    with GithubApiServer(routes) as server:
        config = AuditorConfig.model_validate(
            {"github": {"api_url": server.url, "owner": "acme", "repos": ["open", "gone", "limited"]}}
        )
        ctx = CollectContext(config)
        protection = TOOLS["github.branch_protection"].func(ctx, TOOLS["github.branch_protection"].args_model())
        rulesets = TOOLS["github.rulesets"].func(ctx, TOOLS["github.rulesets"].args_model())
        alerts = TOOLS["github.dependabot_alerts"].func(ctx, TOOLS["github.dependabot_alerts"].args_model())
    assert protection["repos"][0] == {"repo": "acme/open", "branch": "main", "protected": False}
    assert protection["repos"][1]["http_status"] == 404
    items = [
        StoredEvidence("b1", "github.branch_protection", {}, protection),
        StoredEvidence("r1", "github.rulesets", {}, rulesets),
    ]
    statuses = [(f.resource, f.status) for f in evaluate("github.branch_protection", items)]
    assert statuses[:2] == [("acme/open:main", Status.FAIL), ("acme/gone", Status.ERROR)]
    assert [f.status for f in evaluate("github.required_reviews", items)][:1] == [Status.FAIL]
    assert [f.status for f in evaluate("github.enforce_admins", items)][:1] == [Status.FAIL]
    assert "feature is off" in alerts["repos"][0]["error"]
    assert "rate limit exhausted" in alerts["repos"][2]["error"]


def test_protection_that_spares_administrators_fails_and_a_ruleset_bypass_list_is_not_guessed() -> None:
    def judged(entry: dict[str, Any], branch_rules: list[dict[str, Any]]) -> Finding:
        items = [
            StoredEvidence("b1", "github.branch_protection", {}, {"repos": [{"repo": "acme/app", **entry}]}),
            StoredEvidence(
                "r1", "github.rulesets", {}, {"repos": [{"repo": "acme/app", "branch_rules": branch_rules}]}
            ),
        ]
        [finding] = evaluate("github.enforce_admins", items)
        return finding

    protection = {"allow_force_pushes": {"enabled": False}, "allow_deletions": {"enabled": False}}
    spared = judged(
        {"branch": "main", "protected": True, "protection": {**protection, "enforce_admins": {"enabled": False}}}, []
    )
    assert (spared.status, spared.resource) == (Status.FAIL, "acme/app:main")
    assert "enforce_admins: false" in spared.reason
    # The force-push check passes the same branch: the two judge different things.
    items = [
        StoredEvidence(
            "b1",
            "github.branch_protection",
            {},
            {"repos": [{"repo": "acme/app", "branch": "main", "protected": True, "protection": protection}]},
        )
    ]
    assert [f.status for f in evaluate("github.branch_protection", items)] == [Status.PASS]
    rules_only = judged({"branch": "main", "protected": False}, [{"type": "non_fast_forward"}, {"type": "deletion"}])
    assert rules_only.status == Status.ERROR and "cannot be judged" in rules_only.reason
    assert judged({"branch": "main", "protected": False}, []).status == Status.FAIL


def test_org_members_need_an_owner() -> None:
    data = TOOLS["github.org_members"].func(CollectContext(AuditorConfig()), TOOLS["github.org_members"].args_model())
    [finding] = evaluate("github.org_members_2fa", [StoredEvidence("o1", "github.org_members", {}, data)])
    assert finding.status == Status.NOT_APPLICABLE


def test_token_never_follows_a_link_to_another_host() -> None:
    routes = {
        "/orgs/acme/members": Reply(
            200, [{"login": "a"}], (("Link", '<http://198.51.100.9/steal?page=2>; rel="next"'),)
        )
    }
    with GithubApiServer(routes) as server:
        with pytest.raises(GithubError, match="points away from"):
            GithubClient(server.url, "ghp_secret").paginate("/orgs/acme/members")


def test_a_token_with_write_scopes_is_refused_at_its_first_answer(examples: Path) -> None:
    repository = published(examples, "repos-get.json")
    routes = {
        "/repos/octocat/Hello-World": Reply(200, repository, (("X-OAuth-Scopes", "repo, delete_repo, admin:org"),)),
        "/repos/octocat/Spoon-Knife": Reply(200, repository, (("X-OAuth-Scopes", "repo, read:org, user:email"),)),
    }
    with GithubApiServer(routes) as server:
        client = GithubClient(server.url, "ghp_" + "x" * 36)
        with pytest.raises(GithubError, match=r"token has write scopes \(delete_repo, admin:org\)"):
            client.get("/repos/octocat/Hello-World")
        assert client.get("/repos/octocat/Spoon-Knife")["full_name"] == "octocat/Hello-World"  # reads only: fine
        client.close()


# -- names and paths: the client builds every URL -----------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "acme-ai/platform/../../../user",
        "../user",
        "acme-ai/..",
        "acme-ai/.",
        "acme ai/platform",
        "acme-ai//platform",
        "acme-ai/platform?per_page=1",
        "acme-ai/platform#readme",
        "-acme/platform",
        "acme-ai/",
        "/platform",
    ],
)
def test_only_owner_and_name_make_a_repository_name(name: str) -> None:
    with pytest.raises(ValueError, match="is not a GitHub repository name"):
        repository_full_name(name, "acme-ai")


def test_names_and_values_are_quoted_into_one_segment_each() -> None:
    assert repository_full_name("platform", "acme-ai") == "acme-ai/platform"
    assert repository_full_name("Acme-AI/model.serving_v2", None) == "Acme-AI/model.serving_v2"
    with pytest.raises(ValueError, match="has no owner"):
        repository_full_name("platform", None)
    # A branch may hold '/' and '?': each stays inside its own segment.
    assert repository_path("acme-ai/platform", "branches", "release/1.0?x", "protection") == (
        "/repos/acme-ai/platform/branches/release%2F1.0%3Fx/protection"
    )
    assert api_path("orgs", "../user", "members") == "/orgs/..%2Fuser/members"
    for segment in ("..", ".", ""):
        with pytest.raises(ValueError, match="refused to build a GitHub API path"):
            api_path("repos", "acme-ai", "platform", "branches", segment, "protection")


def test_a_hostile_configured_name_is_an_error_entry_and_never_a_request() -> None:
    routes = {"/user": {"login": "the-token-owner"}, "/repos/acme-ai/platform": {"full_name": "acme-ai/platform"}}
    with GithubApiServer(routes) as server:
        config = AuditorConfig.model_validate(
            {"github": {"api_url": server.url, "owner": "acme-ai", "repos": ["platform", "platform/../../../user"]}}
        )
        spec = TOOLS["github.repository"]
        data = spec.func(CollectContext(config), spec.args_model())
        assert server.requests == ["GET /repos/acme-ai/platform"]
    assert data["repos"][0]["data"] == {"full_name": "acme-ai/platform"}
    hostile = data["repos"][1]
    assert hostile["repo"] == "platform/../../../user" and "not a GitHub repository name" in hostile["error"]
