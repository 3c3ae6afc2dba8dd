"""Renderings of the readiness report beyond Markdown and JSON (agent/report.py): CSV, HTML, and what they read
besides the report itself (ReportInputs: the criteria text, the cited evidence items, the run history)."""
