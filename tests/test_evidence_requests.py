"""`auditor requests`: the records each manual or hybrid control needs, from whom, for which period, by when."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from agent.requests import evidence_requests, period_of
from knowledge.control_library import load_controls
from tools.workspace import Workspace
from tui.cli import app

runner = CliRunner()


def test_periods_follow_the_frequency() -> None:
    day = date(2026, 2, 11)  # a Wednesday
    assert period_of("daily", day) == (day, day)
    assert period_of("weekly", day) == (date(2026, 2, 9), date(2026, 2, 15))
    assert period_of("monthly", day) == (date(2026, 2, 1), date(2026, 2, 28))
    assert period_of("quarterly", day) == (date(2026, 1, 1), date(2026, 3, 31))
    assert period_of("annually", day) == (date(2026, 1, 1), date(2026, 12, 31))
    assert period_of("per_event", day) == (date(2026, 1, 1), date(2026, 3, 31))


def test_the_previous_period_is_overdue_once_the_audit_covers_it() -> None:
    controls = [c for c in load_controls().controls if c.id == "IAM-11"]
    listed = evidence_requests(controls, {}, date(2026, 4, 10), since=date(2026, 1, 15))
    assert [(r.period_start, r.due, r.state) for r in listed] == [
        (date(2026, 1, 1), date(2026, 3, 31), "overdue"),
        (date(2026, 4, 1), date(2026, 6, 30), "due"),
    ]
    assert listed[0].owner_role == "Security Lead"
    assert listed[0].records == [
        "The signed review of each in-scope system for each quarter.",
        "The removal tickets raised by each review, with their completion dates.",
    ]
    assert [r.state for r in evidence_requests(controls, {}, date(2026, 4, 10), since=date(2026, 4, 1))] == ["due"]
    # An automated control is asked for records only when a statement of it names one (`provide`).
    automated = [c for c in load_controls().controls if c.kind == "automated"]
    assert all(not any(s.provide for s in c.statements) for c in automated)
    assert evidence_requests(automated, {}, date(2026, 4, 10)) == []
    iam_02 = next(c for c in load_controls().controls if c.id == "IAM-02")
    [root_use] = evidence_requests([iam_02.model_copy(update={"kind": "automated"})], {}, date(2026, 4, 10))
    assert root_use.records == [s.provide for s in iam_02.statements if s.provide]


def test_a_configured_audit_period_replaces_the_quarter_of_continuous_and_per_event_controls() -> None:
    library = {c.id: c for c in load_controls().controls}
    year = (date(2026, 1, 1), date(2026, 12, 31))
    [per_event] = evidence_requests([library["AI-01"]], {}, date(2026, 4, 10), audit_period=year)
    assert (per_event.period_start, per_event.period_end, per_event.due) == (*year, date(2026, 12, 31))
    # A quarterly control keeps its quarters; the previous one is asked for from the audit period's start.
    quarterly = evidence_requests([library["IAM-11"]], {}, date(2026, 4, 10), audit_period=year)
    assert [(r.period_start, r.state) for r in quarterly] == [(date(2026, 1, 1), "overdue"), (date(2026, 4, 1), "due")]
    assert [r.period_start for r in evidence_requests([library["AI-01"]], {}, date(2026, 4, 10))] == [date(2026, 4, 1)]


def test_cli_lists_an_owners_requests_with_approved_attachments_received(
    tmp_path: Path, approved_access_review
) -> None:
    workspace = Workspace.at(tmp_path / "ws")
    approved_access_review(workspace, "acc355r3v13w", "/reviews/q1.pdf")
    args = ["--workspace", str(workspace.root), "requests", "--owner", "security lead", "--on", "2026-02-10"]
    listed = json.loads(runner.invoke(app, [*args, "--format", "json"]).output)
    assert listed and {r["owner_role"] for r in listed} == {"Security Lead"}
    review = next(r for r in listed if r["control"] == "IAM-11")
    assert (review["state"], review["received"], review["due"]) == ("received", ["acc355r3v13w"], "2026-03-31")
    assert all(r["state"] == "due" for r in listed if r["control"] != "IAM-11")
    markdown = runner.invoke(app, args, terminal_width=200).output
    assert (
        "| IAM-11 Quarterly user access review | Security Lead | 2026-01-01..2026-03-31 | 2026-03-31 | received"
        in markdown
    )
    assert ".;" not in markdown and "for each quarter; The removal tickets" in markdown
    unknown = runner.invoke(app, ["--workspace", str(workspace.root), "requests", "--owner", "Nobody"])
    assert unknown.exit_code == 2
    assert "no control that needs records from people has owner role 'Nobody'" in unknown.output
