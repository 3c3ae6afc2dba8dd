"""Status badges, styled with theme variables so they read in light and dark themes."""

from __future__ import annotations

from textual.content import Content

# Control status from the checks, and review state from the log. Each has a symbol, so the meaning
# survives a terminal without colour.
STATUS_STYLE = {
    "pass": ("✓", "$success"),
    "fail": ("✗", "$error"),
    "partial": ("◐", "$warning"),
    "manual": ("✎", "$secondary"),
    "error": ("!", "$error"),
    "not_applicable": ("–", "$text-muted"),
}
STATE_STYLE = {
    "draft": ("○", "$text-muted"),
    "approved": ("●", "$success"),
    "rejected": ("⊘", "$error"),
    "stale": ("↻", "$warning"),
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
