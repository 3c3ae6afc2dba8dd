"""Pilot tests of the review TUI over a real offline run of the demo company.

Each action is driven by its key binding, and checked in the UI, in the review log and (for
attachments) in the evidence locker.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading

import pytest
from fakes import FakeChatModel, last_human_text
from langchain_core.messages import AIMessage
from textual.color import Color
from textual.theme import BUILTIN_THEMES
from textual.widgets import DataTable, Input, Markdown, OptionList, Static, TextArea
from textual.widgets._footer import FooterKey
from typer.testing import CliRunner

from agent.api import save_report
from agent.citations import parse
from agent.review_log import text_hash
from tools.config import load_config
from tools.locker import EvidenceLocker
from tui.app import ReviewApp
from tui.cli import app as cli_app
from tui.messages import ControlHighlighted
from tui.screens.citation import CitationScreen
from tui.screens.edit import EditScreen
from tui.screens.log import LogScreen
from tui.screens.regenerate import RegenerateScreen
from tui.screens.review import ReviewScreen
from tui.session import ReviewSession, search_text
from tui.widgets.badges import STATE_STYLE, STATUS_STYLE
from tui.widgets.control_list import ControlList
from tui.widgets.filter_bar import FilterBar
from tui.widgets.narrative import NarrativeView

SIZE = (100, 30)


async def _select(pilot, control_id: str) -> ReviewScreen:
    """Find a control with the search box, as a reviewer would."""
    await pilot.press("slash", *control_id, "enter")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ReviewScreen) and screen.selected == control_id
    return screen


async def _select_and_press(pilot, control_id: str, *keys: str) -> ReviewScreen:
    """Select the control, leave the search box for the list, and press `keys` there."""
    screen = await _select(pilot, control_id)
    await pilot.press("escape", *keys)
    return screen


async def _open_citation(pilot, control_id: str, citation: str) -> CitationScreen:
    """Select the control, enter its narrative, move to the citation, press enter."""
    await _select(pilot, control_id)
    screen = pilot.app.screen
    await pilot.press("enter")  # from the list into the narrative
    narrative = screen.query_one(NarrativeView)
    assert narrative.has_focus
    ids = [c.id for c in parse(screen.session.review(screen.selected).control.narrative.text)]
    for _ in range((ids.index(citation) - narrative.cursor) % len(ids)):  # the cursor wraps around
        await pilot.press("right")
    assert narrative.current == citation
    await pilot.press("enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    opened = pilot.app.screen
    assert isinstance(opened, CitationScreen) and opened.citation == citation
    return opened


async def _run_from_palette(pilot, command: str) -> None:
    """Open the command palette, type `command` and run what it offers first."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*command)
    await pilot.pause(0.3)
    await pilot.press("enter")
    await pilot.pause()


@pytest.mark.slow
async def test_list_is_grouped_by_series_with_badges_filters_and_search(tmp_path, demo_session):
    session = demo_session(tmp_path)
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        screen = pilot.app.screen
        controls = screen.query_one(ControlList)
        headers = [option.id for option in controls.options if option.disabled]
        assert headers[:3] == ["series:CC1", "series:CC2", "series:CC3"]
        cc1 = str(controls.get_option("series:CC1").prompt)
        assert cc1.startswith("CC1 ") and cc1.endswith("Control Environment")  # counts, then the title
        total = len(session.reviews)

        await pilot.press("g")  # gaps only: fail, partial, error
        shown = [option.id for option in controls.options if not option.disabled]
        assert shown and all(session.review(cid).control.status in ("fail", "partial", "error") for cid in shown)
        assert len(shown) < total
        await pilot.press("g")
        await pilot.press("w")  # awaiting review: everything is a draft so far
        assert len([o for o in controls.options if not o.disabled]) == total
        await pilot.press("w")

        await _select(pilot, "IAM-01")
        listed = [o.id for o in controls.options if not o.disabled]
        # The control itself, and any whose narrative or findings mention it.
        assert "IAM-01" in listed and all("iam-01" in search_text(session.review(cid)) for cid in listed)
        header = str(screen.query_one("#control-header", Static).render())
        assert "IAM-01" in header and "fail" in header and "draft" in header


