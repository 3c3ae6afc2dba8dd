"""The review app: one session over the latest run, screens for reviewing, citations, editing and chat."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from tui.commands import ReviewCommands
from tui.screens.review import ReviewScreen
from tui.session import ReviewSession


class ReviewApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute, so subclasses elsewhere find it
    TITLE = "auditor review"
    COMMANDS = App.COMMANDS | {ReviewCommands}
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True)]

    def __init__(self, session: ReviewSession) -> None:
        super().__init__()
        self.session = session
        report = session.report
        self.sub_title = f"{report.company} · run {report.run.id} · readiness {report.summary.readiness_pct:.1f}%"

    def get_default_screen(self) -> ReviewScreen:
        return ReviewScreen(self.session)
