"""Shared set-up for the agent tests: the demo company and a built knowledge store, made once per process.

- `demo_environment()`: a REAL DemoCompany (moto server on loopback, demo git repository, demo logs),
  started on first use and stopped when the test process ends.
- `workspace_with_knowledge(path)`: a fresh workspace whose knowledge store is a copy of one built once.
- `demo_config(workspace)`: the demo's auditor.toml pointed at that workspace.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from agent.config import AuditorConfig, load_config
from agent.workspace import Workspace


@cache
def _scratch() -> Path:
    root = Path(tempfile.mkdtemp(prefix="agent-tests-"))
    atexit.register(shutil.rmtree, root, True)
    return root


@cache
def demo_environment():  # -> tools.demo.DemoEnvironment
    from tools.demo import DemoCompany

    demo = DemoCompany(_scratch() / "acme")
    environment = demo.start()
    atexit.register(demo.stop)
    return environment


@cache
def _knowledge_template() -> Path:
    from knowledge.store import KnowledgeStore

    workspace = Workspace.at(_scratch() / "knowledge-template")
    KnowledgeStore.open(workspace.chroma_dir).build()
    return workspace.chroma_dir


def workspace_with_knowledge(path: Path) -> Workspace:
    workspace = Workspace.at(path)
    shutil.copytree(_knowledge_template(), workspace.chroma_dir, dirs_exist_ok=True)
    return workspace


def demo_config(workspace: Workspace, **run_settings: object) -> AuditorConfig:
    config = load_config(demo_environment().config_path, workspace=workspace.root)
    if run_settings:
        config = config.model_copy(update={"run": config.run.model_copy(update=run_settings)})
    return config