@pytest.mark.slow
async def test_approve_records_the_decision_and_leaves_the_awaiting_list(tmp_path, demo_session, reviewer):
    session = demo_session(tmp_path)
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        screen = await _select_and_press(pilot, "IAM-01", "a")
        await pilot.pause()
        review = session.review("IAM-01")
        assert review.state == "approved" and review.decided_by == reviewer
        assert "approved" in str(screen.query_one("#control-header", Static).render())

        # Awaiting filter: the approved control is gone from the list.
        screen.query_one(Input).value = ""
        await pilot.press("w")
        awaiting = [o.id for o in screen.query_one(ControlList).options if not o.disabled]
        assert "IAM-01" not in awaiting and len(awaiting) == len(session.reviews) - 1

    entry = session.log.entries()[-1]
    assert (entry.action, entry.control_id, entry.reviewer) == ("approve", "IAM-01", reviewer)
    assert entry.run_id == session.report.run.id
    assert entry.before_hash == entry.after_hash == text_hash(review.control.narrative.text)
    assert entry.at == "2025-03-01T09:30:00+00:00"
    assert session.log.verify().ok


@pytest.mark.slow
async def test_reject_asks_for_a_reason_and_records_it(tmp_path, demo_session):
    session = demo_session(tmp_path)
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await _select_and_press(pilot, "LOG-01", "x")
        await pilot.press("enter")  # an empty reason is refused
        assert session.log.entries() == []
        await pilot.press(*"name the trails that fail", "enter")
        await pilot.pause()
        assert session.review("LOG-01").state == "rejected"
        assert "name the trails that fail" in str(pilot.app.screen.query_one("#control-header", Static).render())
    entry = session.log.entries()[-1]
    assert (entry.action, entry.reason) == ("reject", "name the trails that fail")


@pytest.mark.slow
async def test_edit_is_verified_before_it_can_be_approved(tmp_path, demo_session):
    session = demo_session(tmp_path)
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await _select_and_press(pilot, "IAM-01", "a")  # approved first: an edit must send it back to review
        original = session.review("IAM-01").control.narrative.text

        await pilot.press("e")
        assert isinstance(pilot.app.screen, EditScreen)
        pilot.app.screen.query_one(TextArea).text = original + "\n\nAll users have used MFA since 2019."
        await pilot.press("ctrl+s")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        review = session.review("IAM-01")
        assert review.state == "stale" and review.note == "edited after approval"
        assert not review.control.narrative.verifier.passed  # the added sentence cites nothing
        assert review.control.narrative.provenance.writer == "reviewer"

        await pilot.press("a")  # refused: the draft does not verify
        assert session.review("IAM-01").state == "stale"

        await pilot.press("e")
        pilot.app.screen.query_one(TextArea).text = original.replace(
            "The Security Engineer owns it", "The Security Engineer is responsible for it"
        )
        await pilot.press("ctrl+s")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert session.review("IAM-01").control.narrative.verifier.passed
        await pilot.press("a")
        assert session.review("IAM-01").state == "approved"
    actions = [entry.action for entry in session.log.entries()]
    assert actions == ["approve", "edit", "edit", "approve"]
    assert session.log.verify().ok


