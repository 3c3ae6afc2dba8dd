"""The `auditor` command line: every command is named here, in one place.

The command modules beside this file (proof, evidence, knowledge, review) hold the command functions;
this package sits at the top of the import graph, so no lower package imports the command line. A command's
module is imported when that command runs, so each command loads only what it uses.
"""

from __future__ import annotations

import ast
import importlib
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_group_from_info
from typer.models import CommandInfo, TyperInfo

from tools.process import collect_garbage_less_often
from tools.workspace import CONFIG_FILENAME
from tui.cli.state import CliState, cli_state, console, fail

# Set before numpy loads (nothing above imports it). The auditor's numpy work is small products of the knowledge
# store's vectors, for which OpenBLAS's worker threads cost more CPU starting and waking than they save (measured:
# 0.1 s less CPU at numpy's import, and the dense ranking takes a quarter of the CPU it took with them).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# The auditor uses no pydantic plugin; looking for them reads every installed package's entry points at the first
# model (~25 ms of each command's start).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
collect_garbage_less_often()

if TYPE_CHECKING:
    import click

# Every command after `init`, in the order `auditor --help` lists them: name -> (module in tui.cli, attribute),
# the attribute a command function or a Typer app of subcommands.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("proof", "run"),
    "demo": ("proof", "demo"),
    "report": ("proof", "report"),
    "verify": ("evidence", "verify"),
    "merge": ("merge", "merge"),
    "evidence": ("evidence", "evidence_app"),
    "keys": ("keys", "keys_app"),
    "knowledge": ("knowledge", "knowledge_app"),
    "criteria": ("knowledge", "criteria_app"),
    "controls": ("knowledge", "controls_app"),
    "coverage": ("knowledge", "coverage"),
    "checks": ("export", "checks_app"),
    "export": ("export", "export_app"),
    "review": ("review", "review"),
    "schedule": ("schedule", "schedule_app"),
    "history": ("continuous", "history"),
    "diff": ("continuous", "diff"),
    "requests": ("continuous", "requests"),
}


@cache
def _module_source(module: str) -> ast.Module:
    return ast.parse((Path(__file__).parent / f"{module}.py").read_text(encoding="utf-8"))


def _summary(module: str, attribute: str) -> str:
    """A command's help as `auditor --help` lists it, read from its module's source without importing it: the
    first paragraph of the command function's docstring as one line (the listing wraps it to the terminal), or
    the `help=` of the Typer app holding its subcommands."""
    for node in _module_source(module).body:
        if isinstance(node, ast.FunctionDef) and node.name == attribute:
            return " ".join((ast.get_docstring(node) or "").split("\n\n")[0].split())
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == attribute for target in node.targets):
            return next(ast.literal_eval(k.value) for k in node.value.keywords if k.arg == "help")
    raise LookupError(f"tui/cli/{module}.py defines no command {attribute}")


class _AuditorGroup(TyperGroup):
    """Builds a command from COMMANDS when it runs, importing its module then; `auditor --help` lists the
    commands from their modules' source (`_summary`), importing none.

    Also notes whether the command line asks for help before the root callback runs: by then Click has
    taken the subcommand's arguments away from the context."""

    _listing = False  # True while the help lists the commands

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*(name for name in super().list_commands(ctx) if name not in COMMANDS), *COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attribute = COMMANDS[cmd_name]
        if self._listing:
            summary = _summary(module, attribute)
            return TyperCommand(cmd_name, help=summary, short_help=summary)  # listed whole, wrapped, not cut
        target = getattr(importlib.import_module(f"tui.cli.{module}"), attribute)
        if isinstance(target, typer.Typer):
            self.commands[cmd_name] = get_group_from_info(
                TyperInfo(target, name=cmd_name),
                pretty_exceptions_short=app.pretty_exceptions_short,
                suggest_commands=app.suggest_commands,
                rich_markup_mode=app.rich_markup_mode,
            )
        else:
            self.commands[cmd_name] = get_command_from_info(
                CommandInfo(name=cmd_name, callback=target),
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            )
        return self.commands[cmd_name]

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
    # Plain Click help: the Rich formatter alone doubled the time `auditor --help` takes (0.4 s → 0.2 s).
    rich_markup_mode=None,
    context_settings={"max_content_width": 160},  # Click's default stops at 80 columns whatever the terminal
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help=f"Configuration file (default: ./{CONFIG_FILENAME}).")
    ] = None,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help="Workspace directory (default: .auditor/).")
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
    from tools.config import CONFIG_TEMPLATE, ConfigError, load_config
    from tools.signing import SigningError, load_signer

    state = cli_state(ctx)
    target = state.config_path or Path.cwd() / CONFIG_FILENAME
    if target.exists() and not force:
        fail(f"{target} already exists (use --force to overwrite)")
    if not target.parent.is_dir():
        fail(f"{target}: folder {target.parent} does not exist")
    target.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    console.print(
        f"Wrote [bold]{target}[/]. Edit it, then run [bold]auditor run[/] (the knowledge store is built on first use)."
    )
    try:  # the key that will sign every run: outside the workspace, created now unless there is one
        signer = load_signer(load_config(target), create=True)
    except (ConfigError, SigningError) as exc:
        fail(str(exc))
    console.print(f"Signing key: {signer.source} (key id {signer.public.key_id}).", highlight=False)
