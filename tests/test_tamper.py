"""The tamper suite: every attack on a finished workspace that the security review made, each one detected.

The attacker can write the workspace (it sits in a CI cache, a shared folder) but does not hold the signing
key, which lives outside it (here: the session's XDG_CONFIG_HOME, see conftest.py). Each test takes a private
copy of one real offline demo run, with three signed review decisions, tampers with it the way the review did,
and asserts that `auditor verify` exits 1 naming the tampering. README "Integrity" records the count.
"""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from agent.review_log import ReviewLog
from tools.chain import GENESIS, chain_hash, sha256_hex
from tools.config import AuditorConfig
from tools.locker import EvidenceLocker
from tools.signing import Signer, load_signer
from tools.workspace import Workspace
from tui.cli import app
from tui.cli.state import console

pytestmark = pytest.mark.slow  # every test tampers with a copy of a whole demo run

cli = CliRunner()
DECISIONS = (("approve", "IAM-02"), ("reject", "IAM-03"), ("approve", "LOG-01"))


@pytest.fixture
def attacked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tui_demo_run: tuple[Path, Path],
    copy_demo_run: Callable[[Path], tuple[AuditorConfig, Workspace]],
) -> tuple[Path, AuditorConfig, Workspace]:
    """(config file, config, workspace): a copy of the demo run plus three signed review decisions."""
    from tui.session import ReviewSession

    monkeypatch.setattr(console, "_width", 200)
    config, workspace = copy_demo_run(tmp_path)
    session = ReviewSession.open(config, workspace, model=None)
    try:
        for action, control_id in DECISIONS:
            session.approve(control_id) if action == "approve" else session.reject(control_id, "needs evidence")
    finally:
        session.close()
    return tui_demo_run[0], config, workspace


def verify(attacked: tuple[Path, AuditorConfig, Workspace], *args: str):
    config_path, _, workspace = attacked
    return cli.invoke(app, ["--config", str(config_path), "--workspace", str(workspace.root), "verify", *args])


def assert_detected(
    attacked: tuple[Path, AuditorConfig, Workspace], *expected: str, args: tuple[str, ...] = ()
) -> None:
    result = verify(attacked, *args)
    assert result.exit_code == 1, result.output
    assert "NOT intact" in result.output
    for text in expected:
        assert text in result.output, result.output


def sql(path: Path, *statements: str, params: tuple = ()) -> None:
    """Run statements on a workspace database behind the tool's back (the append-only triggers dropped first)."""
    connection = sqlite3.connect(path)
    for trigger in [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]:
        connection.execute(f"DROP TRIGGER {trigger}")
    for statement in statements:
        connection.execute(statement, params if "?" in statement else ())
    connection.commit()
    connection.close()


def swap_rows(path: Path, table: str, first: int, second: int) -> None:
    """Swap the sequence numbers of two rows, through a free number."""
    sql(
        path,
        f"UPDATE {table} SET seq = -1 WHERE seq = {first}",
        f"UPDATE {table} SET seq = {first} WHERE seq = {second}",
        f"UPDATE {table} SET seq = {second} WHERE seq = -1",
    )


def evidence_rows(workspace: Workspace) -> list[tuple]:
    connection = sqlite3.connect(workspace.locker_db)
    rows = connection.execute("SELECT seq, id, record_hash, sha256 FROM evidence ORDER BY seq").fetchall()
    connection.close()
    return rows


def blob(workspace: Workspace, digest: str) -> Path:
    return workspace.blobs_dir / digest[:2] / digest


# -- the untouched copy --------------------------------------------------------------------------------------


