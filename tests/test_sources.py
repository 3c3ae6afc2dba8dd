"""Source problems: what a collector raised or recorded as unreadable becomes a cause and a fix, per source."""

from __future__ import annotations

from pathlib import Path

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
)

from tools.config import AuditorConfig, AwsConfig, GithubConfig, LlmConfig, LogsConfig
from tools.sources import SourceLedger, SourceProblem, problem_from_error, problems_in_data


def _client_error(code: str, operation: str = "GetCredentialReport") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "refused"}}, operation)


def test_aws_errors_name_the_cause_and_the_fix() -> None:
    config = AuditorConfig(aws=AwsConfig(profile="audit"))
    cases = {
        NoCredentialsError(): ("no AWS credentials", "set AWS_PROFILE or [aws] profile", True),
        ProfileNotFound(profile="audit"): ("the AWS profile 'audit' does not exist", "check [aws] profile", True),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9/"): (
            "cannot reach http://127.0.0.1:9/",
            "check [aws] endpoint_url",
            True,
        ),
        ConnectTimeoutError(endpoint_url="https://iam.amazonaws.com/"): (
            "cannot reach https://iam.amazonaws.com/",
            "check [aws] endpoint_url",
            True,
        ),
        _client_error("InvalidClientTokenId"): (
            "AWS refused the credentials (InvalidClientTokenId on GetCredentialReport)",
            "renew",
            True,
        ),
        _client_error("AccessDenied", "ListUsers"): (
            "access denied to ListUsers (AccessDenied)",
            "SecurityAudit",
            False,
        ),
    }
    for error, (cause, fix, whole_source) in cases.items():
        # The CloudWatch Logs collector reads through AWS too: AWS's own failures are the aws source's.
        problem = problem_from_error("logs", error, config)
        assert (problem.source, problem.cause, problem.whole_source) == ("aws", cause, whole_source), error
        assert fix in problem.fix


def test_other_errors_stay_with_their_source(tmp_path: Path) -> None:
    missing = FileNotFoundError(2, "No such file or directory", str(tmp_path / "auth.log"))
    problem = problem_from_error("logs", missing, AuditorConfig())
    assert problem == SourceProblem("logs", f"{tmp_path / 'auth.log'} does not exist", "check [logs] paths")
    problem = problem_from_error("git", ValueError("odd"), AuditorConfig())
    assert (problem.source, problem.cause) == ("git", "ValueError: odd")


def test_unreadable_parts_of_what_collectors_returned() -> None:
    logs = {
        "missing_paths": ["/var/log/cloudtrial"],
        "sources": [
            {"file": "/var/log/trail.json", "records": 0, "error": "no readable record (1 parse problems)"},
            {"file": "/var/log/auth.log", "lines": 0, "error": "no readable record (2 parse problems)"},
            {"file": "/var/log/ok.json", "records": 12, "matched": 3},
            {"log_group": "audit", "region": "us-east-1", "error": "AccessDeniedException"},
        ],
    }
    causes = [problem.cause for problem in problems_in_data("logs", logs)]
    assert causes == [
        "/var/log/cloudtrial does not exist",
        "/var/log/trail.json: no readable record (1 parse problems)",
        "/var/log/auth.log: no readable record (2 parse problems)",
        "CloudWatch log group audit in us-east-1: AccessDeniedException",
    ]
    github = {
        "repos": [
            {"repo": "acme/api", "error": "GET /repos/acme/api: 401 unauthorised", "http_status": 401},
            {
                "repo": "acme/web",
                "branch": "main",
                "rulesets": {"error": "GET /repos/acme/web/rulesets: 404", "http_status": 404},
            },
            {"repo": "acme/ok", "alerts": []},
        ]
    }
    found = problems_in_data("github", github)
    assert [problem.cause for problem in found] == [
        "GET /repos/acme/api: 401 unauthorised",
        "GET /repos/acme/web/rulesets: 404",
    ]
    assert "token_env" in found[0].fix and "owner and repos" in found[1].fix
    # AWS answers that are data (no policy set) are not problems; a refusal is.
    aws = {"us-east-1": {"policy": {"error": "NoSuchEntity"}}, "eu-west-1": {"error": "AccessDenied"}}
    assert [problem.cause for problem in problems_in_data("aws", aws)] == ["access denied to some reads (AccessDenied)"]


def test_the_ledger_gives_one_status_per_source() -> None:
    config = AuditorConfig(
        github=GithubConfig(owner="acme", repos=["api"]),
        logs=LogsConfig(paths=[Path("logs")]),
        llm=LlmConfig(provider="openai", model="m"),
    )
    told: list[SourceProblem] = []
    earlier = [SourceProblem("logs", "logs/a.json does not exist", "check [logs] paths")]  # before a resume
    ledger = SourceLedger(earlier, on_new=told.append)
    ledger.record([SourceProblem("aws", "no AWS credentials", "set AWS_PROFILE", whole_source=True)] * 2)
    ledger.record([SourceProblem("logs", "logs/b does not exist", "check [logs] paths")])

    statuses = {status.source: status for status in ledger.statuses(config)}

    assert [problem.cause for problem in told] == ["no AWS credentials", "logs/b does not exist"]  # each new one once
    assert ledger.blocking("aws") is not None and ledger.blocking("logs") is None
    assert statuses["aws"].line() == "aws: no AWS credentials; fix: set AWS_PROFILE"
    assert statuses["logs"].cause == "logs/a.json does not exist; logs/b does not exist"
    assert statuses["logs"].fix == "check [logs] paths"
    assert statuses["github"].state == statuses["llm"].state == "ok"
    assert statuses["git"].state == "not_configured" and "[repos] local" in statuses["git"].fix
    assert SourceLedger().statuses(AuditorConfig())[-1].state == "not_configured"  # offline: no model configured
