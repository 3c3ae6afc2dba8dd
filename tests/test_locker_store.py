"""The locker stores redacted evidence in SQLite (WAL) and content-addressed blobs, append-only."""

from __future__ import annotations

import re
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tools.chain import GENESIS, canonical_json, chain_hash, sha256_hex
from tools.locker import JSON_CONTENT, TEXT_CONTENT, EvidenceLocker, EvidenceNotFound

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB_TOKEN = "ghp_" + "Zq8" * 12  # assembled, so this file holds no token-shaped literal
DB_PASSWORD = "Sup3r-S3cret-Pw"
SECRETS = (AWS_KEY_ID, AWS_SECRET, GITHUB_TOKEN, DB_PASSWORD)


@pytest.fixture
def locker(tmp_path: Path) -> EvidenceLocker:
    with EvidenceLocker(tmp_path / "evidence" / "locker.sqlite", tmp_path / "evidence" / "blobs") as opened:
        yield opened


def put_secret_item(locker: EvidenceLocker, run_id: str = "run-1"):
    return locker.put(
        run_id=run_id,
        source="aws",
        tool="aws.iam.users",
        operation="iam:ListUsers,iam:ListAccessKeys",
        params={"dsn": f"postgres://auditor:{DB_PASSWORD}@db:5432/app", "regions": ["us-east-1"]},
        data={
            "users": [{"UserName": "ci", "AccessKeyId": AWS_KEY_ID}],
            "env": f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}\nGITHUB_TOKEN={GITHUB_TOKEN}\n",
        },
    )


def test_put_redacts_then_stores_blob_and_chained_row(locker: EvidenceLocker) -> None:
    record = put_secret_item(locker)
    assert re.fullmatch(r"[0-9a-f]{12}", record.id) and record.id == record.record_hash[:12]
    assert record.seq == 1 and record.prev_hash == GENESIS
    assert record.record_hash == chain_hash(GENESIS, record.hashed_fields())
    assert record.redactions == {"aws_access_key": 1, "aws_secret_key": 1, "github_token": 1, "password_in_url": 1}
    assert record.params == {
        "dsn": "postgres://auditor:[REDACTED:password_in_url]@db:5432/app",
        "regions": ["us-east-1"],
    }
    assert record.content_type == JSON_CONTENT
    datetime.fromisoformat(record.collected_at)  # UTC ISO 8601
    assert record.collected_at.endswith("+00:00")

    data = locker.read(record.id)
    assert data == {
        "users": [{"UserName": "ci", "AccessKeyId": "[REDACTED:aws_access_key]"}],
        "env": "AWS_SECRET_ACCESS_KEY=[REDACTED:aws_secret_key]\nGITHUB_TOKEN=[REDACTED:github_token]\n",
    }
    blob = locker.blobs_dir / record.sha256[:2] / record.sha256
    assert blob.read_bytes() == canonical_json(data)
    assert sha256_hex(blob.read_bytes()) == record.sha256 and record.size == blob.stat().st_size
    assert locker.get(record.id) == record


def test_no_secret_reaches_the_database_wal_or_blobs(tmp_path: Path) -> None:
    db_path = tmp_path / "locker.sqlite"
    locker = EvidenceLocker(db_path, tmp_path / "blobs")
    for run in range(3):
        put_secret_item(locker, run_id=f"run-{run}")
    locker.put("run-1", "git", "git.history", "git log -p", {}, f"+password={DB_PASSWORD}\n+key {AWS_KEY_ID}\n")

    def assert_no_secret_in_any_file() -> None:
        for path in (path for path in tmp_path.rglob("*") if path.is_file()):
            content = path.read_bytes()
            for secret in SECRETS:
                assert secret.encode() not in content, f"{secret!r} found in {path}"

    assert Path(f"{db_path}-wal").is_file()  # open: the WAL holds the newest pages
    assert_no_secret_in_any_file()
    locker.close()  # checkpoints the WAL into the database file
    assert_no_secret_in_any_file()


