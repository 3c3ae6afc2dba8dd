"""Command palette (ctrl+p): every review action by name, and "go to" any control in the run."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.screens.review import ReviewScreen

Command = tuple[str, str, Callable[[], Any]]  # name, help, what to run


def _actions(screen: ReviewScreen) -> list[Command]:
    # Built from the screen's key bindings, so the palette and the footer never disagree.
    bindings = [binding for binding in ReviewScreen.BINDINGS if isinstance(binding, Binding) and binding.show]
    return [
        (binding.description, f"key {binding.key}", partial(screen.run_action, binding.action)) for binding in bindings
    ]


def _go_to(screen: ReviewScreen) -> list[Command]:
    return [
        (
            f"Go to {review.id} {review.control.title}",
            f"{review.control.status} · {review.state}",
            partial(screen.select_control, review.id),
        )
        for review in screen.session.reviews.values()
    ]


class ReviewCommands(Provider):
    def _review_screen(self) -> ReviewScreen | None:
        return next((s for s in reversed(self.app.screen_stack) if isinstance(s, ReviewScreen)), None)

    async def discover(self) -> Hits:
        screen = self._review_screen()
        if screen is None:
            return
        for name, help_text, command in _actions(screen):
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        screen = self._review_screen()
        if screen is None:
            return
        matcher = self.matcher(query)
        for name, help_text, command in [*_actions(screen), *_go_to(screen)]:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), command, text=name, help=help_text)
