"""`auditor report` renders report.json only after checking it against its run's signed record (agent/integrity.py):
a changed or unsigned report is refused with exit 1, naming the file, and nothing is rendered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from agent.report import latest_run_id, write_report
from agent.report_schema import ReadinessReport
from tools.config import AuditorConfig
from tools.signing import PublicKey, Signer, load_signer
from tools.workspace import Workspace
from tui.cli import app
from tui.cli.state import console, err_console

runner = CliRunner()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signed_report_workspace) -> Workspace:
    monkeypatch.chdir(tmp_path)  # no auditor.toml here: defaults, with --workspace below
    for stream in (console, err_console):  # messages naming a path stay on one line
        monkeypatch.setattr(stream, "_width", 300)
    return signed_report_workspace(tmp_path / "ws")


def auditor(workspace: Workspace, *args: str):
    return runner.invoke(app, ["--workspace", str(workspace.root), *args])


def report_path(workspace: Workspace) -> Path:
    return workspace.reports_dir / (latest_run_id(workspace) or "") / "report.json"


def said(result) -> str:  # noqa: ANN001
    return " ".join(result.output.split())


def test_a_signed_report_renders(workspace: Workspace) -> None:
    result = auditor(workspace, "report", "--stdout")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# SOC 2 readiness")


def test_a_report_changed_after_its_run_signed_it_is_refused(workspace: Workspace) -> None:
    path = report_path(workspace)
    document = json.loads(path.read_text())
    document["controls"][0]["status"] = "pass"
    document["controls"][0]["status_reason"] = "Everything checked out."
    path.write_text(json.dumps(document, indent=2) + "\n")

    for args in (("report", "--stdout"), ("report", "--format", "html"), ("export", "package", "--out", "p.zip")):
        result = auditor(workspace, *args)
        assert result.exit_code == 1, result.output
        assert f"report {path} was changed after run synthetic signed it" in said(result)
        assert "refusing to use it" in said(result)
    assert not (path.parent / "rendered").exists() and not Path("p.zip").exists()


def test_a_report_no_run_signed_is_refused(workspace: Workspace) -> None:
    # Written outside a run (as save_report does), with a new run id: self-consistent, and signed by nobody.
    forged = ReadinessReport.model_validate_json(report_path(workspace).read_text())
    forged = forged.model_copy(update={"run": forged.run.model_copy(update={"id": "forged"})})
    write_report(workspace, forged)

    result = auditor(workspace, "report", "--stdout")
    assert result.exit_code == 1, result.output
    assert f"report {workspace.reports_dir / 'forged' / 'report.json'} is not signed by any run" in said(result)
    # The signed run's report still renders when asked for by id.
    assert auditor(workspace, "report", "--stdout", "--run", "synthetic").exit_code == 0


def test_a_copy_is_checked_with_a_public_key_and_another_key_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    public = tmp_path / "signing.pub"
    public.write_text(load_signer(AuditorConfig(workspace=workspace.root)).public.text() + "\n")
    assert auditor(workspace, "report", "--stdout", "--public-key", str(public)).exit_code == 0

    other = tmp_path / "other.pub"
    other.write_text(PublicKey(Ed25519PrivateKey.generate().public_key()).text() + "\n")
    result = auditor(workspace, "report", "--stdout", "--public-key", str(other))
    assert result.exit_code == 1, result.output
    assert "is not signed by any run" in said(result)


def test_a_report_re_signed_by_another_key_is_refused(workspace: Workspace) -> None:
    """The attacker rewrites report.json and re-signs the run record and its detached copy with their own key."""
    from agent.runs import RunStore
    from tools.chain import canonical_json, sha256_hex

    path = report_path(workspace)
    path.write_text(path.read_text().replace('"pass"', '"fail"', 1))
    mallory = Signer(Ed25519PrivateKey.generate(), "mallory")
    runs = RunStore(workspace.runs_db)
    ((run_id, text, _),) = runs.signed_records()
    payload = json.loads(text)
    payload["report"]["json"] = sha256_hex(path.read_bytes())
    runs.save_signed_record(run_id, canonical_json(payload).decode(), mallory.sign(payload), "")
    detached = path.parent / "signature.json"
    detached.write_text(json.dumps({"payload": payload, "signature": mallory.sign(payload)}))

    result = auditor(workspace, "report", "--stdout")
    assert result.exit_code == 1, result.output
    assert f"report {path} is not signed by any run" in said(result)
