"""Every rendering of the report by name, and the output folder that holds them all (`auditor report -o DIR`)."""

from __future__ import annotations

from pathlib import Path

from agent.render.csv import render_csv
from agent.render.html import render_html
from agent.render.inputs import ReportInputs
from agent.report import render_markdown

FORMATS = ("md", "json", "csv", "html")
RENDERED_DIR = "rendered"  # reports/<run>/rendered/: the run's own report.json/md are signed and stay as written


def render(inputs: ReportInputs, format: str) -> str:
    if format == "md":
        return render_markdown(inputs.report, inputs.catalog)
    if format == "json":
        return inputs.report.to_json() + "\n"
    if format == "csv":
        return render_csv(inputs)
    if format == "html":
        return render_html(inputs)
    raise ValueError(f"unknown report format {format!r} (one of {', '.join(FORMATS)})")


def write_all(inputs: ReportInputs, folder: Path) -> list[Path]:
    """report.md, report.json, report.csv and report.html in `folder` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for format in FORMATS:
        path = folder / f"report.{format}"
        path.write_text(render(inputs, format), encoding="utf-8")
        written.append(path)
    return written
