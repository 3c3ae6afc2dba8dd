"""The knowledge store: a persistent Chroma database of criteria, controls and company documents.

Every chunk carries a stable citation id: `CC6.1` (criterion), `CC6.1/pof/3` (point of focus),
`control:IAM-01` (control), `policy:<file>#<section>` (company document). Retrieval is hybrid: dense
vectors from Chroma (`knowledge.embedding`) and BM25 over the same analysed terms (`knowledge.text`),
fused by reciprocal rank. The store is built on first open, so every consumer can just open it; a new
workspace gets a copy of the store this machine built for this version (`prebuilt_store_dir`), not a new build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import chromadb
from chromadb.config import Settings
from rank_bm25 import BM25Okapi

from knowledge.catalog import Catalog, load_catalog
from knowledge.citations import CitationKind, claimed_kind
from knowledge.control_library import ControlLibrary, load_controls
from knowledge.embedding import ConceptHashEmbedding, embedding_fingerprint
from knowledge.text import terms

if TYPE_CHECKING:  # documents pull in pypdf and the redactor (detect-secrets): not needed to search
    from knowledge.documents import DocumentChunk

COLLECTIONS = ("criteria", "controls", "documents")
# Where each kind of chunk is stored; criteria and their points of focus (and ids of no chunk) in "criteria".
_COLLECTION_OF_KIND: dict[CitationKind, str] = {"control": "controls", "policy": "documents"}
FINGERPRINT_FILE = "embedding.fingerprint"  # in the store's folder: which embedding made its vectors
# In the store's folder too: every chunk with its analysed terms, so a new process scores BM25 without
# stemming the whole store again. Written when first needed, removed by every write to the store.
LEXICAL_FILE = "lexical-index.json"  # JSON, not pickle: reading a workspace never runs code from it
RRF_K = 60  # the usual reciprocal-rank-fusion constant for chunk search
# Criterion ranking, measured with `python -m evals.retrieval.run`: in each ranking a criterion scores the
# reciprocal ranks of its best 3 chunks. The hashed dense vectors are a weaker, correlated lexical signal, so
# they count at a quarter of BM25's weight: enough to break ties (best recall@1 and MRR) without costing recall@5.
CRITERION_RRF_K = 30
CHUNKS_PER_CRITERION = 3
DENSE_WEIGHT = 0.25
CANDIDATES = 60
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
    def __init__(self, client: chromadb.ClientAPI, path: Path | None = None):
        self._client = client
        self._path = path  # where the embedding fingerprint is noted; None for an in-memory store
        self._embedding = ConceptHashEmbedding()
        self._lexical: tuple[BM25Okapi, list[Chunk]] | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, *, build_if_empty: bool = True) -> "KnowledgeStore":
        """The persistent store at `path`; built from the shipped catalog and controls on first use."""
        path.mkdir(parents=True, exist_ok=True)
        if build_if_empty and not any(path.iterdir()):
            shutil.copytree(prebuilt_store_dir(), path, dirs_exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
        store = cls(client, path)
        if build_if_empty and not store.is_built():
            store.build()
        elif store.is_built() and _stored_fingerprint(path) != embedding_fingerprint():
            # Built by a version whose vectors differ: re-embed everything, policies included, so no
            # search compares old vectors with new ones.
            store.reembed()
        return store

    def _note_fingerprint(self) -> None:
        if self._path is not None:
            (self._path / FINGERPRINT_FILE).write_text(embedding_fingerprint() + "\n", encoding="utf-8")

    def reembed(self) -> int:
        """Compute every chunk's vector again from its stored text; returns chunks re-embedded."""
        total = 0
        for name in COLLECTIONS:
            stored = self._collection(name).get(include=["documents", "metadatas"])
            chunks = list(zip(stored["ids"], stored["documents"], stored["metadatas"]))
            self._client.delete_collection(name)
            self._upsert(name, [(i, text, dict(meta)) for i, text, meta in chunks])
            total += len(chunks)
        self._note_fingerprint()
        return total

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
        criteria_chunks = _criteria_chunks(catalog, self._imported_pof_texts())
        control_chunks = [
            (
                f"control:{c.id}",
                f"{c.title}. {c.description}",
                _metadata(f"control:{c.id}", "control", c.criteria, "controls", title=c.title),
            )
            for c in controls.controls
        ]
        # A control removed from the library must not linger in the store.
        current = {chunk_id for chunk_id, _, _ in control_chunks}
        stale = [i for i in self._collection("controls").get(include=[])["ids"] if i not in current]
        if stale:
            self._collection("controls").delete(ids=stale)
            self._forget_lexical_index()
        self._upsert("criteria", criteria_chunks)
        self._upsert("controls", control_chunks)
        self._note_fingerprint()
        return len(criteria_chunks) + len(control_chunks)

    def _imported_pof_texts(self) -> dict[str, str]:
        """Full point-of-focus text loaded earlier by the importer survives a rebuild."""
        result = self._collection("criteria").get(where={"imported": True}, include=["metadatas"])
        return {i: m["full_text"] for i, m in zip(result["ids"], result["metadatas"]) if m.get("full_text")}

    def set_point_of_focus_text(self, texts: dict[str, str], catalog: Catalog | None = None) -> int:
        """Attach full text to point-of-focus chunks (`CC6.1/pof/3` -> text). Returns chunks updated."""
        chunks = [chunk for chunk in _criteria_chunks(catalog or load_catalog(), texts) if chunk[0] in texts]
        self._upsert("criteria", chunks)
        return len(chunks)

    def add_documents(self, chunks: list[DocumentChunk]) -> int:
        """Store company document sections (from `knowledge.documents.chunk_file`); returns chunks written.

        Adding a document again replaces all of its sections, so a section removed from the file goes too.
        """
        files = sorted({_document_name(c.citation_id) for c in chunks})
        if files:
            self._collection("documents").delete(where={"file": {"$in": files}})
            self._forget_lexical_index()
        self._upsert(
            "documents",
            [
                (
                    c.citation_id,
                    f"{c.section}\n{c.text}",
                    _metadata(
                        c.citation_id, "policy", [], c.source, title=c.section, file=_document_name(c.citation_id)
                    ),
                )
                for c in chunks
            ],
        )
        return len(chunks)

    def document_sources(self) -> dict[str, str]:
        """Stored company documents: the name their citations use (`hr/onboarding.md`) -> the file read."""
        result = self._collection("documents").get(include=["metadatas"])
        return {str(meta["file"]): str(meta["source"]) for meta in result["metadatas"] or []}

    def _upsert(self, name: str, chunks: list[tuple[str, str, dict[str, Any]]]) -> None:
        if not chunks:
            return
        collection = self._collection(name)
        batch = 500
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            collection.upsert(ids=[c[0] for c in part], documents=[c[1] for c in part], metadatas=[c[2] for c in part])
        self._forget_lexical_index()

    def _forget_lexical_index(self) -> None:
        with self._lock:
            self._lexical = None
            if self._path is not None:
                (self._path / LEXICAL_FILE).unlink(missing_ok=True)

    # -- reading ------------------------------------------------------------------------------------
    def get(self, citation_id: str) -> Chunk | None:
        """The chunk a citation id names (`CC6.1`, `CC6.1/pof/3`, `control:IAM-01`, `policy:x.md#y`), or None."""
        name = _COLLECTION_OF_KIND.get(claimed_kind(citation_id), "criteria")
        result = self._collection(name).get(ids=[citation_id], include=["documents", "metadatas"])
        if not result["ids"]:
            return None
        return Chunk(result["ids"][0], result["documents"][0], name, 1.0, dict(result["metadatas"][0]))

    def count(self) -> dict[str, int]:
        return {name: self._collection(name).count() for name in COLLECTIONS}

    def search(
        self, query: str, k: int = 5, collections: tuple[str, ...] | None = None, mode: Mode = "hybrid"
    ) -> list[Chunk]:
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
        """Rank criteria by the chunks that point to them: the criterion, its points of focus, mapped controls.

        In each ranking (dense, lexical) a criterion scores the reciprocal ranks of its best few chunks, so
        a criterion that several chunks support beats one lucky chunk; the rankings are then summed with
        weights. Controls are written in practical words, so they bridge plain questions to criteria.
        """
        rankings: list[tuple[float, list[Chunk]]] = []
        if mode in ("dense", "hybrid"):
            rankings.append((DENSE_WEIGHT, self._dense(query, ("criteria", "controls"), CANDIDATES)))
        if mode in ("lexical", "hybrid"):
            rankings.append((1.0, self._bm25(query, ("criteria", "controls"), CANDIDATES)))
        scores: dict[str, float] = {}
        best: dict[str, tuple[float, Chunk]] = {}  # the chunk that contributed most: shown as the match
        for weight, ranking in rankings:
            contributions: dict[str, list[float]] = {}
            for rank, chunk in enumerate(ranking, start=1):
                share = weight / (CRITERION_RRF_K + rank)
                for criterion in chunk.criteria:
                    contributions.setdefault(criterion, []).append(share)
                    if criterion not in best or share > best[criterion][0]:
                        best[criterion] = (share, chunk)
            for criterion, shares in contributions.items():
                scores[criterion] = scores.get(criterion, 0.0) + sum(shares[:CHUNKS_PER_CRITERION])
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return [CriterionHit(cid, score, best[cid][1]) for cid, score in ranked[:k]]

    def _dense(self, query: str, collections: tuple[str, ...], n: int) -> list[Chunk]:
        hits: list[Chunk] = []
        for name in collections:
            collection = self._collection(name)
            size = collection.count()
            if size == 0:
                continue
            result = collection.query(
                query_texts=[query], n_results=min(n, size), include=["documents", "metadatas", "distances"]
            )
            for i, doc, meta, dist in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0]
            ):
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
                chunks, corpus = self._saved_lexical_terms() or self._analyse_chunks()
                self._lexical = (BM25Okapi(corpus), chunks)
            return self._lexical

    def _analyse_chunks(self) -> tuple[list[Chunk], list[list[str]]]:
        chunks = []
        for name in COLLECTIONS:
            result = self._collection(name).get(include=["documents", "metadatas"])
            rows = zip(result["ids"], result["documents"], result["metadatas"], strict=True)
            chunks.extend(Chunk(i, d, name, 0.0, dict(m)) for i, d, m in rows)
        corpus = [terms(c.text) or ["∅"] for c in chunks] or [["∅"]]
        if self._path is not None:
            saved = self._path / LEXICAL_FILE
            partial = saved.with_suffix(".partial")  # renamed into place: a reader never sees half a file
            rows = [[c.id, c.text, c.collection, c.metadata] for c in chunks]
            partial.write_text(
                json.dumps({"fingerprint": embedding_fingerprint(), "chunks": rows, "terms": corpus}), encoding="utf-8"
            )
            partial.replace(saved)
        return chunks, corpus

    def _saved_lexical_terms(self) -> tuple[list[Chunk], list[list[str]]] | None:
        """The chunks and terms saved by an earlier process, if made by this version's text analysis."""
        if self._path is None:
            return None
        try:
            saved = json.loads((self._path / LEXICAL_FILE).read_text(encoding="utf-8"))
            if saved["fingerprint"] != embedding_fingerprint():
                return None
            chunks = [Chunk(i, text, name, 0.0, metadata) for i, text, name, metadata in saved["chunks"]]
            return chunks, saved["terms"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # none yet, or unreadable: analysed again and saved anew


def prebuilt_store_dir() -> Path:
    """The store built from the shipped criteria and controls, once per machine and version, that new
    workspaces copy: embedding it takes seconds, a copy milliseconds. Built here on first use.

    Under $XDG_CACHE_HOME (default ~/.cache)/agentic-auditor/, named by the package version and a digest of
    everything its chunks and vectors are made from, so a change to any of it makes a new one.
    """
    digest = hashlib.sha256(embedding_fingerprint().encode())
    here = Path(__file__).resolve().parent
    for source in (here / "store.py", *sorted((here / "controls").glob("*.yaml"))):
        digest.update(source.read_bytes())
    cache_root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agentic-auditor"
    prebuilt = cache_root / f"knowledge-{metadata.version('agentic-auditor')}-{digest.hexdigest()[:16]}"
    if not prebuilt.is_dir():
        # Built aside and renamed into place, so a concurrent or killed build never leaves half a store to copy.
        partial = cache_root / f"{prebuilt.name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        store = KnowledgeStore.open(partial, build_if_empty=False)
        store.build()
        store._lexical_index()  # saved beside it, so a new workspace's first search stems nothing
        try:
            partial.rename(prebuilt)
        except OSError:  # another process renamed its build first: use that one
            shutil.rmtree(partial, ignore_errors=True)
    return prebuilt


def _fuse(rankings: list[list[str]]) -> list[tuple[str, float]]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _with_score(chunk: Chunk, score: float) -> Chunk:
    return Chunk(chunk.id, chunk.text, chunk.collection, score, chunk.metadata)


def _stored_fingerprint(path: Path) -> str | None:
    try:
        return (path / FINGERPRINT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None  # built before fingerprints were noted: re-embed once


def _metadata(citation: str, kind: str, criteria: list[str], source: str, **extra: Any) -> dict[str, Any]:
    # Chroma metadata values are scalars, so the criteria travel as a comma-separated string.
    return {"citation": citation, "kind": kind, "criteria": ",".join(criteria), "source": source, **extra}


def _document_name(citation_id: str) -> str:
    return citation_id.removeprefix("policy:").partition("#")[0]


def _criteria_chunks(catalog: Catalog, imported: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """One chunk per criterion statement and per point of focus; the context prefix helps both retrievers."""
    chunks = []
    for criterion in catalog.criteria:
        chunks.append(
            (
                criterion.id,
                f"{criterion.id} {criterion.series_title}. {criterion.text}",
                _metadata(criterion.id, "criterion", [criterion.id], "tsc", title=criterion.id),
            )
        )
        for pof in criterion.points_of_focus:
            chunk_id = pof.citation_id(criterion.id)
            full_text = imported.get(chunk_id)
            text = f"{criterion.id} {criterion.series_title}: {pof.title}." + (f" {full_text}" if full_text else "")
            metadata = _metadata(
                chunk_id,
                "point_of_focus",
                [criterion.id],
                "tsc",
                title=pof.title,
                tags=",".join(pof.tags),
                imported=bool(full_text),
            )
            if full_text:
                metadata["full_text"] = full_text
            chunks.append((chunk_id, text, metadata))
    return chunks
