"""The control list: controls grouped by criterion series, each with its status and review badges."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.content import Content
from textual.strip import Strip
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from agent.review_log import ControlReview
from tui.messages import ControlHighlighted
from tui.session import SeriesGroup
from tui.widgets.badges import state_icon, status_icon

_HEADER_PREFIX = "series:"


def _group_header(group: SeriesGroup) -> Content:
    # Counts before the title, so they survive truncation at 80 columns.
    failing = group.count(status="fail") + group.count(status="error")
    awaiting = sum(1 for review in group.reviews if review.awaiting_review)
    approved = group.count(state="approved")
    return Content.assemble(
        (group.series, "bold"),
        (f"  {len(group.reviews)}", "bold"),
        (f" ✗{failing}", "$text-error" if failing else "$text-muted"),
        (f" ○{awaiting}", "$text-muted"),
        (f" ●{approved}", "$text-success" if approved else "$text-muted"),
        (f"  {group.title}", ""),
    )


def _control_prompt(review: ControlReview) -> Content:
    control = review.control
    return Content.assemble(
        status_icon(control.status),
        " ",
        state_icon(review.state),
        " ",
        (control.id, "bold"),
        " ",
        control.title,
    )


class ControlList(OptionList):
    """Group headers are disabled options, so the cursor moves from control to control.

    On the cursor's row every cell takes the cursor's foreground: coloured icons on the cursor's
    background read poorly in some themes (red on blue is 1.2:1), and the symbols carry the meaning.
    """

    def show(self, groups: list[SeriesGroup], selected: str | None) -> None:
        """Replace the rows; keep the cursor on `selected`, or at the same row if it left the list."""
        previous_index = self.highlighted or 0
        options: list[Option] = []
        for group in groups:
            options.append(Option(_group_header(group), id=f"{_HEADER_PREFIX}{group.series}", disabled=True))
            options.extend(Option(_control_prompt(review), id=review.id) for review in group.reviews)
        self.set_options(options)
        enabled = [index for index, option in enumerate(options) if not option.disabled]
        if not enabled:
            return
        if selected is not None and any(option.id == selected for option in options):
            self.highlighted = self.get_option_index(selected)
        else:
            self.highlighted = next((index for index in enabled if index >= previous_index), enabled[-1])

    @property
    def selected_control(self) -> str | None:
        option = self.highlighted_option
        return option.id if option is not None and not option.disabled else None

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        highlighted = self.highlighted
        if highlighted is None or self.options[highlighted].disabled:
            return strip
        # OptionList marks every cell of an option's lines with its index (for the mouse).
        if next((seg.style.meta.get("option") for seg in strip if seg.style is not None), None) != highlighted:
            return strip
        colour = self.get_visual_style("option-list--option", "option-list--option-highlighted").rich_style.color
        if colour is None:
            return strip
        recoloured = RichStyle(color=colour)
        return Strip(
            [Segment(text, style + recoloured if style else recoloured, control) for text, style, control in strip],
            strip.cell_length,
        )

    def _on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id is not None and not event.option.disabled:
            self.post_message(ControlHighlighted(event.option.id))
