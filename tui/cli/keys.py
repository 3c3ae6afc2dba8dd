"""Signing key commands: create the workspace signing key, export its public half for auditors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tui.cli.state import cli_state, console, fail

keys_app = typer.Typer(help="The ed25519 key that signs runs and review decisions.", no_args_is_help=True)


@keys_app.command("init")
def init_key(ctx: typer.Context) -> None:
    """Create the signing key (outside the workspace) unless there is one; print where it is and its key id."""
    from tools.signing import SigningError, load_signer

    config = cli_state(ctx).config
    try:
        signer = load_signer(config, create=True)
    except SigningError as exc:
        fail(str(exc))
    console.print(
        f"Signing key: {signer.source} (key id {signer.public.key_id}). Public key: {signer.public.text()}",
        highlight=False,
        soft_wrap=True,
    )


@keys_app.command("export")
def export_key(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the public key to this file.")] = None,
) -> None:
    """Print (or write) the public key: what an auditor needs for `auditor verify --public-key`."""
    from tools.signing import KEY_ENV, SigningError, key_path, load_signer

    config = cli_state(ctx).config
    try:
        signer = load_signer(config)
    except SigningError as exc:
        fail(f"{exc} (looked at ${KEY_ENV}, then {key_path(config)})")
    if out is None:
        typer.echo(signer.public.text())
        return
    out.write_text(signer.public.text() + "\n", encoding="utf-8")
    console.print(f"Wrote the public key (key id {signer.public.key_id}) to {out}")
