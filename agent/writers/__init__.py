"""Narrative writers: the deterministic offline writer and the chat-model writer share one input."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.report_schema import ToolCallRecord
from agent.state import EvidenceSummary, RetrievedChunk
from knowledge.models import Control
from tools.findings import Finding, Status


@dataclass(frozen=True)
class DraftInput:
    """Everything a writer may use for one control; nothing else reaches the narrative."""

    company: str
    control: Control
    findings: list[Finding]
    evidence: list[EvidenceSummary]
    chunks: list[RetrievedChunk]
    check_titles: dict[str, str] = field(default_factory=dict)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    feedback: str | None = None

    def chunks_of(self, *collections_or_kinds: str) -> list[RetrievedChunk]:
        return [c for c in self.chunks if c["collection"] in collections_or_kinds or _kind(c["id"]) in collections_or_kinds]

    def title_of(self, check_id: str) -> str:
        return self.check_titles.get(check_id, check_id)


def _kind(chunk_id: str) -> str:
    if "/pof/" in chunk_id:
        return "point_of_focus"
    if chunk_id.startswith("control:"):
        return "control"
    if chunk_id.startswith("policy:"):
        return "policy"
    return "criterion"


@dataclass(frozen=True)
class CheckGroup:
    """The findings of one check, split by status."""

    check: str
    title: str
    passed: list[Finding]
    failed: list[Finding]
    errors: list[Finding]
    not_applicable: list[Finding]

    @property
    def judged(self) -> int:
        return len(self.passed) + len(self.failed)

    @property
    def evidence_ids(self) -> list[str]:
        ids: list[str] = []
        for finding in self.passed + self.failed + self.errors + self.not_applicable:
            ids.extend(finding.evidence_ids)
        return list(dict.fromkeys(ids))

    @property
    def outcome(self) -> str:
        if self.failed:
            return "fail"
        if self.errors:
            return "error"
        if self.passed:
            return "pass"
        return "not_applicable"


def group_by_check(findings: list[Finding], check_titles: dict[str, str], order: list[str] | None = None) -> list[CheckGroup]:
    """Findings grouped per check, in the given order of checks (the control's evidence list) first."""
    checks = list(dict.fromkeys([*(order or []), *(f.check for f in findings)]))
    groups = []
    for check_id in checks:
        mine = [f for f in findings if f.check == check_id]
        if not mine:
            continue
        groups.append(
            CheckGroup(
                check=check_id,
                title=check_titles.get(check_id, check_id),
                passed=[f for f in mine if f.status == Status.PASS],
                failed=[f for f in mine if f.status == Status.FAIL],
                errors=[f for f in mine if f.status == Status.ERROR],
                not_applicable=[f for f in mine if f.status == Status.NOT_APPLICABLE],
            )
        )
    return groups