@pytest.mark.slow
async def test_regenerate_runs_the_agent_in_a_worker_with_the_reviewers_feedback(tmp_path, demo_session):
    current: dict[str, str] = {}

    def respond(messages, tools):
        if tools:  # the planner: nothing beyond the baseline evidence
            return AIMessage(content="")
        # The writer: the same sentences, paragraphs in reverse order (so it still verifies).
        return AIMessage(content="\n\n".join(reversed(current["text"].split("\n\n"))))

    model = FakeChatModel(respond=respond)
    session = demo_session(tmp_path, model=model)
    current["text"] = session.review("IAM-01").control.narrative.text
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await _select_and_press(pilot, "IAM-01", "r")
        await pilot.press(*"lead with the failing users", "enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(pilot.app.screen, ReviewScreen)
        review = session.review("IAM-01")
        assert review.control.narrative.text == "\n\n".join(reversed(current["text"].split("\n\n")))
        assert review.control.narrative.provenance.writer == "llm"
        assert review.state == "draft"

    writer_prompts = [last_human_text(request["messages"]) for request in model.requests if not request["tools"]]
    assert any("lead with the failing users" in prompt for prompt in writer_prompts)
    entry = session.log.entries()[-1]
    assert (entry.action, entry.reason) == ("regenerate", "lead with the failing users")
    assert entry.after_hash == text_hash(review.control.narrative.text) != entry.before_hash


@pytest.mark.slow
async def test_regenerate_can_be_cancelled(tmp_path, demo_session):
    writing, release = threading.Event(), threading.Event()

    def respond(messages, tools):
        if tools:
            return AIMessage(content="")
        writing.set()
        release.wait(30)  # hold the writer until the reviewer has cancelled
        return AIMessage(content="A draft nobody will see [CC6.1].")

    session = demo_session(tmp_path, model=FakeChatModel(respond=respond))
    agent_done = threading.Event()
    regenerate = session.regenerate

    def tracked(*args):
        try:
            return regenerate(*args)
        finally:
            agent_done.set()

    session.regenerate = tracked
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await _select_and_press(pilot, "IAM-01", "r", "enter")
        assert await asyncio.to_thread(writing.wait, 30)
        assert isinstance(pilot.app.screen, RegenerateScreen)
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, ReviewScreen)
        release.set()
        assert await asyncio.to_thread(agent_done.wait, 30)
        await pilot.pause()
    assert session.log.entries() == []  # nothing recorded from a cancelled run
    assert session.review("IAM-01").state == "draft"


