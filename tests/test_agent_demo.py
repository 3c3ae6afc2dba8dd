"""End to end, offline: `auditor demo` over the demo company (real moto server, git repo and logs).

Every control gets a narrative; every sentence is cited; every citation resolves to a retrieved chunk
in the knowledge store or an evidence item in the locker; failing controls name their failing
resources; the report JSON validates against the report contract.
"""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from typer.testing import CliRunner

from agent.api import latest_report, verify_narrative
from agent.citations import kind_of, sentences
from agent.report_schema import ReadinessReport
from agent.writers.offline import MAX_NAMED
from knowledge.control_library import load_controls
from knowledge.store import KnowledgeStore
from tools.checks_common import short_name
from tools.findings import SEVERITY_ORDER, Status
from tools.locker import EvidenceLocker
from tools.workspace import Workspace
from tui.cli import app

pytestmark = pytest.mark.slow  # a whole auditor demo


@pytest.fixture(scope="module")
def demo_command(tmp_path_factory, workspace_with_knowledge) -> tuple[Workspace, str]:
    """(workspace, output) of one `auditor demo`, shared by this module's tests."""
    # Straight under the session's temporary root: a short path, so the printed report path is not wrapped.
    workspace = workspace_with_knowledge(tmp_path_factory.getbasetemp() / "ws")
    result = CliRunner().invoke(app, ["-w", str(workspace.root), "demo"], catch_exceptions=False)
    return workspace, result.output


def test_demo_command_runs_every_control_and_says_what_next(demo_command) -> None:
    workspace, output = demo_command
    report = latest_report(workspace)
    assert {c.id for c in report.controls} == {c.id for c in load_controls().controls}
    assert report.run.trigger == "demo" and report.company == "Acme AI"
    # The hints repeat the `-w` the demo ran with (compared without spaces: the console wraps long lines).
    unwrapped = "".join(output.split())
    assert f"auditor-w{workspace.root}review" in unwrapped and f"auditor-w{workspace.root}report" in unwrapped
    assert "report.md" in output
    assert "demo servers are stopped" in output
    assert "MLflow model registry skipped: not asked for" in output


def test_every_sentence_is_cited_and_every_citation_resolves(demo_command) -> None:
    workspace, _ = demo_command
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


def test_failing_controls_name_their_failing_resources(demo_command) -> None:
    workspace, _ = demo_command
    report = latest_report(workspace)
    failing = [c for c in report.controls if c.status in ("fail", "partial")]
    assert len(failing) >= 10  # the demo company has real gaps
    for control in failing:
        names = list(dict.fromkeys(short_name(f.resource) for f in control.findings if f.status == Status.FAIL))
        for name in names[:MAX_NAMED]:
            assert name in control.narrative.text, (control.id, name)


def test_narratives_verify_again_from_the_stored_sources(demo_command) -> None:
    # The TUI re-verifies edits through the same API, reading the locker and the store afresh.
    workspace, _ = demo_command
    for control in latest_report(workspace).controls:
        result = verify_narrative(workspace, control, control.narrative.text)
        assert result.passed, (control.id, result.problems)
    edited = latest_report(workspace).controls[0]
    assert not verify_narrative(workspace, edited, edited.narrative.text + " Everything is fully compliant.").passed


def test_report_json_validates_against_the_contract(demo_command) -> None:
    workspace, _ = demo_command
    report = latest_report(workspace)
    document = json.loads((workspace.reports_dir / report.run.id / "report.json").read_text())
    jsonschema.validate(document, ReadinessReport.model_json_schema(by_alias=True))
    assert document["schema"] == "auditor.readiness/v2"
    summary = document["summary"]
    assert (
        summary["ready"] + summary["partial"] + summary["gap"] + summary["not_assessed"]
        == summary["criteria_total"]
        == 61
    )


