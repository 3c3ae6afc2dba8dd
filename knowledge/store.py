"""The knowledge store: a persistent Chroma database of criteria, controls and company documents.

Every chunk carries a stable citation id: `CC6.1` (criterion), `CC6.1/pof/3` (point of focus),
`control:IAM-01` (control), `policy:<file>#<section>` (company document). Retrieval is hybrid: dense
vectors (`knowledge.embedding`) and BM25 over the same analysed terms (`knowledge.text`), fused by
reciprocal rank. The store is built on first open, so every consumer can just open it; a new workspace
gets a copy of the store this machine built for this version (`prebuilt_store_dir`), not a new build.

Chroma holds the chunks and their vectors and every write goes to it. Searching and reading a chunk use a copy
read from it in one pass (`SearchIndex`: every chunk, its vector and its BM25 postings, saved beside the store
and removed by every write), ranked in numpy (exact cosine, and BM25 summed over postings), so a process that
only reads never starts a Chroma client.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import threading
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import numpy as np

from knowledge.catalog import Catalog, load_catalog
from knowledge.citations import CitationKind, claimed_kind
from knowledge.embedding import DIMENSIONS, IdfTable, corpus_idf, embed_text, embedding_fingerprint
from knowledge.text import terms

if TYPE_CHECKING:  # not needed to search: documents load pypdf and detect-secrets, Chroma takes a second
    import chromadb

    from knowledge.control_library import ControlLibrary
    from knowledge.documents import DocumentChunk

COLLECTIONS = ("criteria", "controls", "documents")
# Where each kind of chunk is stored; criteria and their points of focus (and ids of no chunk) in "criteria".
_COLLECTION_OF_KIND: dict[CitationKind, str] = {"control": "controls", "policy": "documents"}
FINGERPRINT_FILE = "embedding.fingerprint"  # in the store's folder: which embedding made its vectors
# In the store's folder too, the saved SearchIndex: every chunk with its BM25 postings (JSON), and its vector
# (.npy, whose digest the JSON notes), so a new process searches without Chroma and without stemming the store
# again. Written when first needed, removed by every write to the store. JSON and .npy, not pickle: reading a
# workspace never runs code from it. INDEX_FORMAT changes with what the JSON holds: another is read anew.
INDEX_FILE = "search-index.json"
VECTORS_FILE = "search-vectors.npy"
INDEX_FORMAT = 2
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


@dataclass(frozen=True)
class Postings:
    """BM25 as rank_bm25's `BM25Okapi(corpus).get_scores` computes it, but from postings: each term's documents
    and its weight in each, so a query adds up only the documents its terms are in (get_scores goes through
    every document in Python for each term). The weights are BM25Okapi's own expression, idf floor included,
    computed once; the same float operations in the same order give the same scores to the last bit."""

    document_count: int
    rows: dict[str, int]  # term -> its postings: documents[starts[row]:starts[row + 1]], weights likewise
    starts: np.ndarray
    documents: np.ndarray
    weights: np.ndarray

    @classmethod
    def fit(cls, corpus: list[list[str]]) -> Postings:
        from rank_bm25 import BM25Okapi  # the formula's definition: only building an index needs it

        bm25 = BM25Okapi(corpus)
        vocabulary = sorted(bm25.idf)
        rows = {term: row for row, term in enumerate(vocabulary)}
        # Every (term, document, count), grouped by term and in document order within a term.
        entries = sorted(
            (rows[term], document, count)
            for document, counts in enumerate(bm25.doc_freqs)
            for term, count in counts.items()
        )
        term_rows, documents, counts = (np.array(column, dtype=np.int64) for column in zip(*entries, strict=True))
        idf = np.array([bm25.idf[term] or 0 for term in vocabulary])[term_rows]
        doc_len = np.array(bm25.doc_len)[documents]
        k1, b = bm25.k1, bm25.b
        weights = idf * (counts * (k1 + 1) / (counts + k1 * (1 - b + b * doc_len / bm25.avgdl)))
        starts = np.searchsorted(term_rows, np.arange(len(vocabulary) + 1))
        return cls(len(corpus), rows, starts, documents, weights)

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """Each document's BM25 score for the query; a repeated term counts again, as in get_scores."""
        scores = np.zeros(self.document_count)
        for term in query_terms:
            row = self.rows.get(term)
            if row is not None:  # get_scores adds 0.0 for a term in no document
                postings = slice(self.starts[row], self.starts[row + 1])
                scores[self.documents[postings]] += self.weights[postings]
        return scores

    def saved(self) -> dict[str, Any]:
        return {
            "document_count": self.document_count,
            "terms": sorted(self.rows, key=self.rows.__getitem__),
            "starts": self.starts.tolist(),
            "documents": self.documents.tolist(),
            "weights": self.weights.tolist(),  # JSON keeps a float64 to the last bit
        }

    @classmethod
    def from_saved(cls, saved: dict[str, Any], document_count: int) -> Postings:
        """Postings as saved() wrote them for `document_count` documents; ValueError if they do not fit together
        (a damaged file must be read anew, not searched out of bounds)."""
        postings = cls(
            saved["document_count"],
            {term: row for row, term in enumerate(saved["terms"])},
            np.array(saved["starts"], dtype=np.int64),
            np.array(saved["documents"], dtype=np.int64),
            np.array(saved["weights"], dtype=np.float64),
        )
        fits = (
            postings.document_count == document_count
            and len(postings.starts) == len(postings.rows) + 1
            and postings.starts[0] == 0
            and postings.starts[-1] == len(postings.documents) == len(postings.weights)
            and bool(np.all(np.diff(postings.starts) >= 0))
            and (
                len(postings.documents) == 0
                or 0 <= postings.documents.min() <= postings.documents.max() < document_count
            )
        )
        if not fits:
            raise ValueError("saved BM25 postings do not fit the saved chunks")
        return postings