@pytest.mark.slow
async def test_attach_stores_the_file_in_the_locker_as_manual_evidence(tmp_path, demo_session):
    session = demo_session(tmp_path)
    signed = tmp_path / "code-of-conduct-acknowledgements.csv"
    signed.write_text("name,signed\nraj.patel,2025-02-01\n", encoding="utf-8")
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await _select_and_press(pilot, "GOV-01", "a", "m")
        await pilot.press(*str(signed), "enter")
        assert "2025-01-01..2025-03-31" in pilot.app.screen.query_one(Input).placeholder  # this quarter by default
        await pilot.press(*"2024-Q4", "enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        review = session.review("GOV-01")
        assert review.state == "stale"  # the evidence changed after approval
        assert len(review.attachments) == 1
        assert review.attachments[0] in str(pilot.app.screen.query_one("#provenance", Static).render())
    evidence_id = review.attachments[0]
    with EvidenceLocker(session.workspace.locker_db, session.workspace.blobs_dir) as locker:
        record = locker.get(evidence_id)
        assert (record.source, record.tool) == ("manual", "manual.attachment")
        assert locker.read(evidence_id)["content"] == signed.read_text(encoding="utf-8")
        assert locker.verify().ok
    entry = session.log.entries()[-1]
    assert entry.action == "attach" and entry.detail["evidence_id"] == evidence_id
    assert (entry.detail["period_start"], entry.detail["period_end"]) == ("2024-10-01", "2024-12-31")
    assert session.manual_evidence_needed("GOV-01") == []


@pytest.mark.slow
async def test_citations_open_the_evidence_the_criterion_and_the_control(tmp_path, demo_session):
    session = demo_session(tmp_path)
    text = session.review("IAM-01").control.narrative.text
    evidence_citation = next(c.id for c in parse(text) if c.kind == "evidence")
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        opened = await _open_citation(pilot, "IAM-01", evidence_citation)
        facts = str(opened.query_one("#citation-facts", Static).render())
        body = opened.query_one("#citation-body", TextArea).text
        evidence_id = evidence_citation.removeprefix("ev:")
        with EvidenceLocker(session.workspace.locker_db, session.workspace.blobs_dir) as locker:
            record = locker.get(evidence_id)
            assert body == json.dumps(locker.read(evidence_id), indent=2, sort_keys=True, ensure_ascii=False)
        assert record.sha256 in facts and record.collected_at in facts and record.tool in facts

        await pilot.press("escape", "escape")  # close, back to the list
        opened = await _open_citation(pilot, "IAM-01", "CC6.1/pof/4")
        markdown = opened.query_one(Markdown).source
        assert "logical access security software" in markdown  # the criterion text
        assert "Point of focus 4: Identifies and Authenticates Users" in markdown
        assert "point of focus" in str(opened.query_one("#citation-facts", Static).render())

        await pilot.press("escape", "escape")
        opened = await _open_citation(pilot, "IAM-01", "control:IAM-01")
        assert "Multi-factor authentication for console users" in opened.query_one(Markdown).source


@pytest.mark.slow
async def test_policy_citation_opens_the_policy_section(tmp_path, demo_session):
    session = demo_session(tmp_path)
    policy = tmp_path / "access-control.md"
    policy.write_text(
        "# Access control\n\n## MFA\n\nEvery console user must use a hardware MFA key.\n", encoding="utf-8"
    )
    added = CliRunner().invoke(cli_app, ["--workspace", str(session.workspace.root), "knowledge", "add", str(policy)])
    assert added.exit_code == 0, added.output
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await _select_and_press(pilot, "IAM-01", "e")
        area = pilot.app.screen.query_one(TextArea)
        area.text = "Console users must use MFA [policy:access-control.md#mfa].\n\n" + area.text
        await pilot.press("ctrl+s")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        opened = await _open_citation(pilot, "IAM-01", "policy:access-control.md#mfa")
        assert "hardware MFA key" in opened.query_one(Markdown).source


@pytest.mark.slow
async def test_bindings_have_ids_and_the_command_palette_offers_them(tmp_path, demo_session):
    session = demo_session(tmp_path)
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        ids = {binding.id for binding in ReviewScreen.BINDINGS}
        assert {"review.approve", "review.reject", "review.edit", "review.regenerate", "review.attach"} <= ids
        footer_keys = {binding.key for _, binding, _, _ in [b for b in pilot.app.screen.active_bindings.values()]}
        assert {"a", "x", "e", "r", "m"} <= footer_keys

        await _run_from_palette(pilot, "go to LOG-02")
        assert isinstance(pilot.app.screen, ReviewScreen) and pilot.app.screen.selected == "LOG-02"

        await _run_from_palette(pilot, "Approve")
        assert session.review("LOG-02").state == "approved"


@pytest.mark.slow
async def test_list_moves_with_the_keyboard(tmp_path, demo_session):
    session = demo_session(tmp_path)
    async with ReviewApp(session).run_test(size=(80, 24)) as pilot:
        screen = pilot.app.screen
        order = [review.id for group in session.groups() for review in group.reviews]
        assert screen.selected == order[0]
        await pilot.press("down", "down", "down")
        assert screen.selected == order[3]  # group headers are skipped
        assert screen.query_one(OptionList).has_focus
        await pilot.press("up")
        assert screen.selected == order[2]


@pytest.mark.slow
async def test_log_screen_shows_decisions_and_the_chain(tmp_path, demo_session, reviewer):
    session = demo_session(tmp_path)
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await _select_and_press(pilot, "IAM-01", "a", "l")
        await pilot.pause()
        table = pilot.app.screen.query_one(DataTable)
        assert table.row_count == 1
        assert table.get_row_at(0)[2:5] == [reviewer, "approve", "IAM-01"]
        assert "chain intact: 1 decisions" in str(pilot.app.screen.query_one("#chain-status", Static).render())
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, ReviewScreen)


@pytest.mark.slow
def test_approval_returns_to_review_when_a_later_run_changes_the_evidence(tmp_path, demo_session):
    session = demo_session(tmp_path)
    session.approve("IAM-01")
    session.approve("IAM-02")
    report = session.report
    iam01 = session.review("IAM-01").control
    # A later run: IAM-01 rests on re-collected evidence (a new id); IAM-02 is unchanged.
    old_id = iam01.narrative.provenance.evidence_ids[0]
    recollected = iam01.model_copy(
        update={
            "narrative": iam01.narrative.model_copy(
                update={
                    "provenance": iam01.narrative.provenance.model_copy(
                        update={
                            "evidence_ids": [
                                "f" * 12 if e == old_id else e for e in iam01.narrative.provenance.evidence_ids
                            ]
                        }
                    )
                }
            )
        }
    )
    later = report.model_copy(
        update={
            "run": report.run.model_copy(update={"id": "20990101T000000Z-later1"}),
            "controls": [recollected if c.id == "IAM-01" else c for c in report.controls],
        }
    )
    save_report(session.workspace, later)
    reopened = ReviewSession.open(session.config, session.workspace, model=None)
    assert reopened.report.run.id == "20990101T000000Z-later1"
    assert reopened.review("IAM-01").state == "stale" and reopened.review("IAM-01").awaiting_review
    assert "evidence changed" in reopened.review("IAM-01").note
    assert reopened.review("IAM-02").state == "approved"


