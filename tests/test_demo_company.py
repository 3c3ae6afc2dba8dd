"""DemoCompany: a fresh, seeded moto server, the demo repository and logs, and an auditor.toml for them."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import httpx
import pytest

from tools.config import load_config
from tools.demo import DemoCompany
from tools.demo.aws import DEMO_REGIONS


@pytest.mark.slow
def test_demo_company_starts_everything_and_stops_the_server(tmp_path: Path) -> None:
    with DemoCompany(tmp_path / "acme") as demo:
        config = load_config(demo.config_path)
        assert config.company == "Acme AI"
        assert config.aws.endpoint_url == demo.endpoint_url
        assert config.aws.regions == DEMO_REGIONS
        assert (config.github.api_url, config.github.owner, config.github.repos) == (
            demo.github_url,
            "acme-ai",
            ["platform"],
        )
        assert (
            httpx.get(f"{demo.github_url}/repos/acme-ai/platform", timeout=5).json()["full_name"] == "acme-ai/platform"
        )
        assert config.repos.local == [demo.repo_path]
        assert (demo.repo_path / ".git").is_dir()
        assert config.logs.paths == [demo.logs_dir]
        assert demo.log_files and all(path.is_file() for path in demo.log_files)
        assert config.workspace_dir == tmp_path / "acme" / ".auditor"
        buckets = boto3.client("s3", endpoint_url=demo.endpoint_url).list_buckets()["Buckets"]
        assert "ml-training-data" in {bucket["Name"] for bucket in buckets}
    for stopped in (f"{demo.endpoint_url}/moto-api/", f"{demo.github_url}/repos/acme-ai/platform"):
        with pytest.raises(httpx.TransportError):
            httpx.get(stopped, timeout=2)


@pytest.mark.slow
def test_the_demo_moto_process_records_and_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    """The seeded moto child answers the recorder, and no orphan: it serves until its stdin closes, as on SIGKILL."""
    from tools.demo.server import MotoAdmin

    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tools.demo.server import SeededMotoProcess\n"
            "moto = SeededMotoProcess()\nmoto.launch()\nprint(moto.wait_ready(), flush=True)\ninput()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,  # moto writes ./moto_recording
    )
    assert parent.stdout is not None
    endpoint_url = parent.stdout.readline().strip()
    admin = MotoAdmin(endpoint_url)
    admin.start_recording()
    sts = boto3.client("sts", endpoint_url=endpoint_url, region_name="us-east-1")
    assert sts.get_caller_identity()["Account"]
    admin.stop_recording()
    assert [request.operation for request in admin.recorded_requests()] == ["GetCallerIdentity"]
    parent.kill()
    parent.communicate()  # waits, and closes our ends of its pipes
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{endpoint_url}/moto-api/", timeout=1)
        except httpx.TransportError:
            return
        time.sleep(0.2)
    pytest.fail(f"the demo's moto server at {endpoint_url} outlived its parent")


@pytest.mark.slow
def test_a_request_sent_while_the_demo_aws_seeds_waits_and_sees_it_all() -> None:
    """launch() gives the endpoint before seeding ends; a request sent at once is answered only once it is seeded."""
    from tools.demo.server import SeededMotoProcess

    moto = SeededMotoProcess()
    endpoint_url = moto.launch()
    try:
        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        bedrock = boto3.client("bedrock", endpoint_url=endpoint_url, region_name="eu-west-1", **keys)
        # The seeder's very last write: answered as seeded, so the request waited for all of it.
        logging = bedrock.get_model_invocation_logging_configuration()["loggingConfig"]
        assert logging["cloudWatchConfig"]["logGroupName"] == "/bedrock/invocations"
        assert moto.wait_ready() == endpoint_url  # said "ready" before it answered
        moto.raise_if_exited()  # still serving
    finally:
        moto.stop()


@pytest.mark.slow
def test_waiting_again_for_the_seeded_demo_aws_returns_at_once() -> None:
    """The child says "ready" once: a second wait (e.g. DemoCompany.wait_until_seeded() twice) must not read on
    for a line that never comes."""
    from tools.demo.server import SeededMotoProcess

    moto = SeededMotoProcess()
    endpoint_url = moto.launch()
    try:
        assert moto.wait_ready() == endpoint_url
        answers: list[str] = []
        again = threading.Thread(target=lambda: answers.append(moto.wait_ready()), daemon=True)
        again.start()
        again.join(timeout=10)
        assert answers == [endpoint_url]
    finally:
        moto.stop()


def test_a_demo_aws_process_that_died_is_reported_with_its_exit() -> None:
    from tools.demo.server import SeededMotoProcess

    moto = SeededMotoProcess()
    moto.launch()
    try:
        assert moto._process is not None
        moto._process.kill()  # as a crash while seeding would end it
        moto._process.wait()
        with pytest.raises(RuntimeError, match="the demo's moto server exited"):
            moto.raise_if_exited()
        with pytest.raises(RuntimeError, match="the demo's moto server exited"):
            moto.wait_ready()
    finally:
        moto.stop()


def _wait_ready_within(moto, seconds: float) -> list[object]:
    """What wait_ready() gave (its endpoint, or the RuntimeError it raised) within `seconds`; nothing if it hung."""
    answer: list[object] = []

    def wait() -> None:
        try:
            answer.append(moto.wait_ready())
        except RuntimeError as exc:
            answer.append(exc)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    waiter.join(seconds)
    return answer


def test_a_demo_aws_process_that_is_stuck_is_killed_and_reported() -> None:
    """A child stopped while it seeds (SIGSTOP) would hold every AWS request in the socket's backlog for minutes:
    past the seed timeout it is killed, so connecting is refused, and the wait and the check both say why."""
    from tools.demo.server import SeededMotoProcess

    moto = SeededMotoProcess(seed_timeout=1.0)
    endpoint_url = moto.launch()
    try:
        assert moto._process is not None
        moto._process.send_signal(signal.SIGSTOP)
        (answer,) = _wait_ready_within(moto, 10) or [None]
        assert isinstance(answer, RuntimeError) and "was not ready 1 s after it started" in str(answer)
        with pytest.raises(RuntimeError, match="stopped or stuck, and was killed"):
            moto.raise_if_exited()
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{endpoint_url}/moto-api/", timeout=5)
    finally:
        moto.stop()


@pytest.mark.slow
def test_a_line_the_child_prints_before_ready_does_not_hide_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import tools.demo.server as server

    monkeypatch.setattr(server, "SEEDED_MOTO_CHILD", 'print("a notice", flush=True); ' + server.SEEDED_MOTO_CHILD)
    moto = server.SeededMotoProcess(seed_timeout=60)
    moto.launch()
    try:
        assert _wait_ready_within(moto, 30) == [moto.endpoint_url]
    finally:
        moto.stop()


def test_a_child_stuck_after_half_a_line_is_still_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    import tools.demo.server as server

    child = 'import sys; sys.stdout.write("seeding..."); sys.stdout.flush(); sys.stdin.read()'
    monkeypatch.setattr(server, "SEEDED_MOTO_CHILD", child)
    moto = server.SeededMotoProcess(seed_timeout=1.0)
    moto.launch()
    try:
        (answer,) = _wait_ready_within(moto, 10) or [None]
        assert isinstance(answer, RuntimeError) and "was not ready 1 s" in str(answer)
    finally:
        moto.stop()


@pytest.mark.slow
def test_a_demo_whose_aws_process_died_ends_with_its_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real child that exits at once: the run reads no AWS (its findings say so), then the demo exits 1 naming
    the emulator's exit, and leaves no process behind."""
    from typer.testing import CliRunner

    import tools.demo.server
    from tui.cli import app

    monkeypatch.setattr(tools.demo.server, "SEEDED_MOTO_CHILD", "import sys; print('seeder broke', file=sys.stderr)")
    result = CliRunner().invoke(app, ["-w", str(tmp_path / "ws"), "demo"])
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "the demo's moto server exited (0): seeder broke" in output
    assert "The run could not read the demo's AWS" in output


