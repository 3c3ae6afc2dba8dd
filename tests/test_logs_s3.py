"""CloudTrail from S3 against a real moto server: the trail's own log files for the audit period only, read with
the one-pass engine; the read-only guard refuses S3 reads on any bucket that is not a trail's. The test setup
writes the trail and the objects with a plain boto3 client.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import urllib.request
from typing import Any

import boto3
import pytest

from tools.aws.session import ReadOnlyAws, ReadOnlyViolation
from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence
from tools.config import AuditConfig, AuditorConfig
from tools.context import CollectContext
from tools.findings import Status
from tools.logs import checks as _checks  # noqa: F401  (registers the checks)
from tools.logs import s3 as _s3  # noqa: F401  (registers the collector)
from tools.logs.s3 import audit_days
from tools.sources import problems_in_data

ACCOUNT = "123456789012"
TRAIL_BUCKET = "acme-trail-logs"
OTHER_BUCKET = "acme-customer-data"
DAY_KEY = f"audit/AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/03/05/{ACCOUNT}_CloudTrail_us-east-1_a.json.gz"
LATER_KEY = f"audit/AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/04/02/{ACCOUNT}_CloudTrail_us-east-1_b.json.gz"
MEMBER = "111111111111"  # a member account, whose events an organization trail delivers under the organization id
MEMBER_KEY = f"audit/AWSLogs/o-abc123def4/{MEMBER}/CloudTrail/us-east-1/2026/03/31/{MEMBER}_CloudTrail_c.json.gz"


def record(name: str, identity_type: str = "IAMUser", **more: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "eventTime": "2026-03-05T10:00:00Z",
        "eventName": name,
        "eventID": f"id-{name}",
        "awsRegion": "us-east-1",
        "recipientAccountId": ACCOUNT,
        "userIdentity": {"type": identity_type, "accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root"},
        **more,
    }


@pytest.fixture(scope="module")
def trail_objects(moto_server: str) -> dict[str, bytes]:
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).close()
    setup = {"region_name": "us-east-1", "endpoint_url": moto_server}
    s3 = boto3.client("s3", **setup)
    for bucket in (TRAIL_BUCKET, OTHER_BUCKET):
        s3.create_bucket(Bucket=bucket)
    boto3.client("cloudtrail", **setup).create_trail(
        Name="acme-org-trail", S3BucketName=TRAIL_BUCKET, S3KeyPrefix="audit"
    )
    in_period = {"Records": [record("GetAccountSummary", "Root"), record("DescribeInstances")]}
    after = {"Records": [record("StopLogging", requestParameters={"name": "acme-org-trail"})]}
    member = {"Records": [record("CreateUser", requestParameters={"userName": "mallory"}, recipientAccountId=MEMBER)]}
    objects = {
        key: gzip.compress(json.dumps(records).encode())
        for key, records in ((DAY_KEY, in_period), (LATER_KEY, after), (MEMBER_KEY, member))
    }
    for key, body in objects.items():
        s3.put_object(Bucket=TRAIL_BUCKET, Key=key, Body=body)
    s3.put_object(Bucket=OTHER_BUCKET, Key=DAY_KEY, Body=objects[DAY_KEY])
    return objects


def config(endpoint: str, *, from_s3: bool = True) -> AuditorConfig:
    return AuditorConfig.model_validate(
        {
            "aws": {"regions": ["us-east-1"], "endpoint_url": endpoint},
            "logs": {"cloudtrail_from_s3": from_s3},
            "audit": {"period": "2026-03-01..2026-03-31"},
        }
    )


def test_the_trails_log_files_of_the_period_are_read_once_and_judged(
    moto_server: str, trail_objects: dict[str, bytes]
) -> None:
    ctx = CollectContext(config(moto_server))
    data = TOOLS["logs.cloudtrail_s3"].func(ctx, TOOLS["logs.cloudtrail_s3"].args_model())
    # April's file is outside the period: not listed, not read.
    [source, member] = sorted(data["sources"], key=lambda s: s["file"])
    assert (source["file"], member["file"]) == (f"s3://{TRAIL_BUCKET}/{DAY_KEY}", f"s3://{TRAIL_BUCKET}/{MEMBER_KEY}")
    assert member["queries"]["new_users_and_keys"] == 1
    assert source["sha256"] == hashlib.sha256(trail_objects[DAY_KEY]).hexdigest()
    assert (source["records"], source["queries"]["root_activity"], source["first_event"]) == (
        2,
        1,
        "2026-03-05T10:00:00Z",
    )
    assert sorted(e["location"] for e in data["events"]) == [
        f"s3://{TRAIL_BUCKET}/{DAY_KEY}:record 1",
        f"s3://{TRAIL_BUCKET}/{MEMBER_KEY}:record 1",
    ]
    assert data["trails"][0]["bucket"] == TRAIL_BUCKET
    assert {op for op in ctx.aws.operations_sent if op.startswith("s3:")} == {"s3:ListObjectsV2", "s3:GetObject"}
    item = StoredEvidence("s3trail00001", "logs.cloudtrail_s3", {}, data)
    [root] = CHECKS["logs.root_account_use"].func(EvidenceView([item]))
    assert (root.status, root.resource) == (Status.FAIL, f"arn:aws:iam::{ACCOUNT}:root")
    [tampered] = CHECKS["logs.audit_logging_tampered"].func(EvidenceView([item]))
    assert tampered.status == Status.PASS and tampered.facts["records_scanned"] == 3
    [created] = CHECKS["logs.new_users_and_keys"].func(EvidenceView([item]))
    assert (created.status, created.resource) == (Status.FAIL, f"arn:aws:iam::{MEMBER}:user/mallory")


def test_s3_reads_are_refused_on_any_bucket_not_a_trails(moto_server: str, trail_objects: dict[str, bytes]) -> None:
    aws = ReadOnlyAws(config(moto_server).aws)
    with pytest.raises(ReadOnlyViolation):  # no trail described yet: not even the trail's own bucket
        aws.client("s3").get_object(Bucket=TRAIL_BUCKET, Key=DAY_KEY)
    aws.call("cloudtrail", "describe_trails", "us-east-1", includeShadowTrails=False)
    assert aws.client("s3").get_object(Bucket=TRAIL_BUCKET, Key=DAY_KEY)["Body"].read() == trail_objects[DAY_KEY]
    for read in (
        lambda: aws.client("s3").get_object(Bucket=OTHER_BUCKET, Key=DAY_KEY),
        lambda: aws.client("s3").list_objects_v2(Bucket=OTHER_BUCKET),
    ):
        with pytest.raises(ReadOnlyViolation):
            read()
    assert aws.operations_sent == ["cloudtrail:DescribeTrails", "s3:GetObject"]  # the refused reads never left


def test_not_configured_reads_nothing(moto_server: str, trail_objects: dict[str, bytes]) -> None:
    ctx = CollectContext(config(moto_server, from_s3=False))
    data = TOOLS["logs.cloudtrail_s3"].func(ctx, TOOLS["logs.cloudtrail_s3"].args_model())
    assert (data["sources"], data["events"], ctx.aws_calls.made) == ([], [], 0)
    item = StoredEvidence("s3trail00002", "logs.cloudtrail_s3", {}, data)
    assert {f.status for f in CHECKS["logs.root_account_use"].func(EvidenceView([item]))} == {Status.NOT_APPLICABLE}


def test_a_trail_that_delivered_nothing_in_the_period_is_unread_logs_not_nothing_to_judge(
    moto_server: str, trail_objects: dict[str, bytes]
) -> None:
    """February: the trail delivered no file. That is missing logs (an error, and an unread source), never a
    not-applicable "no logs configured"."""
    cfg = config(moto_server).model_copy(update={"audit": AuditConfig(period="2026-02-01..2026-02-28")})
    ctx = CollectContext(cfg)
    data = TOOLS["logs.cloudtrail_s3"].func(ctx, TOOLS["logs.cloudtrail_s3"].args_model())
    nothing = "acme-org-trail delivered no log file for 2026-02-01..2026-02-28"
    assert data["sources"] == [{"file": f"s3://{TRAIL_BUCKET}/audit", "error": nothing}]
    [problem] = problems_in_data("logs", data)
    assert "is logging" in problem.fix
    item = StoredEvidence("s3trail00003", "logs.cloudtrail_s3", {}, data)
    assert {f.status for f in CHECKS["logs.root_account_use"].func(EvidenceView([item]))} == {Status.ERROR}


def test_the_period_is_the_configured_one_or_this_quarter() -> None:
    from datetime import date

    assert audit_days(None, date(2026, 11, 28)) == (date(2026, 10, 1), date(2026, 11, 28))
    assert audit_days((date(2026, 1, 1), date(2026, 3, 31)), date(2026, 11, 28)) == (
        date(2026, 1, 1),
        date(2026, 3, 31),
    )
