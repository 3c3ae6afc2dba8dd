"""The `auditor` command line: every command is named here, in one place.

The command modules beside this file (proof, evidence, knowledge, review) hold the command functions;
this package sits at the top of the import graph, so no lower package imports the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from typer.core import TyperGroup

from tools.workspace import CONFIG_FILENAME
from tui.cli import continuous, evidence, export, keys, knowledge, proof, review, schedule
from tui.cli.state import CliState, cli_state, console, fail


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
    from tools.config import CONFIG_TEMPLATE, ConfigError, load_config
    from tools.signing import SigningError, load_signer

    state = cli_state(ctx)
    target = state.config_path or Path.cwd() / CONFIG_FILENAME
    if target.exists() and not force:
        fail(f"{target} already exists (use --force to overwrite)")
    if not target.parent.is_dir():
        fail(f"{target}: folder {target.parent} does not exist")
    target.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    console.print(f"Wrote [bold]{target}[/]. Edit it, then run [bold]auditor knowledge build[/].")
    try:  # the key that will sign every run: outside the workspace, created now unless there is one
        signer = load_signer(load_config(target), create=True)
    except (ConfigError, SigningError) as exc:
        fail(str(exc))
    console.print(f"Signing key: {signer.source} (key id {signer.public.key_id}).", highlight=False)


# Every command, in the order `auditor --help` lists them.
app.command("run")(proof.run)
app.command("demo")(proof.demo)
app.command("report")(proof.report)
app.command("verify")(evidence.verify)
app.add_typer(evidence.evidence_app, name="evidence")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(knowledge.knowledge_app, name="knowledge")
app.add_typer(knowledge.criteria_app, name="criteria")
app.add_typer(knowledge.controls_app, name="controls")
app.command("coverage")(knowledge.coverage)
app.add_typer(export.checks_app, name="checks")
app.add_typer(export.export_app, name="export")
app.command("review")(review.review)
app.add_typer(schedule.schedule_app, name="schedule")
app.command("history")(continuous.history)
app.command("diff")(continuous.diff)
app.command("requests")(continuous.requests)
