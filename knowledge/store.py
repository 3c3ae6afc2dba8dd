"""The knowledge store: a persistent Chroma database of criteria, controls and company documents.

Every chunk carries a stable citation id: `CC6.1` (criterion), `CC6.1/pof/3` (point of focus),
`control:IAM-01` (control), `policy:<file>#<section>` (company document). Retrieval is hybrid: dense
vectors from Chroma and BM25 over the same terms, fused by reciprocal rank fusion.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import chromadb
from chromadb.config import Settings
from rank_bm25 import BM25Okapi

from knowledge.catalog import Catalog, load_catalog
from knowledge.control_library import ControlLibrary, load_controls
from knowledge.embedding import ConceptHashEmbedding
from knowledge.text import terms

COLLECTIONS = ("criteria", "controls", "documents")
RRF_K = 60  # the usual reciprocal-rank-fusion constant: damps the weight of top ranks
Mode = Literal["dense", "lexical", "hybrid"]


@dataclass(frozen=True)
class Chunk:
    id: str  # the citation id
    text: str
    collection: str
    score: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def criteria(self) -> list[str]:
        value = self.metadata.get("criteria", "")
        return [c for c in value.split(",") if c]


@dataclass(frozen=True)
class CriterionHit:
    criterion_id: str
    score: float
    best_chunk: Chunk


class KnowledgeStore:
    def __init__(self, client: chromadb.ClientAPI):
        self._client = client
        self._embedding = ConceptHashEmbedding()
        self._lexical: tuple[BM25Okapi, list[Chunk]] | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> "KnowledgeStore":
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
        return cls(client)

    def _collection(self, name: str) -> Any:
        return self._client.get_or_create_collection(
            name, embedding_function=self._embedding, configuration={"hnsw": {"space": "cosine"}}
        )

    # -- building -----------------------------------------------------------------------------------
    def is_built(self) -> bool:
        return self._collection("criteria").count() > 0

    def build(self, catalog: Catalog | None = None, controls: ControlLibrary | None = None) -> int:
        """Load criteria, points of focus and controls; idempotent, ids stable. Returns chunks written."""
        catalog = catalog or load_catalog()
        controls = controls or load_controls()
        imported = self._imported_pof_texts()
        criteria_chunks = []
        for criterion in catalog.criteria:
            criteria_chunks.append(
                (criterion.id, f"{criterion.id} {criterion.series_title}. {criterion.text}",
                 {"kind": "criterion", "criteria": criterion.id, "title": criterion.id, "source": "tsc"})
            )
            for pof in criterion.points_of_focus:
                chunk_id = pof.citation_id(criterion.id)
                full_text = imported.get(chunk_id)
                text = f"{criterion.id} {criterion.series_title}: {pof.title}." + (f" {full_text}" if full_text else "")
                metadata = {"kind": "point_of_focus", "criteria": criterion.id, "title": pof.title,
                            "source": "tsc", "imported": bool(full_text)}
                criteria_chunks.append((chunk_id, text, metadata))
        control_chunks = [
            (f"control:{c.id}", f"{c.title}. {c.description}",
             {"kind": "control", "criteria": ",".join(c.criteria), "title": c.title, "source": "controls"})
            for c in controls.controls
        ]
        self._upsert("criteria", criteria_chunks)
        self._upsert("controls", control_chunks)
        return len(criteria_chunks) + len(control_chunks)

    def _imported_pof_texts(self) -> dict[str, str]:
        """Full point-of-focus text loaded earlier by the importer survives a rebuild."""
        result = self._collection("criteria").get(where={"imported": True}, include=["metadatas"])
        return {i: m["full_text"] for i, m in zip(result["ids"], result["metadatas"]) if m.get("full_text")}

    def set_point_of_focus_text(self, texts: dict[str, str]) -> int:
        """Attach full text to point-of-focus chunks (`CC6.1/pof/3` -> text). Returns chunks updated."""
        collection = self._collection("criteria")
        existing = collection.get(ids=list(texts), include=["metadatas"])
        updates = []
        for chunk_id, metadata in zip(existing["ids"], existing["metadatas"]):
            text = f"{metadata['criteria']} {metadata['title']}. {texts[chunk_id]}"
            updates.append((chunk_id, text, {**metadata, "imported": True, "full_text": texts[chunk_id]}))
        self._upsert("criteria", updates)
        return len(updates)

    def add_document_chunks(self, chunks: list[tuple[str, str, dict[str, Any]]]) -> int:
        self._upsert("documents", chunks)
        return len(chunks)

    def _upsert(self, name: str, chunks: list[tuple[str, str, dict[str, Any]]]) -> None:
        if not chunks:
            return
        collection = self._collection(name)
        batch = 500
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            collection.upsert(ids=[c[0] for c in part], documents=[c[1] for c in part], metadatas=[c[2] for c in part])
        with self._lock:
            self._lexical = None

    # -- reading ------------------------------------------------------------------------------------
    def get(self, citation_id: str) -> Chunk | None:
        for name in COLLECTIONS:
            result = self._collection(name).get(ids=[citation_id], include=["documents", "metadatas"])
            if result["ids"]:
                return Chunk(result["ids"][0], result["documents"][0], name, 1.0, dict(result["metadatas"][0]))
        return None

    def count(self) -> dict[str, int]:
        return {name: self._collection(name).count() for name in COLLECTIONS}

    def search(self, query: str, k: int = 5, collections: tuple[str, ...] | None = None, mode: Mode = "hybrid") -> list[Chunk]:
        """The k best chunks for a query across the given collections."""
        collections = collections or COLLECTIONS
        rankings = []
        if mode in ("dense", "hybrid"):
            rankings.append(self._dense(query, collections, max(k * 4, 20)))
        if mode in ("lexical", "hybrid"):
            rankings.append(self._bm25(query, collections, max(k * 4, 20)))
        fused = _fuse([[c.id for c in ranking] for ranking in rankings])
        by_id = {c.id: c for ranking in rankings for c in ranking}
        return [_with_score(by_id[i], score) for i, score in fused[:k]]

    def search_criteria(self, query: str, k: int = 5, mode: Mode = "hybrid") -> list[CriterionHit]:
        """Rank criteria: hits on a criterion, its points of focus and the controls mapped to it all count."""
        rankings: list[list[Chunk]] = []
        if mode in ("dense", "hybrid"):
            rankings.append(self._dense(query, ("criteria", "controls"), 60))
        if mode in ("lexical", "hybrid"):
            rankings.append(self._bm25(query, ("criteria", "controls"), 60))
        best_chunk: dict[str, Chunk] = {}
        per_ranking: list[list[str]] = []
        for ranking in rankings:
            order: list[str] = []
            for chunk in ranking:
                for criterion in chunk.criteria:
                    best_chunk.setdefault(criterion, chunk)
                    if criterion not in order:
                        order.append(criterion)
            per_ranking.append(order)
        fused = _fuse(per_ranking)
        return [CriterionHit(cid, score, best_chunk[cid]) for cid, score in fused[:k]]

    def _dense(self, query: str, collections: tuple[str, ...], n: int) -> list[Chunk]:
        hits: list[Chunk] = []
        for name in collections:
            collection = self._collection(name)
            size = collection.count()
            if size == 0:
                continue
            result = collection.query(query_texts=[query], n_results=min(n, size), include=["documents", "metadatas", "distances"])
            for i, doc, meta, dist in zip(result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0]):
                hits.append(Chunk(i, doc, name, 1.0 - dist, dict(meta)))
        hits.sort(key=lambda c: (-c.score, c.id))
        return hits[:n]

    def _bm25(self, query: str, collections: tuple[str, ...], n: int) -> list[Chunk]:
        index, chunks = self._lexical_index()
        scores = index.get_scores(terms(query))
        ranked = sorted(
            (i for i, chunk in enumerate(chunks) if chunk.collection in collections and scores[i] > 0),
            key=lambda i: (-scores[i], chunks[i].id),
        )
        return [_with_score(chunks[i], float(scores[i])) for i in ranked[:n]]

    def _lexical_index(self) -> tuple[BM25Okapi, list[Chunk]]:
        with self._lock:
            if self._lexical is None:
                chunks = []
                for name in COLLECTIONS:
                    result = self._collection(name).get(include=["documents", "metadatas"])
                    chunks.extend(Chunk(i, d, name, 0.0, dict(m)) for i, d, m in zip(result["ids"], result["documents"], result["metadatas"]))
                corpus = [terms(c.text) or ["∅"] for c in chunks] or [["∅"]]
                self._lexical = (BM25Okapi(corpus), chunks)
            return self._lexical


def _fuse(rankings: list[list[str]]) -> list[tuple[str, float]]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _with_score(chunk: Chunk, score: float) -> Chunk:
    return Chunk(chunk.id, chunk.text, chunk.collection, score, chunk.metadata)
