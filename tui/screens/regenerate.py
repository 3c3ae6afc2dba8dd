"""Regenerate controls with the reviewer's feedback: the agent runs in a worker, with progress and cancel."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Log, ProgressBar
from textual.worker import get_current_worker

from tui.messages import RegenerateFailed, RegenerateFinished, RegenerateProgress
from tui.session import ReviewActionError, ReviewSession


class RegenerateCancelled(Exception):
    """Raised inside the agent's event callback to stop a cancelled run at its next step."""


class RegenerateScreen(ModalScreen[list[str]]):
    """Dismisses with the ids of the controls that got a new draft."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="regenerate.cancel")]

    def __init__(self, session: ReviewSession, control_ids: list[str], feedback: str) -> None:
        super().__init__()
        self.session = session
        self.control_ids = control_ids
        self.feedback = feedback
        self.done: list[str] = []
        self.failed: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="panel", id="regenerate-panel"):
            yield Label(
                Content.assemble(("Regenerating ", "bold"), ", ".join(self.control_ids)),
                classes="dialog-title",
            )
            yield ProgressBar(total=len(self.control_ids), show_eta=False, id="regenerate-progress")
            yield Log(id="regenerate-log", auto_scroll=True)
            yield Label("escape to cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        if self.feedback:
            self.query_one(Log).write_line(f"feedback: {self.feedback}")
        self.run_agent()

    @work(thread=True, exclusive=True, group="regenerate")
    def run_agent(self) -> None:
        worker = get_current_worker()

        for control_id in self.control_ids:

            def on_event(event: str, control_id: str = control_id) -> None:
                if worker.is_cancelled:
                    raise RegenerateCancelled
                self.post_message(RegenerateProgress(control_id, event))

            try:
                result = self.session.regenerate(control_id, self.feedback, on_event)
            except RegenerateCancelled:
                return
            except Exception as exc:  # noqa: BLE001 - one failure must not stop the rest
                if worker.is_cancelled:
                    return
                self.post_message(RegenerateFailed(control_id, f"{type(exc).__name__}: {exc}"))
                continue
            if worker.is_cancelled:
                return
            self.post_message(RegenerateFinished(control_id, result, self.feedback))

    def on_regenerate_progress(self, message: RegenerateProgress) -> None:
        self.query_one(Log).write_line(f"{message.control_id}: {message.event}")

    def on_regenerate_finished(self, message: RegenerateFinished) -> None:
        try:
            review = self.session.record_regenerate(message.control_id, message.result, message.feedback)
        except ReviewActionError as exc:
            self._failed(message.control_id, str(exc))
            return
        self.query_one(Log).write_line(
            f"{message.control_id}: new draft ({review.control.status}, verifier "
            f"{'passed' if review.control.narrative.verifier.passed else 'failed'})"
        )
        self.done.append(message.control_id)
        self._advance()

    def on_regenerate_failed(self, message: RegenerateFailed) -> None:
        self._failed(message.control_id, message.error)

    def _failed(self, control_id: str, error: str) -> None:
        self.query_one(Log).write_line(f"{control_id}: failed: {error}")
        self.failed.append(control_id)
        self.notify(f"{control_id}: regenerate failed: {error}", severity="error")
        self._advance()

    def _advance(self) -> None:
        self.query_one(ProgressBar).advance(1)
        if len(self.done) + len(self.failed) == len(self.control_ids):
            self.dismiss(self.done)

    def action_cancel(self) -> None:
        self.workers.cancel_group(self, "regenerate")
        self.notify("Regeneration cancelled", severity="warning")
        self.dismiss(self.done)
