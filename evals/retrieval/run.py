"""Retrieval quality of the knowledge store on labelled compliance questions.

    python -m evals.retrieval.run [--by-batch]

Builds a fresh index in a temporary folder and prints recall@1, recall@5 and MRR of criterion ranking
(`KnowledgeStore.search_criteria`) for dense-only, lexical-only and hybrid retrieval, the index build
time and the median query latency. A question counts as recalled at k when any of its labelled
criteria is in the top k. `--by-batch` also prints each batch of questions apart: batches 2 and 3
were written after tuning began, so they show how well the tuning generalises.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from knowledge.store import KnowledgeStore, Mode

QUESTIONS = Path(__file__).with_name("questions.yaml")
MODES: tuple[Mode, ...] = ("dense", "lexical", "hybrid")


@dataclass(frozen=True)
class Question:
    text: str
    criteria: list[str]
    batch: int


@dataclass(frozen=True)
class Scores:
    mode: str
    questions: int
    recall_at_1: float
    recall_at_5: float
    mrr: float
    median_latency_ms: float
    misses: list[str] = field(default_factory=list)


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Question(item["q"], list(item["ids"]), int(item.get("batch", 1))) for item in items]


def evaluate(store: KnowledgeStore, mode: Mode, questions: list[Question] | None = None) -> Scores:
    questions = questions if questions is not None else load_questions()
    hits_at_1 = hits_at_5 = 0
    reciprocal_ranks, latencies, misses = [], [], []
    for question in questions:
        start = time.perf_counter()
        ranked = [hit.criterion_id for hit in store.search_criteria(question.text, k=10, mode=mode)]
        latencies.append((time.perf_counter() - start) * 1000)
        ranks = [ranked.index(cid) + 1 for cid in question.criteria if cid in ranked]
        best = min(ranks) if ranks else None
        hits_at_1 += best == 1
        hits_at_5 += best is not None and best <= 5
        reciprocal_ranks.append(1 / best if best else 0.0)
        if best is None or best > 5:
            misses.append(f"{question.text} -> expected {question.criteria}, got {ranked[:5]}")
    n = len(questions)
    return Scores(
        mode, n, hits_at_1 / n, hits_at_5 / n, sum(reciprocal_ranks) / n, statistics.median(latencies), misses
    )


def _row(label: str, scores: Scores) -> str:
    return (
        f"{label:<16} {scores.questions:>4} {scores.recall_at_1:>9.3f} {scores.recall_at_5:>9.3f} "
        f"{scores.mrr:>6.3f} {scores.median_latency_ms:>10.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--by-batch", action="store_true", help="also print each batch of questions apart")
    args = parser.parse_args()
    questions = load_questions()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        store = KnowledgeStore.open(Path(tmp))
        chunks = store.build()
        build_s = time.perf_counter() - start
        print(f"questions: {len(questions)}   chunks indexed: {chunks}   index build: {build_s:.2f} s")
        print(f"{'mode':<16} {'n':>4} {'recall@1':>9} {'recall@5':>9} {'MRR':>6} {'median ms':>10}")
        for mode in MODES:
            print(_row(mode, evaluate(store, mode, questions)))
        if args.by_batch:
            for batch in sorted({q.batch for q in questions}):
                subset = [q for q in questions if q.batch == batch]
                for mode in MODES:
                    print(_row(f"{mode} batch {batch}", evaluate(store, mode, subset)))
        for miss in evaluate(store, "hybrid", questions).misses:
            print(f"  miss (hybrid): {miss}")


if __name__ == "__main__":
    main()
