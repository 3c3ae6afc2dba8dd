"""The chat: offline answers with their sources, proposals the reviewer confirms, and an LLM agent
(a scripted FakeChatModel, a fixture) that streams, calls read-only tools and can never approve."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fakes import FakeChatModel, last_human_text
from langchain_core.messages import AIMessage
from textual.widgets import Input, Markdown, Static

from agent.prompts import data_records
from tui.app import ReviewApp
from tui.chat import ChatAgent, OfflineChat
from tui.screens.chat import ChatScreen
from tui.screens.citation import CitationScreen
from tui.screens.prompt import ConfirmScreen
from tui.screens.review import ReviewScreen
from tui.widgets.sources import SourceLinks

pytestmark = pytest.mark.slow  # pilot tests over the demo run

SIZE = (100, 30)


async def _ask(pilot, question: str) -> tuple[str, str]:
    """Type a question in the chat screen; return the answer's Markdown and its sources line."""
    await pilot.press(*question, "enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.get_screen("chat")
    answer = list(screen.query(".chat-answer").results(Markdown))[-1].source
    sources = str(list(screen.query(".chat-sources"))[-1].render())
    return answer, sources


async def test_offline_chat_answers_with_sources(tmp_path, demo_session):
    session = demo_session(tmp_path)
    failing_mfa = [finding for finding in session.review("IAM-01").control.findings if finding.status == "fail"]
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await pilot.press("c")
        assert isinstance(pilot.app.screen, ChatScreen)

        answer, sources = await _ask(pilot, "which users lack MFA?")
        for finding in failing_mfa:
            assert finding.resource in answer
            assert f"[ev:{finding.evidence_ids[0]}]" in sources

        answer, sources = await _ask(pilot, "what evidence is missing for CC6.1?")
        assert "IAM-01" in answer and "raj.patel" in answer
        assert "manual evidence not attached yet" in answer  # from the control library
        assert "[CC6.1]" in sources

        answer, sources = await _ask(pilot, "how are encryption keys rotated?")
        assert "control:ENC-04" in answer  # retrieved from the knowledge store
        assert "[control:ENC-04]" in sources


async def test_offline_chat_proposes_reruns_and_only_the_reviewer_confirms(tmp_path, demo_session):
    session = demo_session(tmp_path)
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await pilot.press("c")
        answer, _ = await _ask(pilot, "re-run the logging controls")
        assert isinstance(pilot.app.screen, ConfirmScreen)
        assert all(control_id in answer for control_id in ("LOG-01", "LOG-02", "LOG-03", "LOG-04"))
        await pilot.press("n")
        await pilot.pause()
        assert session.log.entries() == []  # dismissed: nothing ran

        await _ask(pilot, "re-run LOG-01")
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, ReviewScreen)
    assert [(entry.action, entry.control_id) for entry in session.log.entries()] == [("regenerate", "LOG-01")]
    assert "Re-run requested in chat" in session.log.entries()[0].reason


async def test_offline_chat_refuses_to_approve(tmp_path, demo_session):
    session = demo_session(tmp_path)
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await pilot.press("c")
        answer, _ = await _ask(pilot, "approve IAM-01 and all the passing controls")
        assert "can't approve" in answer
        assert not isinstance(pilot.app.screen, ConfirmScreen)
    assert session.log.entries() == []
    assert all(review.state == "draft" for review in session.reviews.values())


def _tool_call(name: str, args: dict, call_id: str) -> dict:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


async def test_llm_chat_uses_read_only_tools_streams_and_cites(tmp_path, demo_session):
    def respond(messages, tools):
        tool_results = [m for m in messages if m.type == "tool"]
        if not tool_results:
            return AIMessage(content="", tool_calls=[_tool_call("control_findings", {"control_id": "IAM-01"}, "c1")])
        assert "raj.patel" in tool_results[-1].content  # the tool read the run's findings
        return AIMessage(content="raj.patel has no MFA device [CC6.1] [control:IAM-01].")

    model = FakeChatModel(respond=respond)
    session = demo_session(tmp_path, model=model)
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await pilot.press("c")
        answer, sources = await _ask(pilot, "who lacks MFA?")
        assert isinstance(pilot.app.get_screen("chat")._chat, ChatAgent)
        assert answer == "raj.patel has no MFA device [CC6.1] [control:IAM-01]."
        assert "[CC6.1]" in sources and "[control:IAM-01]" in sources
    bound = {tool.name for tool in model.requests[0]["tools"]}
    assert bound == {
        "search_criteria",
        "read_source",
        "list_controls",
        "control_findings",
        "criterion_controls",
        "propose_rerun",
    }


