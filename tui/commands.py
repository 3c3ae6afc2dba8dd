"""Command palette (ctrl+p): every review action by name, and "go to" any control in the run.

Review actions run on the review screen only: from another screen (editing, chat, a citation) the
palette names them but says why they cannot run there, so nothing acts on a control behind the
screen the reviewer is looking at (e.g. approving the old text while an edit is unsaved).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.screens.review import ReviewScreen

Command = tuple[str, str, Callable[[], Any]]  # name, help, what to run

NOT_HERE = "Review actions run on the review screen only: close this screen first"


def _review_bindings() -> list[Binding]:
    # Built from the screen's key bindings, so the palette and the keys never disagree. Bindings kept
    # out of the footer at 80 columns are still offered here.
    return [
        binding
        for binding in ReviewScreen.BINDINGS
        if isinstance(binding, Binding) and binding.id in ReviewScreen.PALETTE_BINDINGS
    ]


def palette_name(binding: Binding) -> str:
    """The action's full name (the footer may show a shorter label)."""
    return binding.tooltip or binding.description


def _actions(screen: ReviewScreen) -> list[Command]:
    return [
        (
            palette_name(binding),
            f"key {binding.key}",
            partial(_run_on, screen, partial(screen.run_action, binding.action)),
        )
        for binding in _review_bindings()
    ]


def _go_to(screen: ReviewScreen) -> list[Command]:
    return [
        (
            f"Go to {review.id} {review.control.title}",
            f"{review.control.status} · {review.state}",
            partial(_run_on, screen, partial(screen.select_control, review.id)),
        )
        for review in screen.session.reviews.values()
    ]


def _run_on(screen: ReviewScreen, command: Callable[[], Any]) -> Any:
    # Checked again when it runs: the palette closes first, and the review screen must be the one shown.
    if screen.app.screen is not screen:
        screen.app.notify(NOT_HERE, severity="warning")
        return None
    return command()


class ReviewCommands(Provider):
    def _review_screen(self) -> ReviewScreen | None:
        """The review screen, when the palette was opened on it (not on a screen above it)."""
        return self.screen if isinstance(self.screen, ReviewScreen) else None

    def _below(self) -> bool:
        return any(isinstance(screen, ReviewScreen) for screen in self.app.screen_stack)

    async def discover(self) -> Hits:
        screen = self._review_screen()
        if screen is None:
            return
        for name, help_text, command in _actions(screen):
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        screen = self._review_screen()
        if screen is None:
            if not self._below():
                return
            # Named, so the reviewer learns why nothing happens; running it only says so.
            for binding in _review_bindings():
                name = palette_name(binding)
                score = matcher.match(name)
                if score > 0:
                    yield Hit(
                        score,
                        matcher.highlight(name),
                        partial(self.app.notify, NOT_HERE, severity="warning"),
                        text=name,
                        help=f"not here: {NOT_HERE.split(': ', 1)[1]}",
                    )
            return
        for name, help_text, command in [*_actions(screen), *_go_to(screen)]:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), command, text=name, help=help_text)
