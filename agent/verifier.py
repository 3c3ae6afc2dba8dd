"""The narrative verifier: a draft is accepted only if every statement in it can be traced.

Rules, each reported as a problem naming the sentence:

1. Every sentence carries at least one citation (syntax in agent/citations.py).
2. Every citation resolves: a chunk retrieved for this control, or an evidence item this control's
   run stored. Bracketed tokens that look like citations but break the syntax are reported too.
3. Every identifier and every number in a sentence is supported by what that sentence cites.
   - An identifier is a token (punctuation around it removed) that is in backticks, starts with
     `arn:`, mixes letters and digits (`sg-0a1b`, `user-00001`), or joins word characters with
     `/ _ @ :` or `.` (`acme-logs/prod`, `build_bot`, `ci.yml`). Plain hyphenated words
     (`multi-factor`) and number-plus-unit words (`90-day`) are not identifiers. It is supported
     when it occurs (case-insensitively) in a cited chunk's text, a cited evidence item's data,
     tool or parameters, or the check, resource, reason or facts of a finding resting on a cited
     evidence item.
   - A number is a run of digits outside identifiers (`1,200` and `60%` count as 1200 and 60;
     "SOC 2" is not a number). It is supported when it appears as a number in a cited chunk's text,
     in a finding's reason or facts, as a numeric value or a list length in cited evidence, or when
     it is a count derivable from the findings resting on the cited evidence: all of them, per
     status, per check, per check and status, distinct resources (also per status), distinct checks,
     cited evidence items, or the pass share as a whole percentage.
4. Failing findings are not described as passing:
   - a universal claim ("all ... have", "every ... is", "none of ... lack") is refused in a
     sentence that cites evidence on which a failed finding rests, unless it is negated ("not all")
     or normative ("must", "should", "requires");
   - a conclusive claim ("no exceptions", "fully compliant", "operating effectively", "without
     exception", "is compliant") is refused anywhere when any finding of the control failed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agent.citations import Sentence, evidence_id_of, malformed, sentences
from agent.report_schema import VerifierResult
from tools.findings import Finding, Status

MAX_PROBLEMS = 20  # a draft with more problems than this is hopeless; the list stays readable


@dataclass
class EvidenceFacts:
    """What one evidence item can support: its strings (lowercased, joined) and its numbers."""

    id: str
    tool: str
    text: str
    numbers: set[float] = field(default_factory=set)

    @classmethod
    def from_data(cls, evidence_id: str, tool: str, params: dict[str, Any], data: Any) -> "EvidenceFacts":
        strings: list[str] = [tool, json.dumps(params, sort_keys=True, default=str)]
        numbers: set[float] = set()
        _walk(data, strings, numbers)
        return cls(evidence_id, tool, "\n".join(strings).lower(), numbers)


def _walk(value: Any, strings: list[str], numbers: set[float]) -> None:
    # Iterative: evidence can be deep (policy documents) and large (log events).
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            numbers.add(float(len(item)))
            for key, child in item.items():
                strings.append(str(key))
                stack.append(child)
        elif isinstance(item, list):
            numbers.add(float(len(item)))
            stack.extend(item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int | float):
            numbers.add(float(item))
        else:
            text = str(item)
            strings.append(text)
            if _WHOLE_NUMBER.fullmatch(text.strip()):
                numbers.add(float(text.strip()))  # CSV-style values ("14") are numbers too


@dataclass
class VerificationContext:
    """Everything a narrative may cite for one control."""

    chunks: dict[str, str]  # citation id -> chunk text, as retrieved for this control
    evidence: dict[str, EvidenceFacts]  # evidence id -> facts
    findings: list[Finding]
    check_titles: dict[str, str] = field(default_factory=dict)  # the rule each finding applied

    def allowed(self) -> set[str]:
        return set(self.chunks) | {f"ev:{evidence_id}" for evidence_id in self.evidence}


def verify(text: str, context: VerificationContext) -> VerifierResult:
    parts = sentences(text)
    problems: list[str] = []
    allowed = context.allowed()
    any_failed = any(f.status == Status.FAIL for f in context.findings)
    if not parts:
        problems.append("the narrative is empty")
    for bad in malformed(text):
        problems.append(f"malformed citation {bad}: use [CC6.1], [CC6.1/pof/3], [ev:<12 hex>], [policy:<file>#<section>] or [control:<ID>]")
    cited = 0
    for number, sentence in enumerate(parts, start=1):
        label = f"sentence {number} ({_excerpt(sentence.plain)})"
        if sentence.citations:
            cited += 1
        else:
            problems.append(f"{label}: has no citation")
        unknown = [c for c in sentence.citations if c not in allowed]
        if unknown:
            problems.append(f"{label}: cites {', '.join(unknown)}, which was not retrieved or collected for this control")
        support = _support(sentence, context)
        for identifier in identifiers(sentence.plain):
            if identifier.lower() not in support.text:
                problems.append(f"{label}: identifier `{identifier}` does not appear in what the sentence cites")
        for value, written in numbers(sentence.plain):
            if value not in support.numbers:
                problems.append(f"{label}: the number {written} is not in the cited evidence, findings or criteria")
        claim = _contradicted_claim(sentence, context, any_failed)
        if claim:
            problems.append(f"{label}: claims \"{claim}\" although a cited finding failed")
    return VerifierResult(
        passed=not problems,
        problems=problems[:MAX_PROBLEMS],
        sentences=len(parts),
        cited_sentences=cited,
    )


def _excerpt(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return f'"{text[:width]}..."' if len(text) > width else f'"{text}"'


# -- support: what a sentence's citations back ------------------------------------------------


@dataclass
class _Support:
    text: str
    numbers: set[float]


def _support(sentence: Sentence, context: VerificationContext) -> _Support:
    texts: list[str] = []
    values: set[float] = set()
    cited_evidence = {evidence_id_of(c) for c in sentence.citations} - {None}
    for citation in sentence.citations:
        if citation in context.chunks:
            texts.append(f"{citation}\n{context.chunks[citation]}".lower())
            values.update(_numbers_in(context.chunks[citation]))
        evidence_id = evidence_id_of(citation)
        if evidence_id and evidence_id in context.evidence:
            texts.append(context.evidence[evidence_id].text)
            values.update(context.evidence[evidence_id].numbers)
    resting = [f for f in context.findings if cited_evidence & set(f.evidence_ids)]
    for finding in resting:
        facts = " ".join(f"{key} {value}" for key, value in finding.facts.items())
        title = context.check_titles.get(finding.check, "")
        texts.append(f"{finding.check}\n{title}\n{finding.resource}\n{finding.reason}\n{facts}".lower())
        values.update(_numbers_in(finding.reason))
        values.update(_numbers_in(facts))
        values.update(_numbers_in(title))
        values.update(float(v) for v in finding.facts.values() if isinstance(v, int | float) and not isinstance(v, bool))
    values.update(derivable_counts(resting, len(cited_evidence)))
    return _Support("\n".join(texts), values)


def derivable_counts(findings: list[Finding], evidence_items: int = 0) -> set[float]:
    """Counts a writer may state about a set of findings without further evidence."""
    counts: set[float] = {float(len(findings)), float(evidence_items)}
    by_status = Counter(f.status for f in findings)
    counts.update(float(n) for n in by_status.values())
    by_check = Counter(f.check for f in findings)
    counts.update(float(n) for n in by_check.values())
    counts.update(float(n) for n in Counter((f.check, f.status) for f in findings).values())
    counts.add(float(len(by_check)))
    counts.add(float(len({f.resource for f in findings})))
    for status in Status:
        counts.add(float(len({f.resource for f in findings if f.status == status})))
    judged = by_status[Status.PASS] + by_status[Status.FAIL]
    if judged:
        counts.add(float(round(100 * by_status[Status.PASS] / judged)))
    # Per check: findings judged (pass + fail); across checks: how many checks end in each outcome.
    counts.update(float(sum(1 for f in findings if f.check == check and f.status in (Status.PASS, Status.FAIL))) for check in by_check)
    outcomes = Counter(_check_outcome({f.status for f in findings if f.check == check}) for check in by_check)
    counts.update(float(n) for n in outcomes.values())
    counts.add(float(outcomes["pass"] + outcomes["not_applicable"]))
    return counts


def _check_outcome(statuses: set[Status]) -> str:
    if Status.FAIL in statuses:
        return "fail"
    if Status.ERROR in statuses:
        return "error"
    return "pass" if Status.PASS in statuses else "not_applicable"


# -- identifiers and numbers ----------------------------------------------------------------------

_BACKTICKED = re.compile(r"`([^`]+)`")
_STRIP = "()[]{}\"'“”‘’,;:!?*"
_UNIT_WORD = re.compile(r"^\d+(?:[.,]\d+)?-[a-z]+(?:-[a-z]+)*$", re.IGNORECASE)  # 90-day, 14-character
_NOT_IDENTIFIERS = {"e.g", "i.e", "e.g.", "i.e.", "soc2"}
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(%?)(?![\w])")
_WHOLE_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_SOC2 = re.compile(r"\bSOC\s?2\b|\bType (?:I{1,2}|1|2)\b", re.IGNORECASE)


def identifiers(plain: str) -> list[str]:
    """Identifiers in a sentence without its citations (see the module docstring)."""
    found = [span.strip() for span in _BACKTICKED.findall(plain) if span.strip()]
    rest = _BACKTICKED.sub(" ", plain)
    for raw in rest.split():
        token = raw.strip(_STRIP).rstrip(".")
        if token and _is_identifier(token):
            found.append(token)
    return list(dict.fromkeys(found))


def _is_identifier(token: str) -> bool:
    if token.lower() in _NOT_IDENTIFIERS or _UNIT_WORD.match(token):
        return False
    if token.lower().startswith("arn:"):
        return True
    if re.fullmatch(r"[\d.,%]+", token):
        return False  # a number, checked as a number
    if re.search(r"\d", token) and re.search(r"[A-Za-z]", token):
        return True
    return bool(re.search(r"\w[/_@:.]\w", token))


def numbers(plain: str) -> list[tuple[float, str]]:
    """Numbers written in a sentence, outside identifiers: (value, as written)."""
    rest = _SOC2.sub(" ", _BACKTICKED.sub(" ", plain))
    tokens = []
    for raw in rest.split():
        token = raw.strip(_STRIP).rstrip(".")
        if token and _is_identifier(token):
            continue
        tokens.append(token)
    result = []
    for token in tokens:
        for match in _NUMBER.finditer(token):
            result.append((float(match.group(1).replace(",", "")), match.group(0)))
    return result


def _numbers_in(text: str) -> set[float]:
    return {float(m.group(1).replace(",", "")) for m in _NUMBER.finditer(text)}


# -- positive claims ---------------------------------------------------------------------------------

_NORMATIVE = re.compile(r"\b(must|should|shall|requires?|required|expected|policy|standard|need|needs)\b", re.IGNORECASE)
_UNIVERSAL = re.compile(
    r"\b(all|every|each)\b(?! but\b)[^.;]*?\b(have|has|had|are|is|were|was|use|uses|enforce|enforces|enforced|meet|meets|complies|comply|pass|passes|passed|block|blocks|rotate|rotated|encrypt|encrypts|encrypted)\b"
    r"|\bnone of\b[^.;]*?\b(lack|lacks|fail|fails|failed|miss|missing)\b",
    re.IGNORECASE,
)
_CONCLUSIVE = re.compile(
    r"\bno (exceptions?|failures?|gaps?|issues?|deviations?)\b|\bwithout (any )?exceptions?\b|\bfully (compliant|effective|implemented|met)\b"
    r"|\boperat(es|ing|ed) effectively\b|\b(is|are|was|were) (in )?complian(t|ce)\b|\bno (remediation|action) (is )?(needed|required)\b",
    re.IGNORECASE,
)


_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")


def _contradicted_claim(sentence: Sentence, context: VerificationContext, any_failed: bool) -> str | None:
    # Quotations (a check's title, a point of focus) and findings' own reasons are not claims.
    plain = _QUOTED.sub(" ", sentence.plain)
    for finding in context.findings:
        reason = _first_clause(finding.reason)
        if reason:
            plain = re.sub(re.escape(reason), " ", plain, flags=re.IGNORECASE)
    conclusive = _first_unnegated(_CONCLUSIVE, plain)
    if conclusive and any_failed:
        return conclusive
    cited_evidence = {evidence_id_of(c) for c in sentence.citations} - {None}
    failed_here = any(f.status == Status.FAIL and cited_evidence & set(f.evidence_ids) for f in context.findings)
    if not failed_here or _NORMATIVE.search(plain):
        return None
    return _first_unnegated(_UNIVERSAL, plain)


def _first_unnegated(pattern: re.Pattern[str], text: str) -> str | None:
    """The first match not preceded by a negation ("not all", "is not fully compliant")."""
    for match in pattern.finditer(text):
        before = text[max(0, match.start() - 16) : match.start()].lower()
        if not re.search(r"\b(not|never|n't)\s+(\w+\s+)?$", before):
            return match.group(0)
    return None


def _first_clause(reason: str) -> str:
    return reason.strip().rstrip(".")


def context_from(
    chunks: dict[str, str],
    evidence: Iterable[EvidenceFacts],
    findings: Iterable[Finding],
    check_titles: dict[str, str] | None = None,
) -> VerificationContext:
    return VerificationContext(dict(chunks), {e.id: e for e in evidence}, list(findings), dict(check_titles or {}))
