"""A local moto server for the demo company: real AWS APIs, in memory, on loopback only."""

from __future__ import annotations

import base64
import json
import logging
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx

from tools.aws.session import parse_service_models_once

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

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
    """Starts moto on 127.0.0.1; `endpoint_url` is where boto3 should point.

    On a free port, or on `listening_socket`, a socket bound and listening already: its file descriptor (as a
    child process inherits it). Connections made to that socket before start() wait in its backlog until then."""

    def __init__(self, listening_socket: int | None = None) -> None:
        self.port = 0
        self._listening_socket = listening_socket
        self._server: BaseWSGIServer | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        # Seconds to import: a process running SeededMotoProcess never does.
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        # AWS-managed policies (AdministratorAccess, AWSSupportAccess) must exist to be attached.
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        # The demo company runs no instances, so no AMI catalogue: loading it costs each region's EC2 backend ~0.5 s.
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        parse_service_models_once()  # moto's backends, the seeder and the collectors: each AWS model parsed once
        # What moto's ThreadedMotoServer does, plus serving a socket that is already listening. Every server in a
        # process serves the same AWS state: moto keeps it in module globals.
        self._server = make_server(
            "127.0.0.1",
            0,  # a free port, unless a listening socket is given: then its address
            DomainDispatcherApplication(create_backend_app),
            threaded=True,
            request_handler=MotoRequestHandler,
            fd=self._listening_socket,
        )
        self.port = self._server.port
        threading.Thread(target=self._server.serve_forever, name="moto", daemon=True).start()
        return self.endpoint_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


READY = "ready"  # SeededMotoProcess's child prints it once moto serves the seeded demo company
# Seeding takes about 3 s. A child not ready long after is stuck (stopped, deadlocked): every AWS request would wait
# in the socket's backlog for minutes, with no word why. It is killed, and the demo ends saying so.
SEED_TIMEOUT_S = 120.0
# Run as `python -c SEEDED_MOTO_CHILD <fd>`: the listening socket's file descriptor, which the child inherits.
SEEDED_MOTO_CHILD = "import sys; from tools.demo.aws import serve_seeded_acme_ai as serve; serve(int(sys.argv[1]))"


class SeededMotoProcess:
    """A moto server seeded with the demo company, in a child process: launch() starts it and returns its endpoint at
    once, wait_ready() blocks until it is seeded, stop() ends it.

    We bind the listening socket and the child inherits it. So the endpoint is known before the child has imported
    moto, and a request sent while it seeds waits in the socket's backlog: the child accepts connections only once
    the demo company is all there. Nobody has to wait for the seeding who does not call AWS (a re-run whose
    evidence is fresh never does). Apart, moto's request handling does not compete with the proof run for our GIL.
    Seeding runs in the child because the seeder sets a few dates in moto's in-process state. The child serves
    until its stdin closes, so it ends with us even if we are killed. A watcher thread reads its "ready" and kills
    it if that has not come within `seed_timeout` seconds.
    """

    def __init__(self, seed_timeout: float = SEED_TIMEOUT_S) -> None:
        self.seed_timeout = seed_timeout
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None
        self._port = 0
        self._seeded = threading.Event()  # the child said "ready" (it says so once)
        self._timed_out = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        assert self._process is not None, "launch() first"
        return f"http://127.0.0.1:{self._port}"

    def launch(self) -> str:
        """Start the child, unless it runs already; it seeds while the caller goes on. Returns its endpoint URL."""
        if self._process is not None:
            return self.endpoint_url
        self._stderr = tempfile.TemporaryFile()  # a file, not a pipe: nobody reads it until something goes wrong
        self._seeded, self._timed_out = threading.Event(), threading.Event()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listening:
            listening.bind(("127.0.0.1", 0))
            listening.listen(socket.SOMAXCONN)
            self._port = listening.getsockname()[1]
            self._process = subprocess.Popen(
                [sys.executable, "-c", SEEDED_MOTO_CHILD, str(listening.fileno())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                text=True,
                pass_fds=(listening.fileno(),),
            )
        # Our copy is closed: if the child dies, connecting is refused at once instead of waiting in the backlog.
        self._watcher = threading.Thread(
            target=self._watch, args=(self._process, self._seeded, self._timed_out), name="demo-aws", daemon=True
        )
        self._watcher.start()
        return self.endpoint_url

    def _watch(self, process: subprocess.Popen[str], seeded: threading.Event, timed_out: threading.Event) -> None:
        """Set `seeded` when the child says "ready" (lines before it are skipped); kill it if it has not within the
        seed timeout. Reads the pipe's bytes itself: a buffered readline could hold "ready" where select cannot see
        it, or block on a line that never ends."""
        assert process.stdout is not None
        stdout = process.stdout.fileno()
        deadline = time.monotonic() + self.seed_timeout
        pending = b""
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while (remaining := deadline - time.monotonic()) > 0 and selector.select(remaining):
                chunk = os.read(stdout, 4096)
                if not chunk:
                    return  # the child exited (or stop() killed it): raise_if_exited says why
                *lines, pending = (pending + chunk).split(b"\n")
                if any(line.strip() == READY.encode() for line in lines):
                    seeded.set()
                    return
        timed_out.set()
        process.kill()

    def wait_ready(self) -> str:
        """Block until the child serves the seeded company; its endpoint URL. Raises if the child exited (or was
        killed for not getting ready in time) instead."""
        assert self._process is not None, "launch() first"
        while not self._seeded.wait(timeout=0.05):
            self.raise_if_exited()
        return self.endpoint_url

    def raise_if_exited(self) -> None:
        """Raise if the child is gone before stop(): a crash while seeding or serving, which the AWS collectors met
        as refused connections."""
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(self._exit_message())

    def _exit_message(self) -> str:
        assert self._process is not None and self._stderr is not None
        self._stderr.seek(0)
        errors = self._stderr.read().decode("utf-8", errors="replace")[-4000:]
        if self._timed_out.is_set():
            return (
                f"the demo's moto server was not ready {self.seed_timeout:g} s after it started (seeding takes a few "
                f"seconds): it was stopped or stuck, and was killed\n{errors}"
            )
        return f"the demo's moto server exited ({self._process.returncode}):\n{errors}"

    def stop(self) -> None:
        if self._process is None:
            return
        process, self._process = self._process, None
        assert process.stdin is not None and process.stdout is not None
        # Its AWS lives in memory only: nothing to save, so no need to wait for a child still seeding.
        process.kill()
        process.wait()
        if self._watcher is not None:  # the child's end of the pipe is closed: the watcher has returned, or does now
            self._watcher.join()
            self._watcher = None
        process.stdin.close()
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
