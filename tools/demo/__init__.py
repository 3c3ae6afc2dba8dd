"""The demo company "Acme AI": a local AWS (moto), a GitHub API stand-in, a git repository, log files and a config.

    with DemoCompany(tmp_path) as demo:
        config = load_config(demo.config_path)

Each DemoCompany runs its own moto server, seeded afresh, in a child process (tools.demo.server.SeededMotoProcess).
start() does not wait for the seeding: an AWS request sent before it is done waits for it.
What each check should find on the demo is in tools/demo/expected/*.yaml (see tools.demo.expected).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from tools.demo.aws import DEMO_REGIONS
from tools.demo.github import ACME_REPO, GithubApiServer, acme_routes
from tools.demo.logs import write_demo_logs
from tools.demo.mlflow import MlflowDemoServer, mlflow_skipped, start_acme_registry
from tools.demo.repo import create_demo_repo, squash_merges
from tools.demo.server import SeededMotoProcess, StartedOnEnter
from tools.demo.vendors import write_vendor_register

DEMO_COMPANY_NAME = "Acme AI"
CUSTOMER_DATA = ["s3://acme-customer-*"]  # where Acme AI keeps customer data ([ai] customer_data)


@dataclass(frozen=True)
class DemoEnvironment:
    endpoint_url: str
    github_url: str
    config_path: Path
    root: Path
    repo_path: Path
    logs_dir: Path
    log_files: list[Path] = field(default_factory=list)
    regions: list[str] = field(default_factory=lambda: list(DEMO_REGIONS))
    mlflow_uri: str | None = None  # the demo's MLflow tracking server, when it runs
    mlflow_skipped: str | None = None  # why it does not run


class DemoCompany(StartedOnEnter[DemoEnvironment]):
    """Starts and seeds everything the demo needs under `root`; stop() shuts its servers down. With `mlflow`
    (and the mlflow package installed) it also runs an MLflow registry, which takes half a minute or more."""

    def __init__(self, root: Path, *, mlflow: bool = False) -> None:
        self.root = Path(root)
        self._moto = SeededMotoProcess()
        self._github: GithubApiServer | None = None
        self.mlflow_skipped = mlflow_skipped(mlflow)
        self._mlflow = MlflowDemoServer(self.root / "mlflow") if self.mlflow_skipped is None else None

    def launch(self) -> None:
        """Start seeding the demo's AWS in its own process now, to do other work before start()."""
        self._moto.launch()

    def start(self) -> DemoEnvironment:
        self.root.mkdir(parents=True, exist_ok=True)
        # Unless launch() did: AWS seeds in its own process while this one makes the rest, and the run goes on.
        endpoint_url = self._moto.launch()
        try:
            repo_path = create_demo_repo(self.root / "repos" / "acme-platform")
            # GitHub names the repository's squash merges as its pull requests' merge commits.
            self._github = GithubApiServer(acme_routes(merge_commits=squash_merges(repo_path)))
            github_url = self._github.start()
            logs_dir = self.root / "logs"
            log_files = write_demo_logs(logs_dir)
            vendors_path = write_vendor_register(self.root / "vendors.yaml")
            mlflow_uri = start_acme_registry(self._mlflow) if self._mlflow is not None else None
        except BaseException:
            self.stop()
            raise
        config_path = self.root / "auditor.toml"
        text = _config_text(endpoint_url, github_url, repo_path, logs_dir, self.root / ".auditor", vendors_path)
        if mlflow_uri is not None:
            text += f"\n[ai.mlflow]\ntracking_uri = {_toml_string(mlflow_uri)}\n"
        config_path.write_text(text, encoding="utf-8")
        return DemoEnvironment(
            endpoint_url,
            github_url,
            config_path,
            self.root,
            repo_path,
            logs_dir,
            log_files,
            mlflow_uri=mlflow_uri,
            mlflow_skipped=self.mlflow_skipped,
        )

    def wait_until_seeded(self) -> None:
        """Block until the demo's AWS is seeded; raises if its process exited instead."""
        self._moto.wait_ready()

    def raise_if_aws_exited(self) -> None:
        """Raise, with its errors, if the demo's AWS process is gone before stop(): it crashed."""
        self._moto.raise_if_exited()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:  # what ran in the block met a dead AWS as errors: say why, not only the errors
                self.raise_if_aws_exited()
        finally:
            self.stop()

    def stop(self) -> None:
        self._moto.stop()
        if self._github is not None:
            self._github.stop()
            self._github = None
        if self._mlflow is not None:
            self._mlflow.stop()


def _toml_string(value: object) -> str:
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(str(value))


def _config_text(
    endpoint_url: str, github_url: str, repo_path: Path, logs_dir: Path, workspace: Path, vendors_path: Path
) -> str:
    owner, repo = ACME_REPO.split("/")
    regions = ", ".join(_toml_string(region) for region in DEMO_REGIONS)
    return f"""\
# Written by the demo (tools/demo): Acme AI on a local moto server. Safe to delete.
company = {_toml_string(DEMO_COMPANY_NAME)}
workspace = {_toml_string(workspace)}

[aws]
regions = [{regions}]
endpoint_url = {_toml_string(endpoint_url)}

[github]
api_url = {_toml_string(github_url)}
owner = {_toml_string(owner)}
repos = [{_toml_string(repo)}]

[repos]
local = [{_toml_string(repo_path)}]

[logs]
paths = [{_toml_string(logs_dir)}]

[ai]
vendors = {_toml_string(vendors_path)}
customer_data = [{", ".join(_toml_string(glob) for glob in CUSTOMER_DATA)}]
"""
