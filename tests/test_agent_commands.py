"""`auditor run` and `auditor report` from the command line, over the demo company."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tui.cli import app

pytestmark = pytest.mark.slow  # auditor run over the demo company


def test_run_exit_codes_and_report_rendering(tmp_path: Path, demo_environment, workspace_with_knowledge) -> None:
    def auditor(workspace: Path, *args: str):
        config = demo_environment.config_path
        return CliRunner().invoke(app, ["-c", str(config), "-w", str(workspace), *args], catch_exceptions=False)

    workspace = workspace_with_knowledge(tmp_path / "ws").root
    assert auditor(workspace, "report").exit_code == 2  # nothing to render yet

    completed = auditor(workspace, "run", "--controls", "IAM-01,GOV-01")
    assert completed.exit_code == 0, completed.output  # a gap is a result, not an error
    assert "Report:" in completed.output and "Controls: 2" in completed.output

    gated = auditor(workspace, "run", "--controls", "IAM-01", "--fail-on-gap", "--trigger", "ci")
    assert gated.exit_code == 3, gated.output
    assert "criteria are gaps" in gated.output

    unknown = auditor(workspace, "run", "--controls", "IAM-01,NOPE-99")
    assert unknown.exit_code == 1 and "unknown control id(s): NOPE-99" in unknown.output

    as_json = auditor(workspace, "report", "--format", "json", "--stdout")
    document = json.loads(as_json.stdout)
    # The --controls run updated the latest report: IAM-01 judged again, GOV-01 kept from the first run.
    assert document["run"]["trigger"] == "ci" and [c["id"] for c in document["controls"]] == ["GOV-01", "IAM-01"]
    assert document["controls"][0]["run_id"] == document["run"]["merged_from"] != document["run"]["id"]

    out = tmp_path / "readiness.md"
    written = auditor(workspace, "report", "--out", str(out))
    assert written.exit_code == 0 and out.read_text().startswith("# SOC 2 readiness: Acme AI")
