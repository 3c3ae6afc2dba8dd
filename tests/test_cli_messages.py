"""Small command-line answers a new user meets first: refusals that say what is wrong, hints that work as
printed, and listings that fit 80 columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tui.cli import app
from tui.cli.state import console, err_console

runner = CliRunner()


@pytest.fixture(autouse=True)
def _eighty_columns(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no auditor.toml here: defaults
    for stream in (console, err_console):
        monkeypatch.setattr(stream, "_width", 80)


def _said(result) -> str:
    return " ".join(result.output.split())


@pytest.mark.parametrize("question", ["", "   "])
def test_an_empty_search_question_is_refused(question: str) -> None:
    result = runner.invoke(app, ["criteria", "search", question])
    assert result.exit_code == 2 and "the question is empty" in _said(result)


def test_a_schedule_that_never_runs_is_refused() -> None:
    result = runner.invoke(app, ["schedule", "--print", "systemd", "--every", "0 3 31 2 *"])
    assert result.exit_code == 2, result.output
    assert "never fall in month(s) 2: the schedule would never run" in _said(result)
    assert "OnCalendar" not in result.output


def test_an_impossible_period_date_is_named() -> None:
    result = runner.invoke(app, ["report", "--period", "2026-02-30..2026-03-01"])
    assert result.exit_code == 2
    assert "'2026-02-30' is not a valid date YYYY-MM-DD (day is out of range for month)" in _said(result)


def test_checks_list_shows_every_id_whole_in_80_columns() -> None:
    ids = [row["id"] for row in json.loads(runner.invoke(app, ["checks", "list", "--format", "json"]).output)]
    table = runner.invoke(app, ["checks", "list"])
    assert table.exit_code == 0 and "…" not in table.output
    shown = {cell.strip() for line in table.output.splitlines() for cell in line.split("│")}
    assert set(ids) <= shown
    assert max(len(line) for line in table.output.splitlines()) <= 80


def test_init_says_what_to_run_next(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0
    assert "then run auditor run (the knowledge store is built on first use)" in _said(result)
    assert "knowledge build" not in result.output


def test_the_command_listing_keeps_no_line_break_of_a_docstring() -> None:
    """Each command's summary is one paragraph the listing wraps to the terminal: on a wide terminal it is one
    line, not broken where the docstring's line ended."""
    listing = runner.invoke(app, ["--help"], terminal_width=200, env={"COLUMNS": "200"}).output
    report = next(line for line in listing.splitlines() if line.startswith("  report "))
    assert "(with --period: how every control operated over an observation period)." in report
