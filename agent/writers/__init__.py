"""Narrative writers: the deterministic offline writer and the chat-model writer share one input."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from agent.report_schema import Attachment, ToolCallRecord
from agent.review_log import quarter_of
from agent.state import EvidenceSummary, RetrievedChunk
from knowledge.citations import claimed_kind
from knowledge.models import Control, DesignStatement
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
    collected_at: dict[str, str] = field(default_factory=dict)  # evidence id -> when the locker stored it (ISO)
    as_of: date = field(default_factory=lambda: datetime.now(UTC).date())  # the run's day
    audit_period: tuple[date, date] | None = None  # [audit] period; None: the quarter of as_of is under review
    attachments: list[Attachment] = field(default_factory=list)  # the control's approved manual evidence

    @property
    def period(self) -> tuple[date, date]:
        """The period under review: the configured audit period, else the run's calendar quarter."""
        return self.audit_period or quarter_of(self.as_of)

    def attachments_in_period(self) -> list[Attachment]:
        """The approved attachments whose period overlaps the period under review."""
        start, end = self.period
        return [a for a in self.attachments if a.approved and a.period_start <= end and a.period_end >= start]

    def chunks_of(self, *collections_or_kinds: str) -> list[RetrievedChunk]:
        wanted = set(collections_or_kinds)
        return [c for c in self.chunks if c["collection"] in wanted or claimed_kind(c["id"]) in wanted]


@dataclass(frozen=True)
class CheckGroup:
    """The findings of one check, split by status."""

    check: str
    title: str
    passed: list[Finding]
    failed: list[Finding]
    errors: list[Finding]
    not_applicable: list[Finding]
    out_of_scope: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return self.passed + self.failed + self.errors + self.not_applicable + self.out_of_scope

    @property
    def judged(self) -> int:
        return len(self.passed) + len(self.failed)

    @property
    def evidence_ids(self) -> list[str]:
        ids: list[str] = []
        for finding in self.findings:
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


def group_by_check(
    findings: list[Finding], check_titles: dict[str, str], order: list[str] | None = None
) -> list[CheckGroup]:
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
                out_of_scope=[f for f in mine if f.status == Status.OUT_OF_SCOPE],
            )
        )
    return groups


# How each procedure reads in a narrative (knowledge/models.py TestProcedure).
PROCEDURES = {
    "inspection": "inspection of configuration",
    "reperformance": "reperformance of a query over the logs",
    "records": "inspection of records",
}


@dataclass(frozen=True)
class StatementResult:
    """One design statement and what this run found about it.

    outcome: "pass" (its checks judged items and none failed), "fail", "error" (a check could not judge),
    "not_applicable" (its checks judged nothing in scope), "not_run" (none of its checks produced a finding)
    or "provided" (the tool does not test it: a person must give `statement.provide`)."""

    statement: DesignStatement
    groups: list[CheckGroup]

    @property
    def findings(self) -> list[Finding]:
        return [f for g in self.groups for f in g.findings]

    @property
    def examined(self) -> int:
        return sum(g.judged for g in self.groups)

    @property
    def failed(self) -> list[Finding]:
        return [f for g in self.groups for f in g.failed]

    @property
    def outcome(self) -> str:
        if not self.statement.tested:
            return "provided"
        if not self.groups:
            return "not_run"
        outcomes = {g.outcome for g in self.groups}
        for outcome in ("fail", "error", "pass"):
            if outcome in outcomes:
                return outcome
        return "not_applicable"

    @property
    def evidence_ids(self) -> list[str]:
        return list(dict.fromkeys(e for g in self.groups for e in g.evidence_ids))


def statement_results(draft: DraftInput) -> list[StatementResult]:
    """The control's design statements in order, each with the findings of the checks that test it."""
    groups = {g.check: g for g in group_by_check(draft.findings, draft.check_titles)}
    return [StatementResult(s, [groups[c] for c in s.checks if c in groups]) for s in draft.control.statements]


def operated_as_designed(results: list[StatementResult]) -> bool:
    """Every design statement was tested by the tool in this run and passed: the only case for effectiveness
    language. A statement a person must evidence, a check that could not judge or did not apply: never."""
    return bool(results) and all(r.outcome == "pass" for r in results)


STALE_AFTER = timedelta(days=92)  # evidence whose newest record is older than a quarter says nothing of the period

# Findings about something that happened (an event, a merge, a commit): they cannot be fixed after the fact,
# only answered with an incident record or a management response. Log checks all read past events.
PAST_EVENT_CHECKS = ("logs.", "github.pr_approved_before_merge", "repo.secrets_in_history", "repo.signed_commits")


def day_of(iso: str) -> str:
    return iso[:10]


def is_past_event(finding: Finding) -> bool:
    return any(finding.check == c or (c.endswith(".") and finding.check.startswith(c)) for c in PAST_EVENT_CHECKS)


def event_days(finding: Finding) -> list[str]:
    """The days (YYYY-MM-DD) a finding's records speak of (log events, merges), read from its facts."""
    days = []
    for key in ("first", "last", "first_record", "last_record", "merged_at"):
        value = finding.facts.get(key)
        if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}", value):
            days.append(day_of(value))
    return days


def span(result: StatementResult) -> tuple[str, str] | None:
    """The first and last day the examined records speak of (log events, merges), read from the findings' facts."""
    days = [day for finding in result.findings for day in event_days(finding)]
    return (min(days), max(days)) if days else None


def before_period(draft: DraftInput, result: StatementResult) -> str | None:
    """The newest record's day when every record examined predates the configured audit period."""
    covered = span(result)
    if draft.audit_period is None or covered is None or covered[1] >= draft.audit_period[0].isoformat():
        return None
    return covered[1]


def stale(draft: DraftInput, result: StatementResult) -> tuple[str, str] | None:
    """(newest record's day, collection day) when the newest record is older than STALE_AFTER at collection."""
    covered = span(result)
    collected = [draft.collected_at[e] for e in result.evidence_ids if e in draft.collected_at]
    if covered is None or not collected:
        return None
    collected_on = day_of(max(collected))
    if date.fromisoformat(collected_on) - date.fromisoformat(covered[1]) <= STALE_AFTER:
        return None
    return covered[1], collected_on
