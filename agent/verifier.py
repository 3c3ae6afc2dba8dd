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
5-9. What a lying model writes (each rule a function in STRICT_RULES, described above them): no words
   to the reader; universal claims only over passing findings that judged what they speak of; reliance
   language only when `reliance_supported`; checks that could not be judged or did not apply said as
   such; quantities in words and keyed values as the evidence has them.
The text is read normalised first (NFKC, invisible characters dropped, look-alike letters read as Latin:
tools/injection.py), and a text that hides characters from its reader is refused.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from agent.citations import Sentence, malformed, sentences
from agent.report_schema import VerifierResult
from agent.requests import request_period_bounds
from knowledge.citations import evidence_id_of
from knowledge.models import DesignStatement
from knowledge.text import stems
from tools.findings import Finding, Status
from tools.injection import ASCII_CASE_TWINS, SuspectText, hidden_characters, instructions_in, normalise, scan

MAX_PROBLEMS = 20  # a draft with more problems than this is hopeless; the list stays readable


@dataclass
class EvidenceFacts:
    """What one evidence item can support: its strings (lowercased, joined) and its numbers.

    `counts` are the sizes of its lists and objects (how many of something it holds); `keyed` the numbers
    under each key, the key read as words (`MinimumPasswordLength` -> "minimum password length"). Read
    once per item and run, it also notes the strings that read as instructions (`suspect`)."""

    id: str
    tool: str
    text: str
    numbers: set[float] = field(default_factory=set)
    counts: set[float] = field(default_factory=set)
    keyed: dict[str, set[float]] = field(default_factory=dict)
    suspect: list[SuspectText] = field(default_factory=list)  # strings that read as instructions to a model

    @classmethod
    def from_data(
        cls, evidence_id: str, tool: str, params: dict[str, Any], data: Any, collected_at: str = ""
    ) -> EvidenceFacts:
        facts = cls(evidence_id, tool, "", suspect=scan(f"ev:{evidence_id}", data))
        # When the locker stored it: a narrative states the collection date of what it cites.
        strings: list[str] = [tool, json.dumps(params, sort_keys=True, default=str), f"collected_at {collected_at}"]
        facts._walk(data, strings)
        facts.text = "\n".join(strings).lower()
        return facts

    def _walk(self, value: Any, strings: list[str]) -> None:
        # Iterative: evidence can be deep (policy documents) and large (log events).
        stack: list[tuple[str, Any]] = [("", value)]
        while stack:
            key, item = stack.pop()
            if isinstance(item, dict):
                self.counts.add(float(len(item)))
                for child_key, child in item.items():
                    strings.append(str(child_key))
                    stack.append((str(child_key), child))
            elif isinstance(item, list):
                self.counts.add(float(len(item)))
                stack.extend((key, child) for child in item)
            elif isinstance(item, bool) or item is None:
                continue
            elif isinstance(item, int | float):
                self._number(key, float(item))
            else:
                text = str(item)
                strings.append(text)
                if _WHOLE_NUMBER.fullmatch(text.strip()):
                    self._number(key, float(text.strip()))  # CSV-style values ("14") are numbers too
        self.numbers |= self.counts

    def _number(self, key: str, value: float) -> None:
        self.numbers.add(value)
        if key:
            self.keyed.setdefault(key_words(key), set()).add(value)


_KEY_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[_\-.]+")


@functools.lru_cache(maxsize=8192)  # evidence repeats its keys in every row
def key_words(key: str) -> str:
    """A data key as words: `MinimumPasswordLength`, `minimum_password_length` -> "minimum password length"."""
    spaced = _KEY_WORD_BREAK.sub(" ", key)
    return " ".join(spaced.lower().split())


@dataclass
class VerificationContext:
    """Everything a narrative may cite for one control."""

    chunks: dict[str, str]  # citation id -> chunk text, as retrieved for this control
    evidence: dict[str, EvidenceFacts]  # evidence id -> facts
    findings: list[Finding]
    check_titles: dict[str, str] = field(default_factory=dict)  # the rule each finding applied
    statements: list[DesignStatement] = field(default_factory=list)  # the control's design (rule 10)
    as_of: date | None = None  # the run's day: the bounds of the periods a request made on it covers (rule 11)
    audit_period: tuple[date, date] | None = None  # [audit] period: its first and last day are such bounds too

    def allowed(self) -> set[str]:
        return set(self.chunks) | {f"ev:{evidence_id}" for evidence_id in self.evidence}

    @functools.cached_property
    def _derived(self) -> dict[tuple[Any, ...], Any]:
        """What the rules derived from this context (`_once_per_draft`); not a field, so no input of a verdict."""
        return {}


_Value = TypeVar("_Value")


def _once_per_draft(derive: Callable[..., _Value]) -> Callable[..., _Value]:
    """`derive(..., context)` computed once per draft for the same arguments (a sentence, its citations, or only the
    context): several rules read the same view of a sentence, and every sentence the same view of the context.
    Kept on the context, which `verify` copies for each draft, so none outlives its verdict."""

    @functools.wraps(derive)
    def once(*arguments: Any) -> _Value:
        *key, context = arguments
        derived = context._derived
        memo_key = (derive, *key)
        if memo_key not in derived:
            derived[memo_key] = derive(*arguments)
        return derived[memo_key]

    return once


def verification_digest(text: str, context: VerificationContext) -> str:
    """sha256 of everything a verdict depends on: the narrative, every field of its context, and the code (ours
    and Python's). Equal digests mean `verify` would say the same again, so a run may reuse its verdict."""
    inputs = {f.name: getattr(context, f.name) for f in fields(context)}
    payload = json.dumps([_code_fingerprint(), text, inputs], sort_keys=True, default=_as_json)
    return hashlib.sha256(payload.encode()).hexdigest()


def _as_json(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"verification_digest cannot read a {type(value).__name__}")  # fail closed: no reuse


