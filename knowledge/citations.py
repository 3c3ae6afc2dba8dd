"""Citation ids: what each kind looks like, and how to tell a citation's kind.

    CC6.1                    a Trust Services criterion
    CC6.1/pof/3              the 3rd point of focus of CC6.1
    ev:0a1b2c3d4e5f          an evidence item in the locker (12 lowercase hex digits)
    policy:access.md#mfa     a section of a company policy loaded with `auditor knowledge add`
    control:IAM-01           a control of the control library

The ids are exactly the knowledge store's chunk ids and, after `ev:`, the locker's evidence ids. How a
narrative places them (in square brackets, at the end of the sentence they support) is agent/citations.py.
"""

from __future__ import annotations

import re
from typing import Literal

CitationKind = Literal["criterion", "point_of_focus", "evidence", "policy", "control"]

_EVIDENCE_PREFIX = "ev:"
_POLICY_PREFIX = "policy:"
_CONTROL_PREFIX = "control:"
_POINT_OF_FOCUS_MARK = "/pof/"

_CRITERION = r"(?:CC|PI|A|C|P)\d+\.\d+"
_PATTERNS: dict[CitationKind, str] = {
    "point_of_focus": rf"{_CRITERION}{_POINT_OF_FOCUS_MARK}\d+",
    "criterion": _CRITERION,
    "evidence": rf"{_EVIDENCE_PREFIX}[0-9a-f]{{12}}",
    "policy": rf"{_POLICY_PREFIX}[^\]\[#\s]+#[^\]\[\s]+",
    "control": rf"{_CONTROL_PREFIX}[A-Z][A-Z0-9]*-\d+",
}
# A well-formed id, one named group per kind, so a match says which kind it is (see kind_of_match).
CITATION_ID_PATTERN = "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _PATTERNS.items())
_CITATION_ID_RE = re.compile(CITATION_ID_PATTERN)


def kind_of(citation_id: str) -> CitationKind | None:
    """The kind of a well-formed citation id; None if the id does not follow the syntax."""
    match = _CITATION_ID_RE.fullmatch(citation_id)
    return kind_of_match(match) if match else None


def kind_of_match(match: re.Match[str]) -> CitationKind:
    """The kind of a citation matched by a pattern built on CITATION_ID_PATTERN."""
    return next(kind for kind in _PATTERNS if match.group(kind) is not None)


def claimed_kind(citation_id: str) -> CitationKind:
    """The kind an id claims by its prefix, well-formed or not: where to look it up.

    Lookups use this rather than kind_of: a policy's file name may hold characters a narrative may not cite
    (a space), and an id that names nothing (`ev:123`, `XYZ`) should be reported as not found there.
    """
    if citation_id.startswith(_EVIDENCE_PREFIX):
        return "evidence"
    if citation_id.startswith(_POLICY_PREFIX):
        return "policy"
    if citation_id.startswith(_CONTROL_PREFIX):
        return "control"
    return "point_of_focus" if _POINT_OF_FOCUS_MARK in citation_id else "criterion"


def evidence_citation(evidence_id: str) -> str:
    return f"{_EVIDENCE_PREFIX}{evidence_id}"


def evidence_id_of(citation_id: str) -> str | None:
    return citation_id.removeprefix(_EVIDENCE_PREFIX) if citation_id.startswith(_EVIDENCE_PREFIX) else None
