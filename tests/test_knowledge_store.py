import json
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings
from rank_bm25 import BM25Okapi

from evals.retrieval.run import load_questions
from knowledge.catalog import load_catalog
from knowledge.control_library import load_controls
from knowledge.documents import DocumentChunk
from knowledge.embedding import embedding_fingerprint
from knowledge.models import Control
from knowledge.store import COLLECTIONS, INDEX_FILE, VECTORS_FILE, KnowledgeStore, prebuilt_store_dir
from knowledge.text import terms

MODES = ("dense", "lexical", "hybrid")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> KnowledgeStore:
    return KnowledgeStore.open(tmp_path_factory.mktemp("chroma"))


def test_first_open_builds_every_criterion_point_of_focus_and_control(store):
    counts = store.count()
    assert counts["criteria"] == 61 + 330
    assert counts["controls"] == len(load_controls().controls)
    assert counts["documents"] == 0


def test_chunks_carry_citation_ids_and_metadata(store):
    criterion = store.get("CC6.1")
    assert criterion.metadata == {
        **criterion.metadata,
        "citation": "CC6.1",
        "kind": "criterion",
        "criteria": "CC6.1",
        "source": "tsc",
    }
    assert criterion.text.startswith("CC6.1 Logical and Physical Access Controls. The entity implements")
    pof = store.get("CC6.1/pof/3")
    assert pof.metadata["kind"] == "point_of_focus" and pof.criteria == ["CC6.1"]
    assert (
        pof.text
        == f"CC6.1 Logical and Physical Access Controls: {load_catalog().get('CC6.1').points_of_focus[2].title}."
    )
    control = load_controls().controls[0]
    chunk = store.get(f"control:{control.id}")
    assert chunk.collection == "controls" and chunk.criteria == control.criteria
    assert chunk.text == f"{control.title}. {control.description}"
    assert store.get("CC6.1/pof/99") is None and store.get("nope") is None


def test_search_limits_collections_and_returns_scored_chunks(store):
    hits = store.search("multi-factor authentication for console users", k=5)
    assert len(hits) == 5 and all(h.score > 0 for h in hits)
    only_criteria = store.search("multi-factor authentication", k=5, collections=("criteria",))
    assert {h.collection for h in only_criteria} == {"criteria"}


def test_search_criteria_aggregates_to_criterion_ids(store):
    hits = store.search_criteria("encryption keys and credentials", k=5)
    assert len({h.criterion_id for h in hits}) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.criterion_id in h.best_chunk.criteria for h in hits)


def test_bm25_postings_score_and_rank_exactly_as_rank_bm25(store):
    # The postings must give BM25Okapi's scores to the last bit and the ranking the loop over get_scores gave,
    # ties by id, for every query: the eval questions, chunks' own texts (long queries, repeated terms) and
    # queries of one term, of a repeated term, of an unknown term and of none.
    index = store._search_index()
    chunks = index.chunks
    reference = BM25Okapi([terms(chunk.text) or ["∅"] for chunk in chunks])
    queries = [q.text for q in load_questions()] + [chunk.text for chunk in chunks[::5]]
    queries += ["access", "access access access", "zzyzx", ""]
    reopened = KnowledgeStore.open(store._path)._search_index().postings  # read back from the saved JSON
    ties = 0
    for query in queries:
        expected = reference.get_scores(terms(query))
        assert np.array_equal(index.postings.scores(terms(query)), expected), query
        assert np.array_equal(reopened.scores(terms(query)), expected), query
        for collections in (COLLECTIONS, ("criteria",), ("controls",)):
            ranked = sorted(
                (i for i, c in enumerate(chunks) if c.collection in collections and expected[i] > 0),
                key=lambda i: (-expected[i], chunks[i].id),
            )
            hits = store._bm25(query, collections, len(chunks))
            assert [(h.id, h.score) for h in hits] == [(chunks[i].id, float(expected[i])) for i in ranked], query
        ties += len(ranked) - len({float(expected[i]) for i in ranked})
    assert ties > 0  # equal scores occurred, so the order by id was checked


@pytest.mark.slow
def test_ids_and_vectors_are_stable_across_rebuilds(tmp_path):
    def snapshot(path: Path) -> dict[str, tuple[float, ...]]:
        store = KnowledgeStore.open(path)
        store.build()  # a second build over the first: upserts, same ids
        result = store._collection("criteria").get(include=["embeddings"])
        return {i: tuple(float(x) for x in e) for i, e in zip(result["ids"], result["embeddings"], strict=True)}

    first, second = snapshot(tmp_path / "a"), snapshot(tmp_path / "b")
    assert len(first) == 61 + 330
    assert first == second


@pytest.mark.slow
def test_rebuild_with_another_library_drops_controls_no_longer_there(tmp_path):
    library = load_controls()
    store = KnowledgeStore.open(tmp_path, build_if_empty=False)
    store.build(controls=library)
    fewer = type(library)(library.controls[1:])
    store.build(controls=fewer)
    assert store.get(f"control:{library.controls[0].id}") is None
    assert store.count()["controls"] == len(library.controls) - 1