@functools.cache
def _code_fingerprint() -> str:
    """The Python version and the source of every module of the project's layers the verdict can depend on."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(sys.version.encode())
    for source in sorted(path for layer in ("agent", "knowledge", "tools") for path in (root / layer).rglob("*.py")):
        digest.update(str(source.relative_to(root)).encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def verify(text: str, context: VerificationContext) -> VerifierResult:
    context = replace(context)  # a copy of its own: what the rules derive from it (`_once_per_draft`) is this draft's
    # Rules read the text as a person sees it: `Αll` with a Greek alpha is "All", a zero-width space nothing.
    hidden = hidden_characters(text)
    text = normalise(text)
    parts = sentences(text)
    problems: list[str] = []
    if hidden:
        problems.append(f"the narrative hides characters from its reader ({'; '.join(hidden[:3])}): write plain text")
    allowed = context.allowed()
    any_failed = any(f.status == Status.FAIL for f in context.findings)
    if not parts:
        problems.append("the narrative is empty")
    for bad in malformed(text):
        problems.append(
            f"malformed citation {bad}: use [CC6.1], [CC6.1/pof/3], [ev:<12 hex>], "
            "[policy:<file>#<section>] or [control:<ID>]"
        )
    cited = 0
    for number, sentence in enumerate(parts, start=1):
        label = f"sentence {number} ({_excerpt(sentence.plain)})"
        if sentence.citations:
            cited += 1
        else:
            problems.append(f"{label}: has no citation")
        unknown = [c for c in sentence.citations if c not in allowed]
        if unknown:
            problems.append(
                f"{label}: cites {', '.join(unknown)}, which was not retrieved or collected for this control"
            )
        support = _support(sentence.citations, context)
        own_words = without_quoted_statements(sentence.plain, context)
        for identifier in identifiers(own_words):
            if not _occurs_whole(identifier.lower(), support.text):
                problems.append(f"{label}: identifier `{identifier}` does not appear in what the sentence cites")
        for value, written in numbers(own_words):
            if value not in support.numbers:
                problems.append(f"{label}: the number {written} is not in the cited evidence, findings or criteria")
        claim = _contradicted_claim(sentence, context, any_failed)
        if claim:
            problems.append(f'{label}: claims "{claim}" although a cited finding failed')
        silent = _failed_resource_named_as_passing(sentence, context)
        if silent:
            problems.append(f"{label}: names `{silent}`, whose check failed, without saying it failed")
        problems += [f"{label}: {problem}" for rule in STRICT_RULES if (problem := rule(sentence, context))]
        problems += [f"{label}: {problem}" for rule in STATEMENT_RULES if (problem := rule(sentence, context))]
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


@dataclass(frozen=True)
class _Support:
    text: str
    numbers: set[float]


@_once_per_draft  # sentences citing the same sources share it
def _support(citations: tuple[str, ...], context: VerificationContext) -> _Support:
    texts: list[str] = []
    values: set[float] = set()
    cited_evidence = _cited_evidence(citations)
    for citation in citations:
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
        values.update(float(v) for v in finding.facts.values() if _is_number(v))
    values.update(derivable_counts(resting, len(cited_evidence)))
    return _Support("\n".join(texts), values)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
    resources_by_status: dict[Status, set[str]] = {status: set() for status in Status}
    for f in findings:
        resources_by_status[f.status].add(f.resource)
    counts.update(float(len(resources)) for resources in resources_by_status.values())
    judged = by_status[Status.PASS] + by_status[Status.FAIL]
    if judged:
        counts.add(float(round(100 * by_status[Status.PASS] / judged)))
    # Per check: findings judged (pass + fail); across checks: how many checks end in each outcome.
    judged_by_check = Counter(f.check for f in findings if f.status in (Status.PASS, Status.FAIL))
    counts.update(float(judged_by_check[check]) for check in by_check)
    outcomes = Counter(_check_outcome(statuses) for statuses in _statuses_by_check(findings).values())
    counts.update(float(n) for n in outcomes.values())
    counts.add(float(outcomes["pass"] + outcomes["not_applicable"]))
    return counts


def _statuses_by_check(findings: list[Finding]) -> dict[str, set[Status]]:
    """The statuses of each check's findings, checks in the order of their first finding."""
    statuses: dict[str, set[Status]] = {}
    for f in findings:
        statuses.setdefault(f.check, set()).add(f.status)
    return statuses


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
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")  # a date, checked as a date (rule 11), not as three numbers
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


_NUMERAL = re.compile(r"[\d.,%]+")
_DIGIT = re.compile(r"\d")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_JOINED_WORDS = re.compile(r"\w[/_@:.]\w")


@functools.lru_cache(maxsize=8192)  # both identifiers() and numbers() ask of every token
def _is_identifier(token: str) -> bool:
    if token.lower() in _NOT_IDENTIFIERS or _UNIT_WORD.match(token) or _INITIALISM.fullmatch(token):
        return False
    if token.lower().startswith("arn:"):
        return True
    if _NUMERAL.fullmatch(token):
        return False  # a number, checked as a number
    if _DIGIT.search(token) and _LATIN_LETTER.search(token):
        return True
    return bool(_JOINED_WORDS.search(token))


@functools.lru_cache(maxsize=4096)
def _pattern(source: str, flags: int = 0) -> re.Pattern[str]:
    """A pattern built from a run's data (an identifier, a reason, a key). re keeps only 512 compiled patterns, fewer
    than one run builds, so without this each was compiled again for every sentence."""
    return re.compile(source, flags)


def _occurs_whole(needle: str, haystack: str) -> bool:
    r"""`needle` in `haystack` as a whole token: not inside a longer name (`raj` in `raj.patel`).

    What `(?<![\w-])(?<!\w\.)<needle>(?![\w-]|\.\w)` finds, found with str.find: haystacks are whole evidence
    items, which a pattern opening with lookbehinds tries at every position, and each needle was compiled."""
    at = haystack.find(needle)
    while at != -1:
        end = at + len(needle)
        if not _continues_name(haystack, at - 1, at - 2) and not _continues_name(haystack, end, end + 1):
            return True
        at = haystack.find(needle, at + 1)
    return False


def _continues_name(text: str, next_to: int, beyond: int) -> bool:
    """Whether the character at `next_to` (if any) continues a name: a word character or `-`, or a `.` with a word
    character at `beyond` (`raj` in `raj.patel`, `patel` in `raj.patel`, but `raj` at the end of a sentence)."""
    if not 0 <= next_to < len(text):
        return False
    char = text[next_to]
    if char == "-" or _is_word_character(char):
        return True
    return char == "." and 0 <= beyond < len(text) and _is_word_character(text[beyond])


def _is_word_character(char: str) -> bool:
    return char.isalnum() or char == "_"  # what \w matches


# Counts people write as words. "one" is left out: "one of", "no one", "at least one" say no count.
_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
    if word != "_"
} | {
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "dozen": 12,
}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b(?!-)", re.IGNORECASE)  # not "two-factor"


