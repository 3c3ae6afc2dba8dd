"""Company documents (policies, procedures) chunked so a narrative can cite a section.

Markdown is chunked by heading, plain text by groups of paragraphs, PDF by page. Citation ids are
`policy:<file>#<section>`: `policy:access-control.md#mfa`, `policy:handbook.txt#part-2`,
`policy:bcp.pdf#page-3`. Files found by walking a folder are named by their path inside it
(`policy:hr/onboarding.md#day-one`), so equal file names in different folders do not collide.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from tools.redact import redact

SUPPORTED = (".md", ".markdown", ".txt", ".pdf")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TEXT_PARAGRAPHS_PER_CHUNK = 4


class DocumentError(Exception):
    """A document that cannot be ingested; the message names the file."""


@dataclass(frozen=True)
class DocumentChunk:
    citation_id: str
    section: str
    text: str
    source: str


@dataclass(frozen=True)
class FoundFiles:
    documents: list[tuple[Path, str]]  # (path, name used in citation ids)
    unsupported: list[Path]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def find_documents(paths: list[Path]) -> FoundFiles:
    """Files to ingest: given files as they are, folders walked (hidden files skipped), in a stable order."""
    documents: list[tuple[Path, str]] = []
    unsupported: list[Path] = []
    for path in paths:
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                relative = file.relative_to(path)
                if any(part.startswith(".") for part in relative.parts):
                    continue
                if file.suffix.lower() in SUPPORTED:
                    documents.append((file, relative.as_posix()))
                else:
                    unsupported.append(file)
        elif not path.exists():
            documents.append((path, path.name))  # reported by chunk_file as not found, naming it
        elif path.suffix.lower() in SUPPORTED:
            documents.append((path, path.name))  # a missing file is reported by chunk_file, naming it
        else:
            unsupported.append(path)
    return FoundFiles(documents, unsupported)


def chunk_file(path: Path, name: str | None = None) -> list[DocumentChunk]:
    """The sections of one document; raises DocumentError naming the file when it cannot be read."""
    name = name or path.name
    suffix = path.suffix.lower()
    if not path.exists():
        raise DocumentError(f"{path}: file not found")
    if suffix not in SUPPORTED:
        raise DocumentError(f"{path}: unsupported file type '{suffix or '(none)'}' (use Markdown, text or PDF)")
    if not path.is_file():
        raise DocumentError(f"{path}: not a file")
    if suffix == ".pdf":
        sections = _pdf_sections(path)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DocumentError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        sections = list(_markdown_sections(text) if suffix in (".md", ".markdown") else _text_sections(text))
    # Policies leak secrets too (a runbook's example credentials): redacted before they are chunked,
    # embedded, stored or put in a prompt.
    sections = [(redact(section).data, redact(body).data) for section, body in sections]
    chunks: list[DocumentChunk] = []
    used: set[str] = set()
    for section, body in sections:
        if not body.strip():
            continue
        anchor = unique = slug(section)
        n = 2
        while unique in used:  # a repeated heading gets -2, -3, ... so ids stay unique and stable
            unique, n = f"{anchor}-{n}", n + 1
        used.add(unique)
        chunks.append(DocumentChunk(f"policy:{name}#{unique}", section, body.strip(), str(path.resolve())))
    if not chunks:
        hint = " (a scanned PDF has no text layer)" if suffix == ".pdf" else ""
        raise DocumentError(f"{path}: no text found{hint}")
    return chunks


def _markdown_sections(text: str) -> Iterator[tuple[str, str]]:
    heading, lines, in_code = "introduction", [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_code = not in_code  # a '#' inside a code block is not a heading
        match = None if in_code else _HEADING.match(line)
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


def _pdf_sections(path: Path) -> list[tuple[str, str]]:
    try:
        reader = PdfReader(str(path))
        return [(f"page {number}", page.extract_text() or "") for number, page in enumerate(reader.pages, start=1)]
    except (PdfReadError, OSError, ValueError) as exc:
        raise DocumentError(f"{path}: cannot read as PDF: {exc}") from exc
