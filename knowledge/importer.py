"""Import the full point-of-focus text from the user's own copy of the AICPA TSC publication (PDF).

The package ships only criterion statements and point-of-focus titles; this importer finds each title
in the publication, in its criterion's section, and takes the text after the dash up to the next bullet
or heading.
"""

from __future__ import annotations

import re
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from knowledge.catalog import Catalog, load_catalog

_PAGE_HEADER = re.compile(r"Page \d+\s+TSP\s+Ref\. #\s+TRUST SERVICES CRITERIA AND POINTS OF FOCUS", re.I)
_FOOTNOTE = re.compile(r"\s*fn \d+")
# Where a point of focus's text ends: the next bullet, an upper-case or other heading, the next criterion.
_TEXT_END = re.compile(
    r"\s•|\s[A-Z]{3,}(?:\s+[A-Z]{2,})+\s"
    r"|\s(?:Appendix [A-Z]|Additional points? of focus|Points of focus specified|The following points of focus)"
    r"|\s(?:CC|PI|A|C|P)\d\.\d+\s"
    r"|(?<=\.)[ \t]*\n[ \t]+(?=[A-Z])"  # a new paragraph: a line that starts indented after a full stop
)


class TscImportError(Exception):
    """The file could not be read as the TSC publication."""


def extract_points_of_focus(pdf_path: Path, catalog: Catalog | None = None) -> dict[str, str]:
    """Map `CC6.1/pof/3` -> full text for every point of focus found in the publication."""
    catalog = catalog or load_catalog()
    text = _publication_text(pdf_path)
    starts = _criterion_starts(text, catalog)
    if len(starts) < len(catalog.criteria) // 2:
        raise TscImportError(
            f"{pdf_path}: found {len(starts)} of {len(catalog.criteria)} criteria; "
            "is this the AICPA Trust Services Criteria publication?"
        )
    found: dict[str, str] = {}
    ordered = sorted(starts.items(), key=lambda kv: kv[1])
    for position, (criterion_id, start) in enumerate(ordered):
        end = ordered[position + 1][1] if position + 1 < len(ordered) else len(text)
        section = text[start:end]
        criterion = catalog.get(criterion_id)
        cursor = 0
        for pof in criterion.points_of_focus:
            title = r"\s+".join(re.escape(word) for word in pof.title.split())
            match = re.compile(rf"•\s*{title}(?:\s*\[[A-Z]+\])*\s*—\s*").search(section, cursor)
            if not match:
                continue
            stop = _TEXT_END.search(section, match.end())
            body = section[match.end() : stop.start() if stop else len(section)]
            # The text is whole sentences; anything after the last full stop is a heading that followed it.
            body = " ".join(body.split())
            found[pof.citation_id(criterion_id)] = body[: body.rfind(".") + 1] if "." in body else body
            cursor = match.end()
    return found


def _publication_text(pdf_path: Path) -> str:
    try:
        reader = PdfReader(str(pdf_path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, OSError, ValueError) as exc:
        raise TscImportError(f"{pdf_path}: cannot read as PDF: {exc}") from exc
    text = "\n".join(pages)
    if not text.strip():
        raise TscImportError(f"{pdf_path}: no text found in the PDF (a scanned copy has no text layer)")
    text = _PAGE_HEADER.sub(" ", text)
    text = _join_hyphen_breaks(text)
    return _FOOTNOTE.sub("", text)


def _join_hyphen_breaks(text: str) -> str:
    """Undo hyphens the layout put at line ends ("organiza-\\ntion" -> "organization") but keep real
    compounds ("bring-your-\\nown"). Joined where the joined word appears elsewhere in the publication;
    else kept where the compound already has a hyphen or both halves are words of it; else joined."""
    broken = re.compile(r"(-?)([a-z]+)-\n([a-z]+)")
    words = set(re.findall(r"[a-z]+", broken.sub(" ", text)))

    def join(match: re.Match[str]) -> str:
        hyphen, left, right = match.groups()
        if left + right not in words and (hyphen or (left in words and right in words)):
            return f"{hyphen}{left}-{right}"
        return hyphen + left + right

    return broken.sub(join, text)


def _criterion_starts(text: str, catalog: Catalog) -> dict[str, int]:
    """Where each criterion's own section starts: its id followed by the start of its statement."""
    starts = {}
    for criterion in catalog.criteria:
        first_words = r"\s+".join(re.escape(w) for w in criterion.text.split()[:4])
        match = re.search(rf"{re.escape(criterion.id)}\s+(?:COSO Principle \d+:\s*)?{first_words}", text)
        if match:
            starts[criterion.id] = match.start()
    return starts
