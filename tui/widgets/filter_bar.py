"""The line above the control list: how many controls are shown, their review totals, the filters."""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget


class FilterBar(Widget):
    """Totals first, then the filter toggles: on one line when it fits, else the toggles go below.

    So the totals are never cut off in a narrow sidebar (80 columns), and a toggle is never split.
    """

    DEFAULT_CSS = """
    FilterBar {
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._totals = Content("")
        self._toggles = Content("")

    def show(self, *, shown: int, total: int, counts: dict[str, int], gaps_only: bool, awaiting_only: bool) -> None:
        def toggle(label: str, on: bool) -> Content:
            return Content.styled(f"[{'x' if on else ' '}] {label}", "bold $text-accent" if on else "$text-muted")

        self._totals = Content.assemble(
            (f"{shown}/{total}", "bold"),
            (f"  ○{counts.get('awaiting', 0)}", "$text-muted"),
            (f" ●{counts.get('approved', 0)}", "$text-success"),
            (f" ⊘{counts.get('rejected', 0)}", "$text-error"),
        )
        self._toggles = Content.assemble(toggle("gaps", gaps_only), " ", toggle("awaiting", awaiting_only))
        self.refresh(layout=True)

    def _content(self, width: int) -> Content:
        one_line = Content.assemble(self._totals, "  ", self._toggles)
        if width <= 0 or one_line.cell_length <= width:
            return one_line
        return Content.assemble(self._totals, "\n", self._toggles)

    def render(self) -> Content:
        return self._content(self.content_size.width)

    def get_content_height(self, container, viewport, width: int) -> int:  # type: ignore[no-untyped-def]
        return len(self._content(width).split("\n"))

    def on_resize(self) -> None:
        self.refresh(layout=True)
