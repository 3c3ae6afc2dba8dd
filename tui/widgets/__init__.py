"""Widgets of the review TUI: they show what the session returns and post messages; no decisions."""
