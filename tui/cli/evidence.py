"""Evidence locker commands: verify the chain, list and show stored items."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.json import JSON
from rich.markup import escape
from rich.table import Table

from tui.cli.state import CliState, cli_state, console, err_console, fail

if TYPE_CHECKING:  # the locker pulls in detect-secrets: imported when a command runs, not for --help
    from tools.locker import EvidenceLocker
    from tools.signing import PublicKey, Signer

evidence_app = typer.Typer(help="Browse the evidence locker.", no_args_is_help=True)


def open_locker(ctx: typer.Context) -> EvidenceLocker:
    from tools.locker import EvidenceLocker

    state = cli_state(ctx)
    workspace = state.workspace
    ttl = state.config.run.evidence_ttl().default
    return EvidenceLocker(workspace.locker_db, workspace.blobs_dir, default_ttl=ttl)


def _redaction_summary(redactions: dict[str, int]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in redactions.items()) or "-"


def verifying_key(state: CliState, public_key: Path | None, code: int = 2) -> PublicKey:
    """The public key signatures are checked against: the file given, else the signing key's public half (never
    anything in the workspace). Fails the command with `code` when there is none."""
    from tools.signing import SigningError, load_public_key, load_signer

    try:
        return load_public_key(public_key) if public_key else load_signer(state.config).public
    except SigningError as exc:
        fail(f"{exc}; an auditor without the key passes --public-key FILE", code=code)


def cache_signer(state: CliState, public_key: Path | None) -> Signer | None:
    """The key that signs the run digests a command builds, so the next command reads them from the run store
    (agent/history.py): the workspace's own, once `verifying_key` loaded it; None when signatures are checked
    against --public-key, as by an auditor without the key (the digests are then built anew at each read)."""
    from tools.signing import load_signer

    return None if public_key else load_signer(state.config)


def verify(
    ctx: typer.Context,
    head: Annotated[
        list[str] | None,
        typer.Option(
            "--head",
            help="A signed head line printed after a run (auditor-head:...), or a record hash "
            "noted earlier (run.evidence_head in a report); repeatable. Proves nothing "
            "was cut or re-chained since.",
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="Check against this public key file (`auditor keys export`) instead of "
            "the signing key: an auditor's check of a copy of the workspace.",
        ),
    ] = None,
    package: Annotated[
        Path | None,
        typer.Option(
            "--package",
            help="Check an evidence package (`auditor export package`) instead: its manifest's "
            "signature (with --public-key for a copy), files, evidence chain and review log, without the workspace.",
        ),
    ] = None,
    merged: Annotated[
        Path | None,
        typer.Option(
            "--merged",
            help="Check a folder `auditor merge` wrote instead: the signature over parts.json, each report file "
            "against it, and each part's copy as the merge checked it.",
        ),
    ] = None,
) -> None:
    """Check the whole workspace; exit 1 naming each problem.

    The evidence chain and every blob; every run's signed record and the evidence, results, report and
    review-log heads it signed; the review log's chain and decision signatures; every anchor (--head, and
    the anchor file outside the workspace). A store that signed records say exists and is gone is an error.
    """
    if package is not None:
        from tui.cli.export import verify_package_command

        return verify_package_command(package, verifying_key(cli_state(ctx), public_key, code=1))
    if merged is not None:
        return _verify_merged(merged, verifying_key(cli_state(ctx), public_key, code=1))
    from agent.integrity import verify_workspace
    from tools.signing import SigningError, read_anchor_file

    state = cli_state(ctx)
    workspace = state.workspace
    public = verifying_key(state, public_key, code=1)
    try:
        anchor_lines = [] if public_key else read_anchor_file(state.config)
    except SigningError as exc:
        fail(str(exc), code=1)
    report = verify_workspace(workspace, public, head or [], anchor_lines)
    for problem in report.problems:
        err_console.print(f"[bold red]problem[/]: {escape(problem)}", highlight=False, soft_wrap=True)
    if workspace.locker_db.exists():
        with open_locker(ctx) as locker:
            unreferenced = locker.unreferenced_blobs()
        if unreferenced:
            err_console.print(
                f"[yellow]note[/]: {len(unreferenced)} blob(s) under {workspace.blobs_dir} belong to "
                "no item (items deleted, or a collection killed before its row was written), e.g. "
                f"{unreferenced[0].name[:12]}",
                highlight=False,
            )
    if not report.ok:
        err_console.print(f"[bold red]Workspace is NOT intact:[/] {len(report.problems)} problem(s).")
        raise typer.Exit(1)
    for line in report.checked:
        console.print(line, highlight=False, soft_wrap=True)


def _verify_merged(out: Path, public: PublicKey) -> None:
    """`auditor verify --merged OUT`: exit 1 naming each problem with a folder `auditor merge` wrote."""
    from agent.merge import verify_merged

    problems = verify_merged(out, public)
    for problem in problems:
        err_console.print(f"[bold red]problem[/]: {escape(problem)}", highlight=False, soft_wrap=True)
    if problems:
        fail(f"{out}: {len(problems)} problem(s)", code=1)
    console.print(
        f"{out}: OK (parts.json signed by key {public.key_id}, every report file as it lists, every part's copy "
        "verified).",
        highlight=False,
    )


@evidence_app.command("list")
def list_evidence(
    ctx: typer.Context,
    run: Annotated[str | None, typer.Option("--run", help="Only this run id.")] = None,
    tool: Annotated[str | None, typer.Option("--tool", help="Only this tool, e.g. aws.iam.users.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the newest N items.")] = None,
) -> None:
    """List stored evidence items, oldest first."""
    with open_locker(ctx) as locker:
        records = locker.list(run_id=run, tool=tool, limit=limit)
    if not records:
        console.print("No evidence items match.")
        return
    table = Table(title=f"Evidence ({len(records)} items)")
    table.add_column("id", no_wrap=True, min_width=12)
    table.add_column("collected_at", no_wrap=True)
    table.add_column("tool", overflow="fold")
    table.add_column("source")
    table.add_column("size", justify="right")
    table.add_column("redactions", overflow="fold")
    for record in records:
        table.add_row(
            record.id,
            record.collected_at[:19] + "Z",
            record.tool,
            record.source,
            f"{record.size:,}",
            _redaction_summary(record.redactions),
        )
    console.print(table)


@evidence_app.command("show")
def show_evidence(
    ctx: typer.Context,
    item_id: Annotated[
        str, typer.Argument(metavar="ID", help="Evidence id, as cited: abc123def456 or [ev:abc123def456].")
    ],
) -> None:
    """Show one item's provenance and hash-chain position, then its stored (redacted) data."""
    item_id = item_id.strip().strip("[]").removeprefix("ev:")
    with open_locker(ctx) as locker:
        record = locker.get(item_id)
        if record is None:
            fail(f"no evidence item {item_id!r} in {locker.db_path}")
        total = locker.count()
        from tools.locker import TamperedEvidence

        try:
            data = locker.read_record(record)
            tampered = None
        except TamperedEvidence as exc:
            data, tampered = None, str(exc)

    details = Table.grid(padding=(0, 2))
    details.add_column(style="bold")
    details.add_column(overflow="fold")
    for label, value in (
        ("id", record.id),
        ("position", f"seq {record.seq} of {total}"),
        ("run", record.run_id),
        ("source", record.source),
        ("tool", record.tool),
        ("operation", record.operation),
        ("params", json.dumps(record.params, sort_keys=True)),
        ("collected_at", record.collected_at),
        ("expires_at", record.expires_at),
        ("content", f"{record.content_type}, {record.size:,} bytes"),
        ("sha256", record.sha256),
        ("redactions", _redaction_summary(record.redactions)),
        ("prev_hash", record.prev_hash),
        ("record_hash", record.record_hash),
    ):
        details.add_row(label, value)
    console.print(details)
    console.print()
    if tampered is not None:
        fail(tampered, code=1)
    if isinstance(data, str):
        console.print(data, markup=False, highlight=False)
    else:
        console.print(JSON(json.dumps(data, ensure_ascii=False)))
