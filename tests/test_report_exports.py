"""Reports people and auditors use: `auditor checks list`, `auditor run --checks`, the report written to the
reports folder, CSV, self-contained HTML, and the output folder with every format."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.render.csv import COLUMNS, render_csv
from agent.render.html import render_html
from agent.render.inputs import cited_evidence_ids
from agent.report import latest_run_id, read_report
from evals.bench.synthetic_report import HOSTILE, synthetic_inputs
from tui.cli import app

runner = CliRunner()
_EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*['\"]?\s*(https?:)?//", re.IGNORECASE)


class _Anchors(HTMLParser):
    """Every id, every link, every src, every <script>, and the text inside <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.sources: list[str] = []
        self.scripts = 0
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(values["id"] or "")
        if values.get("href") is not None:
            self.links.append(values["href"] or "")
        if values.get("src") is not None:
            self.sources.append(values["src"] or "")
        if values.get("style"):
            self.styles.append(values["style"] or "")
        self.scripts += tag == "script"
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def _parsed(html: str) -> _Anchors:
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    return parser


def test_html_is_self_contained_and_every_anchor_resolves() -> None:
    inputs = synthetic_inputs(controls=8, evidence=40, runs=3)
    html = render_html(inputs)
    parsed = _parsed(html)

    assert parsed.scripts == 0  # the hostile <script> in evidence is text, not an element
    assert not [url for url in parsed.links + parsed.sources if _EXTERNAL.match(url)]
    assert not [style for style in parsed.styles if _CSS_URL.search(style)]
    assert len(parsed.ids) == len(set(parsed.ids))
    internal = [link for link in parsed.links if link.startswith("#")]
    assert internal and {link[1:] for link in internal} <= set(parsed.ids)
    # The appendix holds every cited evidence item, the criteria section every criterion.
    assert {f"ev-{e}" for e in cited_evidence_ids(inputs.report)} <= set(parsed.ids)
    assert "crit-CC6.1" in parsed.ids and "control-CTL-000" in parsed.ids
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    # Charts: criteria by series, and readiness over time once there is history.
    assert "Criteria by status, per series" in html and "Readiness over time</strong> (3 full runs)" in html
    assert "prefers-color-scheme:dark" in html and "@media print" in html


def test_html_shows_the_reviewed_narrative_and_withholds_a_rejected_draft() -> None:
    inputs = synthetic_inputs(controls=4, evidence=8, runs=1)
    html = render_html(inputs)
    sections = {
        match.group(1): match.group(2)
        for match in re.finditer(r'<section class="control" id="control-(CTL-\d+)">(.*?)</section>', html, re.S)
    }
    assert "Reviewed: approved by bo" in sections["CTL-000"] and "Manual evidence" in sections["CTL-000"]
    assert "Edited by ana" in sections["CTL-001"] and "Edited text" in sections["CTL-001"]
    assert "draft withheld" in sections["CTL-002"] and "Control 2 is operating" not in sections["CTL-002"]
    assert "Control 3 is operating" in sections["CTL-003"]
    # A citation links to the evidence appendix, a point of focus to its criterion, a control to its section.
    cited = inputs.report.controls[3]
    assert f'<a href="#ev-{cited.findings[0].evidence_ids[0]}">' in sections["CTL-003"]
    assert f'<a href="#crit-{cited.criteria[1]}">[{cited.criteria[1]}/pof/1]</a>' in sections["CTL-003"]
    assert "Readiness over time appears once there are two full runs" in html


def test_csv_has_one_row_per_finding_and_defuses_formulas() -> None:
    inputs = synthetic_inputs(controls=6, evidence=30, runs=1)
    first = inputs.report.controls[0].findings[0]
    seen = inputs.report.run.started_at.replace(year=2025)
    inputs = type(inputs)(
        inputs.report,
        inputs.catalog,
        inputs.evidence,
        inputs.history,
        {(first.check, first.resource, str(first.status)): seen},
    )
    rows = list(csv.DictReader(io.StringIO(render_csv(inputs))))

    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == sum(len(c.findings) for c in inputs.report.controls)
    assert rows[0]["first_seen"] == seen.isoformat()
    # No other run had the finding: its control's assessment date.
    assert rows[1]["first_seen"] == inputs.report.controls[0].assessed_at.isoformat()
    assert rows[0]["evidence_ids"] == " ".join(first.evidence_ids)
    hostile_resource = next(row["resource"] for row in rows if HOSTILE in row["resource"])
    assert hostile_resource.startswith("arn:")
    # A cell a spreadsheet would run as a formula is quoted.
    assert rows[1]["reason"].startswith("'=SUM(A1) Finding 1")
    assert not [row for row in rows if row["reason"].startswith("=")]


