"""A GitHub REST API stand-in on loopback, for the demo and for tests (http.server in a thread).

`GithubApiServer` answers GET requests from a table of routes: paths (optionally with one query
parameter, e.g. "/orgs/acme-ai/members?filter=2fa_disabled") to JSON bodies or `Reply`s with an error
status. Lists are paginated with `per_page`/`page` and Link headers as GitHub does. When it is given a
token, requests without "Authorization: Bearer <token>" get GitHub's 401 answer.

`acme_routes()` is Acme AI's GitHub: the shapes of GitHub's published example responses (its OpenAPI
description's examples), cut to the fields the collectors read, with Acme's names and dates. What the
GitHub checks find on it is written down in tools/demo/expected/repos.yaml.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

PAGING_PARAMETERS = {"per_page", "page"}


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: tuple[tuple[str, str], ...] = ()


class GithubApiServer:
    def __init__(self, routes: dict[str, Any], *, token: str | None = None) -> None:
        self.routes = routes
        self.token = token
        self.requests: list[str] = []  # "GET /path?query" per request, in order
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        # shutdown() waits for the loop's next poll: 0.5 s at the default interval, at every demo's end.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="github-api-server", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GithubApiServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def answer(self, target: str, authorization: str | None) -> Reply:
        """The reply to GET target (path and query)."""
        self.requests.append(f"GET {target}")
        if self.token is not None and authorization != f"Bearer {self.token}":
            return Reply(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        url = urlsplit(target)
        query = dict(parse_qsl(url.query))
        keys = [f"{url.path}?{k}={v}" for k, v in sorted(query.items()) if k not in PAGING_PARAMETERS] + [url.path]
        route = next((key for key in keys if key in self.routes), None)
        if route is None:
            return Reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        body = self.routes[route]
        if isinstance(body, Reply):
            return body
        if not isinstance(body, list):
            return Reply(200, body)
        return self._page(url.path, query, body)

    def _page(self, path: str, query: dict[str, str], items: list[Any]) -> Reply:
        per_page = int(query.get("per_page", 30))
        page = int(query.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        if page * per_page < len(items):
            links.append(f'<{self.url}{path}?{urlencode({**query, "page": page + 1})}>; rel="next"')
            last = (len(items) + per_page - 1) // per_page
            links.append(f'<{self.url}{path}?{urlencode({**query, "page": last})}>; rel="last"')
        return Reply(200, chunk, (("Link", ", ".join(links)),) if links else ())


def _handler_for(server: GithubApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            reply = server.answer(self.path, self.headers.get("Authorization"))
            payload = json.dumps(reply.body).encode("utf-8")
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and the demo own the terminal
            pass

    return Handler


# -- Acme AI's GitHub -------------------------------------------------------------------------------

ACME_ORG = "acme-ai"
ACME_REPO = "acme-ai/platform"


def _user(login: str) -> dict[str, Any]:
    return {"login": login, "type": "User", "site_admin": False, "html_url": f"https://github.com/{login}"}


def _pull(number: int, title: str, author: str, merged: datetime, merge_commit: str | None) -> dict[str, Any]:
    stamp = merged.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "number": number,
        "state": "closed",
        "title": title,
        "user": _user(author),
        "created_at": (merged - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": stamp,
        "closed_at": stamp,
        "merged_at": stamp,
        "merge_commit_sha": merge_commit or f"{number:040x}",
        "base": {"ref": "main"},
        "head": {"ref": f"change-{number}", "sha": _head(number)},
        "html_url": f"https://github.com/{ACME_REPO}/pull/{number}",
    }


def _review(review_id: int, reviewer: str, state: str, submitted: datetime) -> dict[str, Any]:
    return {
        "id": review_id,
        "user": _user(reviewer),
        "state": state,
        "body": "",
        "submitted_at": submitted.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit_id": f"{review_id:040x}",
    }


def _head(number: int) -> str:
    return f"{number:038x}ff"


def _file(path: str) -> dict[str, Any]:
    return {"filename": path, "status": "modified", "additions": 3, "deletions": 1, "changes": 4}


def _check_runs(*names: str) -> dict[str, Any]:
    runs = [
        {
            "id": 800 + number,
            "name": name,
            "status": "completed",
            "conclusion": "success",
            "completed_at": "2025-01-01T00:00:00Z",
        }
        for number, name in enumerate(names)
    ]
    return {"total_count": len(runs), "check_runs": runs}


def _ai_changes(summaries: datetime, weights: datetime, prompt: datetime) -> dict[str, Any]:
    """Three merged changes to AI assets, judged by [ai.change_tiers] (tools/demo/expected/ai.yaml):
    #43 a prompt change with a review and the evaluation run (meets its tier); #44 new weights and routing with
    one approval where the weights tier needs two; #45 a prompt change reviewed but merged without the evaluation."""
    repo = f"/repos/{ACME_REPO}"
    before = timedelta(hours=3)
    return {
        f"{repo}/pulls/43/files": [_file("prompts/summarize.prompt")],
        f"{repo}/pulls/43/reviews": [_review(9301, "priya-acme", "APPROVED", summaries - before)],
        f"{repo}/commits/{_head(43)}/check-runs": _check_runs("ci / test", "evaluation"),
        f"{repo}/pulls/44/files": [_file("models/doc-classifier/v2.safetensors"), _file("routing.yaml")],
        f"{repo}/pulls/44/reviews": [_review(9401, "priya-acme", "APPROVED", weights - before)],
        f"{repo}/commits/{_head(44)}/check-runs": _check_runs("ci / test", "evaluation"),
        f"{repo}/pulls/45/files": [_file("prompts/support.prompt"), _file("app/llm.py")],
        f"{repo}/pulls/45/reviews": [_review(9501, "leo-acme", "APPROVED", prompt - before)],
        f"{repo}/commits/{_head(45)}/check-runs": _check_runs("ci / test"),
    }


