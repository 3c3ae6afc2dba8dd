"""EvidenceRunner: one collection per distinct call, TTL reuse across runs, checks over stored evidence."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from agent.config import AuditorConfig
from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence, check, tool
from tools.context import CollectContext
from tools.findings import Finding, Status
from tools.locker import EvidenceLocker
from tools.runner import CollectionError, EvidenceRunner, InvalidToolCall

TOOL = "test.read_file"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"


class ReadFileArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    max_bytes: int = Field(default=100_000, ge=1)


@pytest.fixture
def file_tool() -> list[str]:
    """A test-only collector over a real file; yields the paths it was called with."""
    calls: list[str] = []
    lock = threading.Lock()

    def read_file(ctx: CollectContext, args: ReadFileArgs) -> dict:
        with lock:
            calls.append(args.path)
        threading.Event().wait(0.05)  # long enough for concurrent requests to pile up behind it
        return {"path": args.path, "text": Path(args.path).read_text(encoding="utf-8")[: args.max_bytes]}

    tool(TOOL, source="manual", description="Read a file (tests only).", args=ReadFileArgs,
         operations=("open", "read"))(read_file)
    try:
        yield calls
    finally:
        TOOLS.pop(TOOL)


@pytest.fixture
def test_checks() -> dict[str, list[EvidenceView]]:
    """Test-only checks: one reports what it saw, one raises."""
    seen: dict[str, list[EvidenceView]] = {"test.file_has_marker": []}

    def file_has_marker(evidence: EvidenceView) -> list[Finding]:
        seen["test.file_has_marker"].append(evidence)
        return [
            Finding(check="test.file_has_marker",
                    status=Status.FAIL if "[REDACTED:" in item.data["text"] else Status.PASS,
                    resource=item.data["path"], reason="the file holds a redaction marker", evidence_ids=[item.id])
            for item in evidence.all(TOOL)
        ]

    def always_raises(evidence: EvidenceView) -> list[Finding]:
        return evidence.items[0].data["no such field"]

    check("test.file_has_marker", title="File has a marker", needs=(TOOL,))(file_has_marker)
    check("test.always_raises", title="Always raises", needs=(TOOL,))(always_raises)
    try:
        yield seen
    finally:
        CHECKS.pop("test.file_has_marker")
        CHECKS.pop("test.always_raises")


@pytest.fixture
def locker(tmp_path: Path) -> EvidenceLocker:
    with EvidenceLocker(tmp_path / "locker.sqlite", tmp_path / "blobs") as opened:
        yield opened


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "deploy.env"
    path.write_text(f"AWS_ACCESS_KEY_ID={AWS_KEY_ID}\nREGION=us-east-1\n", encoding="utf-8")
    return path


def make_runner(locker: EvidenceLocker, run_id: str, ttl: timedelta = timedelta(hours=1)) -> EvidenceRunner:
    return EvidenceRunner(locker, CollectContext(config=AuditorConfig(), run_id=run_id), run_id=run_id, ttl=ttl)


def test_collect_stores_redacted_evidence_and_returns_what_is_stored(
    file_tool: list[str], locker: EvidenceLocker, secret_file: Path
) -> None:
    runner = make_runner(locker, "run-1")
    evidence = runner.collect(TOOL, {"path": str(secret_file)})
    assert evidence.tool == TOOL and evidence.params == {"path": str(secret_file), "max_bytes": 100_000}
    assert evidence.data["text"] == "AWS_ACCESS_KEY_ID=[REDACTED:aws_access_key]\nREGION=us-east-1\n"
    record = locker.get(evidence.id)
    assert record is not None and record.run_id == "run-1" and record.source == "manual"
    assert record.operation == "open,read" and record.redactions == {"aws_access_key": 1}
    assert locker.read(evidence.id) == evidence.data
    assert (runner.counters.collected, runner.counters.reused_from_locker, runner.counters.cache_hits) == (1, 0, 0)


def test_repeated_and_equivalent_requests_collect_once(
    file_tool: list[str], locker: EvidenceLocker, secret_file: Path
) -> None:
    runner = make_runner(locker, "run-1")
    first = runner.collect(TOOL, {"path": str(secret_file)})
    again = runner.collect(TOOL, {"path": str(secret_file)})
    spelled_out = runner.collect(TOOL, {"max_bytes": 100_000, "path": str(secret_file)})
    other = runner.collect(TOOL, {"path": str(secret_file), "max_bytes": 10})
    assert first == again == spelled_out and other.id != first.id
    assert file_tool == [str(secret_file), str(secret_file)]
    assert runner.counters.collected == 2 and runner.counters.cache_hits == 2 and locker.count() == 2


def test_concurrent_duplicate_requests_wait_for_the_first(
    file_tool: list[str], locker: EvidenceLocker, secret_file: Path
) -> None:
    runner = make_runner(locker, "run-1")
    start = threading.Barrier(8)
    results: list[StoredEvidence] = []
    errors: list[BaseException] = []

    def request() -> None:
        start.wait()
        try:
            results.append(runner.collect(TOOL, {"path": str(secret_file)}))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(file_tool) == 1 and len({evidence.id for evidence in results}) == 1 and len(results) == 8
    assert runner.counters.collected == 1 and runner.counters.cache_hits == 7 and locker.count() == 1


def test_fresh_locker_items_are_reused_by_a_later_run(
    file_tool: list[str], locker: EvidenceLocker, secret_file: Path
) -> None:
    first = make_runner(locker, "run-1").collect(TOOL, {"path": str(secret_file)})
    resumed = make_runner(locker, "run-2")
    reused = resumed.collect(TOOL, {"path": str(secret_file)})
    assert reused == first and len(file_tool) == 1
    assert resumed.counters.reused_from_locker == 1 and resumed.counters.collected == 0


def test_expired_items_are_collected_again(file_tool: list[str], locker: EvidenceLocker, secret_file: Path) -> None:
    first = make_runner(locker, "run-1", ttl=timedelta(0)).collect(TOOL, {"path": str(secret_file)})
    second = make_runner(locker, "run-2").collect(TOOL, {"path": str(secret_file)})
    assert second.id != first.id and len(file_tool) == 2


def test_a_tampered_fresh_item_is_collected_again(
    file_tool: list[str], locker: EvidenceLocker, secret_file: Path
) -> None:
    first = make_runner(locker, "run-1").collect(TOOL, {"path": str(secret_file)})
    record = locker.get(first.id)
    (locker.blobs_dir / record.sha256[:2] / record.sha256).write_bytes(b'{"path":"x","text":"forged"}')
    second = make_runner(locker, "run-2").collect(TOOL, {"path": str(secret_file)})
    assert second.id != first.id and second.data["text"].startswith("AWS_ACCESS_KEY_ID=") and len(file_tool) == 2


def test_invalid_params_and_unknown_tools_are_refused(file_tool: list[str], locker: EvidenceLocker) -> None:
    runner = make_runner(locker, "run-1")
    with pytest.raises(InvalidToolCall, match=r"test.read_file: invalid params: 'path': Field required"):
        runner.collect(TOOL, {})
    with pytest.raises(InvalidToolCall, match=r"'max_bytes': Input should be greater than or equal to 1"):
        runner.collect(TOOL, {"path": "x", "max_bytes": 0})
    with pytest.raises(InvalidToolCall, match=r"'colour': Extra inputs are not permitted"):
        runner.collect(TOOL, {"path": "x", "colour": "red"})
    with pytest.raises(InvalidToolCall, match="unknown tool 'aws.nothing'"):
        runner.collect("aws.nothing", {})
    assert file_tool == [] and locker.count() == 0


def test_collector_failure_raises_collection_error_once_per_call(
    file_tool: list[str], locker: EvidenceLocker, tmp_path: Path
) -> None:
    runner = make_runner(locker, "run-1")
    missing = tmp_path / "absent.log"
    with pytest.raises(CollectionError, match=r"test.read_file: collection failed: FileNotFoundError") as raised:
        runner.collect(TOOL, {"path": str(missing)})
    assert raised.value.tool == TOOL and str(missing) in raised.value.reason
    with pytest.raises(CollectionError):
        runner.collect(TOOL, {"path": str(missing)})
    assert file_tool == [str(missing)] and locker.count() == 0


def test_evaluate_gives_checks_the_stored_data(
    file_tool: list[str], test_checks: dict[str, list[EvidenceView]], locker: EvidenceLocker, secret_file: Path
) -> None:
    runner = make_runner(locker, "run-1")
    evidence = runner.collect(TOOL, {"path": str(secret_file)})
    # Whatever the caller's object holds, the check reads the locker's copy.
    forged = StoredEvidence(evidence.id, evidence.tool, evidence.params, {"path": "forged", "text": AWS_KEY_ID})
    findings = runner.evaluate("test.file_has_marker", [forged])
    assert [(f.status, f.resource, f.evidence_ids) for f in findings] == [
        (Status.FAIL, str(secret_file), [evidence.id])
    ]
    (view,) = test_checks["test.file_has_marker"]
    assert view.items[0].data == locker.read(evidence.id)


def test_a_raising_check_becomes_one_error_finding(
    file_tool: list[str], test_checks: dict[str, list[EvidenceView]], locker: EvidenceLocker, secret_file: Path
) -> None:
    runner = make_runner(locker, "run-1")
    evidence = runner.collect(TOOL, {"path": str(secret_file)})
    (finding,) = runner.evaluate("test.always_raises", [evidence])
    assert finding.check == "test.always_raises" and finding.status == Status.ERROR
    assert finding.reason == "check test.always_raises failed: KeyError: 'no such field'"
    assert finding.evidence_ids == [evidence.id]


def test_evaluate_with_missing_evidence_or_unknown_check(
    file_tool: list[str], test_checks: dict[str, list[EvidenceView]], locker: EvidenceLocker
) -> None:
    runner = make_runner(locker, "run-1")
    ghost = StoredEvidence("0123456789ab", TOOL, {}, {"path": "p", "text": ""})
    (finding,) = runner.evaluate("test.file_has_marker", [ghost])
    assert finding.status == Status.ERROR and "EvidenceNotFound" in finding.reason
    with pytest.raises(InvalidToolCall, match="unknown check 'test.nothing'"):
        runner.evaluate("test.nothing", [])
