"""A local moto server for the demo company: real AWS APIs, in memory, on loopback only."""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from moto.server import ThreadedMotoServer


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """Starts moto on a free 127.0.0.1 port; `endpoint_url` is where boto3 should point."""

    def __init__(self) -> None:
        self.port = 0
        self._server: ThreadedMotoServer | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        # AWS-managed policies (AdministratorAccess, AWSSupportAccess) must exist to be attached.
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self.port = free_loopback_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self.endpoint_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


class MotoAdmin:
    """moto's own admin API (/moto-api/...): reset state, and record what requests reached it."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")

    def _post(self, path: str) -> httpx.Response:
        response = httpx.post(f"{self.endpoint_url}/moto-api/{path}", timeout=30)
        response.raise_for_status()
        return response

    def reset(self) -> None:
        """Forget every resource in every service."""
        self._post("reset")

    def start_recording(self) -> None:
        self._post("recorder/reset-recording")
        self._post("recorder/start-recording")

    def stop_recording(self) -> None:
        self._post("recorder/stop-recording")

    def recorded_requests(self) -> list[RecordedRequest]:
        response = httpx.get(f"{self.endpoint_url}/moto-api/recorder/download-recording", timeout=30)
        response.raise_for_status()
        return [RecordedRequest.from_entry(json.loads(line)) for line in response.text.splitlines() if line.strip()]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as moto recorded it, with the AWS operation name where the protocol carries it."""

    method: str
    url: str
    operation: str | None  # from X-Amz-Target (JSON APIs) or Action= (query APIs); None for REST APIs

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> RecordedRequest:
        headers = {key.lower(): value for key, value in entry.get("headers", {}).items()}
        operation = None
        if "x-amz-target" in headers:
            operation = headers["x-amz-target"].rsplit(".", 1)[-1]
        else:
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode("utf-8", errors="replace")
            action = parse_qs(body).get("Action") or parse_qs(urlsplit(entry["url"]).query).get("Action")
            operation = action[0] if action else None
        return cls(entry["method"], entry["url"], operation)
