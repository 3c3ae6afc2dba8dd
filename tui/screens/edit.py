"""Edit a narrative in a TextArea; the text is verified like any draft before it can be approved."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Label, Static, TextArea

from agent.report_schema import VerifierResult
from agent.review_log import ControlReview
from tui.messages import EditSaved, EditVerified
from tui.session import ReviewActionError, ReviewSession


def verifier_summary(verifier: VerifierResult) -> Content:
    if verifier.passed:
        return Content.styled(
            f"✓ verifier passed: {verifier.cited_sentences}/{verifier.sentences} sentences cited", "$text-success"
        )
    problems = "\n".join(f"  • {problem}" for problem in verifier.problems)
    return Content.styled(f"✗ verifier failed; fix before approving:\n{problems}", "$text-error")


class EditScreen(Screen[ControlReview | None]):
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="edit.save", priority=True),
        Binding("f2", "check", "Verify", id="edit.verify"),
        Binding("escape", "cancel", "Cancel", id="edit.cancel"),
    ]

    def __init__(self, session: ReviewSession, control_id: str) -> None:
        super().__init__()
        self.session = session
        self.control_id = control_id

    def compose(self) -> ComposeResult:
        review = self.session.review(self.control_id)
        with Vertical(id="edit-body"):
            yield Label(
                Content.assemble(("Editing ", "$text-muted"), (review.id, "bold"), " ", review.control.title),
                id="edit-title",
            )
            yield TextArea(review.control.narrative.text, soft_wrap=True, id="edit-text")
            yield Static(
                "Every sentence needs a citation: [CC6.1], [CC6.1/pof/3], [ev:<id>], [policy:<file>#<section>].",
                id="edit-status",
            )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    def action_check(self) -> None:
        self.query_one("#edit-status", Static).update("Verifying…")
        self.verify_text(self.text)

    def action_save(self) -> None:
        self.query_one("#edit-status", Static).update("Verifying and saving…")
        self.save_text(self.text)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @work(thread=True, exclusive=True, group="edit")
    def verify_text(self, text: str) -> None:
        self.post_message(EditVerified(self.control_id, self.session.verify(self.control_id, text)))

    @work(thread=True, exclusive=True, group="edit")
    def save_text(self, text: str) -> None:
        try:
            review = self.session.save_edit(self.control_id, text)
        except ReviewActionError as exc:
            self.post_message(EditSaved(self.control_id, None, str(exc)))
            return
        self.post_message(EditSaved(self.control_id, review, None))

    def on_edit_verified(self, message: EditVerified) -> None:
        self.query_one("#edit-status", Static).update(verifier_summary(message.verifier))

    def on_edit_saved(self, message: EditSaved) -> None:
        if message.review is None:
            self.query_one("#edit-status", Static).update(Content.styled(message.error or "", "$text-error"))
            return
        self.dismiss(message.review)