def _manual_control(control_id: str, title: str, description: str, criterion: str) -> Control:
    """A hand-made manual control: the store reads only its id, title, description and criteria."""
    return Control(
        id=control_id,
        title=title,
        description=description,
        criteria=[criterion],
        kind="manual",
        frequency="annually",
        owner_role="IT",
        manual_evidence=["ticket"],
    )


@pytest.mark.slow
def test_controls_built_in_tests_bridge_plain_words_to_criteria(tmp_path):
    # A library of two hand-made controls: the store needs nothing but Control objects.
    controls = (
        _manual_control(
            "T-01", "Leaver access removed", "Accounts of people who leave are disabled within a day.", "CC6.2"
        ),
        _manual_control("T-02", "Restore test", "We restore a backup every quarter and time it.", "A1.3"),
    )
    store = KnowledgeStore.open(tmp_path, build_if_empty=False)
    store.build(controls=type(load_controls())(controls))
    assert store.get("control:T-01").criteria == ["CC6.2"]
    hits = {hit.criterion_id: hit for hit in store.search_criteria("are leavers disabled within a day?", k=3)}
    assert hits["CC6.2"].best_chunk.id == "control:T-01"


@pytest.mark.slow
def test_documents_are_stored_and_searchable(tmp_path):
    store = KnowledgeStore.open(tmp_path)
    chunk = DocumentChunk("policy:backup.md#restores", "Restores", "We restore a backup every quarter.", "/x/backup.md")
    assert store.add_documents([chunk]) == 1
    found = store.search("quarterly restore test", k=1, collections=("documents",))
    assert found[0].id == "policy:backup.md#restores"
    assert found[0].metadata["kind"] == "policy" and found[0].metadata["citation"] == "policy:backup.md#restores"
    # Adding the file again replaces its sections: one renamed section leaves no stale chunk behind.
    renamed = DocumentChunk("policy:backup.md#restore-tests", "Restore tests", "Quarterly.", "/x/backup.md")
    other = DocumentChunk("policy:keys.md#rotation", "Rotation", "Yearly.", "/x/keys.md")
    store.add_documents([other])
    store.add_documents([renamed])
    assert store.get("policy:backup.md#restores") is None
    assert store.get("policy:backup.md#restore-tests") is not None and store.get("policy:keys.md#rotation") is not None
    # A file name a narrative could not cite (a space) is still stored and found as a policy section.
    spaced = DocumentChunk("policy:Access Policy.md#mfa", "MFA", "MFA is required.", "/x/Access Policy.md")
    store.add_documents([spaced])
    assert store.get("policy:Access Policy.md#mfa").collection == "documents"


def test_search_index_is_saved_for_the_next_process_and_dropped_by_a_write(tmp_path):
    store = KnowledgeStore.open(tmp_path)
    first = {mode: [c.id for c in store.search("remove access for leavers", k=5, mode=mode)] for mode in MODES}
    saved = tmp_path / INDEX_FILE
    assert saved.exists() and (tmp_path / VECTORS_FILE).exists()
    # A new process reads the saved terms and vectors instead of Chroma: same rankings.
    reopened = KnowledgeStore.open(tmp_path)
    assert {
        mode: [c.id for c in reopened.search("remove access for leavers", k=5, mode=mode)] for mode in MODES
    } == first
    assert reopened._connected is None  # no Chroma client was started
    # A policy added later is found: the write removed the saved index, the next search reads the store anew.
    store.add_documents([DocumentChunk("policy:hr.md#leavers", "Leavers", "Leavers lose access.", "/x/hr.md")])
    assert not saved.exists()
    reopened = KnowledgeStore.open(tmp_path)
    for mode in MODES:
        hits = reopened.search("leavers lose access", k=1, collections=("documents",), mode=mode)
        assert hits[0].id == "policy:hr.md#leavers"
    # Vectors that are not the ones the index was saved with are not trusted.
    vectors = np.load(tmp_path / VECTORS_FILE)
    np.save(tmp_path / VECTORS_FILE, vectors[::-1])
    assert KnowledgeStore.open(tmp_path)._saved_search_index() is None
    # Nor one made by another version's text analysis and embedding.
    KnowledgeStore.open(tmp_path).search("leavers", k=1)  # saved again
    assert KnowledgeStore.open(tmp_path)._saved_search_index() is not None
    saved.write_text(saved.read_text().replace(embedding_fingerprint(), "another-version"))
    assert KnowledgeStore.open(tmp_path)._saved_search_index() is None


