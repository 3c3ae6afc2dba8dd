"""Hostile log files fail closed: deep nesting, gzip bombs, huge lines and huge records stop their file within
small memory, the file is stored with an `error`, every log check that reads it gives an error finding (never a
pass, never "no log configured") and the run reports the logs source as unreadable. An evidence item over the
locker's size bound is refused with a CollectionError.
"""

from __future__ import annotations

import json
import tracemalloc
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence
from tools.config import AuditorConfig
from tools.context import CollectContext
from tools.findings import Status
from tools.locker import EvidenceLocker, EvidenceTooLarge
from tools.logs import checks as _checks  # noqa: F401  (registers the checks)
from tools.logs import collectors as _collectors  # noqa: F401  (registers the collectors)
from tools.logs import readers
from tools.logs.readers import ParseProblem, read_cloudtrail, read_syslog
from tools.runner import CollectionError, EvidenceRunner
from tools.sources import problems_in_data

LOG_CHECKS = (
    "logs.audit_logging_tampered",
    "logs.root_account_use",
    "logs.new_users_and_keys",
    "logs.repeated_failed_logins",
    "logs.console_login_without_mfa",
)
PEAK_LIMIT = 200 * 1024 * 1024

GOOD_EVENT = {
    "eventName": "DescribeTrails",
    "eventTime": "2025-03-03T10:00:00Z",
    "eventID": "good-1",
    "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/ana"},
}