@dataclass(frozen=True)
class SearchIndex:
    """What searching reads: every chunk of the store, its BM25 postings and its vector, in one order."""

    chunks: list[Chunk]
    postings: Postings
    vectors: np.ndarray  # one row per chunk: the unit-length vector Chroma stores for it
    idf: IdfTable  # what a question's vector is weighted by, saved too: computing it costs more than a search

    @cached_property
    def by_collection_and_id(self) -> dict[tuple[str, str], Chunk]:
        return {(chunk.collection, chunk.id): chunk for chunk in self.chunks}

    @cached_property
    def _collections(self) -> np.ndarray:
        return np.array([chunk.collection for chunk in self.chunks], dtype=object)

    @cached_property
    def _id_rank(self) -> np.ndarray:
        """Each chunk's place in order of ids (ties in the order of chunks, as a stable sort keeps them)."""
        order = np.empty(len(self.chunks), dtype=np.int64)
        order[sorted(range(len(self.chunks)), key=lambda i: self.chunks[i].id)] = np.arange(len(self.chunks))
        return order

    def best(
        self, scores: np.ndarray, collections: tuple[str, ...], n: int, *, positive_only: bool = False
    ) -> list[Chunk]:
        """The n best-scoring chunks in the collections, with their scores; equal scores in order of id."""
        candidates = np.flatnonzero(np.isin(self._collections, collections))
        if positive_only:
            candidates = candidates[scores[candidates] > 0]
        ranked = candidates[np.lexsort((self._id_rank[candidates], -scores[candidates]))][:n]
        return [_with_score(self.chunks[i], float(scores[i])) for i in ranked]