def test_text_evidence_is_stored_as_utf8_text(locker: EvidenceLocker) -> None:
    record = locker.put("run-1", "logs", "logs.auth_events", "read", {"path": "/var/log/auth.log"}, "sshd: ok ✓\n")
    assert record.content_type == TEXT_CONTENT
    assert locker.read(record.id) == "sshd: ok ✓\n"


def test_identical_data_shares_one_blob(locker: EvidenceLocker) -> None:
    first = locker.put("run-1", "aws", "aws.s3.buckets", "s3:ListBuckets", {}, {"Buckets": []})
    second = locker.put("run-2", "aws", "aws.s3.buckets", "s3:ListBuckets", {}, {"Buckets": []})
    assert first.sha256 == second.sha256 and first.id != second.id
    assert second.prev_hash == first.record_hash and second.seq == 2
    assert locker.stats().blobs == 1 and locker.stats().items == 2 and locker.stats().runs == 2


def test_unknown_id_raises_not_found(locker: EvidenceLocker) -> None:
    assert locker.get("000000000000") is None
    with pytest.raises(EvidenceNotFound, match="000000000000"):
        locker.read("000000000000")


def test_wal_mode_and_append_only_triggers(locker: EvidenceLocker) -> None:
    record = put_secret_item(locker)
    connection = sqlite3.connect(locker.db_path)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            connection.execute("UPDATE evidence SET tool = 'forged' WHERE id = ?", (record.id,))
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            connection.execute("DELETE FROM evidence WHERE id = ?", (record.id,))
    finally:
        connection.close()
    assert locker.get(record.id) == record and locker.count() == 1


def test_find_fresh_honours_ttl_tool_and_params(locker: EvidenceLocker) -> None:
    older = locker.put(
        "run-1", "aws", "aws.iam.users", "iam:ListUsers", {"regions": ["us-east-1"]}, [1], ttl=timedelta(hours=1)
    )
    newer = locker.put(
        "run-2", "aws", "aws.iam.users", "iam:ListUsers", {"regions": ["us-east-1"]}, [2], ttl=timedelta(hours=1)
    )
    now = datetime.now(UTC)
    signed = {older.record_hash, newer.record_hash}  # as if a signed run had collected both
    assert locker.find_fresh("aws.iam.users", {"regions": ["us-east-1"]}, now=now) is None  # unsigned: never reused
    assert locker.find_fresh("aws.iam.users", {"regions": ["us-east-1"]}, now=now, signed=signed) == newer
    later = now + timedelta(minutes=59)
    assert locker.find_fresh("aws.iam.users", {"regions": ["us-east-1"]}, now=later, signed=signed) == newer
    expired = now + timedelta(hours=2)
    assert locker.find_fresh("aws.iam.users", {"regions": ["us-east-1"]}, now=expired, signed=signed) is None
    assert locker.find_fresh("aws.iam.users", {"regions": ["eu-west-1"]}, now=now, signed=signed) is None
    assert locker.find_fresh("aws.iam.roles", {"regions": ["us-east-1"]}, now=now, signed=signed) is None
    assert older.seq < newer.seq


def test_find_fresh_honours_a_shorter_max_age_and_only_run(locker: EvidenceLocker) -> None:
    # Stored by a run with a 24-hour TTL; a run whose TTL is one hour must not reuse it two hours later.
    day_old = locker.put("run-1", "aws", "aws.iam.users", "iam:ListUsers", {}, [1], ttl=timedelta(hours=24))
    later = datetime.now(UTC) + timedelta(hours=2)
    signed = {day_old.record_hash}
    assert locker.find_fresh("aws.iam.users", {}, now=later, signed=signed) == day_old
    assert locker.find_fresh("aws.iam.users", {}, now=later, max_age=timedelta(hours=3), signed=signed) == day_old
    assert locker.find_fresh("aws.iam.users", {}, now=later, max_age=timedelta(hours=1), signed=signed) is None
    # only_run: that run's own items, even expired ones (stored with a TTL of 0), and no other run's.
    own = locker.put("run-2", "aws", "aws.iam.users", "iam:ListUsers", {}, [2], ttl=timedelta(0))
    assert locker.find_fresh("aws.iam.users", {}, only_run="run-2") == own
    assert locker.find_fresh("aws.iam.users", {}, only_run="run-3") is None
    signed |= {own.record_hash}
    assert locker.find_fresh("aws.iam.users", {}, signed=signed) == day_old  # a TTL of 0 is never reused by others


