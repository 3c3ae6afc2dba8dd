"""A cursor over a widget's citations: it moves from one to the next, and enter or a click opens one."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.style import Style
from textual.widget import Widget

from tui.messages import CitationChosen


class CitationCursor(Widget):
    """A widget that shows citations as links; the subclass says which citations it shows, and in what order."""

    cursor: reactive[int] = reactive(0)

    def citation_ids(self) -> list[str]:
        """The citation ids this widget shows, in order: every subclass says which (NarrativeView, SourceLinks)."""
        raise NotImplementedError

    @property
    def current(self) -> str | None:
        """The citation under the cursor."""
        citations = self.citation_ids()
        return citations[self.cursor] if citations else None

    def link(self, index: int, text: str) -> Content:
        """The citation at `index` as a link: reversed under the cursor while focused; a click chooses it."""
        style = "bold reverse $accent" if index == self.cursor and self.has_focus else "$text-accent underline"
        return Content.styled(text, style).stylize(Style.from_meta({"@click": f"choose({index})"}))

    def action_move(self, step: int) -> None:
        citations = self.citation_ids()
        if citations:
            self.cursor = (self.cursor + step) % len(citations)

    def action_open(self) -> None:
        if self.current is not None:
            self.post_message(CitationChosen(self.current))

    def action_choose(self, index: int) -> None:
        citations = self.citation_ids()
        if 0 <= index < len(citations):
            self.cursor = index
            self.post_message(CitationChosen(citations[index]))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