def test_report_command_writes_files_and_prints_only_when_asked(tmp_path: Path, signed_report_workspace) -> None:
    workspace = signed_report_workspace(tmp_path / "ws")
    run_id = latest_run_id(workspace) or ""

    def auditor(*args: str):
        result = runner.invoke(app, ["--workspace", str(workspace.root), "report", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    default = auditor()
    written = workspace.reports_dir / run_id / "rendered" / "report.md"
    assert "Wrote" in default.output and written.is_file() and written.read_text().startswith("# SOC 2 readiness")
    assert "# SOC 2 readiness" not in default.stdout
    assert auditor("--stdout").stdout.startswith("# SOC 2 readiness")
    assert auditor("--format", "csv", "--out", "-").stdout.startswith(",".join(COLUMNS))
    html_file = tmp_path / "report.html"
    auditor("--format", "html", "--out", str(html_file))
    assert html_file.read_text().startswith("<!doctype html>")

    folder = tmp_path / "out"
    auditor("-o", str(folder))
    assert sorted(p.name for p in folder.iterdir()) == ["report.csv", "report.html", "report.json", "report.md"]
    assert json.loads((folder / "report.json").read_text())["run"]["id"] == run_id
    # The run's own (signed) report files are left as the run wrote them.
    assert read_report(workspace, run_id).run.id == run_id


def test_checks_list_names_every_check_with_its_controls() -> None:
    result = runner.invoke(app, ["checks", "list", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    root_mfa = rows["aws.iam.root_mfa"]
    assert root_mfa["source"] == "aws" and root_mfa["severity"] == "critical" and "IAM-02" in root_mfa["controls"]
    assert root_mfa["title"]
    assert all(set(row) == {"id", "source", "severity", "title", "controls"} for row in rows.values())


@pytest.mark.slow
def test_run_checks_evaluates_only_those_and_keeps_the_others(
    tmp_path: Path, demo_environment, workspace_with_knowledge
) -> None:
    workspace = workspace_with_knowledge(tmp_path / "ws")

    def auditor(*args: str):
        config = demo_environment.config_path
        return runner.invoke(app, ["-c", str(config), "-w", str(workspace.root), *args], catch_exceptions=False)

    assert auditor("run", "--controls", "IAM-02").exit_code == 0
    first = read_report(workspace, latest_run_id(workspace) or "")
    before = {f.check for c in first.controls if c.id == "IAM-02" for f in c.findings}
    assert {"aws.iam.root_mfa", "aws.iam.root_access_keys"} <= before

    checked = auditor("run", "--checks", "aws.iam.root_mfa")
    assert checked.exit_code == 0, checked.output
    second = read_report(workspace, latest_run_id(workspace) or "")
    assert second.run.id != first.run.id and second.run.merged_from == first.run.id
    iam02 = next(c for c in second.controls if c.id == "IAM-02")
    assert iam02.run_id == second.run.id
    # The check not run keeps its findings from the earlier report; the one run was judged again.
    assert {f.check for f in iam02.findings} == before

    unknown = auditor("run", "--checks", "aws.nope")
    assert unknown.exit_code == 1 and "unknown check id(s): aws.nope" in unknown.output


# -- OSCAL -----------------------------------------------------------------------------------------------------


def _oscal_validator(shared_data: Path, name: str):
    """A Draft 7 validator whose `pattern` keyword uses the `regex` module: NIST's patterns use \\p{L}."""
    import jsonschema
    import regex

    def pattern(validator, expected, instance, schema):  # noqa: ANN001
        if validator.is_type(instance, "string") and not regex.search(expected, instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {expected!r}")

    schema = json.loads((shared_data / "oscal" / "schema-v1.1.3" / name).read_text())
    validator = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": pattern})
    return validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def test_oscal_documents_validate_against_nists_schemas(shared_data: Path) -> None:
    from agent.oscal import assessment_results, system_security_plan

    inputs = synthetic_inputs(controls=8, evidence=40, runs=1)
    results = assessment_results(inputs)
    ssp = system_security_plan(inputs)
    for document, schema in ((results, "oscal_assessment-results_schema.json"), (ssp, "oscal_ssp_schema.json")):
        errors = [
            f"{list(e.absolute_path)}: {e.message[:200]}"
            for e in _oscal_validator(shared_data, schema).iter_errors(document)
        ]
        assert errors == []
    # The validator can fail: a control id that is not a token is refused.
    broken = json.loads(json.dumps(ssp))
    broken["system-security-plan"]["control-implementation"]["implemented-requirements"][0]["control-id"] = "1 bad"
    assert list(_oscal_validator(shared_data, "oscal_ssp_schema.json").iter_errors(broken))

    result = results["assessment-results"]["results"][0]
    report = inputs.report
    assert len(result["findings"]) == len(report.controls)
    assert len(result["risks"]) == len(report.fix_list)
    assert {o["title"] for o in result["observations"]} == {f"ev:{e}" for e in cited_evidence_ids(report)}
    satisfied = {f["target"]["target-id"] for f in result["findings"] if f["target"]["status"]["state"] == "satisfied"}
    assert satisfied == {c.id for c in report.controls if c.status in ("pass", "evidenced")}
    # The same run exported twice is the same document (uuid5 from the run and the element).
    assert assessment_results(inputs) == results
    # A rejected draft is not given as the implementation.
    rejected = next(c for c in report.controls if c.review and c.review.state == "rejected")
    requirements = ssp["system-security-plan"]["control-implementation"]["implemented-requirements"]
    descriptions = [
        b["description"] for r in requirements for b in r["by-components"] if b["description"].startswith(rejected.id)
    ]
    assert descriptions and all("rejected in review" in d for d in descriptions)


# -- the evidence package ---------------------------------------------------------------------------------------


def _rewritten(package: Path, out: Path, change: dict[str, bytes | None]) -> Path:
    """A copy of the package with files replaced (bytes) or removed (None)."""
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            if name in change:
                if change[name] is not None:
                    target.writestr(name, change[name])
            else:
                target.writestr(name, source.read(name))
    return out


def test_evidence_package_verifies_and_detects_a_changed_or_removed_file(
    tmp_path: Path, signed_report_workspace
) -> None:
    workspace = signed_report_workspace(tmp_path / "ws")
    package = tmp_path / "package.zip"

    def auditor(*args: str):
        return runner.invoke(app, ["--workspace", str(workspace.root), *args], catch_exceptions=False)

    built = auditor("export", "package", "--out", str(package))
    assert built.exit_code == 0, built.output
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        evidence_files = sorted(n for n in names if "/evidence/" in n)
        review_log = json.loads(archive.read("review-log.json"))
        narrative = archive.read("controls/CTL-002/narrative.md").decode()
    assert {"index.html", "report.json", "chain.json", "review-log.json", "manifest.json"} <= names
    assert {"controls/CTL-000/narrative.md", "controls/CTL-000/findings.json", "controls/CTL-000/review.json"} <= names
    assert len(evidence_files) == 3 and [e["action"] for e in review_log] == ["approve", "reject"]
    assert {entry["path"] for entry in manifest["files"]} == names - {"manifest.json", "manifest.signature.json"}
    assert manifest["run_ids"] == ["synthetic"] and manifest["evidence_head"]["seq"] == 3
    assert "draft withheld" in narrative and "Control 2 is operating" not in narrative

    # Checked without the workspace: from another directory, with no config or workspace around it.
    verified = runner.invoke(app, ["--workspace", str(tmp_path / "elsewhere"), "verify", "--package", str(package)])
    assert verified.exit_code == 0, verified.output
    assert "OK" in verified.output

    with zipfile.ZipFile(package) as archive:
        original = archive.read(evidence_files[0])
    changed = _rewritten(package, tmp_path / "changed.zip", {evidence_files[0]: original.replace(b"b0", b"b9")})
    removed = _rewritten(package, tmp_path / "removed.zip", {"controls/CTL-001/review.json": None})
    for tampered, expected in (
        (changed, f"{evidence_files[0]}: changed"),
        (removed, "controls/CTL-001/review.json: listed in the manifest, missing"),
    ):
        result = runner.invoke(app, ["verify", "--package", str(tampered)])
        assert result.exit_code == 1 and expected in " ".join(result.output.split()), result.output

    # Changing a file and its manifest entry together still fails: its chain record holds the sha256.
    with zipfile.ZipFile(package) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    forged = original.replace(b"b0", b"b9")
    for entry in manifest["files"]:
        if entry["path"] == evidence_files[0]:
            entry["sha256"] = hashlib.sha256(forged).hexdigest()
    both = _rewritten(
        package, tmp_path / "both.zip", {evidence_files[0]: forged, "manifest.json": json.dumps(manifest).encode()}
    )
    result = runner.invoke(app, ["verify", "--package", str(both)])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "does not match the sha256 its chain record holds" in said
