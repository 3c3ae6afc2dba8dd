"""All AWS collectors against the seeded Acme AI demo: read-only, each distinct read sent once, raw data."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from tools.catalog import TOOLS, load_all
from tools.config import AuditorConfig, AwsConfig
from tools.context import CollectContext
from tools.demo.aws import DEMO_REGIONS, seed_acme_ai
from tools.demo.server import MotoAdmin, RecordedRequest

pytestmark = pytest.mark.slow  # every collector over the whole seeded demo account

load_all()  # the AWS collectors live in tools/aws and tools/ai: count them whatever ran first
AWS_TOOLS = sorted(name for name, spec in TOOLS.items() if spec.source == "aws")


def fake_aws_credentials(env: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.setenv(name, "testing")
    env.setenv("AWS_CONFIG_FILE", os.devnull)
    env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    env.delenv("AWS_PROFILE", raising=False)


def collect_all(ctx: CollectContext) -> dict[str, Any]:
    return {name: TOOLS[name].func(ctx, TOOLS[name].args_model()) for name in AWS_TOOLS}


@pytest.fixture(scope="module")
def collection(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Seed the demo into a fresh moto state, then collect everything twice in one run, recorded."""
    admin = MotoAdmin(moto_server)
    admin.reset()
    seed_acme_ai(moto_server)
    with pytest.MonkeyPatch.context() as env:
        # Module fixtures run before the autouse fake-credentials fixture: set them here too.
        fake_aws_credentials(env)
        env.chdir(tmp_path_factory.mktemp("recording"))  # moto writes ./moto_recording
        admin.start_recording()
        ctx = CollectContext(AuditorConfig(aws=AwsConfig(regions=DEMO_REGIONS, endpoint_url=moto_server)))
        started = time.perf_counter()
        first = collect_all(ctx)
        first_seconds = time.perf_counter() - started
        second = collect_all(ctx)
        admin.stop_recording()
        recorded = admin.recorded_requests()
    return {"ctx": ctx, "first": first, "second": second, "recorded": recorded, "seconds": first_seconds}


def test_every_aws_collector_runs_and_returns_json_data(collection: dict[str, Any]) -> None:
    assert len(AWS_TOOLS) == 25  # 21 cloud collectors and 4 for SageMaker and Bedrock
    for name in AWS_TOOLS:
        json.dumps(collection["first"][name])  # no datetimes or bytes left
    assert collection["first"] == collection["second"]


def test_each_distinct_read_is_sent_once(collection: dict[str, Any]) -> None:
    aws = collection["ctx"].aws
    assert aws.calls_made == aws.distinct_calls
    assert aws.calls_requested > aws.calls_made  # the second pass came from the cache
    assert len(collection["recorded"]) == aws.distinct_calls


def test_only_declared_operations_reached_the_server(collection: dict[str, Any]) -> None:
    recorded: list[RecordedRequest] = collection["recorded"]
    assert recorded
    declared = {operation for name in AWS_TOOLS for operation in TOOLS[name].operations}
    for request in recorded:
        if request.operation is None:  # REST APIs (S3, GuardDuty, Backup): reads are GET or HEAD
            assert request.method in ("GET", "HEAD"), request
        else:
            assert any(operation.endswith(f":{request.operation}") for operation in declared), request
    assert set(collection["ctx"].aws.operations_sent) <= declared


def test_each_collector_declares_every_operation_it_sends(collection: dict[str, Any], moto_server: str) -> None:
    # A fresh session per collector, so no read is answered from another collector's cache; one region is enough.
    for name in AWS_TOOLS:
        ctx = CollectContext(AuditorConfig(aws=AwsConfig(regions=DEMO_REGIONS[:1], endpoint_url=moto_server)))
        TOOLS[name].func(ctx, TOOLS[name].args_model())
        assert ctx.aws.operations_sent, name
        assert set(ctx.aws.operations_sent) <= set(TOOLS[name].operations), name


def test_per_region_collectors_cover_every_configured_region(collection: dict[str, Any]) -> None:
    for name in AWS_TOOLS:
        if "regions" in TOOLS[name].args_model.model_fields:
            assert sorted(collection["first"][name]) == sorted(DEMO_REGIONS), name


def test_missing_sub_resources_are_recorded_not_raised(collection: dict[str, Any]) -> None:
    buckets = {bucket["Name"]: bucket for bucket in collection["first"]["aws.s3.buckets"]}
    assert buckets["model-artifacts"]["Policy"] == {"error": "NoSuchBucketPolicy"}
    assert buckets["acme-ai-marketing-site"]["PublicAccessBlock"] == {"error": "NoSuchPublicAccessBlockConfiguration"}
    assert collection["first"]["aws.s3.account_public_access_block"]["configuration"] == {
        "error": "NoSuchPublicAccessBlockConfiguration"
    }
    logins = {user["UserName"]: user["LoginProfile"] for user in collection["first"]["aws.iam.users"]}
    assert logins["ci-deployer"] == {"error": "NoSuchEntity"}


def test_credential_report_is_parsed_into_rows(collection: dict[str, Any]) -> None:
    rows = {row["user"]: row for row in collection["first"]["aws.iam.credential_report"]["rows"]}
    assert set(rows) == {"maya.chen", "raj.patel", "ops-admin", "ci-deployer", "sam.okafor-contractor"}
    assert rows["maya.chen"]["mfa_active"] == "true"
    assert rows["ci-deployer"]["access_key_1_active"] == "true"


def test_region_argument_narrows_collection(collection: dict[str, Any], moto_server: str) -> None:
    ctx = CollectContext(AuditorConfig(aws=AwsConfig(regions=DEMO_REGIONS, endpoint_url=moto_server)))
    spec = TOOLS["aws.ec2.ebs_encryption_by_default"]
    data = spec.func(ctx, spec.args_model(regions=["eu-west-1"]))
    assert data == {"eu-west-1": {"EbsEncryptionByDefault": False}}