def test_an_untouched_workspace_verifies_and_so_does_a_copy_with_only_the_public_key(attacked, tmp_path) -> None:
    result = verify(attacked)
    assert result.exit_code == 0, result.output
    assert "Evidence locker intact" in result.output and "every item collected by a signed run" in result.output
    assert "3 decision(s), chain and signatures verified" in result.output
    public = tmp_path / "auditor.pub"
    assert cli.invoke(app, ["--config", str(attacked[0]), "keys", "export", "--out", str(public)]).exit_code == 0
    copy = tmp_path / "auditor-copy"
    shutil.copytree(attacked[2].root, copy)
    result = cli.invoke(
        app, ["--config", str(attacked[0]), "--workspace", str(copy), "verify", "--public-key", str(public)]
    )
    assert result.exit_code == 0, result.output
    other = tmp_path / "other.pub"
    other.write_text(base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode())
    result = cli.invoke(
        app, ["--config", str(attacked[0]), "--workspace", str(copy), "verify", "--public-key", str(other)]
    )
    assert result.exit_code == 1 and "does not verify with key" in result.output


# -- the attacks that are SQL statements on the locker or the review log (6 of the 22 below) -----------------------

# attack -> (the database, the statements, what `verify` names)
SQL_ATTACKS = {
    "locker_01_an_edited_row": (
        "locker_db",
        ["UPDATE evidence SET params = '{\"forged\":1}' WHERE seq = 2"],
        "locker row_changed",
    ),
    "locker_04_a_deleted_middle_row": ("locker_db", ["DELETE FROM evidence WHERE seq = 3"], "locker removed"),
    "review_01_an_edited_row": (
        "review_db",
        ["UPDATE review_log SET reviewer = 'mallory' WHERE seq = 1"],
        "review log: row 1: content does not match its hash",
    ),
    "review_02_a_deleted_middle_row": (
        "review_db",
        ["DELETE FROM review_log WHERE seq = 2"],
        "review log: row 3: expected sequence number 2",
    ),
    "review_04_a_signature_stripped": (
        "review_db",
        ["DELETE FROM review_signatures WHERE seq = 2"],
        "review log: row 2: reject by 'dana' is not signed",
    ),
    "review_05_the_last_row_deleted": (
        "review_db",
        ["DELETE FROM review_log WHERE seq = 3", "DELETE FROM review_signatures WHERE seq = 3"],
        "review log: decision 3, signed as the head by the anchor of a review decision, is missing",
    ),
}


@pytest.mark.parametrize("attack", SQL_ATTACKS)
def test_sql_on_a_database(attacked, attack: str) -> None:
    database, statements, named = SQL_ATTACKS[attack]
    sql(getattr(attacked[2], database), *statements)
    assert_detected(attacked, named)


# -- the evidence locker: 14 attacks ---------------------------------------------------------------------------


def test_locker_02_changed_blob_bytes(attacked) -> None:
    digest = evidence_rows(attacked[2])[0][3]
    blob(attacked[2], digest).write_bytes(b'{"forged": true}')
    assert_detected(attacked, "blob_changed")


def test_locker_03_a_deleted_blob(attacked) -> None:
    blob(attacked[2], evidence_rows(attacked[2])[0][3]).unlink()
    assert_detected(attacked, "blob_missing")


def test_locker_05_two_rows_swapped(attacked) -> None:
    swap_rows(attacked[2].locker_db, "evidence", 2, 3)
    assert_detected(attacked, "reordered")


def test_locker_06_a_row_rewritten_with_a_recomputed_hash(attacked) -> None:
    workspace = attacked[2]
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        record = locker.list()[1]
    fields = {**record.hashed_fields(), "collected_at": "2020-01-01T00:00:00.000000+00:00"}
    new_hash = chain_hash(record.prev_hash, fields)
    sql(
        workspace.locker_db,
        "UPDATE evidence SET collected_at = ?, record_hash = ?, id = ? WHERE seq = 2",
        params=(fields["collected_at"], new_hash, new_hash[:12]),
    )
    assert_detected(attacked, "locker removed", "locker unsigned")


def _cut_tail(workspace: Workspace, count: int = 3) -> list[tuple]:
    rows = evidence_rows(workspace)
    sql(workspace.locker_db, f"DELETE FROM evidence WHERE seq > {rows[-1][0] - count}")
    return rows[:-count]


def test_locker_07_tail_cut(attacked) -> None:
    _cut_tail(attacked[2])
    assert_detected(attacked, "is not in the chain: the chain was cut short or rewritten")


