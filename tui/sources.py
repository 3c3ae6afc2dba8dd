"""What a citation points to: the evidence item, the criterion with its points of focus, or the policy.

The TUI's citation view and the chat's sources both resolve citations here, reading the evidence
locker and the knowledge store lazily (opening Chroma costs time the first screen should not pay).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from knowledge.citations import claimed_kind, evidence_citation, evidence_id_of
from tools.chain import sha256_hex
from tools.workspace import Workspace

# Large files belong in a document store; the locker keeps evidence a reviewer can read.
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024

TargetKind = Literal["evidence", "criterion", "policy", "control", "unknown"]


@dataclass(frozen=True)
class CitationTarget:
    citation: str  # as written inside the brackets: "ev:0a1b2c3d4e5f", "CC6.1/pof/3", "policy:x.md#s"
    kind: TargetKind
    title: str
    body: str
    body_format: Literal["json", "text", "markdown"]
    facts: list[tuple[str, str]] = field(default_factory=list)
    found: bool = True


class Sources:
    """Read-only access to what citations point to."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @cached_property
    def locker(self) -> Any:
        from tools.locker import EvidenceLocker

        return EvidenceLocker(self.workspace.locker_db, self.workspace.blobs_dir)

    @cached_property
    def store(self) -> Any:
        from knowledge.store import KnowledgeStore

        return KnowledgeStore.open(self.workspace.chroma_dir)

    @cached_property
    def catalog(self) -> Any:
        from knowledge.catalog import load_catalog

        return load_catalog()

    def close(self) -> None:
        if "locker" in self.__dict__:  # opened only if a citation or an attachment needed it
            self.locker.close()

    def search(self, query: str, k: int = 5) -> list[Any]:
        """Chunks of criteria, points of focus, controls and policies nearest to the query."""
        return list(self.store.search(query, k=k))

    def resolve(self, citation: str) -> CitationTarget:
        evidence_id = evidence_id_of(citation)
        if evidence_id is not None:
            return self._evidence(evidence_id)
        kind = claimed_kind(citation)
        if kind in ("criterion", "point_of_focus"):
            return self._criterion(citation)  # a point of focus is shown with its criterion
        return self._chunk(citation, kind)

    def _missing(self, citation: str, kind: TargetKind, why: str) -> CitationTarget:
        return CitationTarget(citation, kind, citation, why, "text", found=False)

    def _evidence(self, evidence_id: str) -> CitationTarget:
        citation = evidence_citation(evidence_id)
        record = self.locker.get(evidence_id)
        if record is None:
            return self._missing(citation, "evidence", f"Evidence {evidence_id} is not in the locker.")
        data = self.locker.read(evidence_id)
        if isinstance(data, str):
            body, body_format = data, "text"
        else:
            body, body_format = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str), "json"
        facts = [
            ("id", record.id),
            ("sha256", record.sha256),
            ("collected", record.collected_at),
            ("tool", record.tool),
            ("operation", record.operation),
            ("params", json.dumps(record.params, sort_keys=True)),
            ("source", record.source),
            ("run", record.run_id),
        ]
        if record.redaction_count:
            facts.append(("redacted", ", ".join(f"{kind} ×{count}" for kind, count in record.redactions.items())))
        return CitationTarget(citation, "evidence", f"Evidence {record.id} · {record.tool}", body, body_format, facts)

    def _criterion(self, citation: str) -> CitationTarget:
        criterion_id, _, pof = citation.partition("/pof/")
        criterion = self.catalog.get(criterion_id)
        if criterion is None:
            return self._missing(citation, "criterion", f"{criterion_id} is not a Trust Services Criterion.")
        cited = int(pof) if pof.isdigit() else None
        points = {point.index: point for point in criterion.points_of_focus}
        if cited is not None and cited not in points:
            return self._missing(citation, "criterion", f"{criterion_id} has no point of focus {cited}.")
        lines = [f"**{criterion.id}** ({criterion.series} {criterion.series_title})", "", criterion.text, ""]
        facts = [("criterion", criterion.id), ("series", f"{criterion.series} {criterion.series_title}")]
        if cited is not None:
            point = points[cited]
            facts.append(("point of focus", f"{cited}. {point.title}"))
            # The shipped catalog has titles only; the store holds the full text once it is imported.
            chunk = self.store.get(citation) if point.text is None else None
            imported = chunk is not None and bool(chunk.metadata.get("imported"))
            detail = point.text or (
                chunk.text if imported else "(title only: `auditor knowledge import-tsc` loads the full text)"
            )
            lines += [f"### Point of focus {cited}: {point.title}", "", detail, ""]
        lines += ["### All points of focus", ""]
        for point in criterion.points_of_focus:
            title = f"**{point.title}** (cited)" if point.index == cited else point.title
            lines.append(f"{point.index}. {title}")
        return CitationTarget(citation, "criterion", citation, "\n".join(lines), "markdown", facts)

    def _chunk(self, citation: str, kind: TargetKind) -> CitationTarget:
        chunk = self.store.get(citation)
        if chunk is None:
            return self._missing(citation, kind, f"{citation} is not in the knowledge store.")
        facts = [(key, str(value)) for key, value in sorted(chunk.metadata.items())]
        return CitationTarget(citation, kind, citation, chunk.text, "markdown", facts)

    def attach_manual_evidence(self, run_id: str, control_id: str, path: Path, note: str) -> Any:
        """Store a reviewer's file in the locker as manual evidence; returns the locker record."""
        size = path.stat().st_size
        if size > MAX_ATTACHMENT_BYTES:
            raise ValueError(f"{path}: {size} bytes is over the {MAX_ATTACHMENT_BYTES} byte limit for attachments")
        raw = path.read_bytes()
        try:
            content, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            content, encoding = base64.b64encode(raw).decode("ascii"), "base64"
        data = {
            "file": path.name,
            "path": str(path.resolve()),
            "size": size,
            "sha256": sha256_hex(raw),
            "encoding": encoding,
            "content": content,
            "control": control_id,
            "note": note,
        }
        params = {"path": str(path.resolve()), "control": control_id}
        return self.locker.put(run_id, "manual", "manual.attachment", "read_file", params, data)
