"""Ask about the run in plain words; answers stream in with their sources, proposals need confirming.

Questions are answered one at a time, in the order they were asked: a question asked while another is
being answered waits its turn ("queued"), and every answer goes to the bubble under its own question.
The sources under each answer are reachable by keyboard: tab (or ctrl+o for the latest answer's),
←/→ to pick one, enter to open it.
"""

from __future__ import annotations

import threading
from collections import deque

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Markdown, Static

from tui.chat import ChatAgent, OfflineChat, chat_for
from tui.messages import ChatAnswered, ChatFailed, ChatReady, ChatToken, CitationChosen
from tui.screens.citation import CitationScreen
from tui.screens.prompt import ConfirmScreen
from tui.screens.regenerate import RegenerateScreen
from tui.session import ReviewSession
from tui.widgets.sources import SourceLinks

EXAMPLES = 'e.g. "what evidence is missing for CC6.1?", "which users lack MFA?", "re-run the logging controls"'
QUEUED = "*Queued: answered after the question before it.*"


class ChatScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back to review", id="chat.back"),
        Binding("ctrl+o", "focus_sources", "Sources", tooltip="Go to the latest answer's sources", id="chat.sources"),
    ]

    def __init__(self, session: ReviewSession) -> None:
        super().__init__()
        self.session = session
        self._chat: OfflineChat | ChatAgent | None = None
        self._chat_lock = threading.Lock()
        self._turns = 0
        self._bubbles: dict[int, Markdown] = {}  # each question's answer bubble, by turn
        self._answering: int | None = None  # the turn being answered now
        self._queue: deque[tuple[int, str]] = deque()  # asked while another was being answered

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="transcript"):
            yield Static(Content.styled("Chat: starting…", "$text-muted"), id="chat-mode")
        yield Input(placeholder=EXAMPLES, id="chat-input")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.prepare()

    @work(thread=True, group="chat-setup")
    def prepare(self) -> None:
        # Building an LLM client imports langchain (most of a second): not on the UI thread.
        self.post_message(ChatReady(self.chat))

    @property
    def chat(self) -> OfflineChat | ChatAgent:
        with self._chat_lock:
            if self._chat is None:
                self._chat = chat_for(self.session)
            return self._chat

    @property
    def busy(self) -> bool:
        """A question is being answered (more may be queued behind it)."""
        return self._answering is not None

    def on_chat_ready(self, message: ChatReady) -> None:
        mode = (
            f"LLM agent ({message.chat.model.__class__.__name__})"
            if isinstance(message.chat, ChatAgent)
            else "offline: retrieval over criteria, findings and evidence"
        )
        self.query_one("#chat-mode", Static).update(
            Content.styled(f"Chat, {mode}. It can propose re-runs; it cannot approve anything.", "$text-muted")
        )

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        question = event.value.strip()
        if not question:
            return
        event.input.clear()
        self._turns += 1
        turn = self._turns
        transcript = self.query_one("#transcript", VerticalScroll)
        bubble = Markdown(QUEUED if self.busy else "", classes="chat-answer")
        self._bubbles[turn] = bubble
        await transcript.mount_all(
            [Static(Content.assemble(("you ", "bold $text-accent"), question), classes="chat-question"), bubble]
        )
        transcript.scroll_end(animate=False)
        if self.busy:
            self._queue.append((turn, question))
        else:
            await self._start(turn, question)

    async def _start(self, turn: int, question: str) -> None:
        self._answering = turn
        bubble = self._bubbles[turn]
        if bubble.source:
            await bubble.update("")  # no longer queued
        self.ask(turn, question)

    async def _next(self) -> None:
        self._answering = None
        if self._queue:
            await self._start(*self._queue.popleft())

    @work(thread=True, group="chat")
    def ask(self, turn: int, question: str) -> None:
        try:
            if isinstance(self.chat, ChatAgent):
                answer = self.chat.answer(question, on_token=lambda text: self.post_message(ChatToken(turn, text)))
            else:
                answer = self.chat.answer(question)
        except Exception as exc:  # noqa: BLE001 - a provider error is shown, the chat stays usable
            self.post_message(ChatFailed(turn, question, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(ChatAnswered(turn, question, answer))

    async def on_chat_token(self, message: ChatToken) -> None:
        bubble = self._bubbles.get(message.turn)
        if bubble is not None:
            await bubble.append(message.text)
            if not self._queue:  # keep the latest question in view
                self.query_one("#transcript", VerticalScroll).scroll_end(animate=False)

    async def on_chat_answered(self, message: ChatAnswered) -> None:
        answer = message.answer
        bubble = self._bubbles.pop(message.turn, None)
        if bubble is not None:
            await bubble.update(answer.text)
            transcript = self.query_one("#transcript", VerticalScroll)
            # Right under its own answer: later questions may already be in the transcript.
            await transcript.mount(SourceLinks(answer.sources, classes="chat-sources"), after=bubble)
            if not self._queue:
                transcript.scroll_end(animate=False)
        if answer.proposal is not None:
            proposal = answer.proposal

            def confirmed(yes: bool | None) -> None:
                if yes:
                    feedback = f"Re-run requested in chat: {message.question}"
                    # The review screen re-reads every control's state when it is shown again.
                    self.app.push_screen(RegenerateScreen(self.session, list(proposal.control_ids), feedback))

            self.app.push_screen(ConfirmScreen(f"{proposal.summary}?"), confirmed)
        await self._next()

    async def on_chat_failed(self, message: ChatFailed) -> None:
        bubble = self._bubbles.pop(message.turn, None)
        if bubble is not None:
            await bubble.update(f"**The chat model failed:** {message.error}")
        await self._next()

    def on_citation_chosen(self, message: CitationChosen) -> None:
        message.stop()
        self.action_open_citation(message.citation)

    def action_focus_sources(self) -> None:
        links = [links for links in self.query(SourceLinks) if links.can_focus]
        if not links:
            self.notify("No answer with sources yet", severity="warning")
            return
        links[-1].focus()
        links[-1].scroll_visible(animate=False)

    def action_open_citation(self, citation: str) -> None:
        self.app.push_screen(CitationScreen(self.session.sources, citation))
