"""Status badges, styled with theme variables so they read in light and dark themes.

Icons use the `$text-*` colours, made for text on the theme's backgrounds (at least 3:1 on $background
and $surface in textual-dark and textual-light), not `$success` and friends (1.4 to 1.8:1 in light).
"""

from __future__ import annotations

from textual.content import Content

# Control and finding status (agent/report.py), and review state from the log. Each has a symbol, so the
# meaning survives a terminal without colour.
STATUS_STYLE = {
    "pass": ("✓", "$text-success"),
    "evidenced": ("☑", "$text-success"),
    "fail": ("✗", "$text-error"),
    "partial": ("◐", "$text-warning"),
    "error": ("!", "$text-error"),
    "awaiting_evidence": ("✎", "$text-secondary"),
    "not_applicable": ("–", "$text-muted"),
    "out_of_scope": ("∅", "$text-muted"),
}
STATE_STYLE = {
    "draft": ("○", "$text-muted"),
    "approved": ("●", "$text-success"),
    "rejected": ("⊘", "$text-error"),
    "stale": ("↻", "$text-warning"),
}


UNKNOWN_STYLE = ("?", "$text-muted")


def _icon(styles: dict[str, tuple[str, str]], key: str) -> Content:
    symbol, style = styles.get(key, UNKNOWN_STYLE)
    return Content.styled(symbol, f"{style} bold")


def _badge(styles: dict[str, tuple[str, str]], key: str) -> Content:
    symbol, style = styles.get(key, UNKNOWN_STYLE)
    return Content.styled(f" {symbol} {key.replace('_', ' ')} ", f"{style} bold reverse")


def status_icon(status: str) -> Content:
    return _icon(STATUS_STYLE, status)


def status_badge(status: str) -> Content:
    return _badge(STATUS_STYLE, status)


def state_icon(state: str) -> Content:
    return _icon(STATE_STYLE, state)


def state_badge(state: str) -> Content:
    return _badge(STATE_STYLE, state)
