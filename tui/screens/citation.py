"""What a citation points to: evidence (with its hash and collection time), a criterion, a policy."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, LoadingIndicator, Markdown, Static, TextArea

from tui.messages import CitationResolved
from tui.sources import CitationTarget, Sources


class CitationScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "close", "Close", id="citation.close")]

    def __init__(self, sources: Sources, citation: str) -> None:
        super().__init__()
        self.sources = sources
        self.citation = citation

    def compose(self) -> ComposeResult:
        with Vertical(classes="panel", id="citation-panel"):
            yield Label(f"[{self.citation}]", classes="dialog-title", id="citation-title")
            yield LoadingIndicator()

    def on_mount(self) -> None:
        self.resolve()

    @work(thread=True, exclusive=True, group="citation")
    def resolve(self) -> None:
        # Opening the locker or the Chroma store can take a moment: keep the UI responsive.
        try:
            target = self.sources.resolve(self.citation)
        except Exception as exc:  # noqa: BLE001 - shown to the reviewer instead of crashing the UI
            target = CitationTarget(
                self.citation, "unknown", self.citation, f"Could not open it: {exc}", "text", found=False
            )
        self.post_message(CitationResolved(target))

    async def on_citation_resolved(self, message: CitationResolved) -> None:
        target = message.target
        panel = self.query_one("#citation-panel", Vertical)
        await self.query(LoadingIndicator).remove()
        self.query_one("#citation-title", Label).update(Content.styled(target.title, "bold"))
        facts = Content("\n").join(
            Content.assemble((f"{name:<15}", "$text-muted"), value) for name, value in target.facts
        )
        widgets = []
        if target.facts:
            widgets.append(Static(facts, id="citation-facts"))
        if target.body_format == "markdown":
            widgets.append(VerticalScroll(Markdown(target.body), id="citation-body"))
        else:
            body = TextArea(
                target.body, read_only=True, show_line_numbers=target.body_format == "json", id="citation-body"
            )
            body.soft_wrap = target.body_format == "text"
            widgets.append(body)
        if not target.found:
            widgets.insert(0, Static(Content.styled("Not found", "$text-error bold"), classes="citation-missing"))
        await panel.mount_all(widgets)
        self.query_one("#citation-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
