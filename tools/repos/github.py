"""A small read-only GitHub REST client on httpx.

The token is read from the environment variable the config names (`[github] token_env`). Give it read
scopes only: a fine-grained token with read access to Administration (branch protection), Contents,
Pull requests, Dependabot alerts, Code scanning alerts, Secret scanning alerts and organisation Members.
The token is sent as an Authorization header and never logged or shown in errors.
Only GET requests exist here. A classic token whose scopes (GitHub's `X-OAuth-Scopes` answer header) go
beyond reading is refused at its first answer: admin, delete, write and workflow scopes. `repo` is let
through, as a classic token cannot read a private repository without it; a fine-grained read-only token
needs none of this.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from tools.config import GithubConfig

API_VERSION = "2022-11-28"
DEFAULT_PER_PAGE = 100
MAX_PAGES = 50  # 5,000 items per listing at 100 a page: a bound against runaway pagination


# "owner/name" as GitHub allows them: an owner of letters, digits and hyphens; a name of letters, digits,
# '.', '-' and '_'. Nothing else, so a name cannot add a path segment, a query or a fragment to a URL.
REPOSITORY_NAME = re.compile(r"(?P<owner>[A-Za-z0-9][A-Za-z0-9-]{0,38})/(?P<name>[A-Za-z0-9._-]{1,100})")


def repository_full_name(name: str, owner: str | None) -> str:
    """'owner/name' from a configured or requested name ('name' alone takes the [github] owner).

    Raises ValueError for anything that is not a GitHub repository name.
    """
    if "/" not in name and owner is None:
        raise ValueError(f"{name!r} has no owner: write 'owner/name' or set [github] owner")
    full_name = name if "/" in name else f"{owner}/{name}"
    match = REPOSITORY_NAME.fullmatch(full_name)
    if match is None or match["name"] in (".", ".."):
        raise ValueError(f"{full_name!r} is not a GitHub repository name ('owner/name')")
    return full_name


def api_path(*segments: str) -> str:
    """An API path from its segments, each percent-quoted, so that no value (a branch, an organisation)
    adds a '/', a query or a '..' to the URL the client sends."""
    for segment in segments:
        if segment in ("", ".", ".."):
            raise ValueError(f"refused to build a GitHub API path with the segment {segment!r}")
    return "/" + "/".join(quote(segment, safe="") for segment in segments)


def repository_path(full_name: str, *segments: str) -> str:
    """/repos/{owner}/{name}/... for a name `repository_full_name` accepted."""
    owner, name = repository_full_name(full_name, None).split("/")
    return api_path("repos", owner, name, *segments)


# Classic-token scopes that can change things and that no read needs.
WRITE_SCOPE_PREFIXES = ("admin:", "write:", "delete_repo", "delete:", "workflow", "codespace", "gist", "user")


def write_scopes(header: str) -> list[str]:
    """The scopes in an `X-OAuth-Scopes` header that go beyond reading."""
    scopes = [scope.strip() for scope in header.split(",") if scope.strip()]
    return [scope for scope in scopes if scope.startswith(WRITE_SCOPE_PREFIXES) and scope != "user:email"]


class GithubError(Exception):
    """A GitHub request failed; status is the HTTP status (0 for a network error)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class GithubClient:
    def __init__(
        self,
        api_url: str = "https://api.github.com",
        token: str | None = None,
        *,
        per_page: int = DEFAULT_PER_PAGE,
        timeout_s: float = 30.0,
    ) -> None:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "agentic-auditor",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.api_url = api_url.rstrip("/")
        self.per_page = per_page
        self.has_token = bool(token)
        # Each distinct read is sent once per client (one client per run), as with AWS.
        self._cache: dict[tuple[str, str], Any] = {}
        self._http = httpx.Client(base_url=self.api_url, headers=headers, timeout=timeout_s, follow_redirects=True)

    @classmethod
    def from_config(cls, config: GithubConfig, environ: Mapping[str, str] = os.environ) -> GithubClient:
        return cls(config.api_url, environ.get(config.token_env) or None)

    def __repr__(self) -> str:  # never shows the token
        return f"GithubClient({self.api_url!r}, token={'set' if self.has_token else 'none'})"

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """One GET; the decoded JSON body. Raises GithubError with a plain explanation on failure."""
        key = ("get", f"{path}?{sorted((params or {}).items())}")
        if key not in self._cache:
            self._cache[key] = self._request(path, params).json()
        return self._cache[key]

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every item of a list endpoint, following the Link rel="next" headers."""
        key = ("list", f"{path}?{sorted((params or {}).items())}")
        if key not in self._cache:
            self._cache[key] = list(self.iter_pages(path, params))
        return self._cache[key]

    def iter_pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        response = self._request(path, {"per_page": self.per_page, **(params or {})})
        for _ in range(MAX_PAGES):
            body = response.json()
            # A few list endpoints wrap their items ({"total_count": n, "workflow_runs": [...]}).
            items = body if isinstance(body, list) else next((v for v in body.values() if isinstance(v, list)), [])
            yield from items
            next_url = response.links.get("next", {}).get("url")
            if not next_url:
                return
            # The token goes only to the configured API host, whatever a Link header names.
            if httpx.URL(next_url).host != httpx.URL(self.api_url).host:
                raise GithubError(0, f"GET {path}: next page link points away from {self.api_url}: {next_url}")
            # The next link carries every query parameter already.
            response = self._request(next_url, None)

    def _request(self, path: str, params: Mapping[str, Any] | None) -> httpx.Response:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as error:
            raise GithubError(0, f"GET {path}: cannot reach {self.api_url}: {error}") from error
        excess = write_scopes(response.headers.get("x-oauth-scopes", ""))
        if excess:
            raise GithubError(
                403,
                f"GET {httpx.URL(path).path or path}: refused to go on: the token has write scopes "
                f"({', '.join(excess)}); give the auditor a read-only token (a fine-grained token with read access)",
            )
        if response.is_success:
            return response
        raise GithubError(response.status_code, self._explain(path, response))

    def _explain(self, path: str, response: httpx.Response) -> str:
        try:
            message = str(response.json().get("message", ""))
        except ValueError:
            message = response.text[:200]
        where = f"GET {httpx.URL(path).path or path}"
        status = response.status_code
        if status == 401:
            hint = (
                "the token is missing, expired or wrong"
                if self.has_token
                else "no token: set the [github] token_env variable"
            )
            return f"{where}: 401 unauthorised ({message}); {hint}"
        if status in (403, 429) and response.headers.get("x-ratelimit-remaining") == "0":
            return (
                f"{where}: {status} rate limit exhausted; it resets at epoch "
                f"{response.headers.get('x-ratelimit-reset')}"
            )
        if status == 403:
            return (
                f"{where}: 403 forbidden ({message}); "
                "the token lacks a read permission for this endpoint or the feature is off"
            )
        if status == 404:
            return f"{where}: 404 not found ({message}); the resource does not exist or the token cannot see it"
        return f"{where}: HTTP {status} ({message})"
