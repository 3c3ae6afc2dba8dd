"""Retrieval quality of the knowledge store on labelled compliance questions.

    python -m evals.retrieval.run

Prints recall@1, recall@5 and MRR for dense, lexical and hybrid retrieval, the index build time and
the median query latency. A question counts as recalled at k when any of its labelled criteria is in
the top k.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.store import KnowledgeStore, Mode

QUESTIONS = Path(__file__).with_name("questions.yaml")


@dataclass(frozen=True)
class Scores:
    mode: str
    recall_at_1: float
    recall_at_5: float
    mrr: float
    median_latency_ms: float
    misses: list[str]


def load_questions() -> list[dict]:
    return yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))


def evaluate(store: KnowledgeStore, mode: Mode) -> Scores:
    questions = load_questions()
    hits1 = hits5 = 0
    reciprocal_ranks, latencies, misses = [], [], []
    for item in questions:
        start = time.perf_counter()
        ranked = [hit.criterion_id for hit in store.search_criteria(item["q"], k=10, mode=mode)]
        latencies.append((time.perf_counter() - start) * 1000)
        ranks = [ranked.index(cid) + 1 for cid in item["ids"] if cid in ranked]
        best = min(ranks) if ranks else None
        hits1 += best == 1
        hits5 += best is not None and best <= 5
        reciprocal_ranks.append(1 / best if best else 0.0)
        if best is None or best > 5:
            misses.append(f"{item['q']} -> expected {item['ids']}, got {ranked[:5]}")
    n = len(questions)
    return Scores(mode, hits1 / n, hits5 / n, sum(reciprocal_ranks) / n, statistics.median(latencies), misses)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        store = KnowledgeStore.open(Path(tmp))
        chunks = store.build()
        build_s = time.perf_counter() - start
        print(f"questions: {len(load_questions())}   chunks indexed: {chunks}   index build: {build_s:.2f} s")
        print(f"{'mode':<8} {'recall@1':>9} {'recall@5':>9} {'MRR':>6} {'median ms':>10}")
        for mode in ("dense", "lexical", "hybrid"):
            s = evaluate(store, mode)
            print(f"{s.mode:<8} {s.recall_at_1:>9.3f} {s.recall_at_5:>9.3f} {s.mrr:>6.3f} {s.median_latency_ms:>10.1f}")
        for miss in evaluate(store, "hybrid").misses:
            print(f"  miss (hybrid): {miss}")


if __name__ == "__main__":
    main()
