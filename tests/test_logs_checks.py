"""Log collectors and checks on the real samples in ../shared/data and on the demo company's logs.

Expected findings on the samples come from an independent plain scan of the same files.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence
from tools.config import AuditorConfig
from tools.context import CollectContext
from tools.demo.expected import compare, load_expected
from tools.demo.logs import MALFORMED_LINE, write_demo_logs
from tools.findings import Finding, Status
from tools.logs import checks as _checks  # noqa: F401  (registers the checks)
from tools.logs import collectors as _collectors  # noqa: F401  (registers the collectors)
from tools.redact import redact

LOG_CHECKS = [c for c in CHECKS if c.startswith("logs.")]


def collect(config: AuditorConfig, *tools: str, **args: Any) -> list[StoredEvidence]:
    ctx = CollectContext(config)
    items = []
    for name in tools:
        spec = TOOLS[name]
        data = redact(spec.func(ctx, spec.args_model(**args))).data  # stored as the locker stores it
        items.append(StoredEvidence(name.split(".")[1][:12], name, args, data))
    return items


def run(check_id: str, items: list[StoredEvidence]) -> list[Finding]:
    return CHECKS[check_id].func(EvidenceView(items))


def config_for(*paths: Path, threshold: int = 5) -> AuditorConfig:
    return AuditorConfig.model_validate(
        {"logs": {"paths": [str(p) for p in paths], "failed_login_threshold": threshold}}
    )


@pytest.fixture(scope="module")
def samples(shared_data: Path) -> dict[str, Path]:
    return {
        "records": shared_data / "cloudtrail" / "stratus_red_team_all_records.json",
        "arrays": shared_data / "cloudtrail" / "stratus-red-team-detonation-logs",
        "linux": shared_data / "linux-logs",
    }


@pytest.fixture(scope="module")
def sample_records(samples: dict[str, Path]) -> list[dict[str, Any]]:
    return json.loads(samples["records"].read_text())["Records"]


@pytest.fixture(scope="module")
def sample_evidence(samples: dict[str, Path]) -> list[StoredEvidence]:
    return collect(config_for(samples["arrays"], samples["linux"]), "logs.cloudtrail_events", "logs.auth_events")


def failing(findings: list[Finding]) -> set[str]:
    return {f.resource for f in findings if f.status == Status.FAIL}


def test_collector_keeps_only_control_events(
    sample_evidence: list[StoredEvidence], sample_records: list[dict[str, Any]]
) -> None:
    cloudtrail = sample_evidence[0].data
    names = set(cloudtrail["event_names"])
    assert cloudtrail["records_scanned"] == len(sample_records) == 310
    assert len(cloudtrail["sources"]) == 35 and cloudtrail["problem_count"] == 0
    assert len(cloudtrail["events"]) == sum(
        r["eventName"] in names or r["userIdentity"].get("type") == "Root" for r in sample_records
    )


def test_cloudtrail_checks_on_stratus_samples(
    sample_evidence: list[StoredEvidence], sample_records: list[dict[str, Any]]
) -> None:
    succeeded = [r for r in sample_records if not r.get("errorCode")]

    no_mfa = {
        r["userIdentity"]["arn"]
        for r in succeeded
        if r["eventName"] == "ConsoleLogin" and r["additionalEventData"].get("MFAUsed") != "Yes"
    }
    assert failing(run("logs.console_login_without_mfa", sample_evidence)) == no_mfa
    assert len(no_mfa) == 1

    [root] = run("logs.root_account_use", sample_evidence)  # no Root identity in the samples
    assert root.status == Status.PASS and root.facts["records_scanned"] == 310

    tampering = Counter(
        r["eventName"]
        for r in succeeded
        if r["eventName"]
        in {"StopLogging", "DeleteTrail", "PutEventSelectors", "DeleteFlowLogs", "DeleteResolverQueryLogConfig"}
    )
    findings = run("logs.audit_logging_tampered", sample_evidence)
    assert Counter(f.facts["event_names"] for f in findings) == tampering
    assert all(f.status == Status.FAIL for f in findings) and len(findings) == 5
    assert tampering == {
        name: 1
        for name in (
            "StopLogging",
            "DeleteTrail",
            "PutEventSelectors",
            "DeleteFlowLogs",
            "DeleteResolverQueryLogConfig",
        )
    }

    opened = {
        r["requestParameters"]["groupId"]
        for r in succeeded
        if r["eventName"] == "AuthorizeSecurityGroupIngress" and r["requestParameters"].get("cidrIp", "").endswith("/0")
    }
    [group] = run("logs.sg_opened_to_world", sample_evidence)
    assert group.resource.rsplit("/", 1)[1] in opened and "tcp 22 from 208.236.235.254/0" in group.reason

    new_users = {
        f"arn:aws:iam::{r['recipientAccountId']}:user/{r['requestParameters']['userName']}"
        for r in succeeded
        if r["eventName"] in {"CreateUser", "CreateAccessKey", "CreateLoginProfile"}
    }
    new_findings = run("logs.new_users_and_keys", sample_evidence)
    assert failing(new_findings) == new_users | {"host:localhost/user:apache"}  # useradd in Elastic's test.log
    assert len(new_users) == 3

    iam_targets = {
        r["requestParameters"].get("userName") or r["requestParameters"].get("roleName")
        for r in succeeded
        if r["eventName"]
        in {"AttachUserPolicy", "AttachRolePolicy", "CreateRole", "UpdateAssumeRolePolicy", "UpdateLoginProfile"}
    }
    assert {f.resource.rsplit("/", 1)[1] for f in run("logs.iam_changes", sample_evidence)} == iam_targets
    assert iam_targets == {
        "malicious-iam-user",
        "stratus-red-team-malicious-iam-role",
        "stratus-red-team-backdoor-r-role",
        "stratus-red-team-update-login-profile-user",
    }


def test_overlapping_log_paths_count_each_cloudtrail_event_once(
    samples: dict[str, Path], sample_evidence: list[StoredEvidence]
) -> None:
    # The folder holds the same 310 events twice: as one document and as per-technique arrays.
    both = collect(config_for(samples["records"].parent), "logs.cloudtrail_events")
    assert both[0].data["records_scanned"] == 620
    [login] = run("logs.console_login_without_mfa", both)
    assert login.facts["events"] == 1 and "1 time(s)" in login.reason
    for check_id in ("logs.audit_logging_tampered", "logs.iam_changes", "logs.sg_opened_to_world"):
        left = [(f.resource, f.status, f.facts) for f in run(check_id, both)]
        right = [(f.resource, f.status, f.facts) for f in run(check_id, sample_evidence[:1])]
        assert left == right, check_id
    [root] = run("logs.root_account_use", both)
    assert "17 duplicate events counted once" in root.reason  # the 17 control events, not all 310


def test_a_check_whose_query_was_not_answered_is_an_error(samples: dict[str, Path]) -> None:
    logins_only = collect(config_for(samples["records"]), "logs.cloudtrail_events", queries=["console_logins"])
    assert set(logins_only[0].data["queries"]) == {"console_logins"}
    assert {f.status for f in run("logs.console_login_without_mfa", logins_only)} == {Status.FAIL}
    for check_id in ("logs.audit_logging_tampered", "logs.root_account_use", "logs.iam_changes"):
        [finding] = run(check_id, logins_only)
        assert finding.status == Status.ERROR and "did not answer the query" in finding.reason, check_id


def test_the_same_records_judge_the_same_in_any_file_layout(
    samples: dict[str, Path], sample_evidence: list[StoredEvidence]
) -> None:
    one_document = collect(config_for(samples["records"]), "logs.cloudtrail_events")
    for check_id in (
        "logs.console_login_without_mfa",
        "logs.audit_logging_tampered",
        "logs.iam_changes",
        "logs.sg_opened_to_world",
    ):
        left = [(f.resource, f.status, f.facts) for f in run(check_id, one_document)]
        right = [(f.resource, f.status, f.facts) for f in run(check_id, sample_evidence[:1])]
        assert left == right, check_id


def failed_logins_by_source(folder: Path) -> Counter[str]:
    """Plain scan: failed-login lines and the address after ' from ' or 'rhost='."""
    counts: Counter[str] = Counter()
    for path in folder.rglob("*.log"):
        for line in path.read_text().splitlines():
            ssh = " sshd[" in line or " sshd-session[" in line
            if ssh and ("]: Failed " in line or "]: Invalid user " in line):
                counts[line.split(" from ")[1].split()[0]] += 1
            elif "authentication failure;" in line and (match := re.search(r"rhost=(\S+)", line)):
                counts[match.group(1)] += 1
    return counts


@pytest.mark.parametrize("threshold", [5, 15])
def test_repeated_failed_logins_on_real_linux_logs(samples: dict[str, Path], threshold: int) -> None:
    items = collect(config_for(samples["linux"], threshold=threshold), "logs.auth_events")
    findings = run("logs.repeated_failed_logins", items)
    by_ip = {f.resource[3:]: f.facts["failed_logins"] for f in findings if f.resource.startswith("ip:")}
    expected = {ip: n for ip, n in failed_logins_by_source(samples["linux"]).items() if n >= threshold}
    assert by_ip == expected
    # 22 "Invalid user hadoop" from 103.100.210.198 (ssh-slow-bf); 12 from 35.188.49.176 over three files.
    assert by_ip["103.100.210.198"] == 22 and (threshold == 15 or by_ip["35.188.49.176"] == 12)
    assert all(f.facts["threshold"] == threshold for f in findings)


def test_demo_logs_give_the_documented_findings(tmp_path: Path) -> None:
    files = write_demo_logs(tmp_path / "logs")
    items = collect(config_for(tmp_path / "logs"), "logs.cloudtrail_events", "logs.auth_events")
    findings = [f for check_id in LOG_CHECKS for f in run(check_id, items)]
    expected = load_expected()
    assert compare(expected, findings, set(LOG_CHECKS)) == []
    assert {c for c in expected if c.startswith("logs.")} == set(LOG_CHECKS)
    auth = items[1].data
    assert auth["problems"] == [f"{files[1]}:{MALFORMED_LINE}: not a syslog line: 'Mar  5 11:41:0'"]
    assert auth["records_scanned"] == len(files[1].read_text().splitlines()) - 1
    [failed] = run("logs.repeated_failed_logins", items)
    assert failed.facts["failed_logins"] == 6 and failed.facts["ssh_failed_login"] == 6


def test_nothing_configured_missing_evidence_and_unreadable_logs(tmp_path: Path) -> None:
    nothing = collect(AuditorConfig(), "logs.cloudtrail_events", "logs.auth_events")
    assert {f.status for c in LOG_CHECKS for f in run(c, nothing)} == {Status.NOT_APPLICABLE}
    assert {f.status for c in LOG_CHECKS for f in run(c, [])} == {Status.ERROR}
    garbage = tmp_path / "trail.json"
    garbage.write_text('{"Records": [1, 2]}\n')
    unreadable = collect(config_for(garbage, tmp_path / "missing.log"), "logs.cloudtrail_events")
    assert unreadable[0].data["problem_count"] == 2  # two non-records
    [missing, finding] = run("logs.root_account_use", unreadable)
    # A file without one readable record is an unreadable source too, named by its path.
    assert (finding.status, finding.resource) == (Status.ERROR, str(garbage))
    assert finding.reason.endswith("could not be read: no readable record (2 parse problems).")
    # The configured path that does not exist is an unreadable source, named by its path.
    assert (missing.status, missing.resource) == (Status.ERROR, str(tmp_path / "missing.log"))
    assert "does not exist" in missing.reason
