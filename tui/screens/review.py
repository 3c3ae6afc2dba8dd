"""The review screen: controls by criterion series on the left, the selected control on the right."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TypeVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, OptionList, Static

from agent.citations import parse as parse_citations
from agent.review_log import ControlReview, quarter_of
from tools.findings import Finding
from tui.messages import (
    AttachFailed,
    CitationChosen,
    ControlHighlighted,
    EvidenceAttached,
)
from tui.screens.chat import ChatScreen
from tui.screens.citation import CitationScreen
from tui.screens.edit import EditScreen
from tui.screens.log import LogScreen
from tui.screens.prompt import PromptScreen
from tui.screens.regenerate import RegenerateScreen
from tui.session import ListFilter, ReviewActionError, ReviewSession
from tui.widgets.control_list import ControlList
from tui.widgets.detail import ControlHeader, FindingsView, ProvenanceView
from tui.widgets.filter_bar import FilterBar
from tui.widgets.narrative import NarrativeView

Answer = TypeVar("Answer")  # what a prompt or editor the review screen shows returns


class ReviewScreen(Screen[None]):
    # Short labels, so the footer fits 80 columns; the tooltip is the full name (the command palette
    # shows it). Search (/) and the log (l) are left out of the footer, not out of the palette.
    BINDINGS = [
        Binding("a", "approve", "Approve", id="review.approve"),
        Binding("x", "reject", "Reject", id="review.reject"),
        Binding("e", "edit", "Edit", id="review.edit"),
        Binding("r", "regenerate", "Regen", tooltip="Regenerate", id="review.regenerate"),
        Binding("m", "attach", "Attach", tooltip="Attach evidence", id="review.attach"),
        Binding("s", "respond", "Respond", show=False, tooltip="Respond to an exception", id="review.respond"),
        Binding("g", "toggle_gaps", "Gaps", tooltip="Gaps only", id="review.gaps"),
        Binding("w", "toggle_awaiting", "Awaiting", tooltip="Awaiting review only", id="review.awaiting"),
        Binding("c", "chat", "Chat", id="review.chat"),
        Binding("slash", "search", "Search", show=False, tooltip="Search controls", id="review.search"),
        Binding("l", "show_log", "Log", show=False, tooltip="Review log", id="review.log"),
        Binding("escape", "focus_list", "Back to list", show=False, id="review.focus_list"),
    ]
    # The bindings the command palette offers by name (tui/commands.py).
    PALETTE_BINDINGS = (
        "review.approve",
        "review.reject",
        "review.edit",
        "review.regenerate",
        "review.attach",
        "review.respond",
        "review.gaps",
        "review.awaiting",
        "review.chat",
        "review.search",
        "review.log",
    )

    def __init__(self, session: ReviewSession) -> None:
        super().__init__()
        self.session = session
        self.list_filter = ListFilter()
        self.selected: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="sidebar"):
                yield Input(placeholder="/ search controls", id="search")
                yield FilterBar(id="filter-bar")
                yield ControlList(id="controls")
            with VerticalScroll(id="detail"):
                yield ControlHeader(id="control-header")
                yield Static(
                    Content.assemble("Narrative", ("  ←/→ citation · enter opens it", "not bold $text-muted")),
                    classes="section-title",
                )
                yield NarrativeView(id="narrative")
                yield Static("Findings", classes="section-title")
                yield FindingsView(id="findings")
                yield Static("Provenance", classes="section-title")
                yield ProvenanceView(id="provenance")
        # Compact, so every action's key fits in 80 columns.
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.show_list()
        self.query_one(ControlList).focus()

    def on_screen_resume(self) -> None:
        # Another screen (chat, regenerate) may have recorded decisions meanwhile.
        self.session.reload()
        self.show_list()

    # ------------------------------------------------------------------------- showing

    def show_list(self) -> None:
        groups = self.session.groups(self.list_filter)
        controls = self.query_one(ControlList)
        controls.show(groups, self.selected)
        self.selected = controls.selected_control
        self.show_filter_bar(sum(len(group.reviews) for group in groups))
        self.show_detail()

    def show_filter_bar(self, shown: int) -> None:
        self.query_one(FilterBar).show(
            shown=shown,
            total=len(self.session.reviews),
            counts=self.session.counts(),
            gaps_only=self.list_filter.gaps_only,
            awaiting_only=self.list_filter.awaiting_only,
        )

    def show_detail(self) -> None:
        if self.selected is None:
            self.query_one(ControlHeader).update(Content.styled("No control matches the filters.", "$text-muted"))
            self.query_one(NarrativeView).show("", [])
            self.query_one(FindingsView).update("")
            self.query_one(ProvenanceView).update("")
            return
        review = self.session.review(self.selected)
        self.query_one(ControlHeader).show(review)
        text = review.control.narrative.text
        self.query_one(NarrativeView).show(text, parse_citations(text))
        self.query_one(FindingsView).show(review)
        self.query_one(ProvenanceView).show(review)

    def show_decision(self, message: str) -> None:
        # Re-filter: with "awaiting" on, a decided control leaves the list and the cursor stays in place.
        self.show_list()
        self.notify(message)

    def on_control_highlighted(self, message: ControlHighlighted) -> None:
        # The list may have been refiltered since the message was posted (typing fast in the search):
        # only the control the cursor is on now can become the selection.
        if message.control_id != self.query_one(ControlList).selected_control:
            return
        if message.control_id != self.selected:
            self.selected = message.control_id
            self.show_detail()
            self.query_one("#detail", VerticalScroll).scroll_home(animate=False)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one(NarrativeView).focus()

    def on_citation_chosen(self, message: CitationChosen) -> None:
        self.app.push_screen(CitationScreen(self.session.sources, message.citation))

    # ------------------------------------------------------------------------- filters

    def action_toggle_gaps(self) -> None:
        self.list_filter = replace(self.list_filter, gaps_only=not self.list_filter.gaps_only)
        self.show_list()

    def action_toggle_awaiting(self) -> None:
        self.list_filter = replace(self.list_filter, awaiting_only=not self.list_filter.awaiting_only)
        self.show_list()

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "search":
            self.list_filter = replace(self.list_filter, query=event.value)
            self.selected = self.session.id_match(event.value) or self.selected
            self.show_list()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "search":
            self.query_one(ControlList).focus()

    def action_focus_list(self) -> None:
        self.query_one(ControlList).focus()

    # ------------------------------------------------------------------------- actions

    def _selected_or_warn(self) -> str | None:
        """The control an action applies to: the one under the cursor in the list as it is shown now."""
        shown = self.query_one(ControlList).selected_control
        if self.selected is None or shown != self.selected:
            self.selected = shown
            self.show_detail()
            self.notify(
                "No control is selected: the list is empty" if shown is None else "Select a control first",
                severity="warning",
            )
            return None
        return self.selected

    def action_approve(self) -> None:
        control_id = self._selected_or_warn()
        if control_id is None:
            return
        self._decide(partial(self.session.approve, control_id), f"{control_id} approved")

    def action_reject(self) -> None:
        control_id = self._selected_or_warn()
        if control_id is None:
            return

        def rejected(reason: str) -> None:
            self._decide(partial(self.session.reject, control_id, reason), f"{control_id} rejected")

        self._ask(PromptScreen(f"Reject {control_id}: why?", placeholder="reason"), rejected)

    def action_edit(self) -> None:
        control_id = self._selected_or_warn()
        if control_id is None:
            return

        def edited(review: ControlReview) -> None:
            verdict = "verified" if review.control.narrative.verifier.passed else "NOT verified: fix before approving"
            self.show_decision(f"{control_id} edited ({verdict})")

        self._ask(EditScreen(self.session, control_id), edited)

    def action_regenerate(self) -> None:
        control_id = self._selected_or_warn()
        if control_id is None:
            return

        def with_feedback(feedback: str) -> None:
            self.app.push_screen(RegenerateScreen(self.session, [control_id], feedback))

        self._ask(
            PromptScreen(
                f"Regenerate {control_id}: feedback for the agent",
                placeholder="what to change (optional)",
                required=False,
            ),
            with_feedback,
        )

    def action_attach(self) -> None:
        control_id = self._selected_or_warn()
        if control_id is None:
            return

        def with_path(path: str) -> None:
            start, end = quarter_of(self.session.log.clock().date())

            def attach(period: str) -> None:
                self.notify(f"Attaching {Path(path).name} to {control_id}…")
                self.attach_file(control_id, path, period)

            self._ask(
                PromptScreen(
                    f"Period {Path(path).name} covers",
                    placeholder=f"empty: this quarter, {start}..{end} · or 2025-Q1 · or 2025-01-01..2025-03-31",
                    required=False,
                ),
                attach,
            )

        self._ask(PromptScreen(f"Attach manual evidence to {control_id}", placeholder="path to a file"), with_path)

    def action_respond(self) -> None:
        """A management response to one exception: which one, then its cause, response, remediation date and
        compensating control, one prompt each."""
        control_id = self._selected_or_warn()
        if control_id is None:
            return
        exceptions = self.session.exceptions(control_id)
        if not exceptions:
            self.notify(f"{control_id} has no exception to respond to", severity="warning")
            return
        listed = " · ".join(f"{n}: {f.resource}" for n, f in enumerate(exceptions, start=1))
        prompts = [
            (f"Respond to an exception of {control_id}: which one?", f"1 to {len(exceptions)} ({listed})", True),
            ("Cause: why did it happen?", "cause", True),
            ("Response: what was done?", "response", True),
            ("Remediation date (optional)", "2025-03-31", False),
            ("Compensating control (optional)", "e.g. the weekly access review", False),
        ]
        answers: list[str] = []

        def answered(answer: str | None) -> None:
            if answer is None:
                return  # escape: nothing is recorded
            answers.append(answer)
            ask()

        def ask() -> None:
            if len(answers) == len(prompts):
                self._record_response(control_id, exceptions, answers)
                return
            title, placeholder, required = prompts[len(answers)]
            self.app.push_screen(PromptScreen(title, placeholder=placeholder, required=required), answered)

        ask()

    def _record_response(self, control_id: str, exceptions: list[Finding], answers: list[str]) -> None:
        choice, cause, response, remediation, compensating = answers
        if not choice.isdigit() or not 1 <= int(choice) <= len(exceptions):
            self.notify(f"no exception numbered {choice!r}", severity="error")
            return
        exception = exceptions[int(choice) - 1]
        respond = partial(
            self.session.respond,
            control_id,
            exception,
            cause=cause,
            response=response,
            remediation_date=remediation,
            compensating_control=compensating,
        )
        self._decide(respond, f"response recorded for {exception.resource} ({control_id})")

    def _ask(self, screen: Screen[Answer | None], then: Callable[[Answer], object]) -> None:
        """Show a prompt or editor; `then` gets its answer, unless the reviewer cancelled it (None)."""

        def answered(answer: Answer | None) -> None:
            if answer is not None:
                then(answer)

        self.app.push_screen(screen, answered)

    def _decide(self, decision: Callable[[], object], done: str) -> None:
        """Record a decision through the session and say so; a decision the session refuses is shown instead."""
        try:
            decision()
        except ReviewActionError as exc:
            self.notify(str(exc), severity="error")
            return
        self.show_decision(done)

    @work(thread=True, group="attach")
    def attach_file(self, control_id: str, path: str, period: str = "") -> None:
        # Reading, hashing and storing a large file takes seconds: never on the UI thread.
        try:
            _, evidence_id = self.session.attach(control_id, Path(path), period=period)
        except ReviewActionError as exc:
            error = str(exc)
            self.post_message(AttachFailed(control_id, path, error if path in error else f"{path}: {error}"))
            return
        except Exception as exc:  # noqa: BLE001 - shown to the reviewer instead of crashing the UI
            self.post_message(AttachFailed(control_id, path, f"{path}: {type(exc).__name__}: {exc}"))
            return
        self.post_message(EvidenceAttached(control_id, path, evidence_id))

    def on_evidence_attached(self, message: EvidenceAttached) -> None:
        self.show_decision(f"{Path(message.path).name} attached to {message.control_id} as [ev:{message.evidence_id}]")

    def on_attach_failed(self, message: AttachFailed) -> None:
        self.notify(f"Could not attach to {message.control_id}: {message.error}", severity="error")

    def action_chat(self) -> None:
        # Installed once, so the conversation is still there when the reviewer comes back to it.
        if not self.app.is_screen_installed("chat"):
            self.app.install_screen(ChatScreen(self.session), "chat")
        self.app.push_screen("chat")

    def action_show_log(self) -> None:
        self.app.push_screen(LogScreen(self.session.log))

    def select_control(self, control_id: str) -> None:
        """Show a control, clearing filters that hide it (used by the command palette)."""
        if control_id not in self.session.reviews:
            return
        if not any(
            review.id == control_id for group in self.session.groups(self.list_filter) for review in group.reviews
        ):
            self.list_filter = ListFilter()
            self.query_one("#search", Input).value = ""
        self.selected = control_id
        self.show_list()
        self.query_one(ControlList).focus()