# ------------------------------------------------------------------------------ reviewed defects


def _notes(app) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


def _listed(screen) -> list[str]:
    return [option.id for option in screen.query_one(ControlList).options if not option.disabled]


@pytest.mark.slow
def test_regenerate_uses_the_demo_runs_config_when_none_is_given(tmp_path, monkeypatch, copy_demo_run, tui_demo_run):
    """`auditor demo` then `auditor review`: the run came from the demo's own config, so regenerate uses it."""
    import agent.api

    config_path, _ = tui_demo_run
    _, workspace = copy_demo_run(tmp_path)
    (workspace.root / "demo").mkdir()
    shutil.copy(config_path, workspace.root / "demo" / "auditor.toml")  # where `auditor demo` writes it
    monkeypatch.chdir(tmp_path)  # no auditor.toml here: the CLI's own config is the default one
    opened: dict[str, ReviewSession] = {}
    monkeypatch.setattr(ReviewApp, "run", lambda app: opened.setdefault("session", app.session))
    result = CliRunner().invoke(cli_app, ["--workspace", str(workspace.root), "review"])
    assert result.exit_code == 0, result.output

    used: list = []
    monkeypatch.setattr(agent.api, "regenerate_control", lambda config, *args, **kwargs: used.append(config))
    opened["session"].regenerate("IAM-01", "", lambda event: None)
    demo = load_config(config_path)
    assert used[0].company == "Acme AI"
    assert used[0].aws.endpoint_url == demo.aws.endpoint_url and used[0].logs.paths == demo.logs.paths
    assert used[0].workspace_dir == workspace.root  # results stay in the reviewed workspace


def test_regenerate_names_the_reports_company(tmp_path, monkeypatch, fixture_session):
    """Whatever config the session has, a new draft is written for the company the report is about."""
    import agent.api

    session = fixture_session(tmp_path)  # config: the defaults ("My Company"); report: Acme AI
    used: list = []
    monkeypatch.setattr(agent.api, "regenerate_control", lambda config, *args, **kwargs: used.append(config))
    session.regenerate("IAM-01", "", lambda event: None)
    assert used[0].company == session.report.company == "Acme AI"


@pytest.mark.slow
def test_explicit_config_is_used_by_the_review_session(tmp_path, monkeypatch, copy_demo_run, tui_demo_run):
    config_path, _ = tui_demo_run
    _, workspace = copy_demo_run(tmp_path)
    opened: dict[str, ReviewSession] = {}
    monkeypatch.setattr(ReviewApp, "run", lambda app: opened.setdefault("session", app.session))
    result = CliRunner().invoke(cli_app, ["-c", str(config_path), "--workspace", str(workspace.root), "review"])
    assert result.exit_code == 0, result.output
    config = opened["session"].config
    assert config.source == config_path.resolve() and config.workspace_dir == workspace.root


@pytest.mark.slow
async def test_no_action_applies_when_the_list_is_empty(tmp_path, demo_session):
    session = demo_session(tmp_path)
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        screen = await _select(pilot, "IAM-01")
        await pilot.press("slash", *"no-such-control")
        await pilot.pause()
        controls = screen.query_one(ControlList)
        assert controls.option_count == 0 and screen.selected is None
        # A highlight posted while the list still matched (typing fast) arrives after it emptied.
        controls.post_message(ControlHighlighted("IAM-01"))
        await pilot.pause()
        assert screen.selected is None
        assert "No control matches" in str(screen.query_one("#control-header", Static).render())
        await pilot.press("escape", "a", "x")
        await pilot.pause()
        assert isinstance(pilot.app.screen, ReviewScreen)  # no reject prompt either
        assert any("No control is selected" in note for note in _notes(pilot.app))
    assert session.log.entries() == []


