"""Chat about the run: offline answers from retrieval, or a tool-calling LLM agent when one is configured.

Both read only. Neither can approve, reject or edit anything: the only action either can take is to
PROPOSE re-running controls, which the reviewer must confirm in the UI.

Offline, intents are detected by keywords, in this order: approval requests (refused), re-run
requests (a proposal), "which users lack MFA" (the run's MFA findings), "what evidence is missing
for X" (failing findings and manual evidence not yet attached), "what evidence supports CC7.2" (the
controls mapped to the criterion, their statuses and findings with evidence ids); anything else gets
retrieval results over the criteria store and the run's findings, each with its source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.citations import citation_ids
from agent.prompts import DATA_RULE, data_block
from agent.verifier import unsupported_claims
from tools.catalog import CHECKS, load_all
from tools.findings import Finding, Status
from tools.redact import redact

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from tui.session import ReviewSession


@dataclass(frozen=True)
class Source:
    citation: str  # "CC6.1", "ev:0a1b2c3d4e5f", "policy:...", "control:IAM-01"
    label: str


@dataclass(frozen=True)
class Proposal:
    """An action the chat suggests; nothing happens until the reviewer confirms it."""

    control_ids: tuple[str, ...]
    summary: str
    action: str = "rerun"


@dataclass(frozen=True)
class ChatAnswer:
    text: str  # Markdown
    sources: list[Source] = field(default_factory=list)
    proposal: Proposal | None = None


_WORD = re.compile(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*")
_APPROVE = re.compile(r"\b(approve|approval|sign[- ]?off|accept)\w*", re.I)
_RERUN = re.compile(r"\b(re-?run|regenerate|redo|re-?collect|refresh)\b", re.I)
_MFA = re.compile(r"\b(mfa|2fa|multi[- ]factor|two[- ]factor)\b", re.I)
_MISSING = re.compile(r"\b(missing|lack\w*|gaps?|need\w*|outstanding|without)\b", re.I)
_CRITERION = re.compile(r"\b((?:CC|PI|A|C|P)\d{1,2}(?:\.\d+)?)\b", re.I)
_SUPPORT = re.compile(r"\b(evidence\w*|support\w*|prov\w*|cover\w*|map\w*|controls?|findings?|status|meet\w*)\b", re.I)
# Findings listed per control in a criterion answer, most telling first; the count covers all.
FINDINGS_PER_CONTROL = 6
_FINDING_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.PASS: 2}
# Words that say what to do rather than which controls to do it to.
_STOPWORDS = frozenset(
    "a about again all an and any are can concerning control controls do does every for from have i in "
    "is it me my of on our please re regarding related relating rerun run runs redo regenerate refresh "
    "recollect collect that the them these this those to we what which with you".split()
)


def _stem(word: str) -> str:
    for suffix in ("ging", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _terms(text: str) -> list[str]:
    return [_stem(word) for word in _WORD.findall(text.lower())]


def _finding_line(finding: Finding, control_id: str) -> str:
    evidence = " ".join(f"[ev:{evidence_id}]" for evidence_id in finding.evidence_ids)
    return f"- **{finding.resource}** ({control_id}, `{finding.check}`): {finding.reason} {evidence}".rstrip()


def _sources_of(text: str) -> list[Source]:
    return [Source(citation, citation) for citation in citation_ids(text)]


def criterion_evidence(session: ReviewSession, criterion_id: str) -> dict[str, Any]:
    """What the run holds for one criterion: its readiness, and each control mapped to it with its status and
    findings (evidence ids included). The offline chat and the LLM agent's tool both answer from this."""
    criterion_id = criterion_id.strip().upper()
    readiness = next((c.status for c in session.report.criteria if c.id == criterion_id), None)
    controls = [review.control for review in session.reviews.values() if criterion_id in review.control.criteria]
    return {
        "criterion": criterion_id,
        "readiness": readiness,
        "controls": [
            {
                "id": control.id,
                "title": control.title,
                "status": control.status,
                "status_reason": control.status_reason,
                "supports_weakly": criterion_id in control.weak_criteria,
                "manual_evidence_needed": session.manual_evidence_needed(control.id),
                "findings": [
                    finding.model_dump(mode="json", include={"check", "status", "resource", "reason", "evidence_ids"})
                    for finding in sorted(control.findings, key=lambda f: _FINDING_ORDER.get(f.status, 3))
                ],
            }
            for control in controls
        ],
    }


