"""The AWS session sends only the operations the collectors declare (proved over every botocore operation,
and with moto's recorder for a few refused calls)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest

from tools.aws.session import TRAIL_LOG_READS, ReadOnlyAws, ReadOnlyViolation
from tools.catalog import AWS_OPERATION, TOOLS, allowed_aws_operations, load_all
from tools.config import AwsConfig
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


# Reads named like reads that hand over secrets or customer data: the old name rules let them through.
SENSITIVE_READS = [
    ("lambda", "GetFunctionConfiguration"),  # environment variables
    ("lambda", "GetFunction"),  # a signed link to the code
    ("glue", "GetConnections"),  # connection passwords
    ("dynamodb", "GetItem"),
    ("logs", "GetLogEvents"),
    ("athena", "GetQueryResults"),
    ("ec2", "DescribeInstanceAttribute"),  # user data
    ("lightsail", "GetRelationalDatabaseMasterUserPassword"),
    ("secretsmanager", "GetSecretValue"),
    ("sts", "GetSessionToken"),
    ("sts", "GetWebIdentityToken"),
    ("s3", "GetObject"),
]


def all_botocore_operations() -> list[tuple[str, str]]:
    session = botocore.session.get_session()
    return [
        (service, operation)
        for service in session.get_available_services()
        for operation in session.get_service_model(service).operation_names
    ]


@pytest.mark.slow
def test_only_the_declared_operations_of_all_botocore_operations_are_permitted() -> None:
    aws = ReadOnlyAws(AwsConfig())
    operations = all_botocore_operations()
    permitted = {f"{service}:{operation}" for service, operation in operations if aws.permits(service, operation)}
    # Exactly the catalog's declarations, each of them a real botocore operation (a typo would be missing). The
    # S3 reads of a trail's log files are declared too, and sent only to a bucket DescribeTrails returned.
    trail_reads = {f"s3:{operation}" for operation in TRAIL_LOG_READS}
    assert aws.allowed_operations == allowed_aws_operations() and trail_reads <= aws.allowed_operations
    assert permitted == aws.allowed_operations - trail_reads
    assert len(operations) > 15_000
    for service, operation in SENSITIVE_READS:
        assert (service, operation) in operations and not aws.permits(service, operation)


def test_every_aws_collector_declares_its_operations_as_service_and_name() -> None:
    load_all()
    aws_tools = [spec for spec in TOOLS.values() if spec.source == "aws"]
    assert len(aws_tools) == 25  # 21, plus 3 SageMaker and 1 Bedrock collector (tools/ai/collectors.py)
    for spec in aws_tools:
        assert spec.operations, spec.name
        assert all(AWS_OPERATION.fullmatch(operation) for operation in spec.operations), spec.name
    # A collector of another source that reads AWS declares its operation the same way.
    assert "logs:FilterLogEvents" in allowed_aws_operations()


@pytest.mark.parametrize(
    ("service", "method", "params"),
    [
        ("iam", "create_user", {"UserName": "intruder"}),
        ("s3", "put_object", {"Bucket": "ml-training-data", "Key": "x", "Body": b"x"}),
        ("sts", "get_session_token", {}),
        ("secretsmanager", "get_secret_value", {"SecretId": "prod/db"}),
        ("lambda", "get_function_configuration", {"FunctionName": "billing"}),
        ("dynamodb", "get_item", {"TableName": "users", "Key": {"id": {"S": "1"}}}),
        ("logs", "get_log_events", {"logGroupName": "/app", "logStreamName": "web"}),
        ("ec2", "describe_instance_attribute", {"InstanceId": "i-12345678", "Attribute": "userData"}),
        (
            "ec2",
            "authorize_security_group_ingress",
            {"GroupId": "sg-12345678", "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
        ),
    ],
)
def test_undeclared_operations_are_refused_and_never_reach_the_server(
    recorder: MotoAdmin, moto_server: str, service: str, method: str, params: dict
) -> None:
    aws = ReadOnlyAws(AwsConfig(endpoint_url=moto_server))
    client = aws.client(service)
    with pytest.raises(ReadOnlyViolation, match="not an operation any collector declares"):
        getattr(client, method)(**params)
    # A declared read through the same session does reach the server, so the recording works.
    aws.call("iam", "list_users")
    recorded = recorder.recorded_requests()
    assert [request.operation for request in recorded] == ["ListUsers"]
    assert aws.calls_made == 1


def test_a_role_profile_signs_in_while_the_collectors_clients_stay_guarded(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # botocore's own client calls sts:AssumeRole to sign in; no collector declares it, and none may call it.
    profiles = tmp_path / "aws-config"
    profiles.write_text(
        "[profile source]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
        "[profile audit]\nrole_arn = arn:aws:iam::123456789012:role/audit\nsource_profile = source\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(profiles))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)  # the sign-in client's endpoint too
    aws = ReadOnlyAws(AwsConfig(profile="audit", endpoint_url=moto_server))
    assert ":assumed-role/audit/" in aws.call("sts", "get_caller_identity")["Arn"]
    with pytest.raises(ReadOnlyViolation):
        aws.client("sts").assume_role(RoleArn="arn:aws:iam::123456789012:role/admin", RoleSessionName="x")
    assert aws.operations_sent == ["sts:GetCallerIdentity"]


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
