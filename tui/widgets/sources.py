"""The sources under a chat answer: each a citation, reachable by keyboard (tab, ←/→, enter) and mouse."""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.reactive import reactive
from textual.style import Style
from textual.widget import Widget

from tui.chat import Source
from tui.messages import CitationChosen


class SourceLinks(Widget, can_focus=True):
    """One line, "sources [CC6.1] [ev:…]"; enter opens the citation under the cursor (CitationChosen)."""

    BINDINGS = [
        Binding("right,l", "move(1)", "Next source", show=False, id="sources.next"),
        Binding("left,h", "move(-1)", "Previous source", show=False, id="sources.previous"),
        Binding("enter", "open", "Open source", id="sources.open"),
    ]
    DEFAULT_CSS = """
    SourceLinks {
        height: auto;
    }
    """

    cursor: reactive[int] = reactive(0)

    def __init__(self, sources: list[Source], *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.sources = list(sources)
        self.can_focus = bool(self.sources)  # nothing to reach when there is nothing to open

    @property
    def current(self) -> str | None:
        return self.sources[self.cursor].citation if self.sources else None

    def render(self) -> Content:
        if not self.sources:
            return Content.styled("no sources", "$text-muted italic")
        parts: list[Content | str | tuple[str, str]] = [("sources ", "$text-muted")]
        for index, source in enumerate(self.sources):
            style = "bold reverse $accent" if index == self.cursor and self.has_focus else "$text-accent underline"
            click = Style.from_meta({"@click": f"choose({index})"})
            parts.append(Content.styled(f"[{source.citation}]", style).stylize(click))
            parts.append(" ")
        return Content.assemble(*parts)

    def action_move(self, step: int) -> None:
        if self.sources:
            self.cursor = (self.cursor + step) % len(self.sources)

    def action_open(self) -> None:
        if self.sources:
            self.post_message(CitationChosen(self.sources[self.cursor].citation))

    def action_choose(self, index: int) -> None:
        if 0 <= index < len(self.sources):
            self.cursor = index
            self.post_message(CitationChosen(self.sources[index].citation))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
