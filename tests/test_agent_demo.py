"""End to end, offline: `auditor demo` over the demo company (real moto server, git repo and logs).

Every control gets a narrative; every sentence is cited; every citation resolves to a retrieved chunk
in the knowledge store or an evidence item in the locker; failing controls name their failing
resources; the report JSON validates against the report contract.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema
from agent_fixtures import workspace_with_knowledge
from typer.testing import CliRunner

from agent.api import latest_report, verify_narrative
from agent.cli import app
from agent.citations import kind_of, sentences
from agent.report_schema import ReadinessReport
from agent.workspace import Workspace
from agent.writers.offline import MAX_NAMED, _short_name
from knowledge.control_library import load_controls
from knowledge.store import KnowledgeStore
from tools.findings import Status
from tools.locker import EvidenceLocker


@cache
def _demo(root: Path) -> tuple[Workspace, str]:
    workspace = workspace_with_knowledge(root / "ws")
    result = CliRunner().invoke(app, ["-w", str(workspace.root), "demo"], catch_exceptions=False)
    return workspace, result.output


def test_demo_command_runs_every_control_and_says_what_next(tmp_path_factory) -> None:
    workspace, output = _demo(tmp_path_factory.getbasetemp())
    report = latest_report(workspace)
    assert {c.id for c in report.controls} == {c.id for c in load_controls().controls}
    assert report.run.trigger == "demo" and report.company == "Acme AI"
    assert "auditor review" in output and "auditor report" in output and "report.md" in output
    assert "demo servers are stopped" in output


def test_every_sentence_is_cited_and_every_citation_resolves(tmp_path_factory) -> None:
    workspace, _ = _demo(tmp_path_factory.getbasetemp())
    report = latest_report(workspace)
    store = KnowledgeStore.open(workspace.chroma_dir)
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        for control in report.controls:
            narrative = control.narrative
            assert narrative.text.strip() and narrative.status == "verified", control.id
            parts = sentences(narrative.text)
            assert parts and all(part.citations for part in parts), control.id
            assert (narrative.verifier.sentences, narrative.verifier.cited_sentences) == (len(parts), len(parts))
            retrieved = set(narrative.provenance.retrieved_chunk_ids)
            collected = set(narrative.provenance.evidence_ids)
            for citation in narrative.citations:
                assert kind_of(citation) is not None
                if citation.startswith("ev:"):
                    assert citation[3:] in collected and locker.get(citation[3:]) is not None, (control.id, citation)
                else:
                    assert citation in retrieved and store.get(citation) is not None, (control.id, citation)


def test_failing_controls_name_their_failing_resources(tmp_path_factory) -> None:
    workspace, _ = _demo(tmp_path_factory.getbasetemp())
    report = latest_report(workspace)
    failing = [c for c in report.controls if c.status in ("fail", "partial")]
    assert len(failing) >= 10  # the demo company has real gaps
    for control in failing:
        names = list(dict.fromkeys(_short_name(f.resource) for f in control.findings if f.status == Status.FAIL))
        for name in names[:MAX_NAMED]:
            assert name in control.narrative.text, (control.id, name)


def test_narratives_verify_again_from_the_stored_sources(tmp_path_factory) -> None:
    # The TUI re-verifies edits through the same API, reading the locker and the store afresh.
    workspace, _ = _demo(tmp_path_factory.getbasetemp())
    for control in latest_report(workspace).controls:
        result = verify_narrative(workspace, control, control.narrative.text)
        assert result.passed, (control.id, result.problems)
    edited = latest_report(workspace).controls[0]
    assert not verify_narrative(workspace, edited, edited.narrative.text + " Everything is fully compliant.").passed


def test_report_json_validates_against_the_contract(tmp_path_factory) -> None:
    workspace, _ = _demo(tmp_path_factory.getbasetemp())
    report = latest_report(workspace)
    document = json.loads((workspace.reports_dir / report.run.id / "report.json").read_text())
    jsonschema.validate(document, ReadinessReport.model_json_schema(by_alias=True))
    assert document["schema"] == "auditor.readiness/v1"
    summary = document["summary"]
    assert summary["ready"] + summary["partial"] + summary["gap"] + summary["not_assessed"] == summary["criteria_total"] == 61
