"""verify() names every item that was changed, removed or reordered, as an attacker with file access would."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tools.chain import chain_hash
from tools.locker import EvidenceLocker, EvidenceRecord, ExpectedHead, Problem, TamperedEvidence


@pytest.fixture
def locker(tmp_path: Path) -> EvidenceLocker:
    with EvidenceLocker(tmp_path / "locker.sqlite", tmp_path / "blobs") as opened:
        yield opened


@pytest.fixture
def items(locker: EvidenceLocker) -> list[EvidenceRecord]:
    return [
        locker.put("run-1", "aws", "aws.s3.buckets", "s3:ListBuckets", {"page": n}, {"bucket": f"b{n}", "n": n})
        for n in range(6)
    ]


def tamper(locker: EvidenceLocker, *statements: tuple[str, tuple]) -> None:
    """Run SQL behind the locker's back, dropping the append-only triggers first."""
    connection = sqlite3.connect(locker.db_path)
    try:
        connection.execute("DROP TRIGGER evidence_no_update")
        connection.execute("DROP TRIGGER evidence_no_delete")
        for sql, values in statements:
            connection.execute(sql, values)
        connection.commit()
    finally:
        connection.close()


def blob_path(locker: EvidenceLocker, record: EvidenceRecord) -> Path:
    return locker.blobs_dir / record.sha256[:2] / record.sha256


def kinds(problems: list[Problem]) -> list[tuple[str | None, int | None, str]]:
    return [(problem.item_id, problem.seq, problem.kind) for problem in problems]


def test_untouched_locker_verifies(locker: EvidenceLocker, items: list[EvidenceRecord]) -> None:
    report = locker.verify(expected_heads=[ExpectedHead(items[-1].record_hash, items[-1].seq)])
    assert report.ok and report.items == 6 and report.problems == []


def test_edited_blob_is_named(locker: EvidenceLocker, items: list[EvidenceRecord]) -> None:
    target = items[2]
    blob_path(locker, target).write_bytes(b'{"bucket":"b2","n":2,"public":false}')
    report = locker.verify()
    assert not report.ok
    assert kinds(report.problems) == [(target.id, 3, "blob_changed")]
    with pytest.raises(TamperedEvidence, match=f"evidence {target.id}: blob .* was changed"):
        locker.read(target.id)


def test_missing_blob_is_named(locker: EvidenceLocker, items: list[EvidenceRecord]) -> None:
    blob_path(locker, items[4]).unlink()
    assert kinds(locker.verify().problems) == [(items[4].id, 5, "blob_missing")]
    with pytest.raises(TamperedEvidence, match="missing"):
        locker.read(items[4].id)


def test_edited_row_is_named(locker: EvidenceLocker, items: list[EvidenceRecord]) -> None:
    target = items[1]
    tamper(locker, ("UPDATE evidence SET params = ? WHERE id = ?", ('{"page":99}', target.id)))
    assert kinds(locker.verify().problems) == [(target.id, 2, "row_changed")]


def test_row_rewritten_with_a_recomputed_hash_is_named(locker: EvidenceLocker, items: list[EvidenceRecord]) -> None:
    # A careful attacker recomputes the edited row's hash and id: the next row's link still gives it away.
    target = items[3]
    forged_fields = {**target.hashed_fields(), "run_id": "run-forged"}
    forged_hash = chain_hash(target.prev_hash, forged_fields)
    tamper(
        locker,
        (
            "UPDATE evidence SET run_id = ?, record_hash = ?, id = ? WHERE seq = ?",
            ("run-forged", forged_hash, forged_hash[:12], target.seq),
        ),
    )
    [problem] = locker.verify().problems
    # Indistinguishable from deleting item 4 and renumbering: the original is named, the forged row too.
    assert (problem.item_id, problem.kind) == (target.id, "removed")
    assert f"item {forged_hash[:12]} (seq 4) was rewritten" in problem.detail


def test_deleted_row_is_named_by_its_id(locker: EvidenceLocker, items: list[EvidenceRecord]) -> None:
    target = items[2]
    tamper(locker, ("DELETE FROM evidence WHERE id = ?", (target.id,)))
    report = locker.verify()
    assert kinds(report.problems) == [(target.id, 3, "removed")]
    assert f"before item {items[3].id}" in report.problems[0].detail


