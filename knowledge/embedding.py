"""The embedding function of the knowledge store: `soc2-concept-hash-v1`.

Why this embedding: Chroma's default model is downloaded at first use, which fails offline, and the
packaged sentence-transformer models on PyPI pull in PyTorch. This function needs neither: it hashes each
text's terms (stems, stem bigrams and SOC 2 concept tokens from `knowledge.text`) into a fixed-size
vector, weighted by sublinear term frequency and by inverse document frequency over the shipped criteria
and controls, then L2-normalises it. It is deterministic (hashlib, no randomness), so chunk vectors are
identical across rebuilds and machines, and it is registered with Chroma under a stable name so a
persistent store reopens with the same function. `evals/retrieval` measures its quality.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from functools import cache
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from knowledge.text import terms

DIMENSIONS = 1024
CONCEPT_WEIGHT = 2.0  # concept tokens carry the cross-vocabulary signal; weight them above plain words


@cache
def corpus_idf() -> dict[str, float]:
    """IDF over the shipped corpus: each criterion, point-of-focus title and control is one document."""
    from knowledge.catalog import load_catalog
    from knowledge.control_library import load_controls

    documents = []
    for criterion in load_catalog().criteria:
        documents.append(criterion.text)
        documents.extend(p.title for p in criterion.points_of_focus)
    documents.extend(f"{c.title}. {c.description}" for c in load_controls().controls)
    document_frequency: Counter[str] = Counter()
    for document in documents:
        document_frequency.update(set(terms(document)))
    total = len(documents)
    return {term: math.log(1 + total / (1 + count)) for term, count in document_frequency.items()}


def _bucket(term: str) -> tuple[int, float]:
    digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % DIMENSIONS, (1.0 if (value >> 63) & 1 else -1.0)


def embed_text(text: str) -> list[float]:
    idf = corpus_idf()
    default_idf = math.log(1 + len(idf) / 1)  # unseen terms are rare, hence informative
    vector = np.zeros(DIMENSIONS, dtype=np.float64)
    for term, count in Counter(terms(text)).items():
        weight = (1 + math.log(count)) * idf.get(term, default_idf)
        if term.startswith("@"):
            weight *= CONCEPT_WEIGHT
        index, sign = _bucket(term)
        vector[index] += sign * weight
    norm = np.linalg.norm(vector)
    return (vector / norm if norm else vector).astype(np.float32).tolist()


@register_embedding_function
class ConceptHashEmbedding(EmbeddingFunction[Documents]):
    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        return [np.asarray(embed_text(text), dtype=np.float32) for text in input]

    @staticmethod
    def name() -> str:
        return "soc2-concept-hash-v1"

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine"]

    def get_config(self) -> dict[str, Any]:
        return {"dimensions": DIMENSIONS}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "ConceptHashEmbedding":
        if config.get("dimensions", DIMENSIONS) != DIMENSIONS:
            raise ValueError(f"store was built with {config['dimensions']} dimensions; this version has {DIMENSIONS}")
        return ConceptHashEmbedding()