@pytest.mark.slow
async def test_a_stale_highlight_does_not_move_the_selection(tmp_path, demo_session):
    session = demo_session(tmp_path)
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        screen = await _select(pilot, "LOG-01")
        screen.query_one(ControlList).post_message(ControlHighlighted("IAM-01"))  # not in the list any more
        await pilot.pause()
        assert screen.selected == "LOG-01" and "IAM-01" not in _listed(screen)
        await pilot.press("escape", "a")
        await pilot.pause()
    assert [(entry.action, entry.control_id) for entry in session.log.entries()] == [("approve", "LOG-01")]


@pytest.mark.slow
async def test_palette_review_actions_do_not_run_behind_another_screen(tmp_path, demo_session):
    session = demo_session(tmp_path)
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await _select_and_press(pilot, "IAM-01", "e")
        edit = pilot.app.screen
        assert isinstance(edit, EditScreen)
        edit.query_one(TextArea).text = "An unsaved edit."
        await _run_from_palette(pilot, "Approve")
        assert session.log.entries() == []  # the old text was not approved behind the edit
        assert pilot.app.screen is edit and edit.query_one(TextArea).text == "An unsaved edit."
        assert any("review screen only" in note for note in _notes(pilot.app))

        await pilot.press("escape")  # cancel the edit: back on the review screen the palette acts
        assert isinstance(pilot.app.screen, ReviewScreen)
        await _run_from_palette(pilot, "Approve")
    assert [(entry.action, entry.control_id) for entry in session.log.entries()] == [("approve", "IAM-01")]


@pytest.mark.slow
async def test_attach_runs_in_a_worker_and_the_ui_stays_responsive(tmp_path, demo_session, until):
    session = demo_session(tmp_path)
    signed = tmp_path / "nda-signed.txt"
    signed.write_text("signed by raj.patel on 2025-02-01\n", encoding="utf-8")
    started, release, finished = threading.Event(), threading.Event(), threading.Event()
    attach = session.attach

    def slow_attach(*args, **kwargs):  # a large file: reading and hashing it takes a while
        started.set()
        release.wait(3)
        try:
            return attach(*args, **kwargs)
        finally:
            finished.set()

    session.attach = slow_attach
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        # The path, then an empty period: this quarter.
        screen = await _select_and_press(pilot, "GOV-01", "m", *str(signed), "enter", "enter")
        assert await asyncio.to_thread(started.wait, 10)
        await pilot.press("g")  # the UI answers keys while the file is stored
        assert screen.list_filter.gaps_only
        assert not finished.is_set()
        release.set()
        await until(pilot, lambda: any("attached to GOV-01" in note for note in _notes(pilot.app)))
        assert len(session.review("GOV-01").attachments) == 1

        await pilot.press("g")  # GOV-01 is manual: not a gap, so back to all controls
        await _select(pilot, "GOV-01")
        missing = tmp_path / "no-such-scan.pdf"
        await pilot.press("escape", "m", *str(missing), "enter", "enter")
        await until(pilot, lambda: any("no-such-scan.pdf" in note for note in _notes(pilot.app)))
    (entry,) = session.log.entries()
    assert entry.action == "attach" and (entry.detail["period_start"], entry.detail["period_end"]) == (
        "2025-01-01",
        "2025-03-31",
    )


