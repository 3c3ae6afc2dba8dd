"""`auditor review`: open the review TUI on the latest run; `--log` prints and verifies the review log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tui.cli.state import CliState, cli_state, console, err_console, fail


def review(
    ctx: typer.Context,
    log: Annotated[
        bool,
        typer.Option(
            "--log",
            help="Print the review log, each decision's signature and chain state; exit 1 if any is bad.",
        ),
    ] = False,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="With --log: check signatures with this public key file (a copy)."),
    ] = None,
) -> None:
    """Review the latest run's drafts in a terminal UI: approve, reject, edit, regenerate, attach evidence."""
    state = cli_state(ctx)
    if log:
        _print_log(state, public_key)
        return
    from tools.signing import SigningError
    from tui.app import ReviewApp
    from tui.session import NoRunError, ReviewSession

    try:
        # The CLI's configuration (--config, --workspace); without --config, a demo run's own (see run_config).
        session = ReviewSession.open(state.config, state.workspace, config_given=state.config_path is not None)
    except (NoRunError, SigningError) as exc:
        fail(str(exc))
    try:
        ReviewApp(session).run()
    finally:
        session.close()


def _print_log(state: CliState, public_key: Path | None) -> None:
    path = state.workspace.review_db
    if not path.exists():
        # Not proof that there never were any: `auditor verify` checks the heads signed runs and anchors recorded.
        console.print(
            f"No review decisions yet ({path} does not exist; `auditor verify` checks whether signed "
            "runs recorded some)."
        )
        return
    from agent.review_log import ReviewLog
    from tui.cli.evidence import verifying_key

    public = verifying_key(state, public_key)
    review_log = ReviewLog(path)
    try:
        entries = review_log.entries()
        chain = review_log.verify()
        unsigned = review_log.signature_problems(public)
        os_users = review_log.os_users()
    finally:
        review_log.close()
    # One line per decision, never wrapped, so the log greps and pipes cleanly; a bad one starts with ✗ and
    # ends saying what is wrong with it.
    console.print(f"Review log {path}", highlight=False, soft_wrap=True)
    for entry in entries:
        reason = f"  reason: {entry.reason}" if entry.reason else ""
        period = entry.detail.get("period_start")
        covers = f"  covers {period}..{entry.detail.get('period_end')}" if period else ""
        bad = [
            *(["BAD SIGNATURE: " + unsigned[entry.seq]] if entry.seq in unsigned else []),
            *(["BROKEN CHAIN at this row"] if entry.seq in chain.broken_rows else []),
        ]
        state_text = "  ✗ " + "; ".join(bad) if bad else f"  ✓ signed (OS user {os_users.get(entry.seq)})"
        console.print(
            f"{'✗' if bad else '✓'} {entry.seq:>4}  {entry.at}  {entry.reviewer}  {entry.action:<10} "
            f"{entry.control_id}  run={entry.run_id}  text {entry.before_hash[:12]}→{entry.after_hash[:12]}"
            f"{covers}{reason}{state_text}",
            soft_wrap=True,
            highlight=False,
            markup=False,
            style="bold red" if bad else None,
        )
    if chain.ok:
        console.print(f"[green]✓ chain intact[/]: {chain.entries} decisions, each hash links to the one before.")
    else:
        for problem in chain.problems:
            err_console.print(f"[bold red]✗[/] {problem}", highlight=False)
        err_console.print(f"[bold red]review log chain is broken[/] ({len(chain.problems)} problem(s))")
    if not unsigned:
        console.print(f"[green]✓ signatures verify[/]: {len(entries)} decisions signed by key {public.key_id}.")
    else:
        err_console.print(
            f"[bold red]{len(unsigned)} decision(s) not signed by key {public.key_id}[/] (marked ✗ above)",
            highlight=False,
        )
    if unsigned or not chain.ok:
        raise typer.Exit(1)
