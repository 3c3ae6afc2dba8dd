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
   Identifiers match whole (`raj` does not match `raj.patel`); numbers written as words ("seventeen")
   are numbers too.
4. Failing findings are not described as passing:
   - a universal claim ("all ... have", "enabled for all", "every ... is", "none of ... lack", "no
     user lacks", "universally") is refused in a sentence that cites evidence on which a failed
     finding rests, or that cites no evidence at all, unless it is negated ("not all") or states a
     duty ("must", "should", "are required to");
   - a conclusive claim ("no exceptions", "fully compliant", "operating effectively", "operated as
     designed", "is effective", "is met", "without exception", "is compliant") is refused anywhere
     when any finding of the control failed;
   - a sentence that names a resource whose only findings failed must say so: it needs a word of
     failure or exception ("fails", "lacks", "without", "not", "missing", "exception", ...).
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
            if not _occurs_whole(identifier.lower(), support.text):
                problems.append(f"{label}: identifier `{identifier}` does not appear in what the sentence cites")
        for value, written in numbers(sentence.plain):
            if value not in support.numbers:
                problems.append(f"{label}: the number {written} is not in the cited evidence, findings or criteria")
        claim = _contradicted_claim(sentence, context, any_failed)
        if claim:
            problems.append(f"{label}: claims \"{claim}\" although a cited finding failed")
        silent = _failed_resource_named_as_passing(sentence, context)
        if silent:
            problems.append(f"{label}: names `{silent}`, whose check failed, without saying it failed")
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


_INITIALISM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]?\.?")  # S.A., U.S., N.V.: abbreviations, not identifiers


def _is_identifier(token: str) -> bool:
    if token.lower() in _NOT_IDENTIFIERS or _UNIT_WORD.match(token) or _INITIALISM.fullmatch(token):
        return False
    if token.lower().startswith("arn:"):
        return True
    if re.fullmatch(r"[\d.,%]+", token):
        return False  # a number, checked as a number
    if re.search(r"\d", token) and re.search(r"[A-Za-z]", token):
        return True
    return bool(re.search(r"\w[/_@:.]\w", token))


def _occurs_whole(needle: str, haystack: str) -> bool:
    """`needle` in `haystack` as a whole token: not inside a longer name (`raj` in `raj.patel`)."""
    return re.search(r"(?<![\w-])(?<!\w\.)" + re.escape(needle) + r"(?![\w-]|\.\w)", haystack) is not None


# Counts people write as words. "one" is left out: "one of", "no one", "at least one" say no count.
_NUMBER_WORDS = {
    word: value for value, word in enumerate(
        "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    ) if word != "_"
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
     "hundred": 100, "dozen": 12}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b(?!-)", re.IGNORECASE)  # not "two-factor"


def numbers(plain: str) -> list[tuple[float, str]]:
    """Numbers written in a sentence, outside identifiers: (value, as written)."""
    words = [(float(_NUMBER_WORDS[m.group(1).lower()]), m.group(1)) for m in _NUMBER_WORD.finditer(_BACKTICKED.sub(" ", plain))]
    return _digit_numbers(plain) + words


def _digit_numbers(plain: str) -> list[tuple[float, str]]:
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
    return {float(m.group(1).replace(",", "")) for m in _NUMBER.finditer(text)} | {
        float(_NUMBER_WORDS[m.group(1).lower()]) for m in _NUMBER_WORD.finditer(text)
    }


# -- positive claims ---------------------------------------------------------------------------------

# A duty, not a statement of fact: "all users must have MFA". "The policy requires" is no duty of the
# sentence's own, so it does not excuse "all users have MFA, as the policy requires".
_NORMATIVE = re.compile(r"\b(must|should|shall|(is|are) (required|expected|designed) to|needs? to|as designed|by design)\b",
                        re.IGNORECASE)
_UNIVERSAL = re.compile(
    r"\b(all|every|each)\b(?! but\b)[^.;]*?\b(have|has|had|are|is|were|was|use|uses|enforce|enforces|enforced|meet|meets|complies|comply|pass|passes|passed|block|blocks|rotate|rotated|encrypt|encrypts|encrypted)\b"
    r"|\b(is|are|was|were)\s+(\w+\s+){0,2}(for|on|across|in|by|to)\s+(all|every|each)\b"
    r"|\bnone of\b[^.;]*?\b(lack|lacks|fail|fails|failed|miss|missing)\b"
    r"|\b(no|zero|0)\s+(of\s+)?(the\s+)?(\d+\s+)?(\w+\s+){0,2}?(lacks?|fails?|failed|missing|without)\b"
    r"|\buniversally\b|\bwithout fail\b",
    re.IGNORECASE,
)
_CONCLUSIVE = re.compile(
    r"\bno (exceptions?|failures?|gaps?|issues?|deviations?)\b|\bwithout (any )?exceptions?\b|\bfully (compliant|effective|implemented|met)\b"
    r"|\boperat(es|ing|ed) (effectively|as designed|as intended)\b|\b(is|are|was|were) (in )?complian(t|ce)\b"
    r"|\bno (remediation|action) (is )?(needed|required)\b|\b(is|are|was|were) (effective|met|satisfied)\b",
    re.IGNORECASE,
)
# Words that say something failed or is an exception; a sentence naming a failed resource needs one.
_FAILURE_WORDS = re.compile(
    r"\b(fail\w*|lack\w*|without|not|no|none|missing|exception\w*|except|gaps?|open|opened|disabled|"
    r"non-?compliant|remediat\w*|unencrypted|unprotected|expired|stale|older|exceed\w*|over|never|denied|"
    r"public\w*|weak\w*|outstanding|absent|unsigned|unapproved|unreviewed|must|should)\b|n't\b",
    re.IGNORECASE,
)


_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")


def _contradicted_claim(sentence: Sentence, context: VerificationContext, any_failed: bool) -> str | None:
    # Quotations (a check's title, a point of focus) and findings' own reasons are not claims.
    plain = _without_quotes_and_reasons(sentence, context)
    conclusive = _first_unnegated(_CONCLUSIVE, plain)
    if conclusive and any_failed:
        return conclusive
    cited_evidence = {evidence_id_of(c) for c in sentence.citations} - {None}
    failed_here = any(f.status == Status.FAIL and cited_evidence & set(f.evidence_ids) for f in context.findings)
    # A claim about the whole control that cites no evidence at all is judged against every finding.
    if not (failed_here or (any_failed and not cited_evidence)) or _NORMATIVE.search(plain):
        return None
    return _first_unnegated(_UNIVERSAL, plain)


def _without_quotes_and_reasons(sentence: Sentence, context: VerificationContext) -> str:
    plain = sentence.plain
    # "“<title of a check that passed>” is met" speaks of that check, not of the control.
    failed_checks = {f.check for f in context.findings if f.status == Status.FAIL}
    for check, title in context.check_titles.items():
        if check not in failed_checks and title:
            plain = re.sub(rf"[“\"]{re.escape(title)}[”\"]\s+(is met|holds)\b", " ", plain, flags=re.IGNORECASE)
    plain = _QUOTED.sub(" ", plain)
    for finding in context.findings:
        reason = _first_clause(finding.reason)
        if reason:
            plain = re.sub(re.escape(reason), " ", plain, flags=re.IGNORECASE)
    return plain


def _failed_resource_named_as_passing(sentence: Sentence, context: VerificationContext) -> str | None:
    """A resource whose every finding in this control failed, named in a sentence that does not say so."""
    passed = {f.resource for f in context.findings if f.status != Status.FAIL}
    failed = {f.resource for f in context.findings if f.status == Status.FAIL} - passed
    if not failed:
        return None
    # Quotations are kept here: "raj.patel" quoted is still named. A finding's own reason, quoted whole,
    # carries its own words of failure.
    plain = sentence.plain
    if _FAILURE_WORDS.search(plain):
        return None
    lowered = plain.lower()
    for resource in sorted(failed):
        for name in {resource, re.split(r"[/:]", resource)[-1]}:
            # Only names that read as names: a name with digits or punctuation, the tail of a resource
            # path (`user/bob`), or one in backticks. "root" or "default" are words before resources.
            reads_as_name = (re.search(r"[\d\-_./@:]", name) or f"/{name}" in resource or f"`{name}`" in plain)
            if len(name) >= 3 and reads_as_name and _occurs_whole(name.lower(), lowered):
                return name
    return None


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
