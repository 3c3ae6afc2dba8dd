"""The sources under a chat answer: each a citation, reachable by keyboard (tab, ←/→, enter) and mouse."""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content

from tui.chat import Source
from tui.widgets.citation_cursor import CitationCursor


class SourceLinks(CitationCursor, can_focus=True):
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

    def __init__(self, sources: list[Source], *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.sources = list(sources)
        self.can_focus = bool(self.sources)  # nothing to reach when there is nothing to open

    def citation_ids(self) -> list[str]:
        return [source.citation for source in self.sources]

    def render(self) -> Content:
        if not self.sources:
            return Content.styled("no sources", "$text-muted italic")
        parts: list[Content | str | tuple[str, str]] = [("sources ", "$text-muted")]
        for index, source in enumerate(self.sources):
            parts.append(self.link(index, f"[{source.citation}]"))
            parts.append(" ")
        return Content.assemble(*parts)
