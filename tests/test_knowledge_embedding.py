import subprocess
import sys

import numpy as np
import pytest
from chromadb.utils.embedding_functions import known_embedding_functions

from knowledge.chroma_embedding import ConceptHashEmbedding
from knowledge.embedding import DIMENSIONS, embed_text
from knowledge.text import concepts, terms


def cosine(a: str, b: str) -> float:
    return float(np.dot(embed_text(a), embed_text(b)))


def test_vectors_are_unit_length_with_fixed_dimensions():
    vectors = ConceptHashEmbedding()(["Revoke access when an employee leaves.", "MFA for the console"])
    assert [len(v) for v in vectors] == [DIMENSIONS, DIMENSIONS]
    assert all(abs(np.linalg.norm(v) - 1.0) < 1e-5 for v in vectors)
    assert not np.any(ConceptHashEmbedding()([""])[0])  # no terms: the zero vector, not NaN


@pytest.mark.slow
def test_vectors_are_identical_in_a_fresh_interpreter():
    # hashlib, not Python's salted hash(): a new process with another hash seed gives the same vector.
    code = "from knowledge.embedding import embed_text; print(repr(embed_text('offboarding checklist')[:50]))"
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout.strip()
    assert other == repr(embed_text("offboarding checklist")[:50])


def test_concept_lexicon_bridges_plain_and_formal_words():
    assert "@access_removal" in concepts("offboarding") and "@access_removal" in concepts("deprovision the account")
    assert "@authentication" in concepts("2FA") and "@authentication" in concepts("multi-factor")
    assert "@vulnerability" in concepts("pentest")
    assert cosine("offboarding", "removes access when users are terminated") > cosine(
        "offboarding", "backup restore tests"
    )
    assert cosine("pentest", "vulnerability assessment") > cosine("pentest", "privacy notice")


def test_terms_are_stems_bigrams_and_concepts():
    analysed = terms("Encrypting backups")
    assert {"encrypt", "backup", "encrypt_backup", "@encryption", "@recovery"} <= set(analysed)


def test_registered_with_chroma_under_a_stable_name_and_round_trips_its_config():
    assert known_embedding_functions["soc2-concept-hash-v1"] is ConceptHashEmbedding
    function = ConceptHashEmbedding()
    rebuilt = ConceptHashEmbedding.build_from_config(function.get_config())
    assert rebuilt(["access review"])[0].tolist() == function(["access review"])[0].tolist()
    assert not function.is_legacy()
