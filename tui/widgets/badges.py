"""Status badges, styled with theme variables so they read in light and dark themes.

Icons use the `$text-*` colours, made for text on the theme's backgrounds (at least 3:1 on $background
and $surface in textual-dark and textual-light), not `$success` and friends (1.4 to 1.8:1 in light).
"""

from __future__ import annotations

from textual.content import Content

# Control status from the checks, and review state from the log. Each has a symbol, so the meaning
# survives a terminal without colour.
STATUS_STYLE = {
    "pass": ("✓", "$text-success"),
    "fail": ("✗", "$text-error"),
    "partial": ("◐", "$text-warning"),
    "manual": ("✎", "$text-secondary"),
    "error": ("!", "$text-error"),
    "not_applicable": ("–", "$text-muted"),
}
STATE_STYLE = {
    "draft": ("○", "$text-muted"),
    "approved": ("●", "$text-success"),
    "rejected": ("⊘", "$text-error"),
    "stale": ("↻", "$text-warning"),
}


def status_icon(status: str) -> Content:
    symbol, style = STATUS_STYLE.get(status, ("?", "$text-muted"))
    return Content.styled(symbol, f"{style} bold")


def status_badge(status: str) -> Content:
    symbol, style = STATUS_STYLE.get(status, ("?", "$text-muted"))
    return Content.styled(f" {symbol} {status} ", f"{style} bold reverse")


def state_icon(state: str) -> Content:
    symbol, style = STATE_STYLE.get(state, ("?", "$text-muted"))
    return Content.styled(symbol, f"{style} bold")


def state_badge(state: str) -> Content:
    symbol, style = STATE_STYLE.get(state, ("?", "$text-muted"))
    return Content.styled(f" {symbol} {state} ", f"{style} bold reverse")