def collect_and_judge(path: Path) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Both file collectors' data for the log at path, and each log check's findings on it."""
    ctx = CollectContext(AuditorConfig.model_validate({"logs": {"paths": [str(path)]}}))
    items = [
        StoredEvidence(f"{number:012x}", tool, {}, TOOLS[tool].func(ctx, TOOLS[tool].args_model()))
        for number, tool in enumerate(("logs.cloudtrail_events", "logs.auth_events"))
    ]
    findings = {
        check: CHECKS[check].func(EvidenceView([i for i in items if i.tool in CHECKS[check].needs]))
        for check in LOG_CHECKS
    }
    return {item.tool: item.data for item in items}, findings


def assert_fails_closed(path: Path, tool: str, bound: str) -> None:
    data, findings = collect_and_judge(path)
    [source] = data[tool]["sources"]
    assert source["file"] == str(path) and bound in source["error"], source
    # The run reports the logs source as unreadable (exit 4), naming the file and the bound.
    assert any(
        str(path) in problem.cause and bound in problem.cause for problem in problems_in_data("logs", data[tool])
    )
    for check, found in findings.items():
        if tool in CHECKS[check].needs:
            statuses = {finding.status for finding in found}
            assert Status.ERROR in statuses and Status.PASS not in statuses, (check, found)
            assert not any("not configured" in finding.reason for finding in found), (check, found)


def peak_while(read: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = read()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("depth", [40_000, 100_000])
def test_deeply_nested_json_stops_the_file_in_small_memory(tmp_path: Path, depth: int) -> None:
    nested = tmp_path / "trail.json"
    nested.write_bytes(b"[" * depth)
    problems: list[ParseProblem] = []
    records, peak = peak_while(lambda: list(read_cloudtrail(nested, problems)))
    assert records == [] and peak < PEAK_LIMIT, f"peak {peak / 2**20:.0f} MiB"
    [problem] = problems
    assert problem.stops_file and f"nested deeper than {readers.MAX_JSON_DEPTH} levels" in problem.reason
    assert_fails_closed(nested, "logs.cloudtrail_events", "nested deeper")


def test_deep_nesting_after_good_records_still_makes_the_file_an_error(tmp_path: Path) -> None:
    """A file stopped part-way is unreadable even though some records were read: what follows is unknown."""
    trail = tmp_path / "trail.json"
    trail.write_text('{"Records": [' + json.dumps(GOOD_EVENT) + ", " + "[" * 1000, encoding="utf-8")
    data, findings = collect_and_judge(trail)
    [source] = data["logs.cloudtrail_events"]["sources"]
    assert source["records"] == 1 and "1 records read before" in source["error"]
    for check in ("logs.audit_logging_tampered", "logs.root_account_use"):
        statuses = {finding.status for finding in findings[check]}
        assert Status.ERROR in statuses and Status.PASS not in statuses, findings[check]


def gzip_of(prefix: bytes, filler: bytes, size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    chunk = filler * (1024 * 1024)
    parts = [compressor.compress(prefix)] + [compressor.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join([*parts, compressor.flush()])


def assert_reading_stops_the_file(trail: Path, reason: str) -> None:
    """Reading the trail keeps no record, stays under PEAK_LIMIT and stops the file for `reason`; the check on it
    fails closed."""
    problems: list[ParseProblem] = []
    records, peak = peak_while(lambda: list(read_cloudtrail(trail, problems)))
    assert records == [] and peak < PEAK_LIMIT
    [problem] = problems
    assert problem.stops_file and reason in problem.reason
    assert_fails_closed(trail, "logs.cloudtrail_events", reason)


def test_a_gzip_bomb_stops_at_the_compression_ratio(tmp_path: Path) -> None:
    bomb = tmp_path / "trail.json.gz"
    bomb.write_bytes(gzip_of(b'{"Records": [', b" ", 200 * 1024 * 1024))  # 200 MB of blanks, ~200 KB packed
    assert bomb.stat().st_size < 400_000
    assert_reading_stops_the_file(bomb, "decompression bomb")


def test_a_syslog_line_longer_than_the_bound_is_skipped_and_reported(tmp_path: Path) -> None:
    auth = tmp_path / "auth.log"
    good = b"Mar  3 10:00:00 web sshd[1]: Accepted publickey for ana from 10.0.0.1 port 22 ssh2\n"
    auth.write_bytes(good + b"Mar  3 10:00:01 web sshd[2]: " + b"x" * (5 * readers.MAX_LINE_BYTES) + b"\n" + good)
    problems: list[ParseProblem] = []
    lines = list(read_syslog(auth, problems))
    assert [line.location for line in lines] == [f"{auth}:1", f"{auth}:3"]
    assert [str(p) for p in problems] == [f"{auth}:2: line longer than {readers.MAX_LINE_BYTES} bytes, skipped"]


def test_a_log_of_one_huge_line_is_an_error_for_the_log_checks(tmp_path: Path) -> None:
    auth = tmp_path / "auth.log"
    auth.write_bytes(b"Mar  3 10:00:01 web sshd[2]: " + b"x" * (50 * 1024 * 1024))
    _, peak = peak_while(lambda: list(read_syslog(auth, [])))
    assert peak < PEAK_LIMIT
    assert_fails_closed(auth, "logs.auth_events", "no readable record (1 parse problems)")


def test_a_cloudtrail_record_larger_than_the_bound_stops_the_file(tmp_path: Path) -> None:
    trail = tmp_path / "trail.json"
    huge = {**GOOD_EVENT, "requestParameters": {"filler": "a" * (2 * readers.MAX_RECORD_BYTES)}}
    trail.write_text(json.dumps({"Records": [GOOD_EVENT, huge]}), encoding="utf-8")
    problems: list[ParseProblem] = []
    assert len(list(read_cloudtrail(trail, problems))) == 1
    [problem] = problems
    assert problem.where == "record 2" and "larger than" in problem.reason and problem.stops_file


def test_memory_and_recursion_errors_stop_the_file_instead_of_failing_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = tmp_path / "trail.json"
    trail.write_text(json.dumps({"Records": [GOOD_EVENT]}), encoding="utf-8")

    def exhausted(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(readers.ijson, "basic_parse", exhausted)
    assert_fails_closed(trail, "logs.cloudtrail_events", "MemoryError while reading")


def test_an_item_over_the_blob_bound_is_a_collection_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tools import locker as locker_module

    monkeypatch.setattr(locker_module, "MAX_BLOB_BYTES", 1000)
    locker = EvidenceLocker(tmp_path / "locker.db", tmp_path / "blobs")
    with pytest.raises(EvidenceTooLarge, match="larger than 1000"):
        locker.put("run-1", "logs", "logs.auth_events", "read files", {}, {"lines": "x" * 2000})
    assert locker.list() == [] and not list((tmp_path / "blobs").rglob("*"))

    auth = tmp_path / "auth.log"
    auth.write_text("Mar  3 10:00:00 web sshd[1]: Accepted publickey for ana from 10.0.0.1 port 22 ssh2\n" * 50)
    ctx = CollectContext(AuditorConfig.model_validate({"logs": {"paths": [str(auth)]}}), "run-1")
    runner = EvidenceRunner(locker, ctx, "run-1", ttl=timedelta(0))
    with pytest.raises(CollectionError, match="MAX_BLOB_BYTES"):
        runner.collect("logs.auth_events", {})


def test_one_huge_json_string_stops_the_file_before_it_is_held_whole(tmp_path: Path) -> None:
    """The parser holds a string whole before it reports it: the bound is checked while reading its bytes."""
    trail = tmp_path / "trail.json"
    trail.write_bytes(b'{"Records": [{"eventName": "x", "a": "' + b"a" * (100 * 1024 * 1024) + b'"}]}')
    assert_reading_stops_the_file(trail, "one JSON value larger than")
