"""Snapshots of the review TUI at 80x24 and 160x48, dark and light, over the FIXTURE report (fixed
ids, texts and times; see tui_fixtures.py). Update with `pytest --snapshot-update` after a
deliberate change, and look at the SVGs before committing them."""

from __future__ import annotations

from tui.app import ReviewApp

SMALL = (80, 24)
LARGE = (160, 48)


def test_review_screen_small(snap_compare, tmp_path, fixture_session):
    assert snap_compare(ReviewApp(fixture_session(tmp_path)), terminal_size=SMALL)


def test_review_screen_large(snap_compare, tmp_path, fixture_session):
    assert snap_compare(ReviewApp(fixture_session(tmp_path)), terminal_size=LARGE)


def test_review_screen_light_theme(snap_compare, tmp_path, fixture_session):
    async def light(pilot):
        pilot.app.theme = "textual-light"
        await pilot.press("down")

    assert snap_compare(ReviewApp(fixture_session(tmp_path)), terminal_size=SMALL, run_before=light)


def test_review_screen_after_decisions(snap_compare, tmp_path, fixture_session):
    async def decide(pilot):
        await pilot.press("slash", *"IAM-02", "enter", "a")  # approve
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"LOG-01", "enter", "x", *"name the failing trail", "enter")
        await pilot.press("slash", "ctrl+a", "ctrl+k", "enter", "w")  # clear the search, awaiting only
        await pilot.pause()
        pilot.app.clear_notifications()

    assert snap_compare(ReviewApp(fixture_session(tmp_path)), terminal_size=LARGE, run_before=decide)


def test_narrative_citation_cursor(snap_compare, tmp_path, fixture_session):
    # The second control of CC6 is IAM-01 (after the CC1 group); enter moves into its narrative.
    assert snap_compare(
        ReviewApp(fixture_session(tmp_path)),
        terminal_size=SMALL,
        press=["slash", *"IAM-01", "enter", "enter", "right", "right"],
    )


def test_criterion_citation_screen(snap_compare, tmp_path, fixture_session):
    async def open_criterion(pilot):
        await pilot.press("slash", *"IAM-01", "enter", "enter", "enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(ReviewApp(fixture_session(tmp_path)), terminal_size=SMALL, run_before=open_criterion)


def test_chat_screen_offline_answer(snap_compare, tmp_path, fixture_session):
    async def ask(pilot):
        await pilot.press("c")
        await pilot.app.workers.wait_for_complete()
        await pilot.press(*"which users lack MFA?", "enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(ReviewApp(fixture_session(tmp_path)), terminal_size=SMALL, run_before=ask)


def test_edit_screen(snap_compare, tmp_path, fixture_session):
    assert snap_compare(
        ReviewApp(fixture_session(tmp_path)), terminal_size=SMALL, press=["slash", *"LOG-01", "enter", "e"]
    )
