"""The review log as a table, with the result of verifying its hash chain."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from agent.review_log import ReviewLog


class LogScreen(Screen[None]):
    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back to review", id="log.back")]

    def __init__(self, log: ReviewLog) -> None:
        super().__init__()
        self.review_log = log

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="chain-status")
        yield DataTable(id="log-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        chain = self.review_log.verify()
        status = self.query_one("#chain-status", Static)
        if chain.ok:
            status.update(Content.styled(f"✓ chain intact: {chain.entries} decisions", "$text-success"))
        else:
            status.update(Content.styled("✗ chain broken: " + "; ".join(chain.problems), "$text-error bold"))
        table = self.query_one(DataTable)
        table.add_columns("#", "time", "reviewer", "action", "control", "run", "before → after", "reason")
        for entry in self.review_log.entries():
            table.add_row(
                str(entry.seq),
                entry.at,
                entry.reviewer,
                entry.action,
                entry.control_id,
                entry.run_id,
                f"{entry.before_hash[:8]} → {entry.after_hash[:8]}",
                entry.reason or "",
            )
        table.focus()
