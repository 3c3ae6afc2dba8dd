"""The AWS session refuses every write before a request leaves the process (proved with moto's recorder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest

from agent.config import AwsConfig
from tools.aws.session import ReadOnlyAws, ReadOnlyViolation, is_read_operation
from tools.catalog import TOOLS
from tools.demo.server import MotoAdmin


@pytest.fixture()
def recorder(moto_server: str, tmp_path: Path) -> Iterator[MotoAdmin]:
    # moto writes its recording to ./moto_recording; keep it out of the repository.
    with pytest.MonkeyPatch.context() as env:
        env.chdir(tmp_path)
        admin = MotoAdmin(moto_server)
        admin.reset()
        admin.start_recording()
        yield admin
        admin.stop_recording()


def test_read_names_are_allowed_and_writes_are_not() -> None:
    for operation in ["DescribeTrails", "GetBucketPolicy", "ListUsers", "GenerateCredentialReport", "HeadBucket"]:
        assert is_read_operation(operation), operation
    for operation in ["CreateUser", "PutObject", "AuthorizeSecurityGroupIngress", "DeleteTrail", "StopLogging", "UpdateAccountPasswordPolicy"]:
        assert not is_read_operation(operation), operation
    # Named like reads, but they mint credentials or hand over secrets.
    for operation in ["GetSessionToken", "GetFederationToken", "GetId", "GetSecretValue", "GetPasswordData", "GetObject"]:
        assert not is_read_operation(operation), operation


@pytest.mark.parametrize(
    ("service", "method", "params"),
    [
        ("iam", "create_user", {"UserName": "intruder"}),
        ("s3", "put_object", {"Bucket": "ml-training-data", "Key": "x", "Body": b"x"}),
        ("sts", "get_session_token", {}),
        ("secretsmanager", "get_secret_value", {"SecretId": "prod/db"}),
        (
            "ec2",
            "authorize_security_group_ingress",
            {"GroupId": "sg-12345678", "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
        ),
    ],
)
def test_writes_are_refused_and_never_reach_the_server(
    recorder: MotoAdmin, moto_server: str, service: str, method: str, params: dict
) -> None:
    aws = ReadOnlyAws(AwsConfig(endpoint_url=moto_server))
    client = aws.client(service)
    with pytest.raises(ReadOnlyViolation, match="not a read operation"):
        getattr(client, method)(**params)
    # A read through the same client does reach the server, so the recording works.
    aws.call("iam", "list_users")
    recorded = recorder.recorded_requests()
    assert [request.operation for request in recorded] == ["ListUsers"]
    assert aws.calls_made == 1


def test_config_endpoint_wins_over_environment(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    aws = ReadOnlyAws(AwsConfig(endpoint_url=moto_server))
    assert aws.client("sts").meta.endpoint_url == moto_server
    assert aws.call("sts", "get_caller_identity")["Account"] == "123456789012"


def test_environment_endpoint_is_used_without_config(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    aws = ReadOnlyAws(AwsConfig(regions=["eu-west-1"]))
    client = aws.client("ec2", "eu-west-1")
    assert client.meta.endpoint_url == moto_server
    assert client.meta.region_name == "eu-west-1"


def test_every_declared_collector_operation_is_a_read_that_exists() -> None:
    import tools.aws.collectors  # noqa: F401  (registers the collectors)

    session = botocore.session.get_session()
    aws_tools = [spec for spec in TOOLS.values() if spec.source == "aws"]
    assert len(aws_tools) == 20
    for spec in aws_tools:
        assert spec.operations, spec.name
        for declared in spec.operations:
            service, operation = declared.split(":")
            assert is_read_operation(operation), declared
            assert operation in session.get_service_model(service).operation_names, declared


def test_concurrent_identical_reads_are_sent_once(recorder: MotoAdmin, moto_server: str) -> None:
    aws = ReadOnlyAws(AwsConfig(endpoint_url=moto_server, max_workers=8))
    answers = aws.map(lambda _: aws.paginate("iam", "list_users")["Users"], range(16))
    assert answers == [[]] * 16
    assert (aws.calls_requested, aws.calls_made, aws.distinct_calls) == (16, 1, 1)
    assert len(recorder.recorded_requests()) == 1


def test_errors_are_cached_answers_too(recorder: MotoAdmin, moto_server: str) -> None:
    from botocore.exceptions import ClientError

    aws = ReadOnlyAws(AwsConfig(endpoint_url=moto_server))
    for _ in range(2):
        with pytest.raises(ClientError, match="NoSuchEntity"):
            aws.call("iam", "get_account_password_policy")
    assert aws.calls_made == 1
    assert len(recorder.recorded_requests()) == 1
