"""A narrative with its citations highlighted; a cursor moves from citation to citation."""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.geometry import Region
from textual.reactive import reactive
from textual.style import Style
from textual.widget import Widget

from agent.citations import Citation
from tui.messages import CitationChosen


class NarrativeView(Widget, can_focus=True):
    BINDINGS = [
        Binding("right,down,j", "move_citation(1)", "Next citation", show=False, id="narrative.next"),
        Binding("left,up,k", "move_citation(-1)", "Previous citation", show=False, id="narrative.previous"),
        # Not in the footer (the review actions need its 80 columns): the section title says it instead.
        Binding("enter", "open_citation", "Open citation", show=False, id="narrative.open"),
    ]

    cursor: reactive[int] = reactive(0)

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

    @property
    def current_citation(self) -> str | None:
        return self._spans[self.cursor].id if self._spans else None

    def render(self) -> Content:
        if not self._text:
            return Content.styled("No narrative.", "$text-muted italic")
        parts: list[str | tuple[str, str | Style]] = []
        position = 0
        for index, span in enumerate(self._spans):
            parts.append(self._text[position : span.start])
            style = "$text-accent underline"
            if index == self.cursor and self.has_focus:
                style = "bold reverse $accent"
            click = Style.from_meta({"@click": f"choose({index})"})
            parts.append(Content.assemble((self._text[span.start : span.end], style)).stylize(click))
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

    def action_move_citation(self, step: int) -> None:
        if self._spans:
            self.cursor = (self.cursor + step) % len(self._spans)

    def action_open_citation(self) -> None:
        if self._spans:
            self.post_message(CitationChosen(self._spans[self.cursor].id))

    def action_choose(self, index: int) -> None:
        if 0 <= index < len(self._spans):
            self.cursor = index
            self.post_message(CitationChosen(self._spans[index].id))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
