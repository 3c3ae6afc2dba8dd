"""The chat-model writer: a cited narrative from criteria chunks, findings and evidence summaries.

The prompt (agent/prompts.py) carries summaries only, capped in size. A repair resends the same
conversation with the rejected draft and the verifier's complaints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.messages import AIMessage, BaseMessage

from agent.prompts import (
    MAX_CHUNK_CHARS,
    MAX_CHUNKS,
    MAX_EVIDENCE_SUMMARY_CHARS,
    MAX_FAILING_PER_CHECK,
    REPAIR_PROMPT,
    WRITER_HASH,
    WRITER_PROMPT,
)
from agent.providers import ChatModel, answered_by, describe, token_usage
from agent.report_schema import WriterInfo
from agent.writers import DraftInput, group_by_check

_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class ModelDraft:
    text: str
    writer: WriterInfo  # who actually answered (a fallback model may have)
    usage: dict[str, int]
    prompt_template_hash: str = WRITER_HASH


def write(model: ChatModel, draft: DraftInput) -> ModelDraft:
    return _ask(model, _messages(draft))


def repair(model: ChatModel, draft: DraftInput, rejected_text: str, problems: list[str]) -> ModelDraft:
    messages = [
        *_messages(draft),
        AIMessage(content=rejected_text),
        *REPAIR_PROMPT.format_messages(problems="\n".join(f"- {p}" for p in problems)),
    ]
    return _ask(model, messages)


def _ask(model: ChatModel, messages: list[BaseMessage]) -> ModelDraft:
    response = model.invoke(messages)
    if not isinstance(response, AIMessage):
        raise TypeError(f"the writer model returned {type(response).__name__}, not an AI message")
    text = _THINKING.sub("", response.text).strip()
    if not text:
        raise ValueError("the model returned an empty narrative")
    return ModelDraft(text=text, writer=answered_by(response, describe(model)), usage=token_usage(response))


def _messages(draft: DraftInput) -> list[BaseMessage]:
    control = draft.control
    return WRITER_PROMPT.format_messages(
        company=draft.company,
        control_id=control.id,
        title=control.title,
        kind=control.kind,
        frequency=control.frequency,
        owner_role=control.owner_role,
        description=control.description,
        chunks=_chunks(draft),
        findings=_findings(draft),
        evidence=_evidence(draft),
        manual=_manual(draft),
        feedback=f"\nReviewer feedback to address: {draft.feedback.strip()[:1000]}\n" if draft.feedback else "",
    )


def _chunks(draft: DraftInput) -> str:
    lines = []
    for chunk in draft.chunks[:MAX_CHUNKS]:
        text = " ".join(chunk["text"].split())
        lines.append(f"- [{chunk['id']}] {text[:MAX_CHUNK_CHARS]}")
    return "\n".join(lines) or "- none"


def _findings(draft: DraftInput) -> str:
    groups = group_by_check(draft.findings, draft.check_titles, [e.check for e in draft.control.evidence])
    if not groups:
        return "- none (no automated evidence for this control)"
    lines = []
    for group in groups:
        counts = ", ".join(
            f"{n} {label}"
            for n, label in ((len(group.passed), "pass"), (len(group.failed), "fail"), (len(group.errors), "error"), (len(group.not_applicable), "not applicable"))
            if n
        )
        lines.append(f"- \"{group.title}\" ({group.check}): {counts}")
        shown = group.failed[:MAX_FAILING_PER_CHECK] + group.errors[:2]
        if not group.failed and not group.errors:
            shown = group.passed[:2]
        for finding in shown:
            cites = " ".join(f"[ev:{e}]" for e in finding.evidence_ids)
            lines.append(f"  - {finding.status.value}: `{finding.resource}`: {finding.reason} {cites}".rstrip())
        hidden = len(group.failed) - MAX_FAILING_PER_CHECK
        if hidden > 0:
            lines.append(f"  - and {hidden} more failing")
    return "\n".join(lines)


def _evidence(draft: DraftInput) -> str:
    lines = [f"- [ev:{e['id']}] {e['tool']}: {e['summary'][:MAX_EVIDENCE_SUMMARY_CHARS]}" for e in draft.evidence]
    return "\n".join(lines) or "- none"


def _manual(draft: DraftInput) -> str:
    if not draft.control.manual_evidence:
        return ""
    return f"\nManual evidence the owner must attach (not collected automatically): {'; '.join(draft.control.manual_evidence)}\n"
