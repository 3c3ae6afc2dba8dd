"""A small read-only client for an MLflow tracking server's REST API (model registry and runs).

GET is the only method it sends: `request` refuses any other method before anything leaves the machine, and
every read goes through it. The token (the variable `[ai.mlflow] token_env` names) is sent as a bearer token
and never logged or shown in errors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx

from tools.config import MlflowConfig

API = "/api/2.0/mlflow"
PAGE_SIZE = 100
MAX_PAGES = 50  # 5,000 items per listing: a bound against runaway pagination


class MlflowWriteRefused(Exception):
    """A request with a method other than GET: refused before it is sent."""


class MlflowError(Exception):
    """An MLflow read failed; status is the HTTP status (0 when the server could not be reached)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class MlflowRegistry:
    def __init__(self, tracking_uri: str, token: str | None = None, *, timeout_s: float = 30.0) -> None:
        headers = {"User-Agent": "agentic-auditor", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.tracking_uri = tracking_uri.rstrip("/")
        self.has_token = bool(token)
        self.requests_sent = 0
        self._http = httpx.Client(base_url=self.tracking_uri, headers=headers, timeout=timeout_s)

    @classmethod
    def from_config(cls, config: MlflowConfig, environ: Mapping[str, str] = os.environ) -> MlflowRegistry:
        if config.tracking_uri is None:
            raise ValueError("no MLflow tracking server is configured ([ai.mlflow] tracking_uri)")
        return cls(config.tracking_uri, environ.get(config.token_env) or None)

    def __repr__(self) -> str:  # never shows the token
        return f"MlflowRegistry({self.tracking_uri!r}, token={'set' if self.has_token else 'none'})"

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """One request to the REST API (path below /api/2.0/mlflow); the decoded JSON body. GET only."""
        if method.upper() != "GET":
            raise MlflowWriteRefused(f"{method} {path}: refused, the auditor only reads MLflow (GET)")
        where = f"GET {API}{path}"
        try:
            self.requests_sent += 1
            response = self._http.get(API + path, params=dict(params or {}))
        except httpx.HTTPError as error:
            raise MlflowError(0, f"{where}: cannot reach {self.tracking_uri}: {type(error).__name__}") from error
        if response.is_success:
            return response.json()
        raise MlflowError(response.status_code, f"{where}: HTTP {response.status_code} ({_message(response)})")

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params)

    def paginate(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every item under `key` of a search endpoint, following next_page_token."""
        items: list[Any] = []
        query = {"max_results": PAGE_SIZE, **(params or {})}
        for _ in range(MAX_PAGES):
            body = self.get(path, query)
            items.extend(body.get(key, []))
            token = body.get("next_page_token")
            if not token:
                return items
            query = {**query, "page_token": token}
        raise MlflowError(0, f"GET {API}{path}: more than {MAX_PAGES} pages; refused to read further")


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message") or body.get("error_code") or body)[:200] if isinstance(body, dict) else str(body)
