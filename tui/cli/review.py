"""`auditor review`: open the review TUI on the latest run; `--log` prints and verifies the review log."""

from __future__ import annotations

from typing import Annotated

import typer

from tui.cli.state import cli_state, console, err_console, fail


def review(
    ctx: typer.Context,
    log: Annotated[
        bool, typer.Option("--log", help="Print the review log and verify its hash chain (exit 1 if broken).")
    ] = False,
) -> None:
    """Review the latest run's drafts in a terminal UI: approve, reject, edit, regenerate, attach evidence."""
    state = cli_state(ctx)
    if log:
        _print_log(state.workspace.review_db)
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


def _print_log(path) -> None:
    if not path.exists():
        # Not proof that there never were any: `auditor verify` checks the heads signed runs and anchors recorded.
        console.print(
            f"No review decisions yet ({path} does not exist; `auditor verify` checks whether signed "
            "runs recorded some)."
        )
        return
    from agent.review_log import ReviewLog

    review_log = ReviewLog(path)
    try:
        entries = review_log.entries()
        chain = review_log.verify()
    finally:
        review_log.close()
    # One line per decision, never wrapped, so the log greps and pipes cleanly.
    console.print(f"Review log {path}", highlight=False, soft_wrap=True)
    for entry in entries:
        reason = f"  reason: {entry.reason}" if entry.reason else ""
        period = entry.detail.get("period_start")
        covers = f"  covers {period}..{entry.detail.get('period_end')}" if period else ""
        console.print(
            f"{entry.seq:>4}  {entry.at}  {entry.reviewer}  {entry.action:<10} {entry.control_id}  run={entry.run_id}"
            f"  text {entry.before_hash[:12]}→{entry.after_hash[:12]}{covers}{reason}",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    if chain.ok:
        console.print(f"[green]✓ chain intact[/]: {chain.entries} decisions, each hash links to the one before.")
        return
    for problem in chain.problems:
        err_console.print(f"[bold red]✗[/] {problem}", highlight=False)
    err_console.print(f"[bold red]review log chain is broken[/] ({len(chain.problems)} problem(s))")
    raise typer.Exit(1)