def test_deleted_first_row_is_named(locker: EvidenceLocker, items: list[EvidenceRecord]) -> None:
    tamper(locker, ("DELETE FROM evidence WHERE seq = 1", ()))
    assert kinds(locker.verify().problems) == [(items[0].id, 1, "removed")]


def test_reordered_rows_are_named(locker: EvidenceLocker, items: list[EvidenceRecord]) -> None:
    first, second = items[1], items[2]
    tamper(
        locker,
        ("UPDATE evidence SET seq = -1 WHERE id = ?", (first.id,)),
        ("UPDATE evidence SET seq = ? WHERE id = ?", (first.seq, second.id)),
        ("UPDATE evidence SET seq = ? WHERE id = ?", (second.seq, first.id)),
    )
    report = locker.verify()
    assert kinds(report.problems) == [(second.id, 2, "reordered"), (first.id, 3, "reordered")]
    assert f"after item {first.id}" in report.problems[0].detail


def test_truncated_tail_is_found_against_the_expected_head(locker: EvidenceLocker, items: list[EvidenceRecord]) -> None:
    head = items[-1]
    tamper(locker, ("DELETE FROM evidence WHERE seq = ?", (head.seq,)))
    assert locker.verify().ok  # nothing after it: the chain alone cannot tell
    assert kinds(locker.verify(expected_heads=[ExpectedHead(head.record_hash)]).problems) == [
        (head.id, None, "removed")
    ]


def test_items_added_after_the_expected_head_are_fine(locker: EvidenceLocker, items: list[EvidenceRecord]) -> None:
    noted = items[-1].record_hash
    locker.put("run-2", "aws", "aws.kms.keys", "kms:ListKeys", {}, [])
    assert locker.verify(expected_heads=[ExpectedHead(noted, items[-1].seq)]).ok


def test_several_problems_are_all_reported(locker: EvidenceLocker, items: list[EvidenceRecord]) -> None:
    blob_path(locker, items[0]).write_bytes(b"{}")
    tamper(
        locker,
        ("UPDATE evidence SET tool = 'aws.iam.users' WHERE id = ?", (items[2].id,)),
        ("DELETE FROM evidence WHERE id = ?", (items[4].id,)),
    )
    assert kinds(locker.verify().problems) == [
        (items[0].id, 1, "blob_changed"),
        (items[2].id, 3, "row_changed"),
        (items[4].id, 5, "removed"),
    ]


def test_deleted_row_with_the_rest_renumbered_names_the_removed_item(
    locker: EvidenceLocker, items: list[EvidenceRecord]
) -> None:
    target = items[2]
    tamper(
        locker,
        ("DELETE FROM evidence WHERE id = ?", (target.id,)),
        *[("UPDATE evidence SET seq = ? WHERE id = ?", (record.seq - 1, record.id)) for record in items[3:]],
    )
    [problem] = locker.verify().problems
    assert (problem.item_id, problem.kind) == (target.id, "removed")
    assert f"item {items[3].id} (seq 3) links to item {target.id}" in problem.detail


def test_a_row_made_unreadable_is_reported_not_raised(locker: EvidenceLocker, items: list[EvidenceRecord]) -> None:
    tamper(locker, ("UPDATE evidence SET params = '{bad' WHERE id = ?", (items[1].id,)))
    assert kinds(locker.verify().problems) == [(items[1].id, 2, "row_changed")]


def test_a_noted_head_moved_to_another_position_is_named(locker: EvidenceLocker, items: list[EvidenceRecord]) -> None:
    report = locker.verify(expected_heads=[ExpectedHead(items[3].record_hash, seq=5, noted_by="run r1")])
    assert kinds(report.problems) == [(items[3].id, 4, "reordered")]
    assert "run r1 noted it" in report.problems[0].detail


def test_blobs_that_no_item_points_to_are_listed(locker: EvidenceLocker, items: list[EvidenceRecord]) -> None:
    assert locker.unreferenced_blobs() == []
    tamper(locker, ("DELETE FROM evidence WHERE id = ?", (items[5].id,)))
    assert locker.unreferenced_blobs() == [blob_path(locker, items[5])]
