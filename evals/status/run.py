"""The labelled status suite: every seeded situation in cases.yaml through the real code paths, then a confusion
matrix of expected against actual control status, and the number of false passes.

Real parts: a moto server on loopback (reset before each AWS case), a closed loopback port for "unreachable",
real log files in a tmp folder, a real AuditorConfig, checks run by tools.runner.EvidenceRunner on evidence in a
real EvidenceLocker, the [scope] rules of tools.scope, and the status rules of agent.report.

    .venv/bin/python -m evals.status.run
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import boto3
import yaml

from agent.report import control_status, has_current_attachment
from agent.report_schema import CONTROL_STATUSES, Attachment
from tools.catalog import CHECKS, CheckSpec, EvidenceView, StoredEvidence, load_all
from tools.config import AuditorConfig
from tools.context import CollectContext
from tools.findings import Finding, Severity
from tools.locker import EvidenceLocker
from tools.runner import EvidenceRunner
from tools.scope import AppliesTo, Scope, tag_index
from tools.workspace import Workspace

CASES_FILE = Path(__file__).with_name("cases.yaml")
RAISING_CHECK = "evals.status.raises"
AWS_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@dataclass(frozen=True)
class EvalControl:
    """The control a case judges: what tools.scope needs to know of it."""

    id: str = "EVAL-01"
    applies_to: AppliesTo | None = None


@dataclass
class CaseResult:
    name: str
    expected_findings: list[str]
    actual_findings: list[str]
    expected_control: str
    actual_control: str
    reason: str
    finding_reasons: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return self.expected_findings == self.actual_findings and self.expected_control == self.actual_control

    @property
    def false_pass(self) -> bool:
        return self.actual_control == "pass" and self.expected_control != "pass"


def load_cases(path: Path = CASES_FILE) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not one line per request
    port = free_loopback_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextlib.contextmanager
def aws_environment(with_credentials: bool) -> Iterator[None]:
    # Fake credentials, never the machine's profile; "no credentials" removes them altogether.
    saved = dict(os.environ)
    for name in AWS_CREDENTIALS:
        os.environ.pop(name, None)
    if with_credentials:
        os.environ.update({name: "testing" for name in AWS_CREDENTIALS})
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def raising_check() -> Iterator[None]:
    """A check that crashes on its evidence, registered only while the suite runs."""

    def crash(view: EvidenceView) -> list[Finding]:
        raise KeyError("PasswordPolicy")

    CHECKS[RAISING_CHECK] = CheckSpec(RAISING_CHECK, "Crashes", ("aws.iam.password_policy",), crash, Severity.LOW)
    try:
        yield
    finally:
        del CHECKS[RAISING_CHECK]


def seed_aws(endpoint: str, seed: dict[str, Any]) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
    client = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    if "password_policy" in seed:
        boto3.client("iam", **client).update_account_password_policy(**seed["password_policy"])
    s3 = boto3.client("s3", **client)
    for bucket in seed.get("buckets", []):
        s3.create_bucket(Bucket=bucket["name"])
        if bucket.get("tags"):
            tag_set = [{"Key": key, "Value": value} for key, value in bucket["tags"].items()]
            s3.put_bucket_tagging(Bucket=bucket["name"], Tagging={"TagSet": tag_set})


def case_config(case: dict[str, Any], folder: Path, moto: str) -> AuditorConfig:
    seed = case.get("input") or {}
    config: dict[str, Any] = {"company": "Status Eval Co", "scope": {"exclude": seed.get("scope_exclude", [])}}
    if seed.get("aws") == "moto":
        config["aws"] = {"endpoint_url": moto}
    elif seed.get("aws") == "closed":
        config["aws"] = {"endpoint_url": f"http://127.0.0.1:{free_loopback_port()}"}
    if "logs" in seed:
        logs = folder / "logs"
        logs.mkdir()
        for name, content in seed["logs"].items():
            (logs / name).write_text(content, encoding="utf-8")
        config["logs"] = {"paths": ["logs"]}
    if "log_paths" in seed:
        config["logs"] = {"paths": seed["log_paths"]}
    (folder / "auditor.toml").write_text("", encoding="utf-8")
    return AuditorConfig.model_validate(config).model_copy(update={"source": folder / "auditor.toml"})


def attachments_for(case: dict[str, Any], today: date) -> list[Attachment]:
    attachments = []
    for number, seed in enumerate((case.get("input") or {}).get("attachments", [])):
        year = today.year if seed["period"] == "this_year" else today.year - 1
        attached_at = datetime.now(UTC)
        attachments.append(
            Attachment(
                control_id=EvalControl().id,
                evidence_id=f"att-{number}",
                file=f"policy-{year}.pdf",
                attached_by="eval",
                attached_at=attached_at,
                period_start=date(year, 1, 1),
                period_end=date(year, 12, 31),
                approved_by="reviewer" if seed["approved"] else None,
                approved_at=attached_at if seed["approved"] else None,
            )
        )
    return attachments


def judge(case: dict[str, Any], folder: Path, moto: str) -> list[Finding]:
    """Collect what the case's checks need and run them, the way the proof run's collect and evaluate do."""
    config = case_config(case, folder, moto)
    seed = case.get("input") or {}
    if seed.get("aws") == "moto":
        seed_aws(moto, seed)
    workspace = Workspace.at(folder / "ws")
    scope, control = Scope(config.scope), EvalControl()
    findings: list[Finding] = []
    with (
        EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker,
        aws_environment(seed.get("aws_credentials", True)),
    ):
        runner = EvidenceRunner(locker, CollectContext(config, run_id=case["name"]))
        for check_id in case["checks"]:
            items = []
            for tool in CHECKS[check_id].needs:
                try:
                    item = runner.collect(tool, {})
                except Exception:  # an unread source: the check says so (an error finding), as in a run
                    continue
                items.append(StoredEvidence(item.id, item.tool, item.params, None))
            tags = tag_index(items, locker.read)
            findings += [scope.judge(control, f, tags.get(f.resource)) for f in runner.evaluate(check_id, items)]
    return findings


def run_case(case: dict[str, Any], folder: Path, moto: str) -> CaseResult:
    findings = judge(case, folder, moto) if case["checks"] else []
    today = datetime.now(UTC).date()
    evidenced = has_current_attachment(EvalControl().id, attachments_for(case, today), today)
    verdict = control_status(case.get("kind", "automated"), findings, evidenced=evidenced)
    return CaseResult(
        name=case["name"],
        expected_findings=sorted(case["expected"]["findings"]),
        actual_findings=sorted(str(f.status) for f in findings),
        expected_control=case["expected"]["control"],
        actual_control=verdict.status,
        reason=verdict.reason,
        finding_reasons=[f"{f.check} {f.status} {f.resource}: {f.reason}" for f in findings],
    )


def run_suite(cases: list[dict[str, Any]] | None = None) -> list[CaseResult]:
    load_all()
    cases = load_cases() if cases is None else cases
    results = []
    with moto_endpoint() as moto, raising_check(), tempfile.TemporaryDirectory(prefix="status-eval-") as tmp:
        for case in cases:
            folder = Path(tmp) / case["name"]
            folder.mkdir()
            results.append(run_case(case, folder, moto))
    return results


def confusion_matrix(results: list[CaseResult]) -> str:
    """Rows: expected control status; columns: actual. Only statuses that occur are shown."""
    seen = {r.expected_control for r in results} | {r.actual_control for r in results}
    statuses = [s for s in CONTROL_STATUSES if s in seen]
    counts = Counter((r.expected_control, r.actual_control) for r in results)
    corner = "expected \\ actual"
    first = max(len(s) for s in [corner, *statuses]) + 2
    lines = [corner.ljust(first) + "  ".join(statuses)]
    for expected in statuses:
        cells = "  ".join(str(counts[expected, actual]).rjust(len(actual)) for actual in statuses)
        lines.append(expected.ljust(first) + cells)
    return "\n".join(lines)


def main() -> int:
    results = run_suite()
    for result in results:
        mark = "ok  " if result.matches else "MISS"
        print(
            f"{mark} {result.name}: expected {result.expected_control} {result.expected_findings}, "
            f"got {result.actual_control} {result.actual_findings}"
        )
        if not result.matches:
            print("       " + "\n       ".join([result.reason, *result.finding_reasons]))
    print()
    print(confusion_matrix(results))
    false_passes = sum(r.false_pass for r in results)
    matched = sum(r.matches for r in results)
    print(f"\n{len(results)} cases, {matched} match, false passes: {false_passes}")
    return 0 if false_passes == 0 and matched == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
