"""The CloudWatch Logs collector against a real moto server. The test setup writes the log events with a
plain boto3 client; the collector reads them through the read-only session (logs:FilterLogEvents).
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import boto3
import pytest

from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence
from tools.config import AuditorConfig
from tools.context import CollectContext
from tools.findings import Status
from tools.logs import checks as _checks  # noqa: F401  (registers the checks)
from tools.logs import collectors as _collectors  # noqa: F401  (registers the collectors)

GROUP = "acme-cloudtrail"
HOST_GROUP = "acme-hosts"


def console_login(user: str, mfa: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "eventTime": "2025-03-03T09:02:44Z",
        "eventName": "ConsoleLogin",
        "eventSource": "signin.amazonaws.com",
        "eventType": "AwsConsoleSignIn",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.61",
        "recipientAccountId": "123456789012",
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::123456789012:user/{user}",
            "userName": user,
            "accountId": "123456789012",
        },
        "responseElements": {"ConsoleLogin": "Success"},
        "additionalEventData": {"MFAUsed": mfa},
    }


@pytest.fixture(scope="module")
def log_groups(moto_server: str) -> str:
    # The moto server is shared by the session: start from an empty account.
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).close()
    logs = boto3.client(
        "logs",
        region_name="us-east-1",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    now = int(time.time() * 1000)
    messages = {
        GROUP: [
            json.dumps(console_login("raj.patel", "No")),
            json.dumps(console_login("maya.chen", "Yes")),
            json.dumps({**console_login("x", "No"), "eventName": "DescribeInstances"}),  # not a control event
        ],
        HOST_GROUP: [
            *[
                f"Mar  4 02:11:4{i} web-1 sshd[33{i}]: Failed password for root from 203.0.113.45 port 4011{i} ssh2"
                for i in range(3)
            ],
            "Mar  4 02:12:00 web-1 CRON[1]: (root) CMD (run-parts /etc/cron.hourly)",  # syslog, not an auth event
            "plain application output",
        ],
    }
    for group, lines in messages.items():
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="main")
        logs.put_log_events(
            logGroupName=group,
            logStreamName="main",
            logEvents=[{"timestamp": now - 1000 + i, "message": line} for i, line in enumerate(lines)],
        )
    return moto_server


def config(endpoint: str, **logs: Any) -> AuditorConfig:
    return AuditorConfig.model_validate(
        {
            "aws": {"regions": ["us-east-1", "eu-west-1"], "endpoint_url": endpoint},
            "logs": {"cloudwatch_log_groups": [GROUP, HOST_GROUP], "failed_login_threshold": 3, **logs},
        }
    )


def collect(cfg: AuditorConfig, **args: Any) -> dict[str, Any]:
    spec = TOOLS["logs.cloudwatch_events"]
    return spec.func(CollectContext(cfg), spec.args_model(**args))


def test_cloudwatch_events_are_read_and_parsed(log_groups: str) -> None:
    data = collect(config(log_groups))
    sources = {(s["log_group"], s["region"]): s for s in data["sources"]}
    assert sources[(GROUP, "us-east-1")]["events"] == 3 and sources[(HOST_GROUP, "us-east-1")]["events"] == 5
    # The groups exist in us-east-1 only: eu-west-1 answers "not found", recorded as data.
    assert sources[(GROUP, "eu-west-1")]["error"] == "ResourceNotFoundException"
    assert [e["event"]["userIdentity"]["userName"] for e in data["cloudtrail_events"]] == ["raj.patel", "maya.chen"]
    assert [e["kind"] for e in data["auth_events"]] == ["ssh_failed_login"] * 3
    assert data["other_messages"] == 2  # the cron line and the plain text
    assert data["records_scanned"] == 8

    items = [StoredEvidence("cw1", "logs.cloudwatch_events", {}, data)]
    findings = CHECKS["logs.console_login_without_mfa"].func(EvidenceView(items))
    [no_mfa] = [f for f in findings if f.status is not Status.ERROR]
    assert (no_mfa.status, no_mfa.resource) == (Status.FAIL, "arn:aws:iam::123456789012:user/raj.patel")
    # Each group eu-west-1 could not give is an unreadable source: an error named by region and group.
    unread = {f.resource for f in findings if f.status is Status.ERROR}
    assert unread == {f"eu-west-1:{GROUP}", f"eu-west-1:{HOST_GROUP}"}
    failed = [f for f in CHECKS["logs.repeated_failed_logins"].func(EvidenceView(items)) if f.resource not in unread]
    assert {(f.resource, f.status, f.facts["failed_logins"]) for f in failed} == {
        ("ip:203.0.113.45", Status.FAIL, 3),
        ("user:root@web-1", Status.FAIL, 3),
    }


def test_cloudwatch_reading_is_bounded(log_groups: str) -> None:
    data = collect(config(log_groups), log_groups=[HOST_GROUP], regions=["us-east-1"], max_events=2)
    [source] = data["sources"]
    assert (source["events"], source["truncated"]) == (2, True)


def test_no_log_groups_configured_reads_nothing(log_groups: str) -> None:
    data = collect(config(log_groups, cloudwatch_log_groups=[]))
    assert data["sources"] == []
    [finding] = CHECKS["logs.root_account_use"].func(
        EvidenceView([StoredEvidence("cw2", "logs.cloudwatch_events", {}, data)])
    )
    assert finding.status == Status.NOT_APPLICABLE