def acme_routes(now: datetime | None = None, merge_commits: dict[int, str] | None = None) -> dict[str, Any]:
    """Acme AI's GitHub. Pull request dates are recent relative to `now`, inside the default 90-day window.
    `merge_commits`: pull request number -> its merge commit in the demo repository (tools/demo/repo.py
    squash_merges); a pull request not there gets a made-up id."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    merge_commits = merge_commits or {}

    def pull(number: int, title: str, author: str, merged: datetime) -> dict[str, Any]:
        return _pull(number, title, author, merged, merge_commits.get(number))

    merged_reviewed, merged_hotfix = now - timedelta(days=12), now - timedelta(days=3)
    merged_summaries, merged_weights, merged_prompt = (now - timedelta(days=days) for days in (20, 9, 2))
    repo = f"/repos/{ACME_REPO}"
    return {
        repo: {
            "id": 7001,
            "name": "platform",
            "full_name": ACME_REPO,
            "owner": _user(ACME_ORG),
            "private": True,
            "visibility": "private",
            "default_branch": "main",
            "archived": False,
            "html_url": f"https://github.com/{ACME_REPO}",
            "security_and_analysis": {
                "secret_scanning": {"status": "enabled"},
                "secret_scanning_push_protection": {"status": "disabled"},
                "dependabot_security_updates": {"status": "disabled"},
            },
        },
        f"{repo}/branches/main/protection": {
            "required_status_checks": {"strict": True, "contexts": ["ci / test"]},
            "enforce_admins": {"enabled": False},
            "required_pull_request_reviews": {
                "dismiss_stale_reviews": True,
                "require_code_owner_reviews": True,
                "required_approving_review_count": 1,
            },
            "required_linear_history": {"enabled": False},
            "allow_force_pushes": {"enabled": False},
            "allow_deletions": {"enabled": False},
        },
        f"{repo}/rulesets": [],
        f"{repo}/rules/branches/main": [],
        f"{repo}/pulls": [
            pull(45, "Make the support prompt friendlier", "priya-acme", merged_prompt),
            pull(44, "Serve doc-classifier v2 weights", "leo-acme", merged_weights),
            pull(43, "Shorter summaries in the summarize prompt", "maya-acme", merged_summaries),
            pull(42, "Hotfix: raise inference timeout", "maya-acme", merged_hotfix),
            pull(41, "Add batch inference job", "leo-acme", merged_reviewed),
        ],
        **_ai_changes(merged_summaries, merged_weights, merged_prompt),
        f"{repo}/pulls/41/files": [_file("app/batch.py")],
        f"{repo}/pulls/42/files": [_file("app/server.py")],
        f"{repo}/commits/{_head(41)}/check-runs": _check_runs("ci / test"),
        f"{repo}/commits/{_head(42)}/check-runs": _check_runs("ci / test"),
        f"{repo}/pulls/41/reviews": [
            _review(9101, "priya-acme", "CHANGES_REQUESTED", merged_reviewed - timedelta(hours=20)),
            _review(9102, "priya-acme", "APPROVED", merged_reviewed - timedelta(hours=2)),
        ],
        # Merged by an admin straight after opening it: the only review came after the merge.
        f"{repo}/pulls/42/reviews": [_review(9201, "leo-acme", "APPROVED", merged_hotfix + timedelta(hours=5))],
        f"{repo}/dependabot/alerts": [
            {
                "number": 3,
                "state": "open",
                "created_at": "2025-02-20T08:00:00Z",
                "dependency": {"package": {"ecosystem": "pip", "name": "jinja2"}, "manifest_path": "requirements.txt"},
                "security_advisory": {
                    "ghsa_id": "GHSA-h5c8-rqwp-cp95",
                    "cve_id": "CVE-2024-22195",
                    "severity": "medium",
                    "summary": "Jinja vulnerable to HTML attribute injection "
                    "when passing user input as keys to xmlattr filter",
                },
                "security_vulnerability": {
                    "package": {"ecosystem": "pip", "name": "jinja2"},
                    "severity": "medium",
                    "vulnerable_version_range": "< 3.1.3",
                    "first_patched_version": {"identifier": "3.1.3"},
                },
                "html_url": f"https://github.com/{ACME_REPO}/security/dependabot/3",
            },
        ],
        f"{repo}/code-scanning/alerts": [],
        f"{repo}/secret-scanning/alerts": [
            {
                "number": 1,
                "state": "open",
                "created_at": "2025-02-03T17:50:00Z",
                "resolution": None,
                "secret_type": "aws_access_key_id",
                "secret_type_display_name": "Amazon AWS Access Key ID",
                "secret": "AKIAIOSFODNN7EXAMPLE",
                "validity": "unknown",
                "push_protection_bypassed": False,
                "html_url": f"https://github.com/{ACME_REPO}/security/secret-scanning/1",
            },
        ],
        f"/orgs/{ACME_ORG}/members?filter=all": [_user("leo-acme"), _user("maya-acme"), _user("priya-acme")],
        f"/orgs/{ACME_ORG}/members?filter=2fa_disabled": [_user("priya-acme")],
    }
