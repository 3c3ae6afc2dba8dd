from collections import Counter

import pytest

from evals.retrieval.run import evaluate, load_questions
from knowledge.catalog import load_catalog
from knowledge.store import KnowledgeStore


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> KnowledgeStore:
    return KnowledgeStore.open(tmp_path_factory.mktemp("eval"))


def test_question_set_is_large_labelled_and_not_copied_from_the_criteria():
    questions = load_questions()
    known = set(load_catalog().ids())
    assert len(questions) >= 80
    assert all(1 <= len(q.criteria) <= 3 and set(q.criteria) <= known for q in questions)
    assert max(Counter(q.text for q in questions).values()) == 1
    statements = [c.text.lower() for c in load_catalog().criteria]
    assert not any(q.text.lower().rstrip("?") in s for q in questions for s in statements)


@pytest.mark.slow
def test_hybrid_retrieval_meets_the_recall_target(store):
    scores = evaluate(store, "hybrid")
    assert scores.recall_at_5 >= 0.95, "\n".join(scores.misses)
    assert scores.mrr >= 0.75