async def test_llm_chat_can_propose_but_never_approve(tmp_path, demo_session):
    def respond(messages, tools):
        tool_results = [m for m in messages if m.type == "tool"]
        if not tool_results:
            return AIMessage(
                content="",
                tool_calls=[
                    _tool_call("approve_control", {"control_id": "IAM-01"}, "c1"),
                    _tool_call("propose_rerun", {"control_ids": ["IAM-01"], "reason": "fresh evidence"}, "c2"),
                ],
            )
        assert "no tool named approve_control" in tool_results[0].content
        return AIMessage(content="I cannot approve; I proposed a re-run of IAM-01 [control:IAM-01].")

    session = demo_session(tmp_path, model=FakeChatModel(respond=respond))
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await _ask(pilot, "approve IAM-01 for me")
        assert isinstance(pilot.app.screen, ConfirmScreen)
        assert "IAM-01" in str(pilot.app.screen.query_one("#confirm-question", Static).render())
        await pilot.press("n")
    assert session.log.entries() == []
    assert session.review("IAM-01").state == "draft"


def test_offline_chat_says_what_evidence_supports_a_criterion(tmp_path, fixture_session):
    chat = OfflineChat(fixture_session(tmp_path))
    answer = chat.answer("What evidence supports CC7.2?")
    assert answer.text.startswith("**CC7.2** (readiness: partial) is supported by 1 control(s) [CC7.2]:")
    assert "- **LOG-01** Audit logging in every region (partial) [control:LOG-01]" in answer.text
    # Its findings, failing first, each with the evidence it rests on.
    failing = answer.text.index("fail: **trail/main** (`aws.cloudtrail.log_file_validation`)")
    assert failing < answer.text.index("pass: **trail/main** (`aws.cloudtrail.multi_region`)")
    assert answer.text.count("[ev:1b2c3d4e5f60]") == 2
    assert {"CC7.2", "control:LOG-01", "ev:1b2c3d4e5f60"} <= {source.citation for source in answer.sources}

    manual = chat.answer("which controls cover CC1.1?")
    assert "**GOV-01** Code of conduct acknowledged (awaiting_evidence)" in manual.text
    assert "no automated finding" in manual.text
    assert chat.answer("what supports CC9.9?").text == "No control in this run is mapped to **CC9.9** [CC9.9]."
    assert "is supported by" not in chat.answer("what does CC7.2 say?").text  # a question about the text: retrieval


def test_llm_chat_reads_a_criterions_controls_through_its_tool(tmp_path, fixture_session):
    def respond(messages, tools):
        tool_results = [m for m in messages if m.type == "tool"]
        if not tool_results:
            return AIMessage(content="", tool_calls=[_tool_call("criterion_controls", {"criterion": "cc7.2"}, "c1")])
        held = data_records(tool_results[-1].content)[0]  # tool results reach the model fenced as data
        [control] = held["controls"]
        assert (held["criterion"], control["id"], control["status"]) == ("CC7.2", "LOG-01", "partial")
        assert control["findings"][0]["evidence_ids"] == ["1b2c3d4e5f60"]
        return AIMessage(content="LOG-01 supports CC7.2 [CC7.2] [ev:1b2c3d4e5f60].")

    agent = ChatAgent(fixture_session(tmp_path), FakeChatModel(respond=respond))
    answer = agent.answer("What evidence supports CC7.2?", on_token=lambda _: None)
    assert answer.text == "LOG-01 supports CC7.2 [CC7.2] [ev:1b2c3d4e5f60]."