class KnowledgeStore:
    def __init__(self, client: chromadb.ClientAPI | None = None, path: Path | None = None):
        """A store on `client`, or (`open`) on the persistent Chroma database at `path`, connected on first need."""
        self._connected = client
        self._path = path  # where the embedding fingerprint and the search index are saved; None in memory
        self._index: SearchIndex | None = None
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path, *, build_if_empty: bool = True) -> KnowledgeStore:
        """The persistent store at `path`; built from the shipped catalog and controls on first use."""
        path.mkdir(parents=True, exist_ok=True)
        if build_if_empty and not any(path.iterdir()):
            shutil.copytree(prebuilt_store_dir(), path, dirs_exist_ok=True)
        store = cls(path=path)
        saved = store._saved_search_index()
        built = saved is not None and any(chunk.collection == "criteria" for chunk in saved.chunks)
        if built and _stored_fingerprint(path) == embedding_fingerprint():
            # Built, with this version's vectors, and unchanged since its index was saved: nothing to check in
            # Chroma, which a search then never needs.
            store._index = saved
            return store
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
            chunks = list(zip(stored["ids"], stored["documents"], stored["metadatas"], strict=True))
            self._client.delete_collection(name)
            self._upsert(name, [(i, text, dict(meta)) for i, text, meta in chunks])
            total += len(chunks)
        self._note_fingerprint()
        return total

    @property
    def _client(self) -> chromadb.ClientAPI:
        with self._lock:
            if self._connected is None:
                import chromadb
                from chromadb.config import Settings

                self._connected = chromadb.PersistentClient(
                    path=str(self._path), settings=Settings(anonymized_telemetry=False)
                )
            return self._connected

    def _collection(self, name: str) -> Any:
        from knowledge.chroma_embedding import ConceptHashEmbedding  # registers it before a collection reopens

        return self._client.get_or_create_collection(
            name, embedding_function=ConceptHashEmbedding(), configuration={"hnsw": {"space": "cosine"}}
        )

    # -- building -----------------------------------------------------------------------------------
    def is_built(self) -> bool:
        return self._collection("criteria").count() > 0

    def build(self, catalog: Catalog | None = None, controls: ControlLibrary | None = None) -> int:
        """Load criteria, points of focus and controls; idempotent, ids stable. Returns chunks written."""
        catalog = catalog or load_catalog()
        from knowledge.control_library import load_controls  # YAML and validation: only a build reads the library

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
            self._forget_search_index()
        self._upsert("criteria", criteria_chunks)
        self._upsert("controls", control_chunks)
        self._note_fingerprint()
        return len(criteria_chunks) + len(control_chunks)

    def _imported_pof_texts(self) -> dict[str, str]:
        """Full point-of-focus text loaded earlier by the importer survives a rebuild."""
        result = self._collection("criteria").get(where={"imported": True}, include=["metadatas"])
        return {
            i: m["full_text"] for i, m in zip(result["ids"], result["metadatas"], strict=True) if m.get("full_text")
        }

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
            self._forget_search_index()
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
        self._forget_search_index()

    def _forget_search_index(self) -> None:
        with self._lock:
            self._index = None
            if self._path is not None:
                (self._path / INDEX_FILE).unlink(missing_ok=True)  # first: without it the vectors are never read
                (self._path / VECTORS_FILE).unlink(missing_ok=True)

    # -- reading ------------------------------------------------------------------------------------
    def get(self, citation_id: str) -> Chunk | None:
        """The chunk a citation id names (`CC6.1`, `CC6.1/pof/3`, `control:IAM-01`, `policy:x.md#y`), or None."""
        name = _COLLECTION_OF_KIND.get(claimed_kind(citation_id), "criteria")
        chunk = self._search_index().by_collection_and_id.get((name, citation_id))
        return None if chunk is None else _with_score(chunk, 1.0)

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
        """The n chunks nearest the query by cosine, over every stored vector: exact, as Chroma ranks them."""
        index = self._search_index()
        similarities = index.vectors @ np.asarray(embed_text(query, index.idf), dtype=np.float32)
        return index.best(similarities, collections, n)

    def _bm25(self, query: str, collections: tuple[str, ...], n: int) -> list[Chunk]:
        """The n chunks with the best BM25 score above zero for the query."""
        index = self._search_index()
        return index.best(index.postings.scores(terms(query)), collections, n, positive_only=True)

    def _search_index(self) -> SearchIndex:
        with self._lock:
            if self._index is None:
                self._index = self._saved_search_index() or self._read_search_index()
            return self._index

    def _read_search_index(self) -> SearchIndex:
        """Every chunk and vector from Chroma, with the chunks' terms analysed; saved for the next process."""
        chunks, vectors = [], []
        for name in COLLECTIONS:
            result = self._collection(name).get(include=["documents", "metadatas", "embeddings"])
            rows = zip(result["ids"], result["documents"], result["metadatas"], strict=True)
            chunks.extend(Chunk(i, d, name, 0.0, dict(m)) for i, d, m in rows)
            vectors.extend(result["embeddings"])
        postings = Postings.fit([terms(c.text) or ["∅"] for c in chunks] or [["∅"]])
        matrix = np.array(vectors, dtype=np.float32).reshape(len(chunks), DIMENSIONS)
        idf = corpus_idf()
        if self._path is not None:
            # The vectors first, the JSON naming their digest last, each renamed into place: a reader never
            # sees half a file, nor a JSON with vectors from another write.
            buffer = io.BytesIO()
            np.save(buffer, matrix, allow_pickle=False)
            _write_aside(self._path / VECTORS_FILE, buffer.getvalue())
            rows = [[c.id, c.text, c.collection, c.metadata] for c in chunks]
            saved = {
                "format": INDEX_FORMAT,
                "fingerprint": embedding_fingerprint(),
                "vectors_sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
                "chunks": rows,
                "postings": postings.saved(),
                "idf": {"weights": idf.weights, "unseen": idf.unseen},
            }
            _write_aside(self._path / INDEX_FILE, msgspec.json.encode(saved))
        return SearchIndex(chunks, postings, matrix, idf)

    def _saved_search_index(self) -> SearchIndex | None:
        """The index saved by an earlier process, if made by this version's analysis and embedding."""
        if self._path is None:
            return None
        try:
            saved = msgspec.json.decode((self._path / INDEX_FILE).read_bytes())
            vectors = (self._path / VECTORS_FILE).read_bytes()
            if saved["format"] != INDEX_FORMAT or saved["fingerprint"] != embedding_fingerprint():
                return None
            if hashlib.sha256(vectors).hexdigest() != saved["vectors_sha256"]:
                return None
            chunks = [Chunk(i, text, name, 0.0, metadata) for i, text, name, metadata in saved["chunks"]]
            matrix = np.load(io.BytesIO(vectors), allow_pickle=False)
            if matrix.shape != (len(chunks), DIMENSIONS):
                return None
            idf = IdfTable(saved["idf"]["weights"], saved["idf"]["unseen"])
            return SearchIndex(chunks, Postings.from_saved(saved["postings"], len(chunks)), matrix, idf)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # none yet, or unreadable: read from Chroma again and saved anew


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
        store._search_index()  # saved beside it, so a new workspace's first search needs no Chroma
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


def _write_aside(target: Path, content: bytes) -> None:
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")  # one per process: two may save at once
    partial.write_bytes(content)
    partial.replace(target)


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