def test_find_fresh_matches_params_that_held_a_secret(locker: EvidenceLocker) -> None:
    params = {"url": f"https://ci:{DB_PASSWORD}@git.example.com/repo.git", "depth": 5}
    record = locker.put("run-1", "git", "git.commits", "git log", params, ["c1"])
    # Same call again: the params are redacted the same way, so the item is found.
    found = locker.find_fresh("git.commits", {"depth": 5, "url": params["url"]}, signed={record.record_hash})
    assert found == record


def test_default_ttl_applies_when_none_given(tmp_path: Path) -> None:
    with EvidenceLocker(tmp_path / "l.sqlite", tmp_path / "blobs", default_ttl=timedelta(minutes=5)) as locker:
        record = locker.put("run-1", "aws", "aws.kms.keys", "kms:ListKeys", {}, [])
        lifetime = datetime.fromisoformat(record.expires_at) - datetime.fromisoformat(record.collected_at)
        assert lifetime == timedelta(minutes=5)


def test_list_filters_by_run_and_tool_and_limits_to_newest(locker: EvidenceLocker) -> None:
    made = [
        locker.put(f"run-{n % 2}", "aws", "aws.s3.buckets" if n % 3 else "aws.kms.keys", "op", {"n": n}, {"n": n})
        for n in range(9)
    ]
    assert [r.id for r in locker.list()] == [r.id for r in made]
    assert [r.id for r in locker.list(run_id="run-1")] == [r.id for r in made if r.run_id == "run-1"]
    assert [r.id for r in locker.list(tool="aws.kms.keys")] == [made[0].id, made[3].id, made[6].id]
    assert [r.id for r in locker.list(limit=2)] == [made[7].id, made[8].id]
    assert locker.head() == made[-1] and locker.count() == 9


def test_concurrent_puts_from_threads_keep_one_unbroken_chain(locker: EvidenceLocker) -> None:
    errors: list[BaseException] = []

    def worker(worker_id: int) -> None:
        try:
            for n in range(25):
                locker.put(
                    f"run-{worker_id}",
                    "aws",
                    "aws.ec2.vpcs",
                    "ec2:DescribeVpcs",
                    {"w": worker_id, "n": n},
                    {"w": worker_id, "n": n},
                )
        except BaseException as exc:  # surfaced below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(worker_id,)) for worker_id in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    records = locker.list()
    assert [r.seq for r in records] == list(range(1, 201))
    assert all(later.prev_hash == earlier.record_hash for earlier, later in zip(records, records[1:], strict=False))
    assert locker.verify().ok


def test_two_lockers_on_one_file_append_to_one_chain(tmp_path: Path) -> None:
    # As two processes would: separate connections, serialised by SQLite's write lock.
    first = EvidenceLocker(tmp_path / "l.sqlite", tmp_path / "blobs")
    second = EvidenceLocker(tmp_path / "l.sqlite", tmp_path / "blobs")
    try:
        a = first.put("run-1", "aws", "t", "op", {}, 1)
        b = second.put("run-1", "aws", "t", "op", {}, 2)
        c = first.put("run-1", "aws", "t", "op", {}, 3)
        assert (a.seq, b.seq, c.seq) == (1, 2, 3)
        assert b.prev_hash == a.record_hash and c.prev_hash == b.record_hash
        assert second.verify().ok
    finally:
        first.close()
        second.close()
