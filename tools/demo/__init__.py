"""The demo company "Acme AI": a local AWS (moto), a GitHub API stand-in, a git repository, log files and a config.

    with DemoCompany(tmp_path) as demo:
        config = load_config(demo.config_path)

Moto keeps its state in memory (per process), so each DemoCompany starts a server, empties it and seeds it again.
What each check should find on the demo is in tools/demo/expected/*.yaml (see tools.demo.expected).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from tools.demo.aws import DEMO_REGIONS, seed_acme_ai
from tools.demo.github import ACME_REPO, GithubApiServer, acme_routes
from tools.demo.logs import write_demo_logs
from tools.demo.repo import create_demo_repo
from tools.demo.server import MotoAdmin, MotoServer
from tools.demo.vendors import write_vendor_register

DEMO_COMPANY_NAME = "Acme AI"


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


class DemoCompany:
    """Starts and seeds everything the demo needs under `root`; stop() shuts its servers down."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._server = MotoServer()
        self._github: GithubApiServer | None = None

    def start(self) -> DemoEnvironment:
        self.root.mkdir(parents=True, exist_ok=True)
        endpoint_url = self._server.start()
        self._github = GithubApiServer(acme_routes())
        github_url = self._github.start()
        try:
            # moto's state lives in the process, shared by every server in it: start from empty.
            MotoAdmin(endpoint_url).reset()
            seed_acme_ai(endpoint_url)
            repo_path = create_demo_repo(self.root / "repos" / "acme-platform")
            logs_dir = self.root / "logs"
            log_files = write_demo_logs(logs_dir)
            vendors_path = write_vendor_register(self.root / "vendors.yaml")
        except BaseException:
            self.stop()
            raise
        config_path = self.root / "auditor.toml"
        text = _config_text(endpoint_url, github_url, repo_path, logs_dir, self.root / ".auditor", vendors_path)
        config_path.write_text(text, encoding="utf-8")
        return DemoEnvironment(endpoint_url, github_url, config_path, self.root, repo_path, logs_dir, log_files)

    def stop(self) -> None:
        self._server.stop()
        if self._github is not None:
            self._github.stop()
            self._github = None

    def __enter__(self) -> DemoEnvironment:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


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
"""
