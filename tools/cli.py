"""Evidence locker commands: verify the chain, list and show stored items."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.json import JSON
from rich.table import Table

from agent.cli_state import cli_state, console, err_console, fail
from agent.runs import RunStore
from tools.locker import EvidenceLocker, ExpectedHead, TamperedEvidence

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
        typer.Option("--head", help="A record hash noted earlier (e.g. run.evidence_head in a report): "
                                    "also proves nothing was cut from the end of the chain since."),
    ] = None,
) -> None:
    """Check the evidence chain and every blob; exit 1 naming each item that was changed, removed or moved.

    Besides --head, every head noted by a finished run (in runs.sqlite) must still be in the chain.
    """
    workspace = cli_state(ctx).workspace
    heads = _noted_heads(workspace.runs_db)
    if not workspace.locker_db.exists():
        # Never create an empty locker here: a deleted one must not verify as "intact: 0 items".
        fail(f"No evidence locker at {workspace.locker_db}" +
             (f", but {len(heads)} run(s) recorded evidence there." if heads else ": nothing to verify."), code=1)
    if head is not None:
        heads.append(ExpectedHead(head, noted_by="--head"))
    with open_locker(ctx) as locker:
        report = locker.verify(expected_heads=heads)
        stats = locker.stats()
        unreferenced = locker.unreferenced_blobs()
    for problem in report.problems:
        where = f"item {problem.item_id or '(unknown id)'}" + (f" (seq {problem.seq})" if problem.seq else "")
        err_console.print(f"[bold red]{problem.kind}[/]: {where}: {problem.detail}", highlight=False)
    if unreferenced:
        err_console.print(f"[yellow]note[/]: {len(unreferenced)} blob(s) under {workspace.blobs_dir} belong to no "
                          "item (items deleted, or a collection killed before its row was written), e.g. "
                          f"{unreferenced[0].name[:12]}", highlight=False)
    if not report.ok:
        err_console.print(f"[bold red]Evidence locker is NOT intact:[/] {len(report.problems)} problem(s) "
                          f"in {report.items} items.")
        raise typer.Exit(1)
    anchored = f", {len(heads)} noted head(s) present" if heads else ""
    console.print(f"Evidence locker intact: {report.items} items in {stats.runs} run(s), hash chain and "
                  f"{stats.blobs} blobs ({stats.stored_bytes:,} bytes) verified{anchored}.")


def _noted_heads(runs_db: Path) -> list[ExpectedHead]:
    """Chain heads that finished runs noted in the run store (none if there is no run store)."""
    if not runs_db.exists():
        return []
    return [ExpectedHead(record_hash, seq, noted_by=f"run {run_id}")
            for run_id, seq, record_hash in RunStore(runs_db).evidence_heads()]


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