def numbers(plain: str) -> list[tuple[float, str]]:
    """Numbers written in a sentence, outside identifiers: (value, as written)."""
    words = [
        (float(_NUMBER_WORDS[m.group(1).lower()]), m.group(1))
        for m in _NUMBER_WORD.finditer(_BACKTICKED.sub(" ", plain))
    ]
    return _digit_numbers(plain) + words


def _digit_numbers(plain: str) -> list[tuple[float, str]]:
    rest = _SOC2.sub(" ", _BACKTICKED.sub(" ", plain))
    tokens = []
    for raw in rest.split():
        if not _DIGIT.search(raw):
            continue  # no number in it (and most words are not)
        token = raw.strip(_STRIP).rstrip(".")
        if token and (_is_identifier(token) or _ISO_DATE.fullmatch(token)):
            continue  # a date is checked as a date (rule 11)
        tokens.append(token)
    result = []
    for token in tokens:
        for match in _NUMBER.finditer(token):
            result.append((float(match.group(1).replace(",", "")), match.group(0)))
    return result


@functools.lru_cache(maxsize=4096)  # criteria and reasons recur across sentences and drafts
def _numbers_in(text: str) -> frozenset[float]:
    return frozenset(
        {float(m.group(1).replace(",", "")) for m in _NUMBER.finditer(text)}
        | {float(_NUMBER_WORDS[m.group(1).lower()]) for m in _NUMBER_WORD.finditer(text)}
    )


# -- positive claims ---------------------------------------------------------------------------------

