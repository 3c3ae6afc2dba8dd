"""AI governance evidence: SageMaker and Bedrock on a real moto server, model providers in real git repositories,
the vendor register as a real file, tiered change management on the GitHub stand-in, and the demo's expectations."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from tools.ai.checks import tier_of
from tools.aws.session import ReadOnlyAws, ReadOnlyViolation
from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence, load_all
from tools.config import AiConfig, AuditorConfig, AwsConfig, ChangeTier, GithubConfig, ReposConfig, load_config
from tools.context import CollectContext
from tools.demo.github import GithubApiServer, acme_routes
from tools.findings import Finding, Status

load_all()
AI_TOOLS = ("aws.sagemaker.model_registry", "aws.sagemaker.endpoints", "aws.sagemaker.training_jobs",
            "aws.bedrock.models", "git.ai_provider_usage", "ai.vendor_register", "github.pull_changes")  # fmt: skip
AI_CHECKS = sorted(check_id for check_id in CHECKS if check_id.startswith("ai."))


def judge(check_id: str, ctx: CollectContext, tools: Callable[[str], dict[str, Any]] | None = None) -> list[Finding]:
    """Collect what the check needs (default args) and run it on that evidence."""
    items = []
    for name in CHECKS[check_id].needs:
        spec = TOOLS[name]
        items.append(StoredEvidence(name, name, {}, spec.func(ctx, spec.args_model())))
    return CHECKS[check_id].func(EvidenceView(items))


def by_resource(findings: list[Finding]) -> dict[str, Status]:
    return {finding.resource: finding.status for finding in findings}


# -- the demo company: every AI finding, through the runner and the locker -----------------------


@pytest.mark.slow
def test_demo_ai_findings_match_expectations_and_send_only_declared_reads(tmp_path: Path, demo_environment) -> None:
    from tools.demo.expected import compare, load_expected
    from tools.locker import EvidenceLocker
    from tools.runner import EvidenceRunner

    ctx = CollectContext(load_config(demo_environment.config_path))
    runner = EvidenceRunner(EvidenceLocker(tmp_path / "locker.db", tmp_path / "blobs"), ctx)
    stored = {name: runner.collect(name, {}) for name in AI_TOOLS}
    findings = [
        finding
        for check_id in AI_CHECKS
        for finding in runner.evaluate(check_id, [stored[name] for name in CHECKS[check_id].needs])
    ]
    expected = load_expected()
    assert compare(expected, findings, set(AI_CHECKS)) == []
    assert set(AI_CHECKS) <= set(expected), "every AI check has its expected demo findings"
    declared = {operation for name in AI_TOOLS for operation in TOOLS[name].operations}
    sent = set(ctx.aws.operations_sent)
    assert sent and sent <= declared
    assert all(operation.split(":")[1].startswith(("List", "Describe", "Get")) for operation in sent)


def test_every_declared_ai_operation_is_a_read() -> None:
    for name in AI_TOOLS:
        for operation in TOOLS[name].operations:
            verb = operation.split(":", 1)[1] if ":" in operation else operation
            assert verb.startswith(("List", "Describe", "Get", "GET ", "git grep", "read ")), (name, operation)


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

    no_text = {"invocation_logging": {"loggingConfig": {"s3Config": {"bucketName": "b"}}},
               "custom_models": [], "customization_jobs": []}  # fmt: skip
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


def provider_ctx(tmp_path: Path, vendors: Any, *repos: Path) -> CollectContext:
    config = AuditorConfig(repos=ReposConfig(local=list(repos)), ai=AiConfig(vendors=register(tmp_path / "v.yaml",
                                                                                                vendors)))  # fmt: skip
    return CollectContext(config)


def test_providers_in_use_are_found_in_code_and_compared_with_the_register(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "svc", {
        "app/chat.py": "from openai import OpenAI\nclient = OpenAI()\n",
        "app/mistral.py": 'URL = "https://api.mistral.ai/v1/chat"\n',
        "docs/notes.md": "We looked at anthropic once.\n",  # a mention is not a use
    })  # fmt: skip
    ctx = provider_ctx(tmp_path, [{"provider": "OpenAI", "soc2_report_date": "2020-01-01", "critical": True}], repo)

    findings = judge("ai.vendors.registered", ctx)
    assert by_resource(findings) == {"model-provider/openai": Status.PASS, "model-provider/mistral": Status.FAIL}
    assert "svc:app/mistral.py:1" in next(f for f in findings if f.status == Status.FAIL).reason
    assert by_resource(judge("ai.vendors.assurance_current", ctx)) == {"model-provider/openai": Status.FAIL}
    assert by_resource(judge("ai.vendors.critical_fallback", ctx)) == {"model-provider/openai": Status.FAIL}


def test_a_current_report_and_a_fallback_pass(tmp_path: Path) -> None:
    recent = (datetime.now(UTC).date() - timedelta(days=30)).isoformat()
    ctx = provider_ctx(tmp_path, [{"provider": "anthropic", "soc2_report_date": recent, "fallback": "openai",
                                   "critical": True}, {"provider": "cohere", "soc2_report_date": recent}])  # fmt: skip
    assert by_resource(judge("ai.vendors.assurance_current", ctx)) == {
        "model-provider/anthropic": Status.PASS, "model-provider/cohere": Status.PASS,
    }  # fmt: skip
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
    [found] = judge("ai.vendors.registered", no_repo)
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
        config = AuditorConfig(github=GithubConfig(api_url=server.url, owner="acme-ai", repos=["platform"]),
                               ai=AiConfig(change_tiers=tiers))  # fmt: skip
        findings = judge("ai.changes.tier_rules", CollectContext(config))
        assert any("/pulls/41/files" in request for request in server.requests)
    statuses = by_resource(findings)
    # #41 now adds to the knowledge base with one approval where two are needed; #43 and #45 change prompts with
    # one approval and no status check required by this configuration; #44 (weights) is in no configured tier.
    assert statuses == {"acme-ai/platform#41": Status.FAIL, "acme-ai/platform#43": Status.PASS,
                        "acme-ai/platform#45": Status.PASS}  # fmt: skip
    assert "1 of 2 required approval(s)" in next(f for f in findings if f.resource.endswith("#41")).reason


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
