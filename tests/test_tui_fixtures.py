"""The review session reads the TUI tests' data right: the real demo run and the fixture report (tui_fixtures.py)."""

from __future__ import annotations

import pytest

from tui.session import SERIES_ORDER


@pytest.mark.slow
def test_demo_run_is_grouped_by_series_in_criteria_order(tmp_path, demo_session):
    session = demo_session(tmp_path)
    groups = session.groups()
    series = [group.series for group in groups]
    assert series == sorted(series, key=SERIES_ORDER.index)
    assert sum(len(group.reviews) for group in groups) == len(session.report.controls)
    assert all(review.state == "draft" for review in session.reviews.values())
    assert groups[0].title  # series titles come from the catalog


def test_fixture_session_reads_the_saved_report(tmp_path, fixture_session):
    session = fixture_session(tmp_path)
    assert [group.series for group in session.groups()] == ["CC1", "CC6", "CC7", "A1", "PI1", "P1"]
    assert session.counts()["awaiting"] == 8