def test_locker_08_tail_cut_and_noted_heads_deleted(attacked) -> None:
    _cut_tail(attacked[2])
    sql(attacked[2].runs_db, "DELETE FROM evidence_heads")
    assert_detected(attacked, "noted by signed run", "locker removed")


def test_locker_09_tail_cut_and_noted_heads_repointed(attacked) -> None:
    kept = _cut_tail(attacked[2])
    sql(attacked[2].runs_db, "UPDATE evidence_heads SET seq = ?, record_hash = ?", params=(kept[-1][0], kept[-1][2]))
    assert_detected(attacked, "noted by signed run")


def test_locker_10_run_store_deleted(attacked) -> None:
    attacked[2].runs_db.unlink()
    assert_detected(attacked, "the run store", "is missing, but 1 signed report(s)")


def test_locker_11_a_self_consistent_rechained_forgery(attacked) -> None:
    """Every item's data, blob and hash rewritten in order, the run heads and report.json's head repointed."""
    workspace = attacked[2]
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        records = locker.list()
    forged = blob(workspace, records[0].sha256).read_bytes().replace(b"false", b"true")
    digest = sha256_hex(forged)
    blob(workspace, digest).parent.mkdir(parents=True, exist_ok=True)
    blob(workspace, digest).write_bytes(forged)
    prev, statements = GENESIS, []
    for index, record in enumerate(records):
        fields = record.hashed_fields()
        if index == 0:
            fields = {**fields, "sha256": digest, "size": len(forged)}
        new_hash = chain_hash(prev, fields)
        statements.append((record.seq, fields["sha256"], fields["size"], prev, new_hash))
        prev = new_hash
    connection = sqlite3.connect(workspace.locker_db)
    connection.execute("DROP TRIGGER evidence_no_update")
    for seq, sha, size, prev_hash, new_hash in statements:
        connection.execute(
            "UPDATE evidence SET sha256 = ?, size = ?, prev_hash = ?, record_hash = ?, id = ? WHERE seq = ?",
            (sha, size, prev_hash, new_hash, new_hash[:12], seq),
        )
    connection.commit()
    connection.close()
    head_seq = statements[-1][0]
    sql(workspace.runs_db, "UPDATE evidence_heads SET seq = ?, record_hash = ?", params=(head_seq, prev))
    report_path = next(workspace.reports_dir.glob("*/report.json"))
    report = json.loads(report_path.read_text())
    report["run"]["evidence_head"] = {"seq": head_seq, "record_hash": prev}
    report_path.write_text(json.dumps(report))
    assert_detected(attacked, "locker unsigned", "noted by signed run", "was changed after run")


def test_locker_12_emptied_locker_and_run_store_deleted(attacked) -> None:
    sql(attacked[2].locker_db, "DELETE FROM evidence")
    attacked[2].runs_db.unlink()
    assert_detected(attacked, "the run store", "locker removed")


def test_locker_13_locker_deleted(attacked) -> None:
    attacked[2].locker_db.unlink()
    shutil.rmtree(attacked[2].blobs_dir)
    assert_detected(attacked, "No evidence locker at", "signed runs or anchors say it held evidence")


def test_locker_14_forged_evidence_appended_through_the_api_is_named_and_never_reused(attacked) -> None:
    from agent.api import run_proof

    _, config, workspace = attacked
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        genuine = locker.list(tool="aws.iam.credential_report")[-1]
        data = locker.read_record(genuine)
        forged_data = json.loads(json.dumps(data).replace('"mfa_active": false', '"mfa_active": true'))
        forged = locker.put("forged-run", genuine.source, genuine.tool, genuine.operation, genuine.params, forged_data)
    assert_detected(attacked, f"locker unsigned: item {forged.id}")
    outcome = run_proof(config, workspace, control_ids=["IAM-01"], model=None)
    (iam01,) = [control for control in outcome.report.controls if control.id == "IAM-01"]
    cited = {evidence_id for finding in iam01.findings for evidence_id in finding.evidence_ids}
    assert forged.id not in cited and genuine.id in cited  # the signed item is reused, the forged one is not


