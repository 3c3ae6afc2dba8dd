"""Typed messages between workers, widgets and screens.

Workers never touch widgets: they post these, and the screen that owns the widgets updates them.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from agent.report_schema import ControlResult, VerifierResult
from agent.review_log import ControlReview
from tui.chat import ChatAgent, ChatAnswer, OfflineChat
from tui.sources import CitationTarget


@dataclass
class ControlHighlighted(Message):
    """The cursor in the control list moved to a control."""

    control_id: str


@dataclass
class CitationChosen(Message):
    """The reviewer pressed enter (or clicked) on a citation in a narrative."""

    citation: str


@dataclass
class RegenerateProgress(Message):
    """One step of the agent regenerating a control (planning, a tool call, writing, verifying)."""

    control_id: str
    event: str


@dataclass
class RegenerateFinished(Message):
    control_id: str
    result: ControlResult
    feedback: str


@dataclass
class RegenerateFailed(Message):
    control_id: str
    error: str


@dataclass
class ChatReady(Message):
    """The chat (offline, or the LLM agent) is built and can take questions."""

    chat: OfflineChat | ChatAgent


@dataclass
class ChatToken(Message):
    """A piece of a streamed chat answer to question number `turn`."""

    turn: int
    text: str


@dataclass
class ChatAnswered(Message):
    turn: int
    question: str
    answer: ChatAnswer


@dataclass
class ChatFailed(Message):
    turn: int
    question: str
    error: str


@dataclass
class CitationResolved(Message):
    target: CitationTarget


@dataclass
class EditVerified(Message):
    control_id: str
    verifier: VerifierResult


@dataclass
class EditSaved(Message):
    """An edit was recorded (`review` is the new state) or refused (`error` says why)."""

    control_id: str
    review: ControlReview | None
    error: str | None


@dataclass
class EvidenceAttached(Message):
    """A file was stored in the locker as manual evidence for a control (`evidence_id`)."""

    control_id: str
    path: str
    evidence_id: str


@dataclass
class AttachFailed(Message):
    """A file could not be attached; `error` says why and names the file."""

    control_id: str
    path: str
    error: str
