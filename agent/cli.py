"""The `auditor` command line. Each area registers its own commands; this file composes them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from typer.core import TyperGroup

from agent.cli_state import CliState, cli_state, console, fail
from agent.config import CONFIG_FILENAME, CONFIG_TEMPLATE

class _AuditorGroup(TyperGroup):
    """Notes whether the command line asks for help before the root callback runs: by then Click has
    taken the subcommand's arguments away from the context."""

    def invoke(self, ctx: click.Context) -> object:
        remaining = [*getattr(ctx, "_protected_args", []), *ctx.args]
        ctx.meta["asks_for_help"] = any(arg in ("--help", "-h") for arg in remaining)
        return super().invoke(ctx)


app = typer.Typer(
    cls=_AuditorGroup,
    name="auditor",
    help="Agentic SOC 2 auditing assistant: collect read-only evidence, judge it with rules, "
    "and write control narratives that cite the criteria and the evidence.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Optional[Path], typer.Option("--config", "-c", help=f"Configuration file (default: ./{CONFIG_FILENAME}).")
    ] = None,
    workspace: Annotated[
        Optional[Path], typer.Option("--workspace", "-w", help="Workspace directory (default: .auditor/).")
    ] = None,
) -> None:
    ctx.obj = CliState(config_path=config, workspace_override=workspace)
    if ctx.invoked_subcommand != "init" and not ctx.resilient_parsing and not ctx.meta.get("asks_for_help"):
        # Every command checks the configuration up front, even one that needs none of it: a mistake in
        # the file is reported at once, not on the first command that happens to read it.
        ctx.obj.config  # noqa: B018  (loads, or exits naming the file and key)


@app.command()
def init(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented auditor.toml in the current directory."""
    state = cli_state(ctx)
    target = state.config_path or Path.cwd() / CONFIG_FILENAME
    if target.exists() and not force:
        fail(f"{target} already exists (use --force to overwrite)")
    if not target.parent.is_dir():
        fail(f"{target}: folder {target.parent} does not exist")
    target.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    console.print(f"Wrote [bold]{target}[/]. Edit it, then run [bold]auditor knowledge build[/].")


def _register_areas() -> None:
    # Each area owns its commands; a missing area (not built yet) simply adds none.
    from importlib import import_module

    for module_name in ("knowledge.cli", "tools.cli", "agent.commands", "tui.cli"):
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        module.register(app)


_register_areas()