def test_leaving_a_demo_company_whose_aws_process_died_says_so(tmp_path: Path) -> None:
    company = DemoCompany(tmp_path / "acme")
    with pytest.raises(RuntimeError, match="the demo's moto server exited"):
        with company:
            assert company._moto._process is not None
            company._moto._process.kill()  # as a crash would end it
            company._moto._process.wait()
    assert company._moto._process is None and company._github is None  # stopped all the same


def test_seeding_refuses_anything_but_a_loopback_endpoint() -> None:
    from tools.demo.aws import seed_acme_ai

    with pytest.raises(ValueError, match="only a local moto server"):
        seed_acme_ai("https://iam.amazonaws.com")


@pytest.mark.slow
def test_demo_aws_findings_through_the_locker_match_expectations(tmp_path: Path) -> None:
    """The whole AWS path: demo config -> runner -> locker (with redaction) -> checks -> aws.yaml."""
    from tools.catalog import CHECKS, TOOLS, load_all
    from tools.context import CollectContext
    from tools.demo.expected import compare, load_expected
    from tools.locker import EvidenceLocker
    from tools.runner import EvidenceRunner

    load_all()  # before iterating TOOLS: the runner registers every module on first use
    with DemoCompany(tmp_path / "acme") as demo:
        ctx = CollectContext(load_config(demo.config_path))
        runner = EvidenceRunner(EvidenceLocker(tmp_path / "locker.db", tmp_path / "blobs"), ctx)
        stored = {name: runner.collect(name, {}) for name, spec in TOOLS.items() if spec.source == "aws"}
        aws_checks = {check_id for check_id in CHECKS if check_id.startswith("aws.")}
        findings = [
            finding
            for check_id in sorted(aws_checks)
            for finding in runner.evaluate(check_id, [stored[name] for name in CHECKS[check_id].needs])
        ]
    assert compare(load_expected(), findings, aws_checks) == []
    assert ctx.aws.calls_made == ctx.aws.distinct_calls