class OfflineChat:
    """Deterministic answers from the run, the review log and the knowledge store."""

    def __init__(self, session: ReviewSession) -> None:
        self.session = session

    def answer(self, question: str) -> ChatAnswer:
        question = question.strip()
        if not question:
            return ChatAnswer("Ask about a control, a criterion, a finding or the evidence.")
        if _APPROVE.search(question):
            return ChatAnswer(
                "I can't approve or reject anything: only you can, with **a** (approve) or **x** (reject) "
                "on the review screen, and each decision is recorded under your name in the review log."
            )
        if _RERUN.search(question):
            return self._rerun(question)
        if _MFA.search(question):
            return self._mfa()
        if _MISSING.search(question):
            targets = self._controls_named(question)
            if targets:
                return self._missing(question, targets)
        criteria = [match.upper() for match in _CRITERION.findall(question) if "." in match]
        if criteria and _SUPPORT.search(question):
            return self._criteria(criteria)
        return self._retrieve(question)

    # --------------------------------------------------------------------------- intents

    def _controls_named(self, question: str) -> list[str]:
        """Controls a question names: by control id, by criterion or series id, else by topic words."""
        reviews = self.session.reviews
        upper = question.upper()
        named = [control_id for control_id in reviews if re.search(rf"\b{re.escape(control_id)}\b", upper)]
        if named:
            return named
        criteria = [match.upper() for match in _CRITERION.findall(question)]
        if criteria:
            return [
                control_id
                for control_id, review in reviews.items()
                if any(
                    criterion == wanted or (("." not in wanted) and criterion.split(".")[0] == wanted)
                    for criterion in review.control.criteria
                    for wanted in criteria
                )
            ]
        topic = {term for term in _terms(question) if term not in _STOPWORDS}
        if not topic:
            return []
        matched = []
        for control_id, review in reviews.items():
            control = review.control
            words = set(_terms(" ".join([control.id, control.title, *(f.check for f in control.findings)])))
            if topic & words:
                matched.append(control_id)
        return matched

    def _rerun(self, question: str) -> ChatAnswer:
        control_ids = self._controls_named(question)
        if not control_ids:
            return ChatAnswer(
                "No control in this run matches that. Name a control id (IAM-01), a criterion (CC7.2) or a topic."
            )
        listing = "\n".join(
            f"- {cid}: {self.session.reviews[cid].control.title} [control:{cid}]" for cid in control_ids
        )
        proposal = Proposal(tuple(control_ids), f"Re-run {len(control_ids)} control(s): {', '.join(control_ids)}")
        text = f"I can re-run these {len(control_ids)} control(s) once you confirm:\n\n{listing}"
        return ChatAnswer(text, [Source(f"control:{cid}", cid) for cid in control_ids], proposal)

    def _failing(self, predicate: Callable[[Finding], bool]) -> list[tuple[str, Finding]]:
        return [
            (review.id, finding)
            for review in self.session.reviews.values()
            for finding in review.control.findings
            if finding.status == Status.FAIL and predicate(finding)
        ]

    def _mfa(self) -> ChatAnswer:
        lacking = self._failing(lambda finding: bool(re.search(r"mfa|2fa", finding.check)))
        if not lacking:
            checked = any(
                re.search(r"mfa|2fa", finding.check)
                for review in self.session.reviews.values()
                for finding in review.control.findings
            )
            if checked:
                return ChatAnswer("Every user the MFA checks looked at has MFA in this run.")
            return ChatAnswer("This run has no MFA findings: no MFA check ran.")
        resources = sorted({finding.resource for _, finding in lacking})
        lines = "\n".join(_finding_line(finding, control_id) for control_id, finding in lacking)
        text = f"**{len(resources)} account(s) lack MFA** in this run's findings:\n\n{lines}"
        return ChatAnswer(text, _sources_of(text))

    def _missing(self, question: str, control_ids: list[str]) -> ChatAnswer:
        sections = []
        for control_id in control_ids:
            review = self.session.reviews[control_id]
            control = review.control
            lines = []
            for finding in control.findings:
                if finding.status in (Status.FAIL, Status.ERROR):
                    kind = "gap" if finding.status == Status.FAIL else "could not be judged"
                    lines.append(f"  - {kind}: " + _finding_line(finding, control_id).removeprefix("- "))
            for needed in self.session.manual_evidence_needed(control_id):
                lines.append(f"  - manual evidence not attached yet: {needed}")
            if lines:
                criteria = " ".join(f"[{criterion}]" for criterion in control.criteria)
                sections.append(
                    f"- **{control_id}** {control.title} ({control.status}) {criteria}\n" + "\n".join(lines)
                )
        if not sections:
            named = ", ".join(control_ids)
            return ChatAnswer(
                f"Nothing is missing for {named}: every check passed and no manual evidence is outstanding."
            )
        text = "Missing or failing evidence:\n\n" + "\n".join(sections)
        return ChatAnswer(text, _sources_of(text))

    def _criteria(self, criteria: list[str]) -> ChatAnswer:
        sections = []
        for criterion in dict.fromkeys(criteria):
            held = criterion_evidence(self.session, criterion)
            if not held["controls"]:
                sections.append(f"No control in this run is mapped to **{criterion}** [{criterion}].")
                continue
            readiness = f" (readiness: {held['readiness']})" if held["readiness"] else ""
            lines = [f"**{criterion}**{readiness} is supported by {len(held['controls'])} control(s) [{criterion}]:"]
            for control in held["controls"]:
                weakly = ", supports it weakly" if control["supports_weakly"] else ""
                why = f": {control['status_reason']}" if control["status_reason"] else ""
                lines.append(
                    f"- **{control['id']}** {control['title']} ({control['status']}{weakly}){why} "
                    f"[control:{control['id']}]"
                )
                findings = control["findings"]
                for found in findings[:FINDINGS_PER_CONTROL]:
                    evidence = " ".join(f"[ev:{evidence_id}]" for evidence_id in found["evidence_ids"])
                    lines.append(
                        f"  - {found['status']}: **{found['resource']}** (`{found['check']}`): {found['reason']} "
                        f"{evidence}".rstrip()
                    )
                if len(findings) > FINDINGS_PER_CONTROL:
                    lines.append(f"  - and {len(findings) - FINDINGS_PER_CONTROL} more finding(s)")
                if not findings:
                    lines.append("  - no automated finding")
                for needed in control["manual_evidence_needed"]:
                    lines.append(f"  - manual evidence not attached yet: {needed}")
            sections.append("\n".join(lines))
        text = "\n\n".join(sections)
        return ChatAnswer(text, _sources_of(text))

    def _retrieve(self, question: str) -> ChatAnswer:
        parts: list[str] = []
        sources: list[Source] = []
        chunks = self.session.sources.search(question, k=4)
        if chunks:
            parts.append("From the criteria and policies:")
            for chunk in chunks:
                snippet = " ".join(chunk.text.split())[:240]
                parts.append(f"- [{chunk.id}] {snippet}")
                sources.append(Source(chunk.id, chunk.id))
        findings = self._rank_findings(question, k=4)
        if findings:
            parts.append("\nFrom this run's findings:")
            for control_id, finding in findings:
                parts.append(_finding_line(finding, control_id))
                sources.extend(Source(f"ev:{evidence_id}", finding.resource) for evidence_id in finding.evidence_ids)
        if not parts:
            return ChatAnswer("I found nothing about that in the criteria, the policies or this run's findings.")
        unique = list({source.citation: source for source in sources}.values())
        return ChatAnswer("\n".join(parts), unique)

    def _rank_findings(self, question: str, k: int) -> list[tuple[str, Finding]]:
        pairs = [
            (review.id, finding) for review in self.session.reviews.values() for finding in review.control.findings
        ]
        query = [term for term in _terms(question) if term not in _STOPWORDS]
        if not pairs or not query:
            return []
        from rank_bm25 import BM25Okapi  # numpy: imported when first needed, not at start-up

        corpus = [_terms(f"{finding.check} {finding.resource} {finding.reason}") for _, finding in pairs]
        scores = BM25Okapi(corpus).get_scores(query)
        ranked = sorted(range(len(pairs)), key=lambda index: (-scores[index], index))
        return [pairs[index] for index in ranked[:k] if scores[index] > 0]