def test_saved_postings_that_do_not_fit_the_chunks_are_read_anew(tmp_path):
    # A damaged index would search out of bounds, or score the wrong chunks: it is read from Chroma again instead.
    KnowledgeStore.open(tmp_path).search("leavers", k=1)
    saved = tmp_path / INDEX_FILE
    intact = json.loads(saved.read_text())
    damages = {
        "a chunk past the end": lambda postings: postings["documents"].__setitem__(0, len(intact["chunks"])),
        "fewer weights than postings": lambda postings: postings["weights"].pop(),
        "another document count": lambda postings: postings.__setitem__("document_count", 1),
    }
    for damage, apply in damages.items():
        damaged = json.loads(json.dumps(intact))
        apply(damaged["postings"])
        saved.write_text(json.dumps(damaged))
        reopened = KnowledgeStore.open(tmp_path)
        assert reopened._saved_search_index() is None, damage
        assert reopened.search("remove access for leavers", k=1, mode="lexical"), damage


def test_dense_ranking_in_numpy_is_chromas_ranking(store):
    # The saved vectors are ranked by exact cosine: every chunk gets Chroma's similarity, up to the last bit of
    # a float32 sum, and our order is Chroma's order. (Asked for fewer than all, Chroma's approximate HNSW
    # index can miss one: the last of 20, once, with these questions.)
    questions = (
        "how do we remove access for people who leave the company",
        "multi-factor authentication for console users",
        "restore backups and test recovery",
        "vendor risk assessments",
        "encryption keys and credentials",
    )
    for question in questions:
        for name in ("criteria", "controls"):
            collection = store._collection(name)
            ours = store._dense(question, (name,), collection.count())
            result = collection.query(query_texts=[question], n_results=collection.count())
            theirs = {i: 1 - d for i, d in zip(result["ids"][0], result["distances"][0], strict=True)}
            assert [c.id for c in ours] != [] and {c.id for c in ours} == set(theirs)
            assert all(abs(c.score - theirs[c.id]) < 1e-6 for c in ours), (question, name)
            assert all(theirs[a.id] >= theirs[b.id] - 1e-6 for a, b in zip(ours, ours[1:], strict=False)), (
                question,
                name,
            )


def test_a_new_workspace_copies_the_store_built_once_per_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = KnowledgeStore.open(tmp_path / "one")
    assert prebuilt_store_dir().parent == tmp_path / "cache" / "agentic-auditor"
    monkeypatch.setattr(KnowledgeStore, "build", lambda *args, **kwargs: pytest.fail("built again"))
    second = KnowledgeStore.open(tmp_path / "two")
    assert second.count() == first.count()
    assert (tmp_path / "two" / INDEX_FILE).exists()  # its index came along: the first search needs no Chroma
    question = "how do we remove access for leavers"
    assert [h.criterion_id for h in second.search_criteria(question)] == [
        h.criterion_id for h in first.search_criteria(question)
    ]
    # A workspace's own policies stay in that workspace.
    second.add_documents([DocumentChunk("policy:hr.md#leavers", "Leavers", "Leavers lose access.", "/x/hr.md")])
    assert KnowledgeStore.open(tmp_path / "three").count()["documents"] == 0


@pytest.mark.slow
def test_persistent_store_reopens_in_a_fresh_client_with_the_registered_embedding(tmp_path):
    KnowledgeStore.open(tmp_path)
    client = chromadb.PersistentClient(path=str(tmp_path), settings=Settings(anonymized_telemetry=False))
    collection = client.get_collection("criteria")  # no embedding function passed: Chroma rebuilds ours by name
    assert collection.configuration["embedding_function"].name() == "soc2-concept-hash-v1"
    result = collection.query(query_texts=["restore backups and test recovery"], n_results=5)
    assert any(i.startswith("A1.") for i in result["ids"][0])


@pytest.mark.slow
def test_a_store_embedded_by_another_version_is_re_embedded_on_open(tmp_path):
    import numpy as np

    from knowledge.embedding import embed_text, embedding_fingerprint
    from knowledge.store import FINGERPRINT_FILE

    store = KnowledgeStore.open(tmp_path)
    store.add_documents([DocumentChunk("policy:keys.md#rotation", "Rotation", "Keys rotate yearly.", "/x/keys.md")])
    assert (tmp_path / FINGERPRINT_FILE).read_text().strip() == embedding_fingerprint()
    # What an older version would leave: other vectors, another fingerprint.
    client = chromadb.PersistentClient(path=str(tmp_path), settings=Settings(anonymized_telemetry=False))
    documents = client.get_collection("documents")
    documents.update(ids=["policy:keys.md#rotation"], embeddings=[[1.0] + [0.0] * 1023])
    (tmp_path / FINGERPRINT_FILE).write_text("older-version\n")

    reopened = KnowledgeStore.open(tmp_path)

    assert (tmp_path / FINGERPRINT_FILE).read_text().strip() == embedding_fingerprint()
    stored = client.get_collection("documents").get(
        ids=["policy:keys.md#rotation"], include=["embeddings", "documents"]
    )
    assert np.allclose(stored["embeddings"][0], embed_text(stored["documents"][0]), atol=1e-6)
    assert reopened.get("policy:keys.md#rotation").metadata["source"] == "/x/keys.md"
    assert reopened.count()["criteria"] == 61 + 330
