"""Ask about the run in plain words; answers stream in with their sources, proposals need confirming."""

from __future__ import annotations

import threading

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.style import Style
from textual.widgets import Footer, Header, Input, Markdown, Static

from tui.chat import ChatAgent, ChatAnswer, OfflineChat, chat_for
from tui.messages import ChatAnswered, ChatFailed, ChatReady, ChatToken
from tui.screens.citation import CitationScreen
from tui.screens.prompt import ConfirmScreen
from tui.screens.regenerate import RegenerateScreen
from tui.session import ReviewSession

EXAMPLES = 'e.g. "what evidence is missing for CC6.1?", "which users lack MFA?", "re-run the logging controls"'


def sources_line(answer: ChatAnswer) -> Content:
    if not answer.sources:
        return Content.styled("no sources", "$text-muted italic")
    parts: list[Content | str | tuple[str, str]] = [("sources ", "$text-muted")]
    for source in answer.sources:
        click = Style.from_meta({"@click": f"screen.open_citation({source.citation!r})"})
        parts.append(Content.styled(f"[{source.citation}]", "$text-accent underline").stylize(click))
        parts.append(" ")
    return Content.assemble(*parts)


class ChatScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back to review", id="chat.back")]

    def __init__(self, session: ReviewSession) -> None:
        super().__init__()
        self.session = session
        self._chat: OfflineChat | ChatAgent | None = None
        self._chat_lock = threading.Lock()
        self._streaming: Markdown | None = None

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
        transcript = self.query_one("#transcript", VerticalScroll)
        self._streaming = Markdown("", classes="chat-answer")
        await transcript.mount_all(
            [
                Static(Content.assemble(("you ", "bold $text-accent"), question), classes="chat-question"),
                self._streaming,
            ]
        )
        transcript.scroll_end(animate=False)
        self.ask(question)

    @work(thread=True, exclusive=True, group="chat")
    def ask(self, question: str) -> None:
        try:
            if isinstance(self.chat, ChatAgent):
                answer = self.chat.answer(question, on_token=lambda text: self.post_message(ChatToken(text)))
            else:
                answer = self.chat.answer(question)
        except Exception as exc:  # noqa: BLE001 - a provider error is shown, the chat stays usable
            self.post_message(ChatFailed(question, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(ChatAnswered(question, answer))

    async def on_chat_token(self, message: ChatToken) -> None:
        if self._streaming is not None:
            await self._streaming.append(message.text)
            self.query_one("#transcript", VerticalScroll).scroll_end(animate=False)

    async def on_chat_answered(self, message: ChatAnswered) -> None:
        answer = message.answer
        if self._streaming is not None:
            await self._streaming.update(answer.text)
        transcript = self.query_one("#transcript", VerticalScroll)
        await transcript.mount(Static(sources_line(answer), classes="chat-sources"))
        transcript.scroll_end(animate=False)
        self._streaming = None
        if answer.proposal is not None:
            proposal = answer.proposal

            def confirmed(yes: bool | None) -> None:
                if yes:
                    feedback = f"Re-run requested in chat: {message.question}"
                    # The review screen re-reads every control's state when it is shown again.
                    self.app.push_screen(RegenerateScreen(self.session, list(proposal.control_ids), feedback))

            self.app.push_screen(ConfirmScreen(f"{proposal.summary}?"), confirmed)

    async def on_chat_failed(self, message: ChatFailed) -> None:
        if self._streaming is not None:
            await self._streaming.update(f"**The chat model failed:** {message.error}")
        self._streaming = None

    def action_open_citation(self, citation: str) -> None:
        self.app.push_screen(CitationScreen(self.session.sources, citation))
