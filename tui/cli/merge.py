"""`auditor merge`: one report from the workspaces of several runs, one per account (agent/merge.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tui.cli.evidence import verifying_key
from tui.cli.proof import exit_unless_complete, print_unread
from tui.cli.state import cli_state, console, fail


def merge(
    ctx: typer.Context,
    parts: Annotated[list[Path], typer.Argument(help="The workspaces of the runs to merge, one per account.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="A new folder for the merged report and the parts.")],
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="Check every part against this public key file (`auditor keys export`) instead of the signing key.",
        ),
    ] = None,
    fail_on_gap: Annotated[
        bool, typer.Option("--fail-on-gap", help="Exit 3 when any criterion of the merged report is a gap (for CI).")
    ] = False,
) -> None:
    """Merge the reports and evidence lockers of several runs (a CI matrix, a Kubernetes Job array) into one
    report with an account column, signed with the signing key. Exit 2 for what cannot be used (a folder with no
    report, an output folder in use, no key), 1 naming a part that does not verify (both before anything is
    written); once written, exit 4 when a part could not read a source (as `auditor run` does), 3 for gaps with
    --fail-on-gap."""
    from agent.merge import MergeUsageError, PartRefused, merge_parts
    from knowledge.catalog import load_catalog
    from tools.signing import SigningError, load_signer

    state = cli_state(ctx)
    public = verifying_key(state, public_key)
    try:
        signer = load_signer(state.config)
    except SigningError as exc:
        fail(f"{exc}: the merged report is signed with it, as runs are")
    try:
        report, merged = merge_parts(parts, out, public, signer, load_catalog(), state.config.remediation.due_days)
    except MergeUsageError as exc:
        fail(str(exc))  # exit 2, as for any command given what it cannot use
    except PartRefused as exc:
        fail(str(exc), code=1)
    for part in merged:
        head = part.evidence_head.record_hash[:16] if part.evidence_head else "none"
        console.print(f"{part.label}: run {part.report.run.id}, evidence head {head}, verified", highlight=False)
    summary = report.summary
    console.print(
        f"Merged {len(merged)} part(s) into {out}: {summary.ready} of {summary.criteria_total} criteria ready, "
        f"{len(report.fix_list)} item(s) to fix. Signed by key {signer.public.key_id}: check it with "
        f"`auditor verify --merged {out}`.",
        highlight=False,
    )
    # Each unread source's cause names its part.
    advice = "fix the cause, run that part again, and merge again"
    print_unread(report.run.sources, "The merged report is incomplete", advice)
    exit_unless_complete(report, fail_on_gap)
