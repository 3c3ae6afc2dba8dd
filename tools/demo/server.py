"""A local moto server for the demo company: real AWS APIs, in memory, on loopback only."""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx

from tools.aws.session import parse_service_models_once

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

Started = TypeVar("Started")


class StartedOnEnter(ABC, Generic[Started]):
    """A server used as `with server as started:`: `started` is what start() returns; stop() runs on the way out."""

    @abstractmethod
    def start(self) -> Started: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Started:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


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
        from moto.server import ThreadedMotoServer  # seconds to import: a process running SeededMotoProcess never does

        # AWS-managed policies (AdministratorAccess, AWSSupportAccess) must exist to be attached.
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        # The demo company runs no instances, so no AMI catalogue: loading it costs each region's EC2 backend ~0.5 s.
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        parse_service_models_once()  # moto's backends, the seeder and the collectors: each AWS model parsed once
        self.port = free_loopback_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self.endpoint_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


READY = "ready"  # SeededMotoProcess's child prints "ready <port>" once moto serves the seeded demo company
SEEDED_MOTO_CHILD = "from tools.demo.aws import serve_seeded_acme_ai; serve_seeded_acme_ai()"


class SeededMotoProcess:
    """A MotoServer seeded with the demo company, in a child process: launch() starts it, wait_ready() returns its
    endpoint once seeded, stop() ends it.

    Apart, moto's request handling does not compete with the proof run for our GIL, and the child seeds while we
    go on starting up. Seeding runs in the child because the seeder sets a few dates in moto's in-process state.
    The child serves until its stdin closes, so it ends with us even if we are killed.
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None

    def launch(self) -> None:
        """Start the child, unless it runs already; it seeds while the caller goes on."""
        if self._process is not None:
            return
        self._stderr = tempfile.TemporaryFile()  # a file, not a pipe: nobody reads it until something goes wrong
        self._process = subprocess.Popen(
            [sys.executable, "-c", SEEDED_MOTO_CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )

    def wait_ready(self) -> str:
        """Block until the child serves the seeded company; its endpoint URL. Raises if the child exited instead."""
        assert self._process is not None and self._process.stdout is not None, "launch() first"
        for line in self._process.stdout:
            word, _, port = line.partition(" ")
            if word == READY:
                return f"http://127.0.0.1:{int(port)}"
        self._process.wait()
        raise RuntimeError(
            f"the demo's moto server exited ({self._process.returncode}) before it was ready:\n{self._child_errors()}"
        )

    def _child_errors(self) -> str:
        assert self._stderr is not None
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", errors="replace")[-4000:]

    def stop(self) -> None:
        if self._process is None:
            return
        process, self._process = self._process, None
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()  # the child's signal to stop its server and exit
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


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