async def test_footer_and_filter_bar_fit_80_columns(tmp_path, fixture_session):
    session = fixture_session(tmp_path)
    async with ReviewApp(session).run_test(size=(80, 24)) as pilot:
        screen = pilot.app.screen
        await pilot.pause()
        keys = {key.key: key for key in screen.query(FooterKey)}
        palette = next(key for key in screen.query(FooterKey) if key.has_class("-command-palette"))
        for key in ("a", "x", "e", "r", "m", "g", "w", "c"):
            region = keys[key].region
            assert region.width and region.right <= palette.region.x <= 80, key
        bar = screen.query_one(FilterBar)
        lines = str(bar.render()).split("\n")
        assert lines[0].startswith("8/8") and "○8 ●0 ⊘0" in lines[0]  # the totals come first, whole
        assert "[ ] gaps" in lines[-1] and "[ ] awaiting" in lines[-1]
        assert bar.region.height == len(lines) and all(len(line) <= bar.content_size.width for line in lines)
        # Everything the footer leaves out is in the palette, by its full name.
        await _run_from_palette(pilot, "review log")
        assert isinstance(pilot.app.screen, LogScreen)


def _contrast(foreground: Color, background: Color) -> float:
    def luminance(color: Color) -> float:
        def channel(value: int) -> float:
            value /= 255
            return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(color.r) + 0.7152 * channel(color.g) + 0.0722 * channel(color.b)

    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_status_icons_have_contrast_in_light_and_dark_themes():
    # Icons sit on the screen ($background), the list ($surface) and, for the review totals
    # (○ ● ⊘), on the filter bar ($panel); "auto" colours ($text-muted) are the text colour, dimmed.
    for theme in ("textual-dark", "textual-light"):
        variables = BUILTIN_THEMES[theme].to_color_system().generate()
        placed = [(symbol, style, ("background", "surface")) for symbol, style in STATUS_STYLE.values()]
        placed += [
            (
                symbol,
                style,
                ("background", "surface", "panel")
                if state in ("draft", "approved", "rejected")
                else ("background", "surface"),
            )
            for state, (symbol, style) in STATE_STYLE.items()
        ]
        for symbol, style, backgrounds in placed:
            if variables[style.removeprefix("$")].startswith("auto"):
                continue
            colour = Color.parse(variables[style.removeprefix("$")])
            for background in backgrounds:
                ratio = _contrast(colour, Color.parse(variables[background]))
                assert ratio >= 3.0, f"{theme}: {symbol} {style} on ${background} is {ratio:.2f}:1"


async def test_the_highlighted_row_shows_its_icons_in_the_cursor_colours(tmp_path, fixture_session):
    session = fixture_session(tmp_path)
    async with ReviewApp(session).run_test(size=(80, 24)) as pilot:
        controls = pilot.app.screen.query_one(ControlList)

        def colours(control_id: str) -> set:
            """The foreground colours of the row's visible cells, as rendered."""
            index = controls.get_option_index(control_id)
            for y in range(controls.size.height):
                strip = controls.render_line(y)
                if any(seg.style is not None and seg.style.meta.get("option") == index for seg in strip):
                    return {seg.style.color for seg in strip if seg.text.strip() and seg.style is not None}
            raise AssertionError(f"{control_id} is not on screen")

        await _select(pilot, "IAM-01")
        await pilot.press("escape")  # the cursor is on IAM-01 (✗ fail) in the focused list
        assert len(colours("IAM-01")) == 1  # one colour: no red icon on the cursor's blue
        pilot.app.screen.query_one(Input).value = ""  # every control listed again, the cursor stays
        await pilot.pause()
        await pilot.press("down")  # off IAM-01: its icon has its own colour again
        assert controls.selected_control != "IAM-01" and len(colours("IAM-01")) > 1


@pytest.mark.slow
async def test_search_finds_narrative_text_and_findings(tmp_path, demo_session):
    session = demo_session(tmp_path)
    failing = next(f for f in session.review("IAM-01").control.findings if f.status == "fail")
    user = failing.resource.rsplit("/", 1)[-1]  # e.g. raj.patel: only in the findings
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        screen = pilot.app.screen
        await pilot.press("slash", *"mfa")
        await pilot.pause()
        assert "IAM-01" in _listed(screen)
        assert all("mfa" in search_text(session.review(control_id)) for control_id in _listed(screen))
        await pilot.press("ctrl+a", "ctrl+k", *user)
        await pilot.pause()
        assert "IAM-01" in _listed(screen)
        await pilot.press("ctrl+a", "ctrl+k", *"no MFA device")  # words of a finding's reason
        await pilot.pause()
        assert "IAM-01" in _listed(screen)
