"""The one-pass CloudTrail engine: its fast path answers exactly what the exact reader answers, in any layout,
across piece boundaries and with record ends planted inside strings; nothing is capped; each file is described
by its size, sha256, record count and time span.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tools.logs import engine
from tools.logs.engine import FileScan, scan_cloudtrail
from tools.logs.queries import CONTROL_QUERY_INDEX
from tools.logs.readers import ParseProblem


def exact(path: Path) -> FileScan:
    problems: list[ParseProblem] = []
    scan = engine._exact_scan(path, str(path), CONTROL_QUERY_INDEX, problems)
    assert problems == []
    return scan


def fast(path: Path) -> FileScan:
    """The fast path alone: it raises where it would hand the file to the exact reader."""
    with engine.open_binary(path) as stream:
        scan = engine._fresh_scan(str(path), path, CONTROL_QUERY_INDEX)
        layout = engine.json_layout(path)
        assert layout != "lines"
        engine._fast_scan(stream, layout, scan, CONTROL_QUERY_INDEX)
        scan.sha256 = stream.raw.sha256()  # type: ignore[attr-defined]
    return scan


def event(number: int, name: str = "DescribeInstances", **more: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "eventTime": f"2026-11-{1 + number % 28:02d}T00:00:{number % 60:02d}Z",
        "eventName": name,
        "eventID": f"id-{number}",
        "userIdentity": {"type": "IAMUser", "userName": f"u{number}"},
        "requestParameters": {"items": [{"a": 1}, {"b": [{"c": 2}]}]},
        **more,
    }


def test_the_fast_path_answers_as_the_exact_reader_on_real_trails(shared_data: Path) -> None:
    folder = shared_data / "cloudtrail"
    files = [
        folder / "stratus_red_team_all_records.json",
        *sorted((folder / "stratus-red-team-detonation-logs").glob("*")),
    ]
    for path in files[:12]:
        assert fast(path) == exact(path), path


@pytest.mark.parametrize("first_key", ["eventVersion", "eventName"])
def test_pieces_end_only_at_true_record_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first_key: str) -> None:
    # Pieces of 2 KB: hundreds of cuts. Record ends are planted where they are not: inside a string, and as
    # nested objects that start as records do. Records without an eventVersion first are cut at any "},{".
    monkeypatch.setattr(engine, "PIECE_BYTES", 2048)
    nested = [{"eventVersion": "1.09", "eventName": "CreateUser", "userIdentity": {"type": "Root"}}] * 2
    planted = {"note": '},{"eventVersion":"1.09","eventName":"CreateUser"},{', "nested": nested}
    records = []
    for n in range(600):
        record = event(n, "CreateUser" if n % 10 == 0 else "DescribeInstances", **(planted if n % 7 == 0 else {}))
        records.append({first_key: record.pop(first_key), **record})
    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"Records": records}, separators=(",", ":")))
    scan = fast(path)
    assert scan == exact(path)
    assert (scan.records, scan.counts["new_users_and_keys"], scan.counts["root_activity"]) == (600, 60, 0)
    assert scan.matches[1]["location"] == f"{path}:record 11" and scan.matches[1]["queries"] == ["new_users_and_keys"]


def test_documents_in_a_row_arrays_whitespace_and_gzip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PIECE_BYTES", 1024)
    records = [event(n, "ConsoleLogin" if n % 3 == 0 else "GetObject") for n in range(90)]
    layouts = {
        "documents.json": "\n".join(
            [json.dumps({"Records": records[:40]}, indent=2), '{"Records": []}', json.dumps({"Records": records[40:]})]
        ),
        "array.json": json.dumps(records, indent=1),
    }
    for name, text in layouts.items():
        path = tmp_path / name
        path.write_text(text)
        packed = tmp_path / f"{name}.gz"
        packed.write_bytes(gzip.compress(text.encode()))
        for each in (path, packed):
            scan = fast(each)
            assert scan == exact(each), each
            assert (scan.records, scan.counts["console_logins"]) == (90, 30)
            times = [r["eventTime"] for r in records]
            assert (scan.first_event, scan.last_event) == (min(times), max(times))
            assert scan.size == each.stat().st_size
            assert scan.sha256 == hashlib.sha256(each.read_bytes()).hexdigest()


def test_no_event_cap(tmp_path: Path) -> None:
    """60,000 matching events, over the old collector's cap of 50,000: every one is kept and counted."""
    path = tmp_path / "logins.json"
    record = '{"eventVersion":"1.09","eventName":"ConsoleLogin","eventTime":"2026-11-01T00:00:00Z"}'
    path.write_text('{"Records":[' + ",".join([record] * 60_000) + "]}")
    scan = scan_cloudtrail(path, CONTROL_QUERY_INDEX, [])
    assert (scan.records, scan.counts["console_logins"], len(scan.matches)) == (60_000, 60_000, 60_000)


def test_what_the_fast_path_does_not_take_the_exact_reader_reports(tmp_path: Path) -> None:
    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"Records": [event(1, "CreateUser"), {"eventTime": "x"}, event(3, "CreateUser")]}))
    problems: list[ParseProblem] = []
    scan = scan_cloudtrail(path, CONTROL_QUERY_INDEX, problems)
    assert [str(p) for p in problems] == [f"{path}:record 2: not a CloudTrail event: no eventName"]
    assert (scan.records, scan.counts["new_users_and_keys"]) == (2, 2)
    assert scan.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
