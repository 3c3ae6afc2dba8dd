"""The demo company's MLflow model registry (optional: only where the `mlflow` package is installed, as in the
dev extra): a real `mlflow server` on loopback with a SQLite store, seeded through the MLflow client.

    with MlflowDemoServer(tmp_path) as tracking_uri:
        seed_acme_registry(tracking_uri)

`auditor demo --mlflow` (DemoCompany(root, mlflow=True)) starts it with the demo company.

What the checks find on it is listed in tools/demo/expected/ai.yaml (the ai.mlflow.* entries).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from importlib.util import find_spec
from pathlib import Path

import httpx

from tools.demo.server import StartedOnEnter, free_loopback_port

START_TIMEOUT_S = 180.0  # a first start creates the SQLite schema: about 35 s on a busy 2-core machine
# MLflow's own usage reporting stays off: the demo and the tests reach nothing but loopback.
OFFLINE_ENVIRONMENT = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def mlflow_installed() -> bool:
    return find_spec("mlflow") is not None


def mlflow_skipped(requested: bool) -> str | None:
    """Why the demo runs without its MLflow registry; None when it runs with it."""
    if not requested:
        return "not asked for (`auditor demo --mlflow` starts a local mlflow server and judges its registry)"
    if not mlflow_installed():
        return "the mlflow package is not installed (pip install -e '.[dev]')"
    return None


class MlflowDemoServer(StartedOnEnter[str]):
    """`mlflow server` in a child process on a free loopback port, its SQLite store and artifacts under root."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        port = free_loopback_port()
        command = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{self.root / 'mlflow.db'}",
            "--default-artifact-root",
            str(self.root / "artifacts"),
        ]
        log = (self.root / "server.log").open("wb")
        # Its own process group: the server's workers are stopped with it.
        self._process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **OFFLINE_ENVIRONMENT},
        )
        tracking_uri = f"http://127.0.0.1:{port}"
        self._wait_until_up(tracking_uri)
        return tracking_uri

    def _wait_until_up(self, tracking_uri: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"mlflow server exited; see {self.root / 'server.log'}")
            try:
                if httpx.get(f"{tracking_uri}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer within {START_TIMEOUT_S:.0f} s; see {self.root}/server.log")

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None


def start_acme_registry(server: MlflowDemoServer) -> str:
    """Start the server on an empty store (the demo's registry is seeded anew each time, like its AWS) and seed
    Acme AI's registry; returns the tracking URI."""
    shutil.rmtree(server.root, ignore_errors=True)
    tracking_uri = server.start()
    # The client announces each run on stdout and its waits in its log: not the demo's output.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is first imported
    with contextlib.redirect_stdout(io.StringIO()):
        seed_acme_registry(tracking_uri)
    return tracking_uri


def seed_acme_registry(tracking_uri: str) -> None:
    """Acme AI's registry: compliant and non-compliant promotions and training runs.

    support-router v1 (archived) trained on curated FAQs; v2 (alias production, approved_by dana) trained on
    customer tickets under consent record CR-2026-014; v3 (alias challenger) trained on customer tickets with no
    consent record. doc-summarizer v1 was moved to the Production stage with no approval and no dataset recorded.
    """
    os.environ.update(OFFLINE_ENVIRONMENT)  # read by the client when it is imported
    # Stages are deprecated in MLflow but still what many registries promote with: the demo uses both.
    warnings.filterwarnings("ignore", message=".*transition_model_version_stage.*", category=FutureWarning)
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def training_run(experiment: str, datasets: list[str], tags: dict[str, str]) -> str:
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(experiment)
        run_id = client.create_run(experiment_id, tags=tags).info.run_id
        training = [InputTag("mlflow.data.context", "training")]
        inputs = [
            DatasetInput(
                Dataset(
                    name=uri.rstrip("/").rsplit("/", 1)[-1],
                    digest=f"d{number}",
                    source_type="s3",
                    source=f'{{"uri": "{uri}"}}',
                ),
                tags=training,
            )
            for number, uri in enumerate(datasets)
        ]
        if inputs:
            client.log_inputs(run_id, datasets=inputs)
        client.set_terminated(run_id)
        return run_id

    def version(model: str, run_id: str, tags: dict[str, str]) -> str:
        source = f"s3://acme-model-artifacts/{model}/{run_id}"
        return client.create_model_version(model, source, run_id=run_id, tags=tags).version

    client.create_registered_model("support-router", tags={"team": "platform"})
    faq = training_run("support-router", ["s3://acme-ai-curated/faq-2026q2/"], {"mlflow.user": "lee"})
    first = version("support-router", faq, {"approved_by": "dana"})
    client.transition_model_version_stage("support-router", first, "Archived")
    tickets = training_run(
        "support-router",
        ["s3://acme-customer-tickets/2026q3/", "s3://acme-ai-curated/faq-2026q3/"],
        {"consent_record": "CR-2026-014"},
    )
    client.set_registered_model_alias(
        "support-router", "production", version("support-router", tickets, {"approved_by": "dana"})
    )
    unconsented = training_run("support-router", ["s3://acme-customer-tickets/2026q4/"], {})
    client.set_registered_model_alias("support-router", "challenger", version("support-router", unconsented, {}))

    client.create_registered_model("doc-summarizer")
    summarizer = version("doc-summarizer", training_run("doc-summarizer", [], {}), {})
    client.transition_model_version_stage("doc-summarizer", summarizer, "Production")