# A duty, not a statement of fact: "all users must have MFA". "The policy requires" is no duty of the
# sentence's own, so it does not excuse "all users have MFA, as the policy requires".
_NORMATIVE = re.compile(
    r"\b(must|should|shall|(is|are) (required|expected|designed) to|needs? to|as designed|by design)\b", re.IGNORECASE
)
_UNIVERSAL = re.compile(
    r"\b(all|every|each)\b(?! but\b)[^.;]*?"
    r"\b(have|has|had|are|is|were|was|use|uses|enforce|enforces|enforced|meet|meets|complies|comply"
    r"|pass|passes|passed|block|blocks|rotate|rotated|encrypt|encrypts|encrypted)\b"
    r"|\b(is|are|was|were)\s+(\w+\s+){0,2}(for|on|across|in|by|to)\s+(all|every|each)\b"
    r"|\bnone of\b[^.;]*?\b(lack|lacks|fail|fails|failed|miss|missing)\b"
    r"|\b(no|zero|0)\s+(of\s+)?(the\s+)?(\d+\s+)?(\w+\s+){0,2}?(lacks?|fails?|failed|missing|without)\b"
    r"|\buniversally\b|\bwithout fail\b",
    re.IGNORECASE,
)
_CONCLUSIVE = re.compile(
    r"\bno (exceptions?|failures?|gaps?|issues?|deviations?)\b|\bwithout (any )?exceptions?\b"
    r"|\bfully (compliant|effective|implemented|met)\b"
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
    conclusive = _first_unnegated(_CONCLUSIVE, plain) if any_failed else None
    if conclusive:
        return conclusive
    cited_evidence = _cited_evidence(sentence.citations)
    failed_here = bool(cited_evidence & _evidence_of_failed_findings(context))
    # A claim about the whole control that cites no evidence at all is judged against every finding.
    if not (failed_here or (any_failed and not cited_evidence)) or _NORMATIVE.search(plain):
        return None
    return _first_unnegated(_UNIVERSAL, plain)


@_once_per_draft
def _without_quotes_and_reasons(sentence: Sentence, context: VerificationContext) -> str:
    passing_titles, reasons = _quotes_and_reasons(context)
    plain = sentence.plain
    # "“<title of a check that passed>” is met" speaks of that check, not of the control.
    for title in passing_titles:
        if _may_hold(plain, title):
            plain = _pattern(rf"[“\"]{re.escape(title)}[”\"]\s+(is met|holds)\b", re.IGNORECASE).sub(" ", plain)
    plain = _QUOTED.sub(" ", plain)
    for reason in reasons:
        if _may_hold(plain, reason):
            plain = _pattern(re.escape(reason), re.IGNORECASE).sub(" ", plain)
    return plain


@_once_per_draft
def _quotes_and_reasons(context: VerificationContext) -> tuple[list[str], list[str]]:
    """What `_without_quotes_and_reasons` blanks, in order: the titles of the checks that did not fail, then each
    finding's reason."""
    failed_checks = {f.check for f in context.findings if f.status == Status.FAIL}
    passing_titles = [title for check, title in context.check_titles.items() if check not in failed_checks and title]
    return passing_titles, [reason for f in context.findings if (reason := _first_clause(f.reason))]


def _may_hold(text: str, literal: str) -> bool:
    """False only when `text` cannot hold `literal` as IGNORECASE reads it: then a pattern holding the literal need
    not be compiled or run (compiling one per finding's reason cost more than all the rest of its use). An ASCII
    literal is looked for in the text lowercased as IGNORECASE reads it, the letters outside ASCII that it matches
    to ASCII ones (İ, ı, ſ, the Kelvin sign) read as those; any other literal may be there."""
    return not literal.isascii() or literal.lower() in text.translate(ASCII_CASE_TWINS).lower()


def _cited_evidence(citations: tuple[str, ...]) -> set[str]:
    return {evidence_id for c in citations if (evidence_id := evidence_id_of(c)) is not None}


@_once_per_draft
def _evidence_of_failed_findings(context: VerificationContext) -> set[str]:
    return {evidence_id for f in context.findings if f.status == Status.FAIL for evidence_id in f.evidence_ids}


_RESOURCE_PATH_BREAK = re.compile(r"[/:]")
_NAME_MARK = re.compile(r"[\d\-_./@:]")


def _failed_resource_named_as_passing(sentence: Sentence, context: VerificationContext) -> str | None:
    """A resource whose every finding in this control failed, named in a sentence that does not say so."""
    failed = _only_failed_resources(context)
    if not failed:
        return None
    # Quotations are kept here: "raj.patel" quoted is still named. A finding's own reason, quoted whole,
    # carries its own words of failure.
    plain = sentence.plain
    if _FAILURE_WORDS.search(plain):
        return None
    lowered = plain.lower()
    for resource in failed:
        for name in {resource, _RESOURCE_PATH_BREAK.split(resource)[-1]}:
            # Only names that read as names: a name with digits or punctuation, the tail of a resource
            # path (`user/bob`), or one in backticks. "root" or "default" are words before resources.
            reads_as_name = _NAME_MARK.search(name) or f"/{name}" in resource or f"`{name}`" in plain
            if len(name) >= 3 and reads_as_name and _occurs_whole(name.lower(), lowered):
                return name
    return None


@_once_per_draft
def _only_failed_resources(context: VerificationContext) -> list[str]:
    """The resources whose every finding in this control failed, sorted."""
    passed = {f.resource for f in context.findings if f.status != Status.FAIL}
    return sorted({f.resource for f in context.findings if f.status == Status.FAIL} - passed)


_NEGATION_BEFORE = re.compile(r"\b(not|never|n't)\s+(\w+\s+)?$")


def _first_unnegated(pattern: re.Pattern[str], text: str) -> str | None:
    """The first match not preceded by a negation ("not all", "is not fully compliant")."""
    for match in pattern.finditer(text):
        before = text[max(0, match.start() - 16) : match.start()].lower()
        if not _NEGATION_BEFORE.search(before):
            return match.group(0)
    return None


def _first_clause(reason: str) -> str:
    return reason.strip().rstrip(".")


# -- rules 5-9: what a lying model writes -----------------------------------------------------------
#
# Each rule reads one sentence (already normalised by `verify`) and returns its problem, or None. They
# are separate functions so that each can be tightened on its own; STRICT_RULES runs them in order.
#
# 5. A sentence never speaks to its reader: no instructions to a model, no note to the reviewer, no "you".
# 6. A universal claim ("all", "every", "no ...", "not a single", "none", "zero exceptions", "never",
#    "locked down", "not reachable", "fully ...") needs every finding it rests on to have passed (findings
#    that did not apply or are out of scope only when the claim says "checked" or "in scope"), at least
#    one pass, and a check that judged
#    what it speaks of: each content word of the claim occurs in those checks' titles, the findings'
#    reasons, resources or facts, or the cited evidence's tool. It rests on the findings of the evidence
#    it cites (of the check it quotes, else of the checks its words name best), or on every finding of the
#    control when it cites no evidence. A duty ("must", "should") is no claim; neither is a clause copied
#    from a cited control's own text (its design, or its title). "All 3 checks found exceptions" is a
#    claim of failure, not of assurance: rule 4 judges it.
# 7. Reliance and effectiveness language ("auditors can rely on it", "working as intended", "passed
#    testing", "is effective", "fully compliant") needs `reliance_supported`: every design statement
#    tested by a check of this run, and every finding passed.
# 8. A sentence about a check that could not be judged or did not apply (its words cover most of the
#    check's title, or it quotes it) must say so.
# 9. Quantities must match: written in words ("over a million objects", "thousands of") they need a
#    count or a value that fits; a number next to the words of an evidence key ("the minimum password
#    length is 14") must be that key's value in the cited evidence or findings, unless the sentence
#    states a requirement.


def reliance_supported(findings: list[Finding], statements: list[DesignStatement] | None = None) -> str | None:
    """None when the control's results support reliance language, else why not.

    Every design statement is tested by a check of this run, at least one finding of each statement's
    checks passed, and every finding passed: none failed, could not be judged or did not apply (out-of-scope
    resources are outside the population). Statements are None where the design is not known (a chat
    answer): the findings alone decide."""
    judged = [f for f in findings if f.status != Status.OUT_OF_SCOPE]
    if not judged:
        return "no check judged this control"
    short = Counter(f.status for f in judged if f.status != Status.PASS)
    if short:
        counted = ", ".join(f"{n} {status.value.replace('_', ' ')}" for status, n in short.items())
        return f"not every finding passed ({counted})"
    for statement in statements or []:
        if not statement.tested:
            return f"the design statement “{statement.text.rstrip('.')}” is tested by no check"
        if not any(f.check in statement.checks for f in judged):
            return f"no check judged the design statement “{statement.text.rstrip('.')}” in this run"
    return None


_STRONG_NEGATION_BEFORE = re.compile(r"\b(?:not|never|no|n't|cannot|without)\s+(?:\w+\s+)?$")


def _negated(text: str, start: int) -> bool:
    before = text[max(0, start - 24) : start].lower()
    return _STRONG_NEGATION_BEFORE.search(before) is not None


def _first_claim(pattern: re.Pattern[str], text: str) -> str | None:
    for match in pattern.finditer(text):
        if not _negated(text, match.start()):
            return " ".join(match.group(0).split())
    return None


# 5 ----------------------------------------------------------------------------------------------------

_ADDRESSED = re.compile(
    r"\byou(?:rs?|rself)?\b|\b(?:dear|hi|hello)\s+(?:reviewers?|auditors?|approvers?)\b|\b(?:reviewers?|auditors?|approvers?)\s*:"
    r"|\balready\s+(?:been\s+)?(?:approved|reviewed|signed\s+off|verified)\b"
    r"|\bapprove\s+(?:this|it|the\s+(?:control|narrative|draft))\b"
    r"|\bno\s+(?:further\s+)?(?:review|verification|checking)\s+(?:is\s+)?(?:needed|required|necessary)\b"
    r"|\b(?:do\s+not|don't|no\s+need\s+to)\s+(?:review|verify|check|flag|reject|escalate)\b"
    r"|\bskip\s+(?:the\s+)?(?:review|verification)\b",
    re.IGNORECASE,
)


def _addressed_to_the_reader(sentence: Sentence, context: VerificationContext) -> str | None:
    # Names in backticks, quotations and findings' reasons come from evidence: rule 3 judges those.
    plain = _BACKTICKED.sub(" ", _without_quotes_and_reasons(sentence, context))
    said = instructions_in(plain) + [m.group(0) for m in _ADDRESSED.finditer(plain)]
    if not said:
        return None
    return f"speaks to its reader (“{said[0]}”): a narrative describes the control, never addresses a reviewer or model"


# 6 ----------------------------------------------------------------------------------------------------

_FREQUENCY = re.compile(
    r"\b(?:every|each)\s+(?:\d+\s+|other\s+|single\s+)?(?:business\s+|calendar\s+|working\s+)?"
    r"(?:days?|weeks?|months?|quarters?|years?|hours?|minutes?|nights?|sprints?|releases?|time)\b",
    re.IGNORECASE,
)
_UNIVERSAL_CLAIM = re.compile(
    r"\b(?:all|every|everyone|everybody|everything|everywhere|always|universally)\b|\beach(?=\s+\w)|\bacross\s+the\s+board\b"
    r"|\b100\s?%|\b(?:fully|completely|totally|entirely)\s+\w+"
    r"|\block(?:ed|s)?\s+down\b|\bnot\s+(?:publicly\s+|externally\s+)?(?:reachable|exposed|accessible)\b"
    r"|\b(?:unreachable|inaccessible|airtight)\b",
    re.IGNORECASE,
)
# "No user lacks MFA", "not a single ...", "zero exceptions": negative universals, claims even with a word of failure.
_NEGATIVE_UNIVERSAL = re.compile(
    r"^\W*(?:no|zero)\s+\w+|\b(?:none|nobody|nothing|never)\b|\bno\s+one\b|\bnot\s+(?:a\s+single|one|once)\b"
    r"|\bthere\s+(?:is|are|was|were|has\s+been|have\s+been)\s+(?:no|zero)\b|\bzero\s+\w+|\bwithout\s+(?:any\s+)?exceptions?\b"
    r"|\bno\s+(?:exceptions?|failures?|gaps?|issues?|deviations?|violations?|problems?|findings?\s+of\s+failure)\b",
    re.IGNORECASE,
)
_FAILURE_SAID = re.compile(
    r"\b(?:fail\w*|exceptions?|lack\w*|missing|gaps?|errors?|errored|non-?compliant|violat\w*|unencrypted|unapproved|"
    r"unprotected|unsigned|disabled|stale|expired|absent|could\s+not|cannot|can't|not\s+applicable|(?:does|did)\s+not\s+apply)\b",
    re.IGNORECASE,
)
# "each of the 3 users checked", "every bucket in scope": a claim about what was judged, not the whole population.
_SCOPED = re.compile(
    r"\b(?:checked|judged|assessed|tested|examined|evaluated|reviewed|in\s+scope|it\s+applies\s+to)\b", re.IGNORECASE
)
_DUTY = re.compile(
    r"\b(?:must|should|shall|(?:is|are)\s+(?:required|expected)\s+to|needs?\s+to|ha(?:s|ve)\s+to)\b", re.IGNORECASE
)
# "... must keep: acknowledgements for all staff": what follows the colon is what the duty covers.
_LIST_OF_DUTIES = re.compile(r"\b(?:must|should|shall)\b[^:;.]*:.*$", re.IGNORECASE)
# "The agent read the files in each local repository": what was collected, said of the agent, not the company.
_WHAT_THE_AGENT_READ = re.compile(
    r"\b(?:the\s+agent|this\s+run|it)\s+(?:also\s+)?(?:read|collected|queried|listed|fetched|retrieved)\b",
    re.IGNORECASE,
)
_STATE_VERB = re.compile(
    r"\b(?:is|are|was|were|been|has|have|had|uses?|used|pass(?:es|ed)?|enforce[sd]?|blocks?|blocked|meets?|met|compl(?:y|ies)|"
    r"rotate[sd]?|encrypt(?:s|ed)?|requires?|required|lacks?|holds?|shows?|stays?|remains?)\b",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"[;,()\u2014\u2013]|\s-\s|\b(?:and|but|while|whereas|although|though|yet|so)\b", re.IGNORECASE)
# Words of any narrative about checks: a claim made of these alone has nothing a check must have judged.
_GENERIC = frozenset(
    stems(
        """each every everyone everybody everything everywhere always universally across board none nobody nothing
        never ever fully completely totally entirely single zero one both whole check checks checked pass passes passed
        passing run runs evidence finding findings control controls result results during period time found find shows
        showed shown confirmed confirms verified reviewed agent test tested testing hold holds held apply applies met
        exception exceptions issue issues gap gaps failure failures deviation deviations problem problems case cases
        scope company locked down reachable exposed accessible unreachable inaccessible airtight there automated
        automatically criteria criterion lack lacks lacking missing without fail fails failed failing were was been
        being had does did"""
    )
)


def _unsupported_universal(sentence: Sentence, context: VerificationContext) -> str | None:
    text = _LIST_OF_DUTIES.sub(" ", _FREQUENCY.sub(" ", _own_words(sentence, context)))
    listing_reads = False
    for clause in _CLAUSE.split(text):
        # After "the agent read", clauses without a verb of their own continue the list of what it read.
        listing_reads = bool(_WHAT_THE_AGENT_READ.search(clause)) or (listing_reads and not _STATE_VERB.search(clause))
        if not clause or listing_reads or _DUTY.search(clause):
            continue
        negative = _first_claim(_NEGATIVE_UNIVERSAL, clause)
        positive = None if negative else _first_claim(_UNIVERSAL_CLAIM, clause)
        if negative:
            claim = negative
        elif positive and not _first_claim(_FAILURE_SAID, clause):
            claim = positive
        else:
            continue
        problem = _universal_problem(claim, clause, sentence, context)
        if problem:
            return problem
    return None


@_once_per_draft
def _own_words(sentence: Sentence, context: VerificationContext) -> str:
    """The sentence without quotations, findings' reasons, and what it copies from a cited control.

    A control chunk reads "<title>. <description>". Its title after its id ("IAM-02, root account locked
    down") names the control; its description copied in a sentence that says it is the design ("As
    designed, every person who can sign in ... uses MFA") says what the control is meant to do. Neither
    is a claim about what the evidence shows."""
    plain = _without_quotes_and_reasons(sentence, context)
    design_said = _DESIGN_SAID.search(plain) is not None
    for citation in sentence.citations:
        if not citation.startswith("control:"):
            continue
        title_after_id, description = _cited_control(citation, context)
        if title_after_id and _may_hold(plain, citation.removeprefix("control:")):
            plain = _pattern(title_after_id, re.IGNORECASE).sub(r"\1 ", plain)
        if design_said:
            plain = _blank_copies(plain, description)
    return plain


@_once_per_draft
def _cited_control(citation: str, context: VerificationContext) -> tuple[str, str]:
    """A cited control's title after its id (a pattern, the id in group 1; "" if it has no title), its description."""
    title, _, description = context.chunks.get(citation, "").partition(". ")
    named = r"\W+".join(re.escape(word) for word in _WORD.findall(title))
    if not named:
        return "", description
    return rf"(\b{re.escape(citation.removeprefix('control:'))}\s*[,:(]\s*)" + named, description


_DESIGN_SAID = re.compile(r"\b(?:as\s+designed|by\s+design|(?:is|are)\s+designed\s+(?:to|so))\b", re.IGNORECASE)
_COPIED_WORDS = 4  # a run this long, word for word from the design, is a copy, not a coincidence
_WORD = re.compile(r"[\w'-]+")


def _blank_copies(text: str, source: str) -> str:
    """`text` with every run of at least _COPIED_WORDS words that `source` has, word for word, blanked."""
    joined = " " + " ".join(_WORD.findall(source.lower())) + " "
    tokens = list(_WORD.finditer(text))
    start = 0
    spans = []
    while start < len(tokens):
        end = start
        while end < len(tokens) and " " + " ".join(t.group(0).lower() for t in tokens[start : end + 1]) + " " in joined:
            end += 1
        if end - start >= _COPIED_WORDS:
            spans.append((tokens[start].start(), tokens[end - 1].end()))
            start = end
        else:
            start += 1
    for begin, finish in reversed(spans):
        text = text[:begin] + " " * (finish - begin) + text[finish:]
    return text


def _universal_problem(claim: str, clause: str, sentence: Sentence, context: VerificationContext) -> str | None:
    support = _findings_about(clause, sentence, context)
    if not support:
        return f"claims “{claim}” but no finding it rests on judged that"
    against = [f for f in support if f.status in (Status.FAIL, Status.ERROR)]
    if against:
        what = "failed" if any(f.status == Status.FAIL for f in against) else "could not be judged"
        return f"claims “{claim}” although {len(against)} finding(s) it rests on {what} (e.g. `{against[0].resource}`)"
    if not any(f.status == Status.PASS for f in support):
        return f"claims “{claim}” but no finding it rests on passed"
    outside = [f for f in support if f.status != Status.PASS]
    if outside and not _SCOPED.search(clause):
        return (
            f"claims “{claim}” of more than was judged: {len(outside)} finding(s) it rests on did not apply or "
            f"were out of scope (e.g. `{outside[0].resource}`); say “of those checked”"
        )
    vocabulary = set(stems(_vocabulary(support, sentence, context)))
    unjudged = [word for word, stem in _content_words(clause) if stem not in vocabulary]
    if unjudged:
        return f"claims “{claim}” about what no check it rests on judged ({', '.join(dict.fromkeys(unjudged))})"
    return None


@_once_per_draft
def _resting(citations: tuple[str, ...], context: VerificationContext) -> list[Finding]:
    """The findings resting on the evidence a sentence cites; every finding of the control if it cites none."""
    cited = _cited_evidence(citations)
    if not cited:
        return list(context.findings)
    return [f for f in context.findings if cited & set(f.evidence_ids)]


def _findings_about(clause: str, sentence: Sentence, context: VerificationContext) -> list[Finding]:
    """Of the findings a sentence rests on: those of the check it quotes, else of the checks its words name best."""
    resting = _resting(sentence.citations, context)
    checks = {f.check for f in resting}
    quoted = {check for check in checks if _quotes_title(sentence.plain, context.check_titles.get(check, ""))}
    if quoted:
        return [f for f in resting if f.check in quoted]
    words = {stem for _, stem in _content_words(clause)}
    overlap = {check: len(words & set(stems(f"{check} {context.check_titles.get(check, '')}"))) for check in checks}
    best = max(overlap.values(), default=0)
    return [f for f in resting if overlap[f.check] == best] if best else resting


def _quotes_title(plain: str, title: str) -> bool:
    if not title or not _may_hold(plain, title):
        return False
    return _pattern(rf"[“\"]{re.escape(title)}[”\"]", re.IGNORECASE).search(plain) is not None


_LOWER_WORD = re.compile(r"[a-z]+")
_NOT_LOWER_WORD = re.compile(r"[^a-z]+")


def _content_words(text: str) -> list[tuple[str, str]]:
    """(word, stem) of the words a claim is about: not names, ids, numbers or the generic words of a narrative."""
    tokens = [t.strip(_STRIP).rstrip(".") for t in _BACKTICKED.sub(" ", text).lower().split()]
    words = [w for t in tokens if not _DIGIT.search(t) for w in _LOWER_WORD.findall(t) if len(w) >= 3]
    return [(word, stem) for word in words if (stem := next(iter(stems(word)), "")) and stem not in _GENERIC]


def _vocabulary(findings: list[Finding], sentence: Sentence, context: VerificationContext) -> str:
    parts = []
    for finding in findings:
        facts = " ".join(f"{key_words(key)} {value}" for key, value in finding.facts.items())
        title = context.check_titles.get(finding.check, "")
        parts.append(f"{key_words(finding.check)} {title} {finding.resource} {finding.reason} {facts}")
    for citation in sentence.citations:
        evidence_id = evidence_id_of(citation)
        if evidence_id and evidence_id in context.evidence:
            parts.append(key_words(context.evidence[evidence_id].tool))
    return _NOT_LOWER_WORD.sub(" ", " ".join(parts).lower())


# 7 ----------------------------------------------------------------------------------------------------

_RELIANCE = re.compile(
    r"\b(?:auditors?|users?\s+of\s+(?:the|this)\s+report|customers?|readers?)\s+(?:can|may|could)\s+(?:fully\s+|safely\s+)?rely\b"
    r"|\bcan\s+be\s+relied\s+(?:up)?on\b|\breliance\s+(?:can|may)\b"
    r"|\b(?:work(?:s|ing|ed)?|function(?:s|ing|ed)?|perform(?:s|ing|ed)?|operat(?:es|ing|ed|e))\s+"
    r"(?:as\s+intended|as\s+designed|effectively|properly|correctly|reliably)\b"
    r"|\bpassed\s+(?:all\s+)?(?:its\s+|the\s+)?(?:testing|tests?|audit|inspection)\b"
    r"|\btested\s+(?:and\s+)?(?:found\s+)?(?:effective|sound|reliable)\b|\btested\s+and\s+passed\b"
    r"|\b(?:is|are|was|were|remains?)\s+(?:fully\s+|highly\s+)?"
    r"(?:effective|compliant|reliable|in\s+compliance|audit[- ]ready)\b"
    r"|\b(?:suitably|effectively|appropriately)\s+designed\b|\bfully\s+(?:compliant|effective|implemented|met|satisfied)\b"
    r"|\bcompliant\s+with\b|\bmeets\s+(?:all\s+)?(?:of\s+)?(?:its|the)\s+(?:requirements|objectives?|criteria)\b"
    r"|\bno\s+(?:further\s+)?(?:remediation|action)\s+(?:is\s+)?(?:needed|required)\b|\bready\s+for\s+(?:the\s+|an\s+)?audit\b",
    re.IGNORECASE,
)


def _unsupported_reliance(sentence: Sentence, context: VerificationContext) -> str | None:
    claim = _first_claim(_RELIANCE, _without_quotes_and_reasons(sentence, context))
    if not claim:
        return None
    why_not = reliance_supported(context.findings, context.statements)
    return f"says “{claim}” although {why_not}" if why_not else None


# 8 ----------------------------------------------------------------------------------------------------

_UNJUDGED_SAID = re.compile(
    r"\b(?:could\s+not|cannot|can't|unable|not\s+(?:be\s+|been\s+)?(?:judged|assessed|evaluated|checked|collected|read|applicable)"
    r"|(?:does|did)\s+not\s+apply|errors?|errored|unreadable|unavailable|unknown|out\s+of\s+scope|not\s+configured)\b",
    re.IGNORECASE,
)


def _claim_about_unjudged_check(sentence: Sentence, context: VerificationContext) -> str | None:
    plain = sentence.plain
    unjudged = _unjudged_checks(context)
    if not unjudged or _UNJUDGED_SAID.search(plain):
        return None
    # What a duty lists ("must provide: the record of each root user sign-in") is a request, not a claim.
    words = {stem for _, stem in _content_words(_LIST_OF_DUTIES.sub(" ", _own_words(sentence, context)))}
    for title, title_words, state in unjudged:
        shared = words & title_words
        if _quotes_title(plain, title) or (len(shared) >= 2 and 5 * len(shared) >= 3 * len(title_words)):
            return f"speaks of “{title}”, which {state} in this run, without saying so"
    return None


@_once_per_draft
def _unjudged_checks(context: VerificationContext) -> list[tuple[str, set[str], str]]:
    """The checks that could not be judged or did not apply, in order: (title, its content words' stems, which)."""
    unjudged = []
    for check, statuses in _statuses_by_check(context.findings).items():
        outcome = _check_outcome(statuses)
        if outcome in ("error", "not_applicable"):
            title = context.check_titles.get(check, check)
            state = "could not be judged" if outcome == "error" else "did not apply"
            unjudged.append((title, {stem for _, stem in _content_words(title)}, state))
    return unjudged


# 9 ----------------------------------------------------------------------------------------------------

_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
_SCALED = re.compile(
    r"\b(\d+(?:\.\d+)?|an?|one|two|three|four|five|six|seven|eight|nine|ten|several)\s+(thousand|million|billion)s?\b",
    re.IGNORECASE,
)
_VAGUE = re.compile(r"\b(dozens|hundreds|thousands|millions|billions)\s+of\b", re.IGNORECASE)
_SCALE_WORD = re.compile(r"thousand|million|billion|dozens|hundreds", re.IGNORECASE)  # in every _SCALED or _VAGUE
_VAGUE_RANGES = {
    "dozens": (24, 200),
    "hundreds": (200, 2e3),
    "thousands": (2e3, 2e6),
    "millions": (2e6, 2e9),
    "billions": (2e9, 2e12),
}
_COMPARATOR = re.compile(
    r"\b(over|more\s+than|above|at\s+least|in\s+excess\s+of|nearly|almost|about|around|approximately|roughly|close\s+to|"
    r"under|fewer\s+than|less\s+than|below|up\s+to|at\s+most)\s+$",
    re.IGNORECASE,
)
_STATED_VALUE = (
    r"\s+(?:(?:is|are|was|were|has\s+been|stands\s+at|set\s+to|of|equals?|=|:)\s+){1,2}(?:only\s+|just\s+|exactly\s+)?"
    r"(?P<comparator>(?:over|more\s+than|above|at\s+least|under|fewer\s+than|less\s+than|below|up\s+to|at\s+most)\s+)?"
    r"(?P<value>[\w.,%]+(?:\s+[\w.,%]+)?)"
)
_REQUIREMENT = re.compile(
    r"\b(?:requir\w*|must|should|shall|target\w*|expected|standard|threshold|limit\w*|design\w*)\b", re.IGNORECASE
)


def _quantity_not_in_evidence(sentence: Sentence, context: VerificationContext) -> str | None:
    plain = _BACKTICKED.sub(" ", sentence.plain)
    cited = _cited_evidence(sentence.citations)
    items = _evidence_items(sentence.citations, context)
    resting = _resting(sentence.citations, context)
    for written, low, high, after in _quantities(plain):
        pool = derivable_counts(resting, len(cited)) | {n for item in items for n in item.counts}
        pool |= {float(v) for f in resting for v in f.facts.values() if _is_number(v)}
        # A value under a key naming what is counted ("NumberOfObjects" for "a million objects") counts too.
        noun = next(iter(stems(after)), "")
        pool |= {n for item in items for key, values in item.keyed.items() if noun in stems(key) for n in values}
        if not any(low <= n <= high for n in pool):
            return f"says “{written}”, which no count in the cited evidence or findings matches"
    if _REQUIREMENT.search(plain):
        return None  # "at least 14 is required": a requirement, not the value
    claims = _without_quotes_and_reasons(sentence, context).lower()
    for key, values in _keyed_values(sentence.citations, context).items():
        words = key.split()
        if len(words) < 2:
            continue  # "count", "size": too common to tie a number to
        if not all(word in claims for word in words):
            continue  # not named: the pattern below needs every word (and costs a compile per key)
        # The key's words (one more may sit between two of them), a linking verb, then the number.
        named = r"\b" + r"(?:\s+\w+)?\s+".join(map(re.escape, words)) + r"s?\b"
        for match in _pattern(named + _STATED_VALUE).finditer(claims):
            comparator = " ".join((match.group("comparator") or "").split())
            stated = numbers(match.group("value"))
            if not stated:
                continue
            low, high = _range(stated[0][0], comparator)
            if not any(low <= value <= high for value in values):
                shown = ", ".join(f"{value:g}" for value in sorted(values))
                given = " ".join(filter(None, (comparator, stated[0][1])))
                return f"gives the {key} as {given}, but the cited evidence says {shown}"
    return None


@_once_per_draft
def _evidence_items(citations: tuple[str, ...], context: VerificationContext) -> list[EvidenceFacts]:
    """The evidence items a sentence cites; every item of the control if it cites none."""
    cited = _cited_evidence(citations)
    return [context.evidence[e] for e in (cited or set(context.evidence)) if e in context.evidence]


@_once_per_draft
def _keyed_values(citations: tuple[str, ...], context: VerificationContext) -> dict[str, set[float]]:
    """The numbers under each key (read as words) of the evidence a sentence cites and of the findings resting on it."""
    keyed: dict[str, set[float]] = {}
    for item in _evidence_items(citations, context):
        for key, values in item.keyed.items():
            keyed.setdefault(key, set()).update(values)
    for finding in _resting(citations, context):
        for key, value in finding.facts.items():
            if _is_number(value):
                keyed.setdefault(key_words(key), set()).add(float(value))
    return keyed


def _quantities(plain: str) -> list[tuple[str, float, float, str]]:
    """Quantities in words: (as written, lowest and highest count that fits, the word after it)."""
    found = []
    if not _SCALE_WORD.search(plain):
        return found  # each quantity holds one (most sentences have none, and this pattern is the cheaper)
    for match in _SCALED.finditer(plain):
        amount, scale = match.group(1).lower(), _SCALES[match.group(2).lower()]
        if amount in ("a", "an", "one"):
            value = scale
        elif amount == "several":
            value = 3 * scale
        else:
            value = float(amount) * scale if amount[0].isdigit() else float(_NUMBER_WORDS[amount]) * scale
        comparator = _COMPARATOR.search(plain[: match.start()])
        low, high = _range(value, comparator.group(1).lower() if comparator else "")
        written = f"{comparator.group(1)} {match.group(0)}" if comparator else match.group(0)
        found.append((written, low, high, plain[match.end() :]))
    for match in _VAGUE.finditer(plain):
        low, high = _VAGUE_RANGES[match.group(1).lower()]
        found.append((match.group(0), low, high, plain[match.end() :]))
    return found


def _range(value: float, comparator: str) -> tuple[float, float]:
    comparator = " ".join(comparator.split())
    if comparator in ("over", "more than", "above", "in excess of"):
        return value + 1, float("inf")
    if comparator == "at least":
        return value, float("inf")
    if comparator in ("nearly", "almost"):
        return 0.8 * value, value
    if comparator in ("about", "around", "approximately", "roughly", "close to"):
        return 0.8 * value, 1.2 * value
    if comparator in ("under", "fewer than", "less than", "below"):
        return 0, value - 1
    if comparator in ("up to", "at most"):
        return 0, value
    return value, value


STRICT_RULES = (
    _addressed_to_the_reader,
    _unsupported_universal,
    _unsupported_reliance,
    _claim_about_unjudged_check,
    _quantity_not_in_evidence,
)


def unsupported_claims(text: str, findings: list[Finding], check_titles: dict[str, str]) -> list[str]:
    """Claims of a text about a whole run (a chat answer) that its findings do not support: rules 5 to 7,
    each sentence resting on the findings of the evidence it cites, or on every finding when it cites none."""
    context = VerificationContext({}, {}, list(findings), dict(check_titles))
    rules = (_addressed_to_the_reader, _unsupported_universal, _unsupported_reliance)
    return [
        f"{_excerpt(sentence.plain)}: {problem}"
        for sentence in sentences(normalise(text))
        for rule in rules
        if (problem := rule(sentence, context))
    ]


# -- rules 10-11: design statements and dates ---------------------------------------------------------------
#
# 10. A sentence that quotes a design statement of the control and says it was tested, passed or examined needs
#     a finding (pass or fail) of a check linked to that statement: "tested" is never said of a statement no
#     check of this run judged. Negated ("was not tested", "could not be tested") it is no claim.
# 11. A date (YYYY-MM-DD) is supported when it occurs in what the sentence cites (evidence data, its
#     collection time, a finding's facts or reason, a chunk), or is a bound of a period a request for records
#     made on the run's day covers (agent/requests.py request_period_bounds).

_TESTED_SAID = re.compile(
    r"\b(?:tested|testing|tests?|passed|pass(?:es)?|examined|inspected|reperformed|held|holds)\b", re.IGNORECASE
)


def without_quoted_statements(plain: str, context: VerificationContext) -> str:
    """The sentence without the control's own design statements it quotes: their names and numbers are the
    design's, not claims the evidence must support."""
    for statement in context.statements:
        plain = plain.replace(f"“{statement.text.strip().rstrip('.')}”", "“”")
    return plain


_NOT_TESTED_SAID = re.compile(r"\b(?:could|can)\s+not\b|\bcannot\b|\bnot\s+(?:\w+\s+)?tested\b")


def untested_statement_claimed(sentence: Sentence, context: VerificationContext) -> str | None:
    plain = " ".join(sentence.plain.split()).lower()
    named = [statement for said, statement in _unjudged_statements(context) if said in plain]
    if not named:
        return None
    # The claim is in the sentence's own words: a quoted statement's "tests" or "passes" is the design's.
    # and what a duty lists ("must provide: records of the tabletop test") is a request, not a claim.
    own = _LIST_OF_DUTIES.sub(" ", " ".join(without_quoted_statements(sentence.plain, context).split()).lower())
    claim = _first_claim(_TESTED_SAID, own)
    if not claim or _NOT_TESTED_SAID.search(own):
        return None
    return (
        f"says the design statement “{named[0].text.rstrip('.')}” was {claim}, but no check linked to it "
        "judged anything in this run"
    )


@_once_per_draft
def _unjudged_statements(context: VerificationContext) -> list[tuple[str, DesignStatement]]:
    """The design statements no check of this run judged (passed or failed), each with its text as a sentence
    quoting it reads (lowercase, single spaces, no full stop)."""
    return [
        (" ".join(statement.text.split()).rstrip(".").lower(), statement)
        for statement in context.statements
        if not any(f.check in statement.checks and f.status in (Status.PASS, Status.FAIL) for f in context.findings)
    ]


def _unsupported_date(sentence: Sentence, context: VerificationContext) -> str | None:
    said = _ISO_DATE.findall(_BACKTICKED.sub(" ", sentence.plain))
    if not said:
        return None
    support = _support(sentence.citations, context).text
    period = _period_days(context)
    for day in said:
        if day not in period and not re.search(re.escape(day) + r"(?!\d)", support):
            return f"the date {day} is not in the cited evidence, findings or criteria"
    return None


@_once_per_draft
def _period_days(context: VerificationContext) -> set[str]:
    """The bounds of the periods a request covers (agent/requests.py: each frequency's, the audit period's) and the
    run's day, as ISO dates."""
    bounds = request_period_bounds(context.as_of, context.audit_period) if context.as_of else set()
    return {d.isoformat() for d in bounds} | ({context.as_of.isoformat()} if context.as_of else set())


STATEMENT_RULES = (untested_statement_claimed, _unsupported_date)
