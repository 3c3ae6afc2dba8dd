from pathlib import Path

import chromadb
from chromadb.config import Settings
import pytest
from typer.testing import CliRunner

from agent.cli import app
from evals.retrieval.run import evaluate
from knowledge.documents import chunk_file
from knowledge.importer import ImportError_, extract_points_of_focus
from knowledge.store import KnowledgeStore


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> KnowledgeStore:
    store = KnowledgeStore.open(tmp_path_factory.mktemp("chroma"))
    store.build()
    return store


def test_chunks_carry_citation_ids(store):
    assert store.get("CC6.1").metadata["kind"] == "criterion"
    assert store.get("CC6.1/pof/3").metadata["criteria"] == "CC6.1"
    assert store.get("control:IAM-01").criteria == ["CC6.1", "CC6.2"]
    assert store.get("nope") is None


def test_ids_and_vectors_are_stable_across_rebuilds(tmp_path):
    def snapshot(path: Path):
        s = KnowledgeStore.open(path)
        s.build()
        got = s._collection("criteria").get(include=["embeddings"])
        return dict(zip(got["ids"], (tuple(round(x, 6) for x in e) for e in got["embeddings"])))

    first, second = snapshot(tmp_path / "a"), snapshot(tmp_path / "b")
    assert first.keys() == second.keys() and len(first) == 61 + 330
    assert first == second


def test_persistent_store_reopens_with_registered_embedding(tmp_path):
    KnowledgeStore.open(tmp_path).build()
    # A fresh client finds the function by its registered name in the collection's configuration.
    client = chromadb.PersistentClient(path=str(tmp_path), settings=Settings(anonymized_telemetry=False))
    collection = client.get_collection("criteria")
    assert collection.configuration["embedding_function"].name() == "soc2-concept-hash-v1"
    assert collection.query(query_texts=["backups restored"], n_results=1)["ids"][0]


def test_retrieval_eval_meets_target(store):
    scores = evaluate(store, "hybrid")
    assert scores.recall_at_5 >= 0.95, scores.misses


def test_importer_loads_full_point_of_focus_text_from_the_real_pdf(shared_data, tmp_path):
    import json

    pdf = shared_data / "tsc" / "AICPA_2017-TSC-with-revised-PoF-2022.pdf"
    texts = extract_points_of_focus(pdf)
    reference = json.loads((shared_data / "tsc" / "tsc-2017-rev2022.json").read_text())
    expected = {f"{c['id']}/pof/{i}": p["text"] for c in reference["criteria"] for i, p in enumerate(c["points_of_focus"], 1)}
    exact = sum(texts.get(k) == v for k, v in expected.items())
    assert len(texts) >= 300 and exact >= 300
    assert texts["CC6.2/pof/1"] == expected["CC6.2/pof/1"]
    store = KnowledgeStore.open(tmp_path)
    store.build()
    assert store.set_point_of_focus_text(texts) == len(texts)
    store.build()  # a rebuild keeps imported text
    assert store.get("CC6.2/pof/1").metadata["full_text"] == expected["CC6.2/pof/1"]


def test_importer_rejects_a_file_that_is_not_the_publication(tmp_path):
    bogus = tmp_path / "bogus.pdf"
    bogus.write_text("not a pdf")
    with pytest.raises(ImportError_, match="bogus.pdf"):
        extract_points_of_focus(bogus)


def test_markdown_policy_is_chunked_by_heading_with_unique_ids(tmp_path):
    policy = tmp_path / "access-control.md"
    policy.write_text("# Access Control\nIntro.\n\n## MFA\nAll staff use MFA.\n\n## MFA\nAgain.\n")
    ids = [c.citation_id for c in chunk_file(policy)]
    assert ids == ["policy:access-control.md#access-control", "policy:access-control.md#mfa", "policy:access-control.md#mfa-2"]


def test_cli_commands(tmp_path):
    runner = CliRunner()
    ws = ["--workspace", str(tmp_path / "ws")]
    result = runner.invoke(app, [*ws, "criteria", "search", "how do we prove offboarding?"])
    assert result.exit_code == 0 and "CC6.2" in result.output
    result = runner.invoke(app, [*ws, "criteria", "show", "CC6.1"])
    assert result.exit_code == 0 and "CC6.1/pof/1" in result.output and "IAM-01" in result.output
    assert runner.invoke(app, [*ws, "criteria", "show", "ZZ1"]).exit_code == 2
    result = runner.invoke(app, [*ws, "controls", "list", "--criterion", "CC8.1"])
    assert result.exit_code == 0 and "CHG-01" in result.output
    result = runner.invoke(app, [*ws, "coverage"])
    assert result.exit_code == 0 and "61 of 61" in result.output
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "backup.md").write_text("# Backups\nDaily backups, restore tested quarterly.\n")
    (tmp_path / "policies" / "logo.png").write_bytes(b"\x89PNG")
    result = runner.invoke(app, [*ws, "knowledge", "add", str(tmp_path / "policies")])
    assert "policy:backup.md#backups" in result.output
    found = KnowledgeStore.open(tmp_path / "ws" / "knowledge").search("restore tested", k=3, collections=("documents",))
    assert found[0].id == "policy:backup.md#backups"