def chat_for(session: ReviewSession) -> OfflineChat | ChatAgent:
    """The LLM agent when the session has a chat model, else the offline chat."""
    return OfflineChat(session) if session.model is None else ChatAgent(session, session.model)


# ------------------------------------------------------------------------------- LLM agent

SYSTEM_PROMPT = (
    """You help a compliance lead review a SOC 2 readiness run for {company}.
Answer from the tools only: the Trust Services Criteria store, the run's controls and findings, and the
stored evidence. Cite every statement: criteria as [CC6.1], points of focus as [CC6.1/pof/3], evidence as
[ev:<id>], policies as [policy:<file>#<section>]. You are read-only. You cannot approve, reject or edit
anything: only the reviewer can. If re-running controls would help, call propose_rerun; the reviewer
decides whether to run it. Tool results come back as data blocks.
"""
    + DATA_RULE
)

MAX_TOOL_ROUNDS = 6
HISTORY_MESSAGES = 20


class ChatAgent:
    """A tool-calling chat over read-only tools; streams its answer through `on_token`."""

    def __init__(self, session: ReviewSession, model: BaseChatModel) -> None:
        self.session = session
        self.model = model
        self.history: list[Any] = []
        self._proposal: Proposal | None = None
        self.tools = self._build_tools()

    def _build_tools(self) -> list[Any]:
        from langchain_core.tools import StructuredTool

        session = self.session

        def search_criteria(query: str, k: int = 5) -> str:
            """Search the Trust Services Criteria, points of focus, controls and policies."""
            return json.dumps(
                [{"id": chunk.id, "text": chunk.text[:800]} for chunk in session.sources.search(query, k=k)]
            )

        def read_source(citation: str) -> str:
            """Read what a citation points to: an evidence item (ev:<id>), a criterion, or a policy section."""
            target = session.sources.resolve(citation)
            body = redact(target.body).data[:6000]  # redacted before it is cut: a cut secret no longer looks like one
            return json.dumps({"title": target.title, "facts": dict(target.facts), "body": body})

        def list_controls(status: str | None = None, review_state: str | None = None) -> str:
            # The docstring is the tool's description for the model; the backslash keeps it one line.
            """List the run's controls; filter by status \
(pass/fail/partial/error/not_applicable/awaiting_evidence/evidenced) or review state."""
            rows = [
                {
                    "id": r.id,
                    "title": r.control.title,
                    "status": r.control.status,
                    "review": r.state,
                    "criteria": r.control.criteria,
                }
                for r in session.reviews.values()
                if (status is None or r.control.status == status) and (review_state is None or r.state == review_state)
            ]
            return json.dumps(rows)

        def control_findings(control_id: str) -> str:
            """The findings of one control, with reasons and evidence ids, and its manual evidence needs."""
            review = session.reviews.get(control_id.upper())
            if review is None:
                return json.dumps({"error": f"{control_id} is not in this run"})
            return json.dumps(
                {
                    "findings": [finding.model_dump(mode="json") for finding in review.control.findings],
                    "manual_evidence_needed": session.manual_evidence_needed(review.id),
                    "narrative": review.control.narrative.text,
                }
            )

        def criterion_controls(criterion: str) -> str:
            """The controls mapped to one criterion (e.g. CC7.2): status, why, findings with evidence ids."""
            return json.dumps(criterion_evidence(session, criterion))

        def propose_rerun(control_ids: list[str], reason: str) -> str:
            """Propose re-running controls. Nothing runs until the reviewer confirms."""
            known = tuple(cid.upper() for cid in control_ids if cid.upper() in session.reviews)
            if not known:
                return json.dumps({"error": "none of those controls are in this run"})
            summary = f"Re-run {', '.join(known)}" + (f" ({reason.strip()})" if reason.strip() else "")
            self._proposal = Proposal(known, summary)
            return json.dumps({"proposed": list(known), "note": "the reviewer will be asked to confirm"})

        functions: Iterable[Callable[..., str]] = (
            search_criteria,
            read_source,
            list_controls,
            control_findings,
            criterion_controls,
            propose_rerun,
        )
        return [StructuredTool.from_function(function) for function in functions]

    def answer(self, question: str, on_token: Callable[[str], None]) -> ChatAnswer:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

        self._proposal = None
        tools_by_name = {tool.name: tool for tool in self.tools}
        bound = self.model.bind_tools(self.tools)
        system = SystemMessage(SYSTEM_PROMPT.format(company=self.session.report.company))
        messages: list[Any] = [system, *self.history, HumanMessage(question)]
        text = ""
        for _ in range(MAX_TOOL_ROUNDS):
            reply = None
            for chunk in bound.stream(messages):
                reply = chunk if reply is None else reply + chunk
                piece = _text_of(chunk.content)
                if piece:
                    on_token(piece)
            if reply is None:
                break
            messages.append(reply)
            text = _text_of(reply.content)
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                tool = tools_by_name.get(call["name"])
                if tool is None:
                    result = json.dumps({"error": f"no tool named {call['name']}; the chat is read-only"})
                else:
                    try:
                        result = tool.invoke(call["args"])
                    except Exception as exc:  # noqa: BLE001 - a tool error goes back to the model
                        result = json.dumps({"error": str(exc)})
                # A tool result goes to the model: a source file or policy may hold a secret, or instructions.
                fenced = data_block(call["name"], _records(redact(result).data))
                messages.append(ToolMessage(content=fenced, tool_call_id=call["id"]))
        # Keep whole turns only (question, final answer): a tool message without its call is invalid.
        self.history = [*self.history, HumanMessage(question), AIMessage(text)][-HISTORY_MESSAGES:]
        return ChatAnswer(text + self._doubts(text), _sources_of(text), self._proposal)

    def _doubts(self, text: str) -> str:
        """A warning under a model's answer that claims more than the run's findings support."""
        load_all()  # the check registry, for the titles a claim may quote
        findings = [finding for review in self.session.reviews.values() for finding in review.control.findings]
        doubts = unsupported_claims(text, findings, {check: spec.title for check, spec in CHECKS.items()})
        if not doubts:
            return ""
        listed = "\n".join(f"> - {doubt}" for doubt in doubts[:3])
        warning = "> **Model-written, not verified:** this answer claims more than the run's findings support."
        return f"\n\n{warning}\n{listed}"


def _records(result: str) -> list[Any]:
    """A tool's JSON answer as data-block records: a list item by item, anything else as one record."""
    try:
        parsed = json.loads(result)
    except ValueError:
        return [{"text": result}]
    return parsed if isinstance(parsed, list) else [parsed]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))
