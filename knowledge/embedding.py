"""The embedding of the knowledge store, registered with Chroma as `soc2-concept-hash-v1`
(`knowledge.chroma_embedding`). This module does not load Chroma, so a search can rank saved vectors without it.

Why this embedding: Chroma's default model is downloaded on first use, which fails offline, and the PyPI
packages that bundle a sentence model need sentence-transformers and so PyTorch. This function needs
neither. It analyses a text into terms (`knowledge.text`: stems, stem bigrams and SOC 2 concept tokens
that map plain words such as "offboarding" and formal ones such as "removes access" to one token),
weights each by sublinear term frequency and by its inverse document frequency over the shipped TSC
catalog, hashes it into a fixed-size vector with a sign bit (the hashing trick) and L2-normalises.
It is deterministic (hashlib, not the salted `hash()`; no randomness), so a chunk's vector is the same
across rebuilds, processes and machines. `python -m evals.retrieval.run` measures its quality.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from knowledge.text import terms

EMBEDDING_NAME = "soc2-concept-hash-v1"  # the name Chroma reopens a persistent collection's embedding by
DIMENSIONS = 1024
CONCEPT_WEIGHT = 2.0  # concept tokens carry the cross-vocabulary signal; weight them above plain words


@dataclass(frozen=True)
class IdfTable:
    weights: dict[str, float]
    unseen: float  # a term absent from the corpus is rarer than any in it, hence informative


@cache
def corpus_idf() -> IdfTable:
    """IDF over the shipped TSC catalog: each criterion statement and point-of-focus title is a document.

    Only the shipped catalog counts, not the (editable) control library, so a vector depends on nothing
    but its text and the package version.
    """
    from knowledge.catalog import load_catalog

    documents = []
    for criterion in load_catalog().criteria:
        documents.append(f"{criterion.series_title}. {criterion.text}")
        documents.extend(p.title for p in criterion.points_of_focus)
    document_frequency: Counter[str] = Counter()
    for document in documents:
        document_frequency.update(set(terms(document)))
    total = len(documents)
    weights = {term: math.log(1 + total / (1 + count)) for term, count in document_frequency.items()}
    return IdfTable(weights, math.log(1 + total))


def _bucket(term: str) -> tuple[int, float]:
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % DIMENSIONS, (1.0 if (value >> 63) & 1 else -1.0)


def embed_text(text: str, idf: IdfTable | None = None) -> list[float]:
    """The text's vector; `idf` is `corpus_idf()`, passed by a caller that saved it (computing it takes a while)."""
    idf = idf or corpus_idf()
    vector = np.zeros(DIMENSIONS, dtype=np.float64)
    for term, count in Counter(terms(text)).items():
        weight = (1 + math.log(count)) * idf.weights.get(term, idf.unseen)
        if term.startswith("@"):
            weight *= CONCEPT_WEIGHT
        index, sign = _bucket(term)
        vector[index] += sign * weight
    norm = np.linalg.norm(vector)
    return (vector / norm if norm else vector).astype(np.float32).tolist()


@cache
def embedding_fingerprint() -> str:
    """Changes whenever a stored vector could: a digest of the code and data vectors are computed from.

    A store records it when it embeds; a store opened by a version with another fingerprint re-embeds
    its chunks rather than mix old and new vectors.
    """
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(f"{EMBEDDING_NAME}:{DIMENSIONS}:{CONCEPT_WEIGHT}".encode())
    for path in (here / "embedding.py", here / "text.py", here / "data" / "tsc.json"):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
