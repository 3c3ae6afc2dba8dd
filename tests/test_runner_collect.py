"""EvidenceRunner: one collection per distinct call, TTL reuse across runs, checks over stored evidence."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence, check, load_all, tool
from tools.config import AuditorConfig
from tools.context import CollectContext
from tools.findings import Finding, Severity, Status
from tools.locker import EvidenceLocker
from tools.runner import CollectionError, EvidenceRunner, InvalidToolCall, outside_configuration

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

    tool(
        TOOL, source="manual", description="Read a file (tests only).", args=ReadFileArgs, operations=("open", "read")
    )(read_file)
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
            Finding(
                check="test.file_has_marker",
                status=Status.FAIL if "[REDACTED:" in item.data["text"] else Status.PASS,
                resource=item.data["path"],
                reason="the file holds a redaction marker",
                evidence_ids=[item.id],
            )
            for item in evidence.all(TOOL)
        ]

    def always_raises(evidence: EvidenceView) -> list[Finding]:
        return evidence.items[0].data["no such field"]

    check("test.file_has_marker", title="File has a marker", needs=(TOOL,), severity=Severity.LOW)(file_has_marker)
    check("test.always_raises", title="Always raises", needs=(TOOL,), severity=Severity.HIGH)(always_raises)
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
    # Every item in the locker counts as signed by a run here; tests/test_tamper.py covers unsigned items.
    signed = {record.record_hash for record in locker.list()}
    return EvidenceRunner(
        locker, CollectContext(config=AuditorConfig(), run_id=run_id), run_id=run_id, ttl=ttl, signed=signed
    )


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
    # An item no signed run collected is never reused: it is collected again.
    unsigned = EvidenceRunner(locker, CollectContext(config=AuditorConfig(), run_id="run-3"), run_id="run-3")
    assert unsigned.collect(TOOL, {"path": str(secret_file)}).id != first.id and len(file_tool) == 2


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
    # The severity is the check's registration's, stamped by the runner.
    assert [(f.status, f.resource, f.evidence_ids, f.severity) for f in findings] == [
        (Status.FAIL, str(secret_file), [evidence.id], Severity.LOW)
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
    assert finding.severity == Severity.HIGH
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


def test_ttl_zero_and_fresh_reuse_only_what_the_run_itself_stored(
    file_tool: list[str], locker: EvidenceLocker, secret_file: Path
) -> None:
    earlier = make_runner(locker, "run-1").collect(TOOL, {"path": str(secret_file)})
    for runner in (
        make_runner(locker, "run-2", ttl=timedelta(0)),
        EvidenceRunner(locker, CollectContext(AuditorConfig(), "run-3"), "run-3", fresh=True),
    ):
        again = runner.collect(TOOL, {"path": str(secret_file)})
        assert again.id != earlier.id and runner.counters.reused_from_locker == 0
        # The same run, resumed after an interruption, reuses its own evidence whatever the TTL.
        resumed = EvidenceRunner(locker, runner.ctx, runner.run_id, ttl=runner.ttl, fresh=runner.fresh)
        assert resumed.collect(TOOL, {"path": str(secret_file)}).id == again.id
        assert resumed.counters.reused_from_locker == 1
    assert len(file_tool) == 3


def test_a_collector_failure_is_recorded_with_its_cause_and_fix(
    file_tool: list[str], locker: EvidenceLocker, tmp_path: Path
) -> None:
    runner = make_runner(locker, "run-1")
    missing = tmp_path / "absent.log"
    with pytest.raises(CollectionError):
        runner.collect(TOOL, {"path": str(missing)})
    (problem,) = runner.sources.problems()
    assert (problem.source, problem.cause, problem.whole_source) == ("manual", f"{missing} does not exist", False)


def test_after_a_whole_source_failure_its_other_calls_are_not_tried(locker: EvidenceLocker) -> None:
    from botocore.exceptions import NoCredentialsError

    calls: list[str] = []

    def read_aws(ctx: CollectContext, args: ReadFileArgs) -> dict:
        calls.append(args.path)
        raise NoCredentialsError()

    tool(
        "test.aws_read", source="aws", description="Fails like AWS without credentials (tests only).", args=ReadFileArgs
    )(read_aws)
    try:
        runner = make_runner(locker, "run-1")
        with pytest.raises(CollectionError, match="NoCredentialsError"):
            runner.collect("test.aws_read", {"path": "iam"})
        with pytest.raises(CollectionError, match=r"not tried: no AWS credentials \(met earlier in this run\)"):
            runner.collect("test.aws_read", {"path": "s3"})
    finally:
        TOOLS.pop("test.aws_read")
    assert calls == ["iam"]
    (problem,) = runner.sources.problems()
    assert problem.source == "aws" and "AWS_PROFILE" in problem.fix and problem.whole_source


# -- arguments stay within the configuration ------------------------------------------------------------


@pytest.fixture
def configured(tmp_path: Path) -> AuditorConfig:
    """A config with one log folder, one local repository, one GitHub repository, one log group, two regions;
    beside them (not configured) a secrets file, a link to it from inside the log folder, and another repo."""
    load_all()
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "auth.log").write_text("Jan  1 00:00:00 host sshd[1]: Accepted publickey for ops\n")
    (tmp_path / ".env").write_text(f"AWS_ACCESS_KEY_ID={AWS_KEY_ID}\n")
    (logs / "link.log").symlink_to(tmp_path / ".env")
    for repo in ("service", "unconfigured"):
        (tmp_path / repo / ".git").mkdir(parents=True)
    config = AuditorConfig.model_validate(
        {
            "aws": {"regions": ["us-east-1", "eu-west-1"]},
            "github": {"owner": "acme-ai", "repos": ["platform"]},
            "repos": {"local": ["service"]},
            "logs": {"paths": ["logs"], "cloudwatch_log_groups": ["/aws/cloudtrail"]},
        }
    )
    # Relative paths resolve against the config file's folder, as when read from auditor.toml.
    return config.model_copy(update={"source": tmp_path / "auditor.toml"})


def beyond(config: AuditorConfig, tool_name: str, params: dict) -> list[str]:
    spec = TOOLS[tool_name]
    return outside_configuration(spec, spec.args_model.model_validate(params), config)


@pytest.mark.parametrize(
    ("tool_name", "params", "problem"),
    [
        ("logs.auth_events", {"paths": ["~/.env"]}, "is not under a configured [logs] path"),
        ("logs.auth_events", {"paths": ["/etc/passwd"]}, "is not under a configured [logs] path"),
        ("logs.auth_events", {"paths": ["logs/../.env"]}, "is not under a configured [logs] path"),
        ("logs.cloudtrail_events", {"paths": ["logs/link.log"]}, "is not under a configured [logs] path"),
        ("git.history", {"repos": ["unconfigured"]}, "is not a configured [repos] local repository"),
        ("git.commits", {"repos": ["service/.."]}, "is not a configured [repos] local repository"),
        ("github.repository", {"repos": ["acme-ai/platform/../../../user"]}, "is not a configured [github]"),
        ("github.pulls", {"repos": ["acme-ai/other"]}, "is not a configured [github] repository"),
        ("github.org_members", {"org": "someone-else"}, "is not the configured [github] owner"),
        ("logs.cloudwatch_events", {"log_groups": ["/aws/lambda/billing"]}, "is not a configured [logs] CloudWatch"),
        ("aws.ec2.volumes", {"regions": ["us-gov-west-1"]}, "is not a configured [aws] region"),
    ],
)
def test_arguments_beyond_the_configuration_are_named(
    configured: AuditorConfig, tool_name: str, params: dict, problem: str
) -> None:
    [found] = beyond(configured, tool_name, params)
    assert problem in found


def test_arguments_within_the_configuration_pass(configured: AuditorConfig, tmp_path: Path) -> None:
    assert beyond(configured, "logs.auth_events", {"paths": ["logs", str(tmp_path / "logs" / "auth.log")]}) == []
    assert beyond(configured, "git.history", {"repos": [str(tmp_path / "service"), "service/../service"]}) == []
    assert beyond(configured, "github.repository", {"repos": ["platform", "Acme-AI/Platform"]}) == []
    assert beyond(configured, "github.org_members", {"org": "ACME-AI"}) == []
    cloudwatch = {"log_groups": ["/aws/cloudtrail"], "regions": ["eu-west-1"]}
    assert beyond(configured, "logs.cloudwatch_events", cloudwatch) == []
    assert beyond(configured, "aws.iam.users", {}) == []


def test_the_runner_refuses_a_call_beyond_the_configuration_before_collecting(
    configured: AuditorConfig, locker: EvidenceLocker
) -> None:
    runner = EvidenceRunner(locker, CollectContext(config=configured, run_id="run-1"), run_id="run-1")
    with pytest.raises(InvalidToolCall, match=r"logs.auth_events: params outside the configuration: '~/.env'"):
        runner.collect("logs.auth_events", {"paths": ["~/.env"]})
    assert locker.count() == 0
    assert runner.collect("logs.auth_events", {}).data["sources"][0]["file"].endswith("auth.log")
