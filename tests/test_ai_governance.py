"""AI governance evidence: SageMaker and Bedrock on a real moto server, model providers in real git repositories,
the vendor register as a real file, tiered change management on the GitHub stand-in, and the demo's expectations."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from ai_collectors import AI_COLLECTORS

from tools.ai.checks import MODEL_INVOCATION_EVENTS, provider_of_model, tier_of
from tools.aws.session import ReadOnlyAws, ReadOnlyViolation
from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence, load_all
from tools.config import AiConfig, AuditorConfig, AwsConfig, ChangeTier, GithubConfig, ReposConfig, load_config
from tools.context import CollectContext
from tools.demo.github import GithubApiServer, acme_routes
from tools.findings import Finding, Status

load_all()
# The MLflow checks are judged on their own server (tests/test_ai_mlflow.py); the demo company runs without one.
AI_CHECKS = sorted(check_id for check_id in CHECKS if check_id.startswith("ai.") and ".mlflow." not in check_id)


def judge(check_id: str, ctx: CollectContext, only: tuple[str, ...] | None = None) -> list[Finding]:
    """Collect what the check needs (default args; only these tools when given) and run it on that evidence."""
    items = []
    for name in only or CHECKS[check_id].needs:
        spec = TOOLS[name]
        items.append(StoredEvidence(name, name, {}, spec.func(ctx, spec.args_model())))
    return CHECKS[check_id].func(EvidenceView(items))


def by_resource(findings: list[Finding]) -> dict[str, Status]:
    return {finding.resource: finding.status for finding in findings}


# -- the demo company: every AI finding, through the runner and the locker -----------------------


@pytest.mark.slow
def test_demo_ai_findings_match_expectations_and_send_only_declared_reads(tmp_path: Path, demo_environment) -> None:
    from agent.api import approved_records
    from tools.demo.expected import compare, load_expected
    from tools.demo.repo import squash_merges
    from tools.locker import EvidenceLocker
    from tools.runner import EvidenceRunner
    from tools.workspace import Workspace

    # The review log of a fresh workspace: no consent record is attached, as in `auditor demo`.
    attachments = partial(approved_records, Workspace.at(tmp_path / "workspace"))
    ctx = CollectContext(load_config(demo_environment.config_path), approved_attachments=attachments)
    runner = EvidenceRunner(EvidenceLocker(tmp_path / "locker.db", tmp_path / "blobs"), ctx)
    stored = {name: runner.collect(name, {}) for check_id in AI_CHECKS for name in CHECKS[check_id].needs}
    findings = [
        finding
        for check_id in AI_CHECKS
        for finding in runner.evaluate(check_id, [stored[name] for name in CHECKS[check_id].needs])
    ]
    expected = load_expected()
    assert compare(expected, findings, set(AI_CHECKS)) == []
    assert set(AI_CHECKS) <= set(expected), "every AI check has its expected demo findings"
    # The follow-up pushed straight to main is the exception; #43's squash merge came through its pull request.
    [pushed] = [found for found in findings if found.check == "ai.changes.direct_pushes"]
    assert "Summaries: two sentences, not three" in pushed.reason and "prompts/summarize.prompt" in pushed.reason
    assert pushed.facts["commit"] != squash_merges(demo_environment.repo_path)[43]
    # The AI tools' reads, and the S3 reads of the model artifact buckets.
    declared = {operation for name in AI_COLLECTORS + tuple(stored) for operation in TOOLS[name].operations}
    sent = set(ctx.aws.operations_sent)
    assert sent and sent <= declared
    assert all(operation.split(":")[1].startswith(("List", "Describe", "Get")) for operation in sent)


def test_every_declared_ai_operation_is_a_read() -> None:
    for name in AI_COLLECTORS:
        for operation in TOOLS[name].operations:
            verb = operation.split(":", 1)[1] if ":" in operation else operation
            reads = ("List", "Describe", "Get", "GET ", "git grep", "git log", "read ")
            assert verb.startswith(reads), (name, operation)


def test_the_guard_refuses_ai_writes(moto_server: str) -> None:
    aws = ReadOnlyAws(AwsConfig(regions=["us-east-1"], endpoint_url=moto_server))
    assert aws.permits("sagemaker", "DescribeModelPackage") and aws.permits("bedrock", "ListCustomModels")
    with pytest.raises(ReadOnlyViolation, match="UpdateModelPackage"):
        aws.client("sagemaker").update_model_package(ModelPackageArn="arn", ModelApprovalStatus="Approved")
    with pytest.raises(ReadOnlyViolation, match="PutModelInvocationLoggingConfiguration"):
        aws.client("bedrock").put_model_invocation_logging_configuration(loggingConfig={})
    with pytest.raises(ReadOnlyViolation, match="DeleteEndpoint"):
        aws.client("sagemaker").delete_endpoint(EndpointName="x")
    assert aws.calls_made == 0


# -- SageMaker and Bedrock on moto ---------------------------------------------------------------


def test_an_endpoint_serving_a_model_outside_the_registry_fails(moto_server: str) -> None:
    region = "ap-southeast-2"  # the session's moto server is shared: a region no other test seeds
    sagemaker = boto3.client("sagemaker", region_name=region, endpoint_url=moto_server)
    role = "arn:aws:iam::123456789012:role/sagemaker"
    sagemaker.create_model(
        ModelName="hand-built",
        ExecutionRoleArn=role,
        PrimaryContainer={"Image": "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/x:1"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="hand-built-config",
        ProductionVariants=[
            {"VariantName": "a", "ModelName": "hand-built", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    sagemaker.create_endpoint(EndpointName="hand-built", EndpointConfigName="hand-built-config")
    ctx = CollectContext(AuditorConfig(aws=AwsConfig(regions=[region], endpoint_url=moto_server)))

    [found] = judge("ai.sagemaker.endpoint_model_approved", ctx)
    assert found.status == Status.FAIL and found.resource.endswith("endpoint/hand-built")
    assert "not a registered model package" in found.reason
    # Nothing trained, nothing fine-tuned here: said as such, never a pass.
    assert [f.status for f in judge("ai.sagemaker.training_data_lineage", ctx)] == [Status.NOT_APPLICABLE]
    [logging] = judge("ai.bedrock.invocation_logging", ctx)
    assert (logging.resource, logging.status) == (region, Status.FAIL)


def test_bedrock_logging_without_prompt_text_fails_and_a_refused_region_is_an_error() -> None:
    def evidence(region_data: dict[str, Any]) -> EvidenceView:
        return EvidenceView([StoredEvidence("e1", "aws.bedrock.models", {}, region_data)])

    no_text = {
        "invocation_logging": {"loggingConfig": {"s3Config": {"bucketName": "b"}}},
        "custom_models": [],
        "customization_jobs": [],
    }
    findings = CHECKS["ai.bedrock.invocation_logging"].func(
        evidence({"us-east-1": no_text, "eu-west-1": {"error": "AccessDeniedException"}})
    )
    assert by_resource(findings) == {"us-east-1": Status.FAIL, "eu-west-1": Status.ERROR}
    assert "but not their text" in findings[0].reason
    assert CHECKS["ai.bedrock.invocation_logging"].func(EvidenceView())[0].status == Status.ERROR


# -- model providers and the vendor register -----------------------------------------------------


def git_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}
    identity = ["-c", "user.name=T", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(path)], check=True, env=env)
    for relative, text in files.items():
        (path / relative).parent.mkdir(parents=True, exist_ok=True)
        (path / relative).write_text(text, encoding="utf-8")
    subprocess.run(["git", "-C", str(path), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(path), *identity, "commit", "-qm", "x", "--no-gpg-sign"], check=True, env=env)
    return path


def register(path: Path, vendors: Any) -> Path:
    path.write_text(yaml.safe_dump(vendors) if not isinstance(vendors, str) else vendors, encoding="utf-8")
    return path


CODE_AND_REGISTER = ("git.ai_provider_usage", "ai.vendor_register")  # no AWS, no logs


def provider_ctx(tmp_path: Path, vendors: Any, *repos: Path) -> CollectContext:
    config = AuditorConfig(
        repos=ReposConfig(local=list(repos)), ai=AiConfig(vendors=register(tmp_path / "v.yaml", vendors))
    )
    return CollectContext(config)


def test_providers_in_use_are_found_in_code_and_compared_with_the_register(tmp_path: Path) -> None:
    repo = git_repo(
        tmp_path / "svc",
        {
            "app/chat.py": "from openai import OpenAI\nclient = OpenAI()\n",
            "app/mistral.py": 'URL = "https://api.mistral.ai/v1/chat"\n',
            "docs/notes.md": "We looked at anthropic once.\n",  # a mention is not a use
        },
    )
    ctx = provider_ctx(tmp_path, [{"provider": "OpenAI", "soc2_report_date": "2020-01-01", "critical": True}], repo)

    findings = judge("ai.vendors.registered", ctx, CODE_AND_REGISTER)
    assert by_resource(findings) == {"model-provider/openai": Status.PASS, "model-provider/mistral": Status.FAIL}
    assert "svc:app/mistral.py:1" in next(f for f in findings if f.status == Status.FAIL).reason
    assert by_resource(judge("ai.vendors.assurance_current", ctx)) == {"model-provider/openai": Status.FAIL}
    assert by_resource(judge("ai.vendors.critical_fallback", ctx)) == {"model-provider/openai": Status.FAIL}


def test_model_ids_name_their_provider() -> None:
    assert provider_of_model("anthropic.claude-3-5-sonnet-20240620-v1:0") == "anthropic"
    assert provider_of_model("us.meta.llama3-2-90b-instruct-v1:0") == "meta"  # an inference profile
    assert provider_of_model("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1") == "amazon"
    assert provider_of_model("mistralai/Mistral-7B-Instruct-v0.3") == "mistral"  # Hugging Face, on SageMaker
    # A custom or provisioned model's ARN names no provider; neither does a bare name.
    assert provider_of_model("arn:aws:bedrock:us-east-1:123456789012:custom-model/support-tone") is None
    assert provider_of_model("my-model") is None


def test_providers_are_found_in_cloudtrail_model_calls_and_bedrock_base_models(tmp_path: Path) -> None:
    def call(name: str, model_id: str, source: str = "bedrock.amazonaws.com") -> dict[str, Any]:
        return {
            "eventVersion": "1.09",
            "eventSource": source,
            "eventName": name,
            "awsRegion": "us-east-1",
            "eventTime": "2026-11-20T10:00:00Z",
            "userIdentity": {"type": "AssumedRole"},
            "requestParameters": {"modelId": model_id},
        }

    trail = tmp_path / "trail.json"
    trail.write_text(
        json.dumps(
            {
                "Records": [
                    call("InvokeModel", "anthropic.claude-3-haiku-20240307-v1:0"),
                    call("Converse", "us.meta.llama3-1-8b-instruct-v1:0"),
                    call("ConverseStream", "us.meta.llama3-1-8b-instruct-v1:0"),
                    call(
                        "InvokeModel", "cohere.command-r-v1:0", source="sagemaker.amazonaws.com"
                    ),  # not a Bedrock call
                    call("ListFoundationModels", "amazon.titan-text-express-v1"),  # not a model call
                ]
            }
        ),
        encoding="utf-8",
    )
    ctx = provider_ctx(tmp_path, [{"provider": "anthropic"}])
    spec = TOOLS["logs.cloudtrail_events"]
    # The control library's parameters for AI-04: the model-call events only.
    args = spec.args_model(paths=[str(trail)], queries=[], event_names=sorted(MODEL_INVOCATION_EVENTS))
    bedrock = {
        "us-east-1": {
            "invocation_logging": {},
            "customization_jobs": [],
            "custom_models": [
                {
                    "modelName": "tone",
                    "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-lite-v1",
                }
            ],
        },
        "eu-west-1": {"error": "AccessDeniedException"},
    }
    items = [
        StoredEvidence(name, name, {}, TOOLS[name].func(ctx, TOOLS[name].args_model())) for name in CODE_AND_REGISTER
    ]
    items += [
        StoredEvidence("trail", "logs.cloudtrail_events", {}, spec.func(ctx, args)),
        StoredEvidence("bedrock", "aws.bedrock.models", {}, bedrock),
    ]

    findings = CHECKS["ai.vendors.registered"].func(EvidenceView(items))
    assert by_resource(findings) == {
        "model-provider/anthropic": Status.PASS,
        "model-provider/meta": Status.FAIL,
        "model-provider/amazon": Status.FAIL,
        "eu-west-1": Status.ERROR,
    }
    meta = next(f for f in findings if f.resource == "model-provider/meta")
    assert "CloudTrail Converse in us-east-1: us.meta.llama3-1-8b-instruct-v1:0" in meta.reason
    assert meta.facts["uses"] == 2  # Converse and ConverseStream
    assert "Bedrock custom model tone (us-east-1)" in next(f for f in findings if "amazon" in f.resource).reason


def test_a_current_report_and_a_fallback_pass(tmp_path: Path) -> None:
    recent = (datetime.now(UTC).date() - timedelta(days=30)).isoformat()
    ctx = provider_ctx(
        tmp_path,
        [
            {"provider": "anthropic", "soc2_report_date": recent, "fallback": "openai", "critical": True},
            {"provider": "cohere", "soc2_report_date": recent},
        ],
    )
    assert by_resource(judge("ai.vendors.assurance_current", ctx)) == {
        "model-provider/anthropic": Status.PASS,
        "model-provider/cohere": Status.PASS,
    }
    # cohere is not critical: only anthropic is judged for a fallback.
    assert by_resource(judge("ai.vendors.critical_fallback", ctx)) == {"model-provider/anthropic": Status.PASS}
    assert date.fromisoformat(recent)  # the register's dates are ISO dates


def test_an_unreadable_register_or_repository_is_an_error_never_a_pass(tmp_path: Path) -> None:
    broken = provider_ctx(tmp_path, "- provider: openai\n  critical: [unclosed\n")
    [found] = judge("ai.vendors.critical_fallback", broken)
    assert found.status == Status.ERROR and "not valid YAML at line" in found.reason
    missing = CollectContext(AuditorConfig(ai=AiConfig(vendors=tmp_path / "absent.yaml")))
    [found] = judge("ai.vendors.assurance_current", missing)
    assert found.status == Status.ERROR and "absent.yaml" in found.resource
    not_a_list = provider_ctx(tmp_path, {"openai": {"critical": True}})
    assert [f.status for f in judge("ai.vendors.critical_fallback", not_a_list)] == [Status.ERROR]

    (tmp_path / "plain").mkdir()
    no_repo = provider_ctx(tmp_path, [], tmp_path / "plain")
    [found] = judge("ai.vendors.registered", no_repo, CODE_AND_REGISTER)
    assert found.status == Status.ERROR and "not a git repository" in found.reason


# -- tiered change management on the GitHub stand-in ---------------------------------------------


def test_tier_globs_match_folders_and_file_names() -> None:
    assert tier_of("prompts/support/a.txt", ["prompts/**"])
    assert tier_of("app/agents/triage.prompt", ["*.prompt"])
    assert tier_of("deploy/routing-prod.yaml", ["routing*.yaml"])
    assert not tier_of("app/prompts.py", ["prompts/**", "*.prompt"])
    assert not tier_of("docs/models.md", ["models/**"])


def test_each_tiered_change_is_judged_by_its_tier_and_names_the_pull_request() -> None:
    routes = acme_routes()
    kb_change = {"/repos/acme-ai/platform/pulls/41/files": [{"filename": "kb/faq.md", "status": "added"}]}
    tiers = {"knowledge_base": ChangeTier(paths=["kb/**"], approvals=2), "prompts": ChangeTier(paths=["*.prompt"])}
    with GithubApiServer({**routes, **kb_change}) as server:
        config = AuditorConfig(
            github=GithubConfig(api_url=server.url, owner="acme-ai", repos=["platform"]),
            ai=AiConfig(change_tiers=tiers),
        )
        findings = judge("ai.changes.tier_rules", CollectContext(config))
        assert any("/pulls/41/files" in request for request in server.requests)
    statuses = by_resource(findings)
    # #41 now adds to the knowledge base with one approval where two are needed; #43 and #45 change prompts with
    # one approval and no status check required by this configuration; #44 (weights) is in no configured tier.
    assert statuses == {
        "acme-ai/platform#41": Status.FAIL,
        "acme-ai/platform#43": Status.PASS,
        "acme-ai/platform#45": Status.PASS,
    }
    assert "1 of 2 required approval(s)" in next(f for f in findings if f.resource.endswith("#41")).reason


def test_a_direct_push_to_a_tier_is_an_exception_naming_the_commit(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "platform", {"README.md": "old\n"})  # committed long ago: outside the period
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}

    def commit(path: str, days_ago: int, message: str) -> str:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(message, encoding="utf-8")
        stamp = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()
        dated = {**env, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=env)
        subprocess.run(
            [
                "git",
                "-C",
                str(repo),
                "-c",
                "user.name=Dev",
                "-c",
                "user.email=d@example.com",
                "commit",
                "-qm",
                message,
                "--no-gpg-sign",
            ],
            check=True,
            env=dated,
        )
        return subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, env=env, text=True, capture_output=True
        ).stdout.strip()

    commit("prompts/old.prompt", 200, "before the period")  # older than the pull requests read: not judged
    reviewed = commit("prompts/support.prompt", 10, "prompt via PR")
    pushed = commit("prompts/support.prompt", 5, "hotfix the prompt")
    commit("docs/notes.md", 4, "notes")  # no tier file
    merged = (datetime.now(UTC) - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pull = {
        "number": 7,
        "state": "closed",
        "title": "Prompt",
        "user": {"login": "dev"},
        "updated_at": merged,
        "merged_at": merged,
        "merge_commit_sha": reviewed,
        "head": {"sha": "f" * 40},
    }
    routes = {
        "/repos/acme-ai/platform/pulls": [pull],
        "/repos/acme-ai/platform/pulls/7/reviews": [],
        "/repos/acme-ai/platform/pulls/7/files": [{"filename": "prompts/support.prompt"}],
        f"/repos/acme-ai/platform/commits/{'f' * 40}/check-runs": {"check_runs": []},
    }
    with GithubApiServer(routes) as server:
        config = AuditorConfig(
            github=GithubConfig(api_url=server.url, owner="acme-ai", repos=["platform"]),
            repos=ReposConfig(local=[repo]),
        )
        findings = judge("ai.changes.direct_pushes", CollectContext(config))
    assert by_resource(findings) == {f"platform@{pushed[:12]}": Status.FAIL}
    assert "hotfix the prompt" in findings[0].reason and "prompts files (prompts/support.prompt)" in findings[0].reason
    assert findings[0].facts["commit"] == pushed

    # The same history where the hotfix also came through a pull request: a pass naming the pull requests.
    pull_two = {**pull, "number": 8, "merge_commit_sha": pushed}
    routes.update(
        {
            "/repos/acme-ai/platform/pulls": [pull, pull_two],
            "/repos/acme-ai/platform/pulls/8/reviews": [],
            "/repos/acme-ai/platform/pulls/8/files": [{"filename": "prompts/support.prompt"}],
        }
    )
    with GithubApiServer(routes) as server:
        config = AuditorConfig(
            github=GithubConfig(api_url=server.url, owner="acme-ai", repos=["platform"]),
            repos=ReposConfig(local=[repo]),
        )
        [found] = judge("ai.changes.direct_pushes", CollectContext(config))
    assert (found.status, found.resource) == (Status.PASS, "platform")
    assert "acme-ai/platform#7" in found.reason and "acme-ai/platform#8" in found.reason


def test_unreadable_pull_request_files_are_an_error() -> None:
    routes = {key: value for key, value in acme_routes().items() if not key.endswith("/pulls/44/files")}
    with GithubApiServer(routes) as server:
        config = AuditorConfig(github=GithubConfig(api_url=server.url, owner="acme-ai", repos=["platform"]))
        statuses = by_resource(judge("ai.changes.tier_rules", CollectContext(config)))
    assert statuses["acme-ai/platform#44"] == Status.ERROR


def test_a_training_job_aws_refused_to_describe_is_an_error_in_both_training_checks() -> None:
    refused = {"us-east-1": [{"TrainingJobName": "secret-job", "error": "AccessDeniedException"}]}
    view = EvidenceView([StoredEvidence("e1", "aws.sagemaker.training_jobs", {}, refused)])
    for check_id in ("ai.sagemaker.training_data_lineage", "ai.sagemaker.training_output_encrypted"):
        [found] = CHECKS[check_id].func(view)
        assert (found.status, found.resource) == (Status.ERROR, "us-east-1/secret-job/-")
        assert "AccessDeniedException" in found.reason


# -- model artifact buckets (AI-10) --------------------------------------------------------------


def artifact_evidence(jobs: list[dict[str, Any]], buckets: list[dict[str, Any]]) -> EvidenceView:
    """Training jobs in us-east-1, the S3 buckets listed, no endpoints or Bedrock models, no account block."""
    bedrock = {"invocation_logging": {}, "custom_models": [], "customization_jobs": []}
    return EvidenceView(
        [
            StoredEvidence("jobs", "aws.sagemaker.training_jobs", {}, {"us-east-1": jobs}),
            StoredEvidence("endpoints", "aws.sagemaker.endpoints", {}, {"us-east-1": []}),
            StoredEvidence("bedrock", "aws.bedrock.models", {}, {"us-east-1": bedrock}),
            StoredEvidence("s3", "aws.s3.buckets", {}, buckets),
            StoredEvidence("block", "aws.s3.account_public_access_block", {}, {"configuration": {}}),
        ]
    )


def test_a_bucket_a_model_is_written_to_is_a_model_artifact_bucket_whatever_its_name() -> None:
    from knowledge.control_library import load_controls
    from tools.config import ScopeConfig
    from tools.scope import Scope

    jobs = [
        {
            "TrainingJobName": "experiment",
            "TrainingJobArn": "arn:job/experiment",
            "OutputDataConfig": {"S3OutputPath": "s3://web-site/tmp/"},
        },
        {"TrainingJobName": "elsewhere", "OutputDataConfig": {"S3OutputPath": "s3://other-account-bucket/out/"}},
        {"TrainingJobName": "refused", "error": "AccessDeniedException"},
    ]
    site = {
        "Name": "web-site",
        "Arn": "arn:aws:s3:::web-site",
        "Acl": {"Grants": []},
        "Policy": {"error": "NoSuchBucketPolicy"},
        "PublicAccessBlock": {"error": "NoSuchPublicAccessBlockConfiguration"},
        "Encryption": {"error": "ServerSideEncryptionConfigurationNotFoundError"},
    }
    findings = CHECKS["ai.model_artifacts.buckets_protected"].func(artifact_evidence(jobs, [site]))
    assert by_resource(findings) == {
        "us-east-1/refused/-": Status.ERROR,  # it may write anywhere
        "arn:aws:s3:::other-account-bucket": Status.ERROR,  # not in the S3 evidence: never a pass
        "arn:aws:s3:::web-site": Status.FAIL,
    }
    [web] = [f for f in findings if f.resource == "arn:aws:s3:::web-site"]
    assert "training job experiment: s3://web-site/tmp/" in web.reason and "no default encryption" in web.reason
    # AI-10's applies_to (named *model* or tagged) sets the bucket aside for the plain S3 checks, not for this one.
    ai10, scope = load_controls().get("AI-10"), Scope(ScopeConfig())
    assert scope.judge(ai10, web, {}) == web
    plain = web.model_copy(update={"check": "aws.s3.bucket_encryption"})
    assert scope.judge(ai10, plain, {}).status == Status.OUT_OF_SCOPE
    # The audit scope's own tag still sets it aside.
    assert scope.judge(ai10, web, {"soc2:scope": "out"}).status == Status.OUT_OF_SCOPE
    # No model written anywhere: nothing to judge, not a pass.
    [none] = CHECKS["ai.model_artifacts.buckets_protected"].func(artifact_evidence([], [site]))
    assert none.status == Status.NOT_APPLICABLE
