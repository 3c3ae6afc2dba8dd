"""Company documents (policies, procedures) chunked so a narrative can cite a section.

Markdown is chunked by heading, plain text by paragraph groups, PDF by page. Citation ids:
`policy:access-control.md#mfa`, `policy:handbook.txt#part-2`, `policy:bcp.pdf#page-3`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PdfReadError

SUPPORTED = {".md", ".markdown", ".txt", ".pdf"}
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_TEXT_PARAGRAPHS_PER_CHUNK = 4


@dataclass(frozen=True)
class DocumentChunk:
    citation_id: str
    section: str
    text: str
    source: str


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def chunk_file(path: Path) -> list[DocumentChunk]:
    """Chunks of one document; raises ValueError naming the file when it cannot be read."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise ValueError(f"{path}: unsupported file type {suffix or '(none)'} (use Markdown, text or PDF)")
    if suffix == ".pdf":
        sections = list(_pdf_sections(path))
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        sections = list(_markdown_sections(text) if suffix in (".md", ".markdown") else _text_sections(text))
    chunks, used = [], set()
    for section, body in sections:
        if not body.strip():
            continue
        anchor = slug(section)
        unique, n = anchor, 2
        while unique in used:  # repeated headings get -2, -3 so ids stay unique and stable
            unique, n = f"{anchor}-{n}", n + 1
        used.add(unique)
        chunks.append(DocumentChunk(f"policy:{path.name}#{unique}", section, body.strip(), str(path)))
    return chunks


def _markdown_sections(text: str) -> Iterator[tuple[str, str]]:
    heading, lines = "introduction", []
    for line in text.splitlines():
        match = _HEADING.match(line)
        if match:
            yield heading, "\n".join(lines)
            heading, lines = match.group(2), [line]
        else:
            lines.append(line)
    yield heading, "\n".join(lines)


def _text_sections(text: str) -> Iterator[tuple[str, str]]:
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    for start in range(0, len(paragraphs), _TEXT_PARAGRAPHS_PER_CHUNK):
        part = start // _TEXT_PARAGRAPHS_PER_CHUNK + 1
        yield f"part {part}", "\n\n".join(paragraphs[start : start + _TEXT_PARAGRAPHS_PER_CHUNK])


def _pdf_sections(path: Path) -> Iterator[tuple[str, str]]:
    try:
        reader = PdfReader(str(path))
        for number, page in enumerate(reader.pages, start=1):
            yield f"page {number}", page.extract_text() or ""
    except (PdfReadError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read as PDF: {exc}") from exc


def collect_files(paths: list[Path]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED))
        else:
            files.append(path)
    return files
