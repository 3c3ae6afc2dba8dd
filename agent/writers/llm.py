"""The chat-model writer: a cited narrative from criteria chunks, findings and evidence summaries.

The prompt (agent/prompts.py) carries summaries only, capped in size, and every text from the
company's systems or documents inside data blocks (`data_block`). A repair resends the same
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
    WRITER_HASH,
    control_fields,
    data_block,
    repair_prompt,
    writer_prompt,
)
from agent.providers import ChatModel, answered_by, describe, token_usage
from agent.report_schema import WriterInfo
from agent.requests import control_requests
from agent.review_log import attachment_record
from agent.writers import (
    PROCEDURES,
    DraftInput,
    day_of,
    group_by_check,
    is_past_event,
    operated_as_designed,
    span,
    stale,
    statement_results,
)

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
        *repair_prompt().format_messages(problems="\n".join(f"- {p}" for p in problems)),
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
    return writer_prompt().format_messages(
        company=draft.company,
        **control_fields(draft.control),
        chunks=_chunks(draft),
        findings=_findings(draft),
        evidence=_evidence(draft),
        statements=_statements(draft),
        operated_as_designed=str(operated_as_designed(statement_results(draft))).lower(),
        manual=_manual(draft),
        feedback=f"\nReviewer feedback to address: {draft.feedback.strip()[:1000]}\n" if draft.feedback else "",
    )


def _chunks(draft: DraftInput) -> str:
    records = []
    for chunk in draft.chunks[:MAX_CHUNKS]:
        records.append({"cite": f"[{chunk['id']}]", "text": " ".join(chunk["text"].split())[:MAX_CHUNK_CHARS]})
    return data_block("chunks", records)


def _findings(draft: DraftInput) -> str:
    groups = group_by_check(draft.findings, draft.check_titles, [e.check for e in draft.control.evidence])
    if not groups:
        return "none (no automated evidence for this control)"
    records: list[dict[str, object]] = []
    for group in groups:
        by_status = {"pass": group.passed, "fail": group.failed, "error": group.errors}
        by_status["not_applicable"] = group.not_applicable
        counts = {status: len(found) for status, found in by_status.items() if found}
        records.append({"check": group.check, "title": group.title, **counts})
        shown = group.failed[:MAX_FAILING_PER_CHECK] + group.errors[:2]
        if not group.failed and not group.errors:
            shown = group.passed[:2]
        for finding in shown:
            records.append(
                {
                    "check": finding.check,
                    "status": finding.status.value,
                    "resource": finding.resource,
                    "reason": finding.reason,
                    "cite": [f"[ev:{e}]" for e in finding.evidence_ids],
                }
            )
        hidden = len(group.failed) - MAX_FAILING_PER_CHECK
        if hidden > 0:
            records.append({"check": group.check, "more_failing_not_shown": hidden})
    return data_block("findings", records)


def _evidence(draft: DraftInput) -> str:
    records = []
    for item in draft.evidence:
        summary = item["summary"][:MAX_EVIDENCE_SUMMARY_CHARS]
        records.append({"cite": f"[ev:{item['id']}]", "tool": item["tool"], "summary": summary})
    return data_block("evidence", records)


def _statements(draft: DraftInput) -> str:
    """The design statements as the offline writer reads them: tested or not, procedure, period, population."""
    # The current period and due date of the records to provide, as `auditor requests` lists them.
    approved_attachments = [a for a in draft.attachments if a.approved]
    current = control_requests(draft.control, approved_attachments, draft.as_of, audit_period=draft.audit_period)[-1]
    start, end = current.period_start, current.period_end
    records: list[dict[str, object]] = []
    approved = [{**attachment_record(a), "cite": f"[ev:{a.evidence_id}]"} for a in draft.attachments_in_period()]
    for result in statement_results(draft):
        statement = result.statement
        if not statement.tested:
            records.append(
                {
                    "statement": statement.text,
                    "tested_by_agent": False,
                    "provide": statement.provide,
                    "from": draft.control.owner_role,
                    "period": f"{start} to {end}",
                    "due": str(current.due),
                }
                # Only when there are some, so that prompts without attachments stay as recorded.
                | ({"approved_records": approved} if approved else {})
            )
            continue
        covered = span(result)
        collected = {day_of(draft.collected_at[e]) for e in result.evidence_ids if e in draft.collected_at}
        records.append(
            {
                "statement": statement.text,
                "tested_by_agent": True,
                "procedure": PROCEDURES[statement.procedure or "inspection"],
                "checks": statement.checks,
                "outcome": result.outcome,
                "examined": result.examined,
                "failed": len(result.failed),
                "collected_on": sorted(collected),
                "span": list(covered) if covered else None,
                "stale": stale(draft, result) is not None,
                "past_event": any(is_past_event(f) for f in result.failed),
                "cite": [f"[ev:{e}]" for e in result.evidence_ids],
            }
        )
    return data_block("statements", records)


def _manual(draft: DraftInput) -> str:
    if not draft.control.manual_evidence:
        return ""
    return (
        "\nManual evidence the owner must attach (not collected automatically): "
        f"{'; '.join(draft.control.manual_evidence)}\n"
    )
