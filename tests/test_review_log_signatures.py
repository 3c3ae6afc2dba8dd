"""`auditor review --log` shows, per decision, whether its signature verifies and whether the chain holds at it;
a bad decision is marked ✗ with what is wrong, and the command exits 1."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from agent.review_log import ReviewLog
from tools.config import AuditorConfig
from tools.signing import PublicKey, Signer, load_signer
from tools.workspace import Workspace
from tui.cli import app

runner = CliRunner()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.chdir(tmp_path)  # no auditor.toml here: defaults, with --workspace below
    return Workspace.at(tmp_path / "ws")


def append(workspace: Workspace, signer: Signer | None, action: str, control_id: str) -> None:
    with ReviewLog(workspace.review_db, signer=signer) as log:
        log.append(
            reviewer="dana",
            action=action,
            control_id=control_id,
            run_id="run-1",
            before_hash="a" * 64,
            after_hash="a" * 64,
            evidence_hash="e" * 64,
            reason="needs evidence" if action == "reject" else None,
        )


def review_log(workspace: Workspace, *args: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["--workspace", str(workspace.root), "review", "--log", *args], terminal_width=300)
    return result.exit_code, result.output.splitlines()


def line_of(lines: list[str], control_id: str) -> str:
    (line,) = [line for line in lines if f" {control_id} " in line]
    return line


def workspace_key(workspace: Workspace) -> Signer:
    return load_signer(AuditorConfig(workspace=workspace.root), create=True)


def test_every_signed_decision_is_shown_verified(workspace: Workspace, tmp_path: Path) -> None:
    for action, control_id in (("reject", "IAM-01"), ("approve", "IAM-02")):
        append(workspace, workspace_key(workspace), action, control_id)
    code, lines = review_log(workspace)
    assert code == 0, lines
    for control_id in ("IAM-01", "IAM-02"):
        line = line_of(lines, control_id)
        assert line.startswith("✓") and "✓ signed (OS user " in line and "✗" not in line
    assert any(f"2 decisions signed by key {workspace_key(workspace).public.key_id}" in line for line in lines)

    # Checked on a copy with another public key, no decision verifies.
    other = tmp_path / "other.pub"
    other.write_text(PublicKey(Ed25519PrivateKey.generate().public_key()).text() + "\n")
    code, lines = review_log(workspace, "--public-key", str(other))
    assert code == 1 and all(line_of(lines, c).startswith("✗") for c in ("IAM-01", "IAM-02")), lines


def test_an_unsigned_and_a_foreign_decision_are_marked_bad(workspace: Workspace) -> None:
    append(workspace, workspace_key(workspace), "reject", "IAM-01")
    append(workspace, None, "approve", "IAM-02")  # appended without the key
    append(workspace, Signer(Ed25519PrivateKey.generate(), "mallory"), "approve", "IAM-03")
    code, lines = review_log(workspace)
    assert code == 1, lines
    assert line_of(lines, "IAM-01").startswith("✓")
    unsigned, foreign = line_of(lines, "IAM-02"), line_of(lines, "IAM-03")
    assert unsigned.startswith("✗") and "BAD SIGNATURE: row 2: approve by 'dana' is not signed" in unsigned
    assert foreign.startswith("✗") and "BAD SIGNATURE: row 3" in foreign and "does not verify with key" in foreign
    assert any("2 decision(s) not signed by key" in line for line in lines)


def test_an_altered_row_is_marked_with_a_broken_chain(workspace: Workspace) -> None:
    for action, control_id in (("reject", "IAM-01"), ("approve", "IAM-02")):
        append(workspace, workspace_key(workspace), action, control_id)
    db = sqlite3.connect(workspace.review_db)
    db.executescript("DROP TRIGGER review_log_no_update; UPDATE review_log SET action = 'approve' WHERE seq = 1;")
    db.close()
    code, lines = review_log(workspace)
    assert code == 1, lines
    altered = line_of(lines, "IAM-01")
    # Its hash no longer matches its content; the signature over that hash still verifies.
    assert altered.startswith("✗") and "BROKEN CHAIN at this row" in altered and "BAD SIGNATURE" not in altered
    assert line_of(lines, "IAM-02").startswith("✓")
    assert any("review log chain is broken" in line for line in lines)
