"""`knowledge.text` skips concepts that cannot match and analyses a text once per process: speed only, so
its concept tokens must equal those of every concept's pattern run over every text."""

import random
from concurrent.futures import ThreadPoolExecutor

from evals.retrieval.run import load_questions
from knowledge.catalog import load_catalog
from knowledge.control_library import load_controls
from knowledge.store import _criteria_chunks
from knowledge.text import _WORD, CONCEPTS, _concept_pattern, concepts, stems, terms

PHRASES = sorted({phrase for phrases in CONCEPTS.values() for phrase in phrases})


def every_pattern(text: str) -> list[str]:
    """The concept tokens without the pre-check: each concept's pattern over the stemmed and the raw words."""
    spaced = [f" {' '.join(words)} " for words in (stems(text), _WORD.findall(text.lower()))]
    hits = {concept: sum(len(_concept_pattern(concept).findall(s)) for s in spaced) for concept in CONCEPTS}
    return [f"@{concept}" for concept, count in hits.items() for _ in range(min(count, 2))]


def shipped_texts() -> list[str]:
    """Every chunk a store is built from (criteria, points of focus, controls), and the eval questions."""
    controls = [f"{c.title}. {c.description}" for c in load_controls().controls]
    criteria = [text for _, text, _ in _criteria_chunks(load_catalog(), {})]
    return criteria + controls + [q.text for q in load_questions()]


def phrases_in_random_contexts() -> list[str]:
    """Each phrase several times: whole, as the start, middle or end of a longer word, in upper or title case,
    among other phrases and plain words, at the text's start or end, joined by spaces or punctuation."""
    rng = random.Random(16)
    before = ["", "", "", "re", "un", "x"]
    after = ["", "", "", "s", "ed", "ing", "ion", "ation", "er", "ly", "1"]
    separators = [" ", " ", "  ", "-", ", ", ". ", "\n", "/", "_", "'"]
    fillers = ["the", "we", "access", "data", "user", "a", "x", "on", "of", "in", "to", "2", *PHRASES]

    def word(phrase: str) -> str:
        shaped = rng.choice(before) + phrase.strip() + rng.choice(after)
        return rng.choice([shaped, shaped, shaped.upper(), shaped.title()])

    texts = []
    for phrase in PHRASES:
        for _ in range(6):
            words = [word(rng.choice(fillers)) for _ in range(rng.randint(0, 3))]
            words.insert(rng.randint(0, len(words)), word(phrase))
            texts.append("".join(w + rng.choice(separators) for w in words).rstrip(rng.choice(["", " ", "."])))
    return texts


def test_concepts_equal_every_pattern_over_the_shipped_chunks_and_questions():
    for text in shipped_texts():
        expected = every_pattern(text)
        assert concepts(text) == expected, text
        assert [term for term in terms(text) if term.startswith("@")] == expected, text


def test_concepts_equal_every_pattern_for_each_phrase_in_random_contexts():
    texts = phrases_in_random_contexts()
    found = set()
    for text in texts:
        expected = every_pattern(text)
        assert concepts(text) == expected, text
        assert [term for term in terms(text) if term.startswith("@")] == expected, text
        found.update(expected)
    assert found == {f"@{concept}" for concept in CONCEPTS}  # the texts reach every concept


def test_terms_gives_each_caller_its_own_list():
    first = terms("Revoke access for leavers")
    first.append("@changed")
    assert terms("Revoke access for leavers") == first[:-1]


def test_terms_are_the_same_from_concurrent_threads():
    texts = shipped_texts()
    alone = [terms(text) for text in texts]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(terms, [f"{text} " for text in texts]))  # new keys: analysed in the threads
    assert together == alone
