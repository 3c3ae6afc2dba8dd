"""State shared by every CLI command: the global options and what they load, built on first use."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

from tools.workspace import CONFIG_FILENAME, Workspace

if TYPE_CHECKING:  # pydantic's models load on first use, so that `auditor --help` stays quick
    from tools.config import AuditorConfig

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    config_path: Path | None = None
    workspace_override: Path | None = None

    @cached_property
    def config(self) -> AuditorConfig:
        from tools.config import ConfigError, load_config

        try:
            return load_config(self.config_path, workspace=self.workspace_override)
        except ConfigError as exc:
            fail(str(exc))

    @cached_property
    def workspace(self) -> Workspace:
        """The workspace a command reads. It must exist: a mistyped --workspace is refused, not created empty
        and then read as a workspace in which nothing happened."""
        root = self.config.workspace_dir
        if not root.is_dir():
            fail(
                f"no workspace at {root}: check --workspace (or `workspace` in {CONFIG_FILENAME}); "
                "`auditor run` or `auditor demo` creates one"
            )
        return Workspace.at(root)

    @cached_property
    def new_workspace(self) -> Workspace:
        """The workspace a command writes first (`run`, `demo`, the knowledge store): created if missing."""
        return Workspace.at(self.config.workspace_dir)


def cli_state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)
