"""A narrative with its citations highlighted; a cursor moves from citation to citation."""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.geometry import Region

from agent.citations import Citation
from tui.widgets.citation_cursor import CitationCursor


class NarrativeView(CitationCursor, can_focus=True):
    BINDINGS = [
        Binding("right,down,j", "move(1)", "Next citation", show=False, id="narrative.next"),
        Binding("left,up,k", "move(-1)", "Previous citation", show=False, id="narrative.previous"),
        # Not in the footer (the review actions need its 80 columns): the section title says it instead.
        Binding("enter", "open", "Open citation", show=False, id="narrative.open"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = ""
        self._spans: list[Citation] = []

    def show(self, text: str, spans: list[Citation]) -> None:
        """Show a narrative; the cursor stays where it was if the text is the same (back from a citation)."""
        if text == self._text:
            return
        self._text = text
        self._spans = spans
        self.set_reactive(NarrativeView.cursor, 0)
        self.refresh(layout=True)

    def citation_ids(self) -> list[str]:
        return [span.id for span in self._spans]

    def render(self) -> Content:
        if not self._text:
            return Content.styled("No narrative.", "$text-muted italic")
        parts: list[Content | str] = []
        position = 0
        for index, span in enumerate(self._spans):
            parts.append(self._text[position : span.start])
            parts.append(self.link(index, self._text[span.start : span.end]))
            position = span.end
        parts.append(self._text[position:])
        return Content.assemble(*parts)

    def watch_cursor(self) -> None:
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        if not self._spans or self.parent is None or not self.size.width:
            return
        line = len(Content(self._text[: self._spans[self.cursor].start]).wrap(self.size.width)) - 1
        region = self.virtual_region
        self.parent.scroll_to_region(  # type: ignore[attr-defined]
            Region(region.x, region.y + max(line, 0), region.width, 1), animate=False, immediate=True
        )
