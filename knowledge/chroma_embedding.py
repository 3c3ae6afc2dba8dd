"""The Chroma adapter of the knowledge store's embedding (`knowledge.embedding`).

Registered under a stable name, so a persistent store reopens with it in a fresh client.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from knowledge.embedding import DIMENSIONS, EMBEDDING_NAME, embed_text


@register_embedding_function
class ConceptHashEmbedding(EmbeddingFunction[Documents]):
    """Chroma adapter for `embed_text`; it has no settings beyond the vector size."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        return [np.asarray(embed_text(text), dtype=np.float32) for text in input]

    @staticmethod
    def name() -> str:
        return EMBEDDING_NAME

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine"]

    def get_config(self) -> dict[str, Any]:
        return {"dimensions": DIMENSIONS}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ConceptHashEmbedding:
        if config.get("dimensions", DIMENSIONS) != DIMENSIONS:
            raise ValueError(
                f"this knowledge store was built with {config['dimensions']}-dimension vectors and this version "
                f"uses {DIMENSIONS}: delete the workspace's knowledge/ folder and run `auditor knowledge build`"
            )
        return ConceptHashEmbedding()
