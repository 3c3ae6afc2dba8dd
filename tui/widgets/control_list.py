"""The control list: controls grouped by criterion series, each with its status and review badges."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.messages import ControlHighlighted
from tui.review_log import ControlReview
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


def _control_prompt(review: ControlReview, *, coloured: bool = True) -> Content:
    control = review.control
    return Content.assemble(
        status_icon(control.status, coloured=coloured),
        " ",
        state_icon(review.state, coloured=coloured),
        " ",
        (control.id, "bold"),
        " ",
        control.title,
    )


class ControlList(OptionList):
    """Group headers are disabled options, so the cursor moves from control to control.

    Under the cursor the status icons take the cursor's own colours: coloured icons on the cursor's
    background read poorly in some themes (red on blue), and the symbols alone carry the meaning.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._reviews: dict[str, ControlReview] = {}
        self._plain: int | None = None  # the option shown with plain icons (the cursor's)

    def show(self, groups: list[SeriesGroup], selected: str | None) -> None:
        """Replace the rows; keep the cursor on `selected`, or at the same row if it left the list."""
        previous_index = self.highlighted or 0
        options: list[Option] = []
        self._reviews = {}
        self._plain = None
        for group in groups:
            options.append(Option(_group_header(group), id=f"{_HEADER_PREFIX}{group.series}", disabled=True))
            for review in group.reviews:
                self._reviews[review.id] = review
                options.append(Option(_control_prompt(review), id=review.id))
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

    def watch_highlighted(self, highlighted: int | None) -> None:
        self._mark_cursor(highlighted)
        super().watch_highlighted(highlighted)

    def _mark_cursor(self, highlighted: int | None) -> None:
        if self._plain == highlighted:
            return
        if self._plain is not None and self._plain < self.option_count:
            self._set_prompt(self._plain, coloured=True)
        self._plain = None
        if highlighted is not None and highlighted < self.option_count:
            if self._set_prompt(highlighted, coloured=False):
                self._plain = highlighted

    def _set_prompt(self, index: int, *, coloured: bool) -> bool:
        option = self.get_option_at_index(index)
        review = self._reviews.get(option.id or "")
        if review is None or option.disabled:
            return False
        self.replace_option_prompt_at_index(index, _control_prompt(review, coloured=coloured))
        return True

    def _on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id is not None and not event.option.disabled:
            self.post_message(ControlHighlighted(event.option.id))
