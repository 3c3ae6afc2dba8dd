"""Honest, complete runs: a source that cannot be read is said once, with its fix, and the run exits 4; an
unconfigured source is not applicable; a dead model endpoint is dropped after a few failures; --fresh and a
TTL of 0 collect again; a --controls run updates the latest report; Ctrl-C stops within 2 seconds, resumable.

Real parts: `auditor` processes, the moto server and demo company on loopback, real files, a closed port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.api import latest_report, run_proof
from agent.providers import BREAKER_FAILURES
from agent.report import render_markdown
from agent.runs import RunStore
from tools.config import AuditorConfig, AwsConfig, LlmConfig, LogsConfig
from tools.workspace import Workspace
from tui.cli import app

pytestmark = pytest.mark.slow  # auditor runs over the demo company, some in subprocesses

GITHUB_ONLY = ["CHG-01", "CHG-02", "IAM-13", "VUL-02", "AI-03"]  # their evidence is all GitHub's
NO_AWS_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def _auditor(config: Path, workspace: Workspace, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "auditor"), "-c", str(config), "-w", str(workspace.root), *args]
    return subprocess.run(command, env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=300)


def _sources(report) -> dict[str, tuple[str, str, str]]:
    return {s.source: (s.state, s.cause, s.fix) for s in report.run.sources}


def _controls(report) -> dict:
    return {control.id: control for control in report.controls}


def test_no_credentials_and_a_log_path_typo_exit_4_with_one_line_per_source(
    tmp_path: Path, moto_server: str, workspace_with_knowledge
) -> None:
    workspace = workspace_with_knowledge(tmp_path / "ws")
    config = tmp_path / "auditor.toml"
    config.write_text(
        f'company = "Typo Co"\n[aws]\nendpoint_url = "{moto_server}"\n[logs]\npaths = ["logs/cloudtrial"]\n',
        encoding="utf-8",
    )
    env = {name: value for name, value in os.environ.items() if name not in NO_AWS_CREDENTIALS}
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # no instance-metadata lookup: nothing but loopback
    controls = ["IAM-01", "IAM-02", "IAM-04", "LOG-04", "MON-05", "MON-06", *GITHUB_ONLY]

    result = _auditor(config, workspace, "run", "--controls", ",".join(controls), env=env)

    assert result.returncode == 4, result.stderr[-3000:]
    unread = [line for line in result.stderr.splitlines() if line.startswith("could not read")]
    assert len(unread) == 2, result.stderr
    aws, logs = sorted(unread)
    assert aws.startswith("could not read aws: no AWS credentials; fix: set AWS_PROFILE or [aws] profile")
    assert logs == f"could not read logs: {tmp_path / 'logs' / 'cloudtrial'} does not exist; fix: check [logs] paths"
    assert "collection failed" not in result.stdout + result.stderr  # not once per control
    (unconfigured,) = [line for line in result.stdout.splitlines() if line.startswith("Not configured")]
    assert "github (no GitHub repositories are configured)" in unconfigured and "git (" in unconfigured

    report = latest_report(workspace)
    sources = _sources(report)
    assert sources["aws"][0] == sources["logs"][0] == "error"
    markdown = (workspace.reports_dir / report.run.id / "report.md").read_text(encoding="utf-8")
    assert "**Incomplete: aws could not be read**: no AWS credentials" in markdown
    assert sources["github"][0] == sources["git"][0] == "not_configured"
    by_id = _controls(report)
    for control_id in ["IAM-01", "IAM-02", "IAM-04", "LOG-04", "MON-05", "MON-06"]:
        assert by_id[control_id].status == "error", (control_id, by_id[control_id].findings)
    for control_id in GITHUB_ONLY:
        control = by_id[control_id]
        assert control.findings and {f.status for f in control.findings} == {"not_applicable"}, control_id
        assert control.status != "pass" and "[github]" in control.findings[0].reason


# A first real run's controls whose offline drafts the verifier once refused: it read the records their owners
# must provide (“the record of each root user sign-in”) as a claim about a check that could not be judged.
FIRST_RUN_DRAFTS = ["AI-03", "IAM-02", "IAM-13", "MON-01", "MON-06", "VUL-01"]


def test_a_first_run_without_credentials_verifies_every_offline_draft(tmp_path: Path, workspace_with_knowledge) -> None:
    workspace = workspace_with_knowledge(tmp_path / ".auditor")
    env = {name: value for name, value in os.environ.items() if name not in NO_AWS_CREDENTIALS}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    auditor = str(Path(sys.executable).parent / "auditor")
    init = subprocess.run([auditor, "init"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr

    result = _auditor(tmp_path / "auditor.toml", workspace, "run", "--controls", ",".join(FIRST_RUN_DRAFTS), env=env)

    assert result.returncode == 4, result.stderr[-3000:]
    for control in latest_report(workspace).controls:
        assert control.narrative.status == "verified", (control.id, control.narrative.verifier)


def test_an_unreachable_endpoint_is_one_cause_not_a_timeout_per_call(
    tmp_path: Path, closed_loopback_url: str, workspace_with_knowledge
) -> None:
    workspace = workspace_with_knowledge(tmp_path / "ws")
    config = AuditorConfig(company="Down Co", workspace=workspace.root, aws=AwsConfig(endpoint_url=closed_loopback_url))
    events = []

    # Four controls at a time: the first four read AWS and find it down; the last two are not sent at all.
    outcome = run_proof(
        config,
        workspace,
        control_ids=["IAM-01", "IAM-02", "IAM-03", "NET-01", "ENC-01", "LOG-01"],
        model=None,
        on_event=events.append,
    )

    state, cause, fix = _sources(outcome.report)["aws"]
    assert state == "error" and cause.startswith(f"cannot reach {closed_loopback_url}")
    assert fix == "check [aws] endpoint_url (or AWS_ENDPOINT_URL) and the network"
    assert not [event for event in events if event.kind == "error"]  # said once, in run.sources
    # Once the endpoint was found down, the other reads were not tried: their reason says so.
    reasons = [call.error for control in outcome.report.controls for call in control.narrative.provenance.tool_calls]
    assert any("not tried: cannot reach" in (reason or "") for reason in reasons), reasons
    assert all(control.status == "error" for control in outcome.report.controls)


def test_a_log_with_no_readable_record_is_an_error_not_a_pass(
    tmp_path: Path, moto_server: str, workspace_with_knowledge
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    # CloudTrail-shaped, but no record has an eventName: nothing readable. And an auth log of no syslog line.
    (logs / "trail.json").write_text(
        json.dumps(
            {
                "Records": [
                    {
                        "eventTime": "2025-01-02T10:00:00Z",
                        "eventSource": "iam.amazonaws.com",
                        "userIdentity": {"type": "Root"},
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    (logs / "auth.log").write_text("this is not a syslog line\nneither is this\n", encoding="utf-8")
    workspace = workspace_with_knowledge(tmp_path / "ws")
    config = AuditorConfig(
        company="Empty Co",
        workspace=workspace.root,
        aws=AwsConfig(endpoint_url=moto_server),
        logs=LogsConfig(paths=[logs]),
    )

    outcome = run_proof(config, workspace, control_ids=["MON-05", "MON-07"], model=None)

    state, cause, _ = _sources(outcome.report)["logs"]
    assert state == "error"
    assert f"{logs / 'trail.json'}: no readable record (1 parse problems)" in cause
    assert f"{logs / 'auth.log'}: no readable record (2 parse problems)" in cause
    findings = [f for control in outcome.report.controls for f in control.findings]
    judged = {
        f.check: f.status for f in findings if f.check in ("logs.new_users_and_keys", "logs.repeated_failed_logins")
    }
    assert judged == {"logs.new_users_and_keys": "error", "logs.repeated_failed_logins": "error"}
    assert "pass" not in {f.status for f in findings}
    assert {control.status for control in outcome.report.controls} == {"error"}


def test_fresh_and_a_ttl_of_zero_collect_again(
    tmp_path: Path, workspace_with_knowledge, demo_config, demo_environment
) -> None:
    workspace = workspace_with_knowledge(tmp_path / "ws")
    first = run_proof(demo_config(workspace), workspace, control_ids=["IAM-01"], model=None)
    again = run_proof(demo_config(workspace), workspace, control_ids=["IAM-01"], model=None)
    fresh = run_proof(demo_config(workspace), workspace, control_ids=["IAM-01"], model=None, fresh=True)
    no_reuse = run_proof(demo_config(workspace, evidence_ttl_hours=0), workspace, control_ids=["IAM-01"], model=None)

    assert first.collected >= 1 and first.reused == 0
    assert (again.collected, again.reused) == (0, first.collected)
    assert (fresh.collected, fresh.reused) == (first.collected, 0)
    assert (no_reuse.collected, no_reuse.reused) == (first.collected, 0)

    command = ["-c", str(demo_environment.config_path), "-w", str(workspace.root), "run", "--controls", "IAM-01"]
    result = CliRunner().invoke(app, [*command, "--fresh"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"Evidence: {first.collected} collected, 0 reused" in " ".join(result.output.split())


def test_a_controls_run_updates_the_latest_report(tmp_path: Path, workspace_with_knowledge, demo_config) -> None:
    workspace = workspace_with_knowledge(tmp_path / "ws")
    config = demo_config(workspace)
    first = run_proof(config, workspace, control_ids=["IAM-01", "GOV-01"], model=None).report
    second = run_proof(config, workspace, control_ids=["IAM-02"], model=None).report

    assert latest_report(workspace) == second and second.run.merged_from == first.run.id
    judged = {c.id: (c.run_id, c.assessed_at) for c in second.controls}
    before = {c.id: (c.run_id, c.assessed_at) for c in first.controls}
    assert set(judged) == {"IAM-01", "GOV-01", "IAM-02"}
    assert judged["IAM-01"] == before["IAM-01"] and judged["GOV-01"] == before["GOV-01"]
    assert judged["IAM-02"][0] == second.run.id
    assert second.summary.controls_total == 3
    markdown = render_markdown(second)
    assert f"the others are as in run `{first.run.id}`" in markdown
    assert f"#### IAM-01 {_controls(second)['IAM-01'].title} [" in markdown
    assert markdown.count(f"(judged in run {first.run.id})") >= 2  # IAM-01 and GOV-01, not IAM-02

    third = run_proof(config, workspace, control_ids=["IAM-01"], model=None).report
    rejudged = {c.id: c.run_id for c in third.controls}
    assert rejudged == {"IAM-01": third.run.id, "GOV-01": first.run.id, "IAM-02": second.run.id}


def test_a_dead_model_endpoint_is_dropped_once_with_one_warning(
    tmp_path: Path, closed_loopback_url: str, workspace_with_knowledge, demo_config
) -> None:
    workspace = workspace_with_knowledge(tmp_path / "ws")
    base = demo_config(workspace)
    config = base.model_copy(
        update={"llm": LlmConfig(provider="openai", model="audit-writer", base_url=f"{closed_loopback_url}/v1")}
    )
    controls = ["IAM-01", "IAM-02", "IAM-03", "IAM-04", "IAM-05", "GOV-01", "GOV-02", "LOG-01", "LOG-02", "NET-01"]
    events = []

    started = time.monotonic()
    outcome = run_proof(config, workspace, control_ids=controls, on_event=events.append)
    elapsed = time.monotonic() - started

    dropped = [e for e in events if e.kind == "warning" and "dropped for the rest of the run" in e.message]
    assert len(dropped) == 1 and f"{closed_loopback_url}/v1" in dropped[0].message
    # Only the calls made before the breaker opened (and those already under way) failed: not two per control.
    model_errors = [e for e in events if e.kind == "error"]
    assert len(model_errors) <= BREAKER_FAILURES + config.run.concurrency < 2 * len(controls)
    state, cause, fix = _sources(outcome.report)["llm"]
    assert state == "error" and "failed 3 times in a row" in cause and "[llm] base_url" in fix
    assert {c.narrative.provenance.writer for c in outcome.report.controls} == {"offline"}
    assert elapsed < 60, elapsed  # each failed call costs ~1.5 s of client retries; 20 of them would not fit


def test_ctrl_c_stops_within_two_seconds_even_while_a_model_call_hangs(
    tmp_path: Path, workspace_with_knowledge, demo_environment
) -> None:
    workspace = workspace_with_knowledge(tmp_path / "ws")
    with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        config = tmp_path / "auditor.toml"
        config.write_text(
            demo_environment.config_path.read_text(encoding="utf-8") + '\n[llm]\nprovider = "openai"\n'
            f'model = "audit-writer"\nbase_url = "http://127.0.0.1:{silent.getsockname()[1]}/v1"\n'
            "timeout_s = 120\n",
            encoding="utf-8",
        )
        command = [
            str(Path(sys.executable).parent / "auditor"),
            "-c",
            str(config),
            "-w",
            str(workspace.root),
            "run",
            "--controls",
            "IAM-01,IAM-02,GOV-01",
        ]
        process = subprocess.Popen(
            command, env={**os.environ, "COLUMNS": "200"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not (workspace.runs_db.exists() and RunStore(workspace.runs_db).runs(1)):
            time.sleep(0.05)
        time.sleep(3)  # the controls are planning now, each waiting on the silent model
        assert process.poll() is None

        process.send_signal(signal.SIGINT)
        interrupted_at = time.monotonic()
        code = process.wait(timeout=30)

    assert code == 130 and time.monotonic() - interrupted_at < 2.0


def _controls_saved(workspace: Workspace) -> int:
    """Controls the newest run has saved so far (0 until the run store holds a run)."""
    if not workspace.runs_db.exists():
        return 0
    store = RunStore(workspace.runs_db)
    newest = store.runs(limit=1)
    return len(store.results(newest[0].id)) if newest else 0


def test_ctrl_c_stops_within_two_seconds_and_resume_finishes(
    tmp_path: Path, workspace_with_knowledge, demo_environment
) -> None:
    workspace = workspace_with_knowledge(tmp_path / "ws")
    controls = [
        "IAM-01",
        "IAM-02",
        "IAM-03",
        "IAM-04",
        "IAM-05",
        "GOV-01",
        "GOV-02",
        "LOG-01",
        "LOG-02",
        "NET-01",
        "NET-02",
        "ENC-01",
        "ENC-02",
        "CHG-01",
        "CHG-02",
        "MON-05",
        "MON-06",
        "MON-07",
    ]
    command = [
        str(Path(sys.executable).parent / "auditor"),
        "-c",
        str(demo_environment.config_path),
        "-w",
        str(workspace.root),
        "run",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    stderr_path = tmp_path / "run.stderr"  # a file, not a pipe nobody reads while the run goes on
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [*command, "--controls", ",".join(controls)], env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None and _controls_saved(workspace) < 2:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be interrupted"

    process.send_signal(signal.SIGINT)
    interrupted_at = time.monotonic()
    code = process.wait(timeout=30)
    stopped_in = time.monotonic() - interrupted_at

    assert code == 130 and stopped_in < 2.0, (code, stopped_in, stderr_path.read_text()[-2000:])
    assert "auditor run --resume" in stderr_path.read_text()
    saved = _controls_saved(workspace)
    assert 2 <= saved < len(controls)

    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    report = latest_report(workspace)
    assert sorted(c.id for c in report.controls) == sorted(controls)
    assert "run resumed" in resumed.stdout