# -- the review log: 8 attacks -----------------------------------------------------------------------------------


def test_review_03_rows_swapped(attacked) -> None:
    swap_rows(attacked[2].review_db, "review_log", 1, 2)
    assert_detected(attacked, "does not link to the previous row's hash")


def test_review_06_a_full_rechain(attacked) -> None:
    """Row 2 turned from a rejection into an approval, every hash after it recomputed."""
    workspace = attacked[2]
    with ReviewLog(workspace.review_db) as review_log:
        entries = review_log.entries()
    connection = sqlite3.connect(workspace.review_db)
    connection.execute("DROP TRIGGER review_log_no_update")
    prev = GENESIS
    for entry in entries:
        payload = entry.payload() | ({"action": "approve", "reason": None} if entry.seq == 2 else {})
        new_hash = chain_hash(prev, payload)
        connection.execute(
            "UPDATE review_log SET action = ?, reason = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (payload["action"], payload["reason"], prev, new_hash, entry.seq),
        )
        prev = new_hash
    connection.commit()
    connection.close()
    with ReviewLog(workspace.review_db) as review_log:
        assert review_log.verify().ok  # the chain alone is consistent again
    assert_detected(attacked, "has a signature that does not verify", "not the one signed")


def test_review_07_review_log_deleted(attacked) -> None:
    attacked[2].review_db.unlink()
    assert_detected(attacked, "the review log", "is missing")


def test_review_08_an_approval_appended_without_the_key_or_with_another(attacked) -> None:
    _, _, workspace = attacked
    intruder = Signer(Ed25519PrivateKey.generate(), "attacker")
    appended = [
        (None, "IAM-01", ["row 4: approve by 'dana' is not signed"]),
        (intruder, "IAM-04", ["row 5: approve by 'dana'", f"signed by key {intruder.public.key_id}"]),
    ]
    for signer, control_id, named in appended:
        with ReviewLog(workspace.review_db, signer=signer) as review_log:
            review_log.append(
                reviewer="dana",
                action="approve",
                control_id=control_id,
                run_id="x",
                before_hash="a",
                after_hash="a",
                evidence_hash="e",
            )
        assert_detected(attacked, *named)


# -- the report and the run store: 2 attacks ----------------------------------------------------------------------


def test_report_01_readiness_edited_in_report_json(attacked) -> None:
    report_path = next(attacked[2].reports_dir.glob("*/report.json"))
    report = json.loads(report_path.read_text())
    report["summary"]["readiness_pct"] = 99.0
    report_path.write_text(json.dumps(report))
    assert_detected(attacked, "report.json was changed after run")


def test_report_02_a_control_set_to_pass_in_the_run_store(attacked) -> None:
    connection = sqlite3.connect(attacked[2].runs_db)
    run_id, result = connection.execute(
        "SELECT run_id, result FROM control_results WHERE control_id = 'IAM-01'"
    ).fetchone()
    connection.close()
    forged = json.loads(result)
    forged["status"] = "pass"
    sql(
        attacked[2].runs_db,
        "UPDATE control_results SET result = ? WHERE control_id = 'IAM-01'",
        params=(json.dumps(forged),),
    )
    assert_detected(attacked, f"run {run_id}: the stored result of IAM-01 in runs.sqlite is not what the run signed")


