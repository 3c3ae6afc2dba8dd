"""`auditor verify`, `auditor evidence list` and `auditor evidence show` over a real workspace."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tools.locker import EvidenceLocker, EvidenceRecord
from tools.workspace import Workspace
from tui.cli import app
from tui.cli.state import console

runner = CliRunner()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.chdir(tmp_path)  # no auditor.toml here: defaults, with --workspace below
    # A wide terminal, so table cells are not folded across lines (the console is made at import).
    monkeypatch.setattr(console, "_width", 160)
    return Workspace.at(tmp_path / "ws")


@pytest.fixture
def items(workspace: Workspace) -> list[EvidenceRecord]:
    """Three items from two runs, each run signed at its end as a real run is (agent/integrity.py)."""
    from agent.integrity import sign_run
    from agent.report_schema import WriterInfo
    from agent.runs import RunStore
    from tools.config import AuditorConfig

    runs = RunStore(workspace.runs_db)
    config = AuditorConfig(workspace=workspace.root)
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        runs.start("run-a", trigger="manual", writer=WriterInfo(provider="offline", model="x"), control_ids=[])
        records = [
            locker.put(
                "run-a",
                "aws",
                "aws.iam.users",
                "iam:ListUsers",
                {},
                {"Users": [{"AccessKeyId": "AKIAIOSFODNN7EXAMPLE"}]},
            ),
            locker.put("run-a", "git", "git.history", "git log -p", {"repo": "platform"}, "+ password=hunter22;\n"),
        ]
        sign_run(config, workspace, runs, locker, "run-a")
        runs.start("run-b", trigger="manual", writer=WriterInfo(provider="offline", model="x"), control_ids=[])
        records.append(
            locker.put("run-b", "aws", "aws.s3.buckets", "s3:ListBuckets", {}, {"Buckets": [{"Name": "acme-logs"}]})
        )
        sign_run(config, workspace, runs, locker, "run-b")
        return records


def invoke(workspace: Workspace, *args: str):
    return runner.invoke(app, ["--workspace", str(workspace.root), *args])


def test_verify_reports_an_intact_locker(workspace: Workspace, items: list[EvidenceRecord]) -> None:
    result = invoke(workspace, "verify")
    assert result.exit_code == 0, result.output
    assert "intact: 3 items in 2 run(s)" in result.output


def test_verify_names_each_problem_and_exits_1(workspace: Workspace, items: list[EvidenceRecord]) -> None:
    changed_blob = workspace.blobs_dir / items[2].sha256[:2] / items[2].sha256
    changed_blob.write_bytes(b'{"Buckets":[]}')
    connection = sqlite3.connect(workspace.locker_db)
    connection.execute("DROP TRIGGER evidence_no_delete")
    connection.execute("DELETE FROM evidence WHERE id = ?", (items[1].id,))
    connection.commit()
    connection.close()

    result = invoke(workspace, "verify")
    assert result.exit_code == 1
    assert f"removed: item {items[1].id} (seq 2)" in result.output
    assert f"blob_changed: item {items[2].id} (seq 3)" in result.output
    assert "NOT intact: 2 problem(s)" in result.output


def test_verify_with_a_head_that_is_gone_fails(workspace: Workspace, items: list[EvidenceRecord]) -> None:
    result = invoke(workspace, "verify", "--head", "f" * 64)
    assert result.exit_code == 1 and "removed: item ffffffffffff" in result.output


def test_evidence_list_shows_a_row_per_item_with_filters(workspace: Workspace, items: list[EvidenceRecord]) -> None:
    result = invoke(workspace, "evidence", "list")
    assert result.exit_code == 0, result.output
    for record in items:
        assert record.id in result.output
    assert "aws_access_key 1" in result.output and "password 1" in result.output

    by_run = invoke(workspace, "evidence", "list", "--run", "run-b")
    assert items[2].id in by_run.output and items[0].id not in by_run.output
    by_tool = invoke(workspace, "evidence", "list", "--tool", "git.history")
    assert items[1].id in by_tool.output and items[2].id not in by_tool.output
    newest = invoke(workspace, "evidence", "list", "--limit", "1")
    assert items[2].id in newest.output and items[1].id not in newest.output
    none = invoke(workspace, "evidence", "list", "--tool", "aws.kms.keys")
    assert none.exit_code == 0 and "No evidence items match" in none.output


def test_evidence_show_prints_provenance_then_redacted_data(workspace: Workspace, items: list[EvidenceRecord]) -> None:
    result = invoke(workspace, "evidence", "show", f"[ev:{items[0].id}]")
    assert result.exit_code == 0, result.output
    for expected in (
        items[0].sha256,
        items[0].record_hash,
        items[0].prev_hash,
        "seq 1 of 3",
        "iam:ListUsers",
        "aws_access_key 1",
        '"AccessKeyId": "[REDACTED:aws_access_key]"',
    ):
        assert expected in result.output
    assert "AKIAIOSFODNN7EXAMPLE" not in result.output

    text_item = invoke(workspace, "evidence", "show", items[1].id)
    assert "+ password=[REDACTED:password];" in text_item.output


def test_evidence_show_unknown_id_exits_2(workspace: Workspace, items: list[EvidenceRecord]) -> None:
    result = invoke(workspace, "evidence", "show", "0123456789ab")
    assert result.exit_code == 2
    assert "no evidence item '0123456789ab'" in result.output


def test_evidence_show_of_a_tampered_blob_exits_1(workspace: Workspace, items: list[EvidenceRecord]) -> None:
    (workspace.blobs_dir / items[0].sha256[:2] / items[0].sha256).write_bytes(b"{}")
    result = invoke(workspace, "evidence", "show", items[0].id)
    assert result.exit_code == 1 and "was changed" in result.output


def test_verify_catches_a_cut_short_chain_against_the_heads_runs_noted(
    workspace: Workspace, items: list[EvidenceRecord]
) -> None:
    from agent.runs import RunStore

    runs = RunStore(workspace.runs_db)
    runs.note_evidence_head("run-b", items[-1].seq, items[-1].record_hash)
    assert invoke(workspace, "verify").exit_code == 0

    connection = sqlite3.connect(workspace.locker_db)
    connection.execute("DROP TRIGGER evidence_no_delete")
    connection.execute("DELETE FROM evidence WHERE seq = ?", (items[-1].seq,))
    connection.commit()
    connection.close()

    result = invoke(workspace, "verify")
    assert result.exit_code == 1
    assert f"removed: item {items[-1].id} (seq 3): the chain head noted by run run-b" in result.output
    assert "1 blob(s)" in result.output  # the removed item's blob is left behind


def test_verify_refuses_a_missing_locker_without_creating_one(
    workspace: Workspace, items: list[EvidenceRecord]
) -> None:
    for path in workspace.locker_db.parent.glob(workspace.locker_db.name + "*"):
        path.unlink()
    result = invoke(workspace, "verify")
    assert result.exit_code == 1 and "No evidence locker at" in result.output
    assert not workspace.locker_db.exists()
