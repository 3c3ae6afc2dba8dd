"""Evidence locker commands: verify the chain, list and show stored items."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Optional

import typer
from rich.json import JSON
from rich.table import Table

from agent.cli_state import cli_state, console, err_console, fail
from tools.locker import EvidenceLocker, TamperedEvidence

evidence_app = typer.Typer(help="Browse the evidence locker.", no_args_is_help=True)


def open_locker(ctx: typer.Context) -> EvidenceLocker:
    state = cli_state(ctx)
    workspace = state.workspace
    ttl = timedelta(hours=state.config.run.evidence_ttl_hours)
    return EvidenceLocker(workspace.locker_db, workspace.blobs_dir, default_ttl=ttl)


def _redaction_summary(redactions: dict[str, int]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in redactions.items()) or "-"


def verify(
    ctx: typer.Context,
    head: Annotated[
        Optional[str],
        typer.Option("--head", help="A record hash noted earlier (e.g. in a report): also catches a cut-short chain."),
    ] = None,
) -> None:
    """Check the evidence chain and every blob; exit 1 naming each item that was changed, removed or moved."""
    with open_locker(ctx) as locker:
        report = locker.verify(expected_head=head)
        stats = locker.stats()
    for problem in report.problems:
        where = f"item {problem.item_id or '(unknown id)'}" + (f" (seq {problem.seq})" if problem.seq else "")
        err_console.print(f"[bold red]{problem.kind}[/]: {where}: {problem.detail}", highlight=False)
    if not report.ok:
        err_console.print(f"[bold red]Evidence locker is NOT intact:[/] {len(report.problems)} problem(s) "
                          f"in {report.items} items.")
        raise typer.Exit(1)
    console.print(f"Evidence locker intact: {report.items} items in {stats.runs} run(s), hash chain and "
                  f"{stats.blobs} blobs ({stats.stored_bytes:,} bytes) verified.")


@evidence_app.command("list")
def list_evidence(
    ctx: typer.Context,
    run: Annotated[Optional[str], typer.Option("--run", help="Only this run id.")] = None,
    tool: Annotated[Optional[str], typer.Option("--tool", help="Only this tool, e.g. aws.iam.users.")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the newest N items.")] = None,
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
        table.add_row(record.id, record.collected_at[:19] + "Z", record.tool, record.source, f"{record.size:,}",
                      _redaction_summary(record.redactions))
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


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
    app.add_typer(evidence_app, name="evidence")