def test_statuses_are_honest_and_gaps_are_listed_once_by_severity(demo_command) -> None:
    workspace, _ = demo_command
    report = latest_report(workspace)
    controls = {c.id: c for c in report.controls}
    # Every finding carries its check's severity; root without MFA is critical, so IAM-02 fails (not partial).
    assert all(f.severity is not None for c in report.controls for f in c.findings)
    assert controls["IAM-02"].status == "fail" and "aws.iam.root_mfa" in controls["IAM-02"].status_reason
    # Nothing is attached in a fresh workspace: every manual control awaits evidence.
    assert {c.status for c in report.controls if c.kind == "manual"} == {"awaiting_evidence"}
    # Only a control whose every design statement was tested passes: checks that pass beside a statement only a
    # person can evidence leave it awaiting that evidence (CHG-03, CHG-04, IAM-08 and VUL-02 in the demo).
    library = {control.id: control for control in load_controls().controls}
    assert [
        c.id for c in report.controls if c.status == "pass" and not all(s.tested for s in library[c.id].statements)
    ] == []
    assert {controls[i].status for i in ("CHG-03", "CHG-04", "IAM-08", "VUL-02")} == {"awaiting_evidence"}
    # AI-10 fails on the public, unencrypted bucket a training job wrote its model to, whatever the bucket's name.
    [artifacts] = [
        f
        for f in controls["AI-10"].findings
        if f.resource == "arn:aws:s3:::acme-ai-marketing-site" and f.check == "ai.model_artifacts.buckets_protected"
    ]
    assert artifacts.status == Status.FAIL and controls["AI-10"].status == "fail"
    # The demo's code passes `system=prompt` to its model client: source code, not a prompt injection.
    assert [c.id for c in report.controls if c.possible_injections] == []
    # IAM-08's support role supports CC7.4 and CC9.2 only weakly: it makes neither ready.
    criteria = {c.id: c for c in report.criteria}
    assert criteria["CC7.4"].status != "ready" and criteria["CC9.2"].status != "ready"
    s = report.summary
    assert s.readiness_pct == round(s.ready / 61 * 100, 1)
    assert s.controls_evidenced == s.control_counts.get("pass", 0) + s.control_counts.get("evidenced", 0)
    # The fix list: one line per failing or unjudged (resource, check), most severe first.
    problems = {
        (f.resource, f.check) for c in report.controls for f in c.findings if f.status in (Status.FAIL, Status.ERROR)
    }
    assert len(report.fix_list) == len(problems) and {(i.resource, i.check) for i in report.fix_list} == problems
    ranks = [SEVERITY_ORDER.index(i.severity) for i in report.fix_list]
    assert ranks == sorted(ranks)
    # ops-admin stops the organisation trail, then opens SSH to the world three minutes later.
    (incident,) = report.possible_incidents
    assert incident.principal.endswith("user/ops-admin")
    assert {e.check for e in incident.events} == {"logs.audit_logging_tampered", "logs.sg_opened_to_world"}
    markdown = (workspace.reports_dir / report.run.id / "report.md").read_text()
    assert markdown.index("## Possible incidents") < markdown.index("## Summary") < markdown.index("## What to fix")
    age = (report.run.started_at.date() - incident.last_at.date()).days
    assert f"{incident.last_at:%H:%M} UTC, {age} days before this run (controls" in markdown  # March 2025: history


# A request in a narrative: “For “<statement>”, which the agent does not test, the <owner> must (also) provide:
# <record>, covering <start> to <end> (or: for <day>), by <due> [control:<id>]”.
NARRATIVE_REQUEST = re.compile(
    r"which the agent does not test, (?P<owner>.+?) must (?:also )?provide: (?P<record>.+?), "
    r"(?:covering (?P<start>\d{4}-\d{2}-\d{2}) to (?P<end>\d{4}-\d{2}-\d{2})|for (?P<day>\d{4}-\d{2}-\d{2})), "
    r"(?:which was due )?by (?P<due>\d{4}-\d{2}-\d{2}) \[control:"
)


def test_narratives_ask_for_the_records_periods_and_due_dates_auditor_requests_lists(demo_command) -> None:
    workspace, _ = demo_command
    report = latest_report(workspace)
    day = report.run.started_at.date().isoformat()
    result = CliRunner().invoke(app, ["-w", str(workspace.root), "requests", "--on", day, "--format", "json"])
    rows = {r["control"]: r for r in json.loads(result.output)}
    needing = {c.id for c in load_controls().controls if any(s.provide for s in c.statements)}
    assert set(rows) == needing  # whatever the kind: manual, hybrid, or automated with records to provide
    for control in report.controls:
        asked = [m.groupdict() for m in NARRATIVE_REQUEST.finditer(control.narrative.text)]
        if control.id not in rows:
            assert not asked, control.id
            continue
        row = rows[control.id]
        assert asked, control.id
        assert [m["record"].lower() for m in asked] == [r.rstrip(".").lower() for r in row["records"]], control.id
        for m in asked:
            owner = m["owner"].removeprefix("the ")
            period = (m["start"] or m["day"], m["end"] or m["day"], m["due"])
            assert owner == row["owner_role"], control.id
            assert period == (row["period_start"], row["period_end"], row["due"]), control.id
