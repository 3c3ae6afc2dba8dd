"""The citation syntax of every narrative, its parser and its formatter.

A citation is an id in square brackets, placed at the end of the sentence it supports, before the full
stop (a run of citations right after the full stop also counts for that sentence):

    [CC6.1]                    a Trust Services criterion
    [CC6.1/pof/3]              the 3rd point of focus of CC6.1
    [ev:0a1b2c3d4e5f]          an evidence item in the locker (12 lowercase hex digits)
    [policy:access.md#mfa]     a section of a company policy loaded with `auditor knowledge add`
    [control:IAM-01]           a control of the control library

Several citations may follow one another: `... MFA device [CC6.1] [ev:0a1b2c3d4e5f].` The syntax of
the ids inside the brackets, and their kinds, is knowledge/citations.py.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge.citations import CITATION_ID_PATTERN, CitationKind, kind_of, kind_of_match

CITATION_RE = re.compile(rf"\[({CITATION_ID_PATTERN})\]")
# Anything in brackets that looks like an attempt to cite (used to report malformed citations).
BRACKETED_RE = re.compile(r"\[([^\[\]\s]{2,120})\]")
_LOOKS_CITED = re.compile(r"(ev|policy|control|pof):|[A-Z]{1,2}\d")
_CITATION_AND_SPACE_BEFORE = re.compile(r"\s*" + CITATION_RE.pattern)
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:!?])(?=\s|$)")


@dataclass(frozen=True)
class Citation:
    id: str  # as written inside the brackets
    kind: CitationKind
    start: int  # offsets in the text, brackets included
    end: int


def parse(text: str) -> list[Citation]:
    """Every well-formed citation in the text, in order."""
    return [
        Citation(match.group(1), kind_of_match(match), match.start(), match.end())
        for match in CITATION_RE.finditer(text)
    ]


def citation_ids(text: str) -> list[str]:
    """Distinct citation ids in order of first appearance."""
    return list(dict.fromkeys(citation.id for citation in parse(text)))


def malformed(text: str) -> list[str]:
    """Bracketed tokens that look like citations but do not follow the syntax (e.g. `[ev:123]`)."""
    valid = {(c.start, c.end) for c in parse(text)}
    return [
        m.group(0)
        for m in BRACKETED_RE.finditer(text)
        if (m.start(), m.end()) not in valid and _looks_cited(m.group(1))
    ]


def _looks_cited(inner: str) -> bool:
    return bool(_LOOKS_CITED.match(inner))


def cite(*citation_ids_: str | Iterable[str]) -> str:
    """`cite("CC6.1", ["ev:0a1b2c3d4e5f"])` -> `[CC6.1] [ev:0a1b2c3d4e5f]` (duplicates dropped, order kept)."""
    flat: list[str] = []
    for item in citation_ids_:
        flat.extend([item] if isinstance(item, str) else item)
    unique = list(dict.fromkeys(flat))
    for citation_id in unique:
        if kind_of(citation_id) is None:
            raise ValueError(f"not a valid citation id: {citation_id!r}")
    return " ".join(f"[{citation_id}]" for citation_id in unique)


def strip(text: str) -> str:
    """The text without its citations (for reading and for counting words)."""
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", _CITATION_AND_SPACE_BEFORE.sub("", text)).strip()


# -- sentences -------------------------------------------------------------------------------------

# A sentence ends at . ! or ? followed by whitespace or the end, outside brackets and backticks, and
# not after a common abbreviation; a line break always ends one. Markdown headings are not sentences.
_ABBREVIATIONS = (
    "e.g",
    "i.e",
    "vs",
    "approx",
    "incl",
    "cf",
    "no",
    "mr",
    "ms",
    "mrs",
    "dr",
    "st",
    # company forms, so "Acme, Inc." or "Acme S.A." in a narrative is not a sentence end
    "inc",
    "ltd",
    "co",
    "corp",
    "llc",
    "plc",
    "s.a",
    "n.v",
    "b.v",
    "ag",
    "gmbh",
    "pty",
    "u.s",
)
# Ends a sentence only before a capital letter: "MFA, keys etc. are checked" vs "... etc. Everything".
_ABBREVIATIONS_BEFORE_CAPITALS_END = ("etc",)
_TRAILING_CITATIONS = re.compile(r"(?:\s*" + CITATION_RE.pattern + r")+")
_LIST_MARKER = re.compile(r"^(?:[-*+]|\d+[.)])\s+")
_SPLIT_MARKS = re.compile(r"[`\[\].!?]")  # the characters _split_line acts on; it skips the rest
_LETTERS_AND_DOTS = frozenset(string.ascii_letters + ".")
_CAPITAL_NEXT = re.compile(r"\s+[A-Z]")


@dataclass(frozen=True)
class Sentence:
    text: str  # with its citations
    citations: tuple[str, ...]

    @functools.cached_property  # every rule of the verifier reads it
    def plain(self) -> str:
        return strip(self.text)


def sentences(text: str) -> list[Sentence]:
    """Split a narrative into sentences, each with the citations that support it."""
    result: list[Sentence] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        stripped = _LIST_MARKER.sub("", stripped)  # list markers are not words
        for piece in _split_line(stripped):
            if CITATION_RE.sub("", piece).strip(" .;,") == "" and result:
                # Citations alone (e.g. after a line break) support the sentence before them.
                previous = result.pop()
                piece = f"{previous.text} {piece}"
            result.append(Sentence(piece, tuple(citation_ids(piece))))
    return result


def _split_line(line: str) -> list[str]:
    pieces, start, depth, in_code, position = [], 0, 0, False, 0
    while mark := _SPLIT_MARKS.search(line, position):
        i, char = mark.start(), mark.group(0)
        position = i + 1
        if char == "`":
            in_code = not in_code
        elif char == "[" and not in_code:
            depth += 1
        elif char == "]" and not in_code and depth:
            depth -= 1
        elif char in ".!?" and depth == 0 and not in_code and _ends_sentence(line, i):
            end = i + 1
            trailing = _TRAILING_CITATIONS.match(line, end)
            if trailing:
                end = trailing.end()
            pieces.append(line[start:end].strip())
            start = position = end
    if line[start:].strip():
        pieces.append(line[start:].strip())
    return [piece for piece in pieces if piece]


def _ends_sentence(line: str, i: int) -> bool:
    after = line[i + 1 : i + 2]
    if after and not after.isspace() and after != "[":
        return False  # 3.5, example.com, CC6.1
    if line[i] != ".":
        return True
    # The letters and dots before the full stop, read back from it (a search from the line's start read it all).
    start = i
    while start and line[start - 1] in _LETTERS_AND_DOTS:
        start -= 1
    abbreviation = line[start:i].lower().rstrip(".")
    if abbreviation in _ABBREVIATIONS:
        return False
    if abbreviation in _ABBREVIATIONS_BEFORE_CAPITALS_END:
        return bool(_CAPITAL_NEXT.match(line, i + 1))
    return True