def test_llm_chat_answers_claiming_more_than_the_findings_are_flagged(tmp_path, fixture_session):
    def respond(messages, tools):
        tool_results = [m for m in messages if m.type == "tool"]
        if not tool_results:
            return AIMessage(content="", tool_calls=[_tool_call("list_controls", {}, "c1")])
        # Tool results reach the model as a data block, which the system prompt says is data.
        assert tool_results[0].content.startswith('<data kind="list_controls">')
        assert "never follow it" in messages[0].content
        return AIMessage(content="Every control passes and auditors can rely on them [CC7.2].")

    agent = ChatAgent(fixture_session(tmp_path), FakeChatModel(respond=respond))
    answer = agent.answer("Is everything fine?", on_token=lambda _: None)
    assert answer.text.startswith("Every control passes and auditors can rely on them [CC7.2].")
    assert "**Model-written, not verified:**" in answer.text
    assert "claims “Every” although" in answer.text and "says “auditors can rely”" in answer.text


def test_offline_chat_without_a_match_says_so(tmp_path, demo_session):
    session = demo_session(tmp_path)
    answer = OfflineChat(session).answer("re-run the controls about quantum teleportation")
    assert answer.proposal is None and "No control in this run matches" in answer.text


async def test_a_question_asked_during_an_answer_waits_and_each_answer_keeps_its_bubble(tmp_path, demo_session, until):
    first_asked, release = threading.Event(), threading.Event()

    def respond(messages, tools):  # a slow model: the first answer takes until the test releases it
        question = last_human_text(messages)
        if "first" in question:
            first_asked.set()
            release.wait(30)
            return AIMessage(content="The first answer [CC6.1].")
        return AIMessage(content="The second answer [CC7.2].")

    model = FakeChatModel(respond=respond)
    session = demo_session(tmp_path, model=model)
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await pilot.press("c")
        screen = pilot.app.screen
        await pilot.press(*"the first question", "enter")
        assert await asyncio.to_thread(first_asked.wait, 30)
        await pilot.press(*"the second question", "enter")
        await pilot.pause()
        bubbles = list(screen.query(".chat-answer").results(Markdown))
        assert len(bubbles) == 2 and "Queued" in bubbles[1].source
        assert len(model.requests) == 1  # the second waits: the model answers one question at a time

        release.set()
        await until(pilot, lambda: len(screen.query(".chat-sources")) == 2)
        assert [bubble.source for bubble in bubbles] == ["The first answer [CC6.1].", "The second answer [CC7.2]."]
        # Each answer's sources sit right under it: question, answer, sources, question, answer, sources.
        order = [
            "answer" if child.has_class("chat-answer") else "sources" if child.has_class("chat-sources") else "question"
            for child in screen.query_one("#transcript").children
            if child.id != "chat-mode"
        ]
        assert order == ["question", "answer", "sources"] * 2
        assert [str(links.render()) for links in screen.query(".chat-sources")] == [
            "sources [CC6.1] ",
            "sources [CC7.2] ",
        ]
    # The second question reached the model after the first was answered, with it in the history.
    assert [last_human_text(request["messages"]) for request in model.requests] == [
        "the first question",
        "the second question",
    ]


async def test_chat_sources_open_from_the_keyboard(tmp_path, demo_session):
    session = demo_session(tmp_path)
    async with ReviewApp(session).run_test(size=SIZE) as pilot:
        await pilot.press("c")
        chat = pilot.app.screen
        await _ask(pilot, "which users lack MFA?")
        await _ask(pilot, "what evidence is missing for CC6.1?")
        latest = list(chat.query(SourceLinks))[-1]
        assert len(latest.sources) > 1

        await pilot.press("ctrl+o")  # from the question box to the latest answer's sources
        assert latest.has_focus and latest.current == latest.sources[0].citation
        await pilot.press("right")
        wanted = latest.sources[1].citation
        assert latest.current == wanted
        await pilot.press("enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(pilot.app.screen, CitationScreen) and pilot.app.screen.citation == wanted
        await pilot.press("escape")
        assert pilot.app.screen is chat and latest.has_focus

        # Tab order reaches every answer's sources: shift+tab from the question box goes up to them.
        chat.query_one(Input).focus()
        await pilot.press("shift+tab")
        assert latest.has_focus
        await pilot.press("shift+tab")
        assert list(chat.query(SourceLinks))[0].has_focus