def test_report_03_readiness_raised_in_the_stored_run_digest(attacked) -> None:
    """History and periods read each run's digest from runs.sqlite, not report.json: a raised figure there is not
    shown (the row's signature fails, and the digest is built again from the signed report), and verify names it."""
    from agent.history import run_summaries

    _, config, workspace = attacked
    signer = load_signer(config)
    public = signer.public
    run_id = next(workspace.reports_dir.glob("*/report.json")).parent.name
    genuine = run_summaries(workspace, public, [run_id], signer).found[run_id]  # stored signed, as `auditor run` does
    connection = sqlite3.connect(workspace.runs_db)
    (summary,) = connection.execute("SELECT summary FROM signed_digests WHERE run_id = ?", (run_id,)).fetchone()
    connection.close()
    forged = json.loads(summary) | {"readiness_pct": 99.0}
    forge = "UPDATE signed_digests SET summary = ? WHERE run_id = ?"
    sql(workspace.runs_db, forge, params=(json.dumps(forged), run_id))
    assert genuine.readiness_pct != 99.0
    assert run_summaries(workspace, public, [run_id]).found[run_id].readiness_pct == genuine.readiness_pct
    assert_detected(attacked, f"run {run_id}: its digest in runs.sqlite is not signed with key")


def test_report_04_a_rejected_draft_marked_as_passed_in_the_verdict_cache(attacked) -> None:
    """A run reuses a control's cached verifier verdict when the draft and what it reads are unchanged: a forged
    "passed" there is not believed by runs (tests/test_agent_verdict_reuse.py), and verify names it."""
    _, _, workspace = attacked
    connection = sqlite3.connect(workspace.runs_db)
    control_id, verdict = connection.execute("SELECT control_id, verdict FROM signed_verdicts LIMIT 1").fetchone()
    connection.close()
    forged = json.loads(verdict) | {"passed": True, "problems": []}
    forge = "UPDATE signed_verdicts SET verdict = ? WHERE control_id = ?"
    sql(workspace.runs_db, forge, params=(json.dumps(forged), control_id))
    assert_detected(attacked, f"control {control_id}: the cached verifier verdict in runs.sqlite is not signed")


# -- forged records through the public API, and anchors ------------------------------------------------------------


def test_a_run_record_signed_with_another_key_is_named(attacked) -> None:
    connection = sqlite3.connect(attacked[2].runs_db)
    run_id, payload = connection.execute("SELECT run_id, payload FROM run_signatures").fetchone()
    connection.close()
    forged = Signer(Ed25519PrivateKey.generate(), "attacker").sign(json.loads(payload))
    sql(attacked[2].runs_db, "UPDATE run_signatures SET signature = ?", params=(forged,))
    assert_detected(attacked, f"run {run_id}: its signed record does not verify")


def test_a_rechained_forgery_fails_against_the_printed_head_line(attacked, monkeypatch, tmp_path) -> None:
    """With no anchor file at all, the head line printed after the run (kept in a CI log) still catches it."""
    _, config, workspace = attacked
    connection = sqlite3.connect(workspace.runs_db)
    (line,) = connection.execute("SELECT head_line FROM run_signatures").fetchone()
    connection.close()
    key = load_signer(config)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "elsewhere"))  # no anchor file from here on
    monkeypatch.setenv("AUDITOR_SIGNING_KEY", base64.b64encode(key.key.private_bytes_raw()).decode())
    assert verify(attacked, "--head", line).exit_code == 0
    # Cut the chain's tail and drop every signed record: the printed line names what is gone.
    _cut_tail(workspace)
    sql(workspace.runs_db, "DELETE FROM run_signatures", "DELETE FROM evidence_heads")
    for path in workspace.reports_dir.glob("*/signature.json"):
        path.unlink()
    assert_detected(attacked, "its signed record is missing", "noted by the anchor of", args=("--head", line))
    tampered = line[:-4] + ("AAAA" if not line.endswith("AAAA") else "BBBB")
    assert_detected(attacked, "--head: head line is not signed by this key", args=("--head", tampered))


def test_the_signed_head_line_is_a_single_signed_line(attacked) -> None:
    from tools.signing import read_anchor

    _, config, workspace = attacked
    connection = sqlite3.connect(workspace.runs_db)
    (line,) = connection.execute("SELECT head_line FROM run_signatures").fetchone()
    connection.close()
    head = read_anchor(line, load_signer(config).public)
    assert "\n" not in line and head["workspace"] != str(workspace.root)  # the copy's template signed it
    assert head["evidence"][1] == evidence_rows(workspace)[-1][2]
    assert head["key_id"] == load_signer(config).public.key_id
