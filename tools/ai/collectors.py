"""AI governance collectors: model registries and services (SageMaker, Bedrock), model providers in use, the
vendor register, and the files and status checks of merged pull requests. They fetch; tools/ai/checks.py judges.

SageMaker and Bedrock collectors are per region, ``{region: data}``, like every AWS collector; a part AWS refuses
is recorded as ``{"error": "<code>"}``. Model Monitor schedules and Bedrock guardrails are not collected: the
local AWS (moto) the tests and the demo run on does not serve them, so their reads could not be tested.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import yaml

from tools.aws.collectors import RegionsArgs, jsonable, per_region, read_or_error
from tools.aws.session import ReadOnlyAws
from tools.catalog import NoArgs, tool
from tools.context import CollectContext
from tools.repos.collectors import GitArgs, PullsArgs, _for_each_local_repo, _part, pulls, trimmed
from tools.repos.git import GitRepo
from tools.repos.github import repository_path

# Lines that show a model provider in use: its SDK imported, or its API's host. provider -> extended regexes.
PROVIDER_SIGNATURES: dict[str, tuple[str, ...]] = {
    "openai": (r"^\s*(import|from)\s+openai\b", r"api\.openai\.com", r"openai\.azure\.com"),
    "anthropic": (r"^\s*(import|from)\s+anthropic\b", r"api\.anthropic\.com"),
    "google": (r"^\s*(import|from)\s+google\.generativeai\b", r"generativelanguage\.googleapis\.com"),
    "cohere": (r"^\s*(import|from)\s+cohere\b", r"api\.cohere\.(ai|com)"),
    "mistral": (r"^\s*(import|from)\s+mistralai\b", r"api\.mistral\.ai"),
}
MAX_PROVIDER_LINES = 500  # per repository; a larger answer is cut and says so


# -- SageMaker ---------------------------------------------------------------------------------


@tool(
    "aws.sagemaker.model_registry",
    source="aws",
    description="SageMaker model registry: every model package group and its model packages with approval status.",
    args=RegionsArgs,
    operations=("sagemaker:ListModelPackageGroups", "sagemaker:ListModelPackages"),
)
def model_registry(ctx: CollectContext, args: RegionsArgs) -> dict[str, Any]:
    def fetch(aws: ReadOnlyAws, region: str) -> list[dict[str, Any]]:
        groups = aws.paginate("sagemaker", "list_model_package_groups", region)["ModelPackageGroupSummaryList"]
        for group in groups:
            group["ModelPackages"] = read_or_error(
                lambda name=group["ModelPackageGroupName"]: aws.paginate(
                    "sagemaker", "list_model_packages", region, ModelPackageGroupName=name
                )["ModelPackageSummaryList"]
            )
        return groups

    return per_region(ctx, args, fetch)


@tool(
    "aws.sagemaker.endpoints",
    source="aws",
    description="SageMaker endpoints with what each serves: endpoint config, production variants, models, and the "
    "registered model package (with its approval status) behind each model.",
    args=RegionsArgs,
    operations=(
        "sagemaker:ListEndpoints",
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeEndpointConfig",
        "sagemaker:DescribeModel",
        "sagemaker:DescribeModelPackage",
    ),
)
def endpoints(ctx: CollectContext, args: RegionsArgs) -> dict[str, Any]:
    return _each_listed(ctx, args, ("list_endpoints", "Endpoints", "EndpointName"), _endpoint)


def _each_listed(
    ctx: CollectContext,
    args: RegionsArgs,
    listing: tuple[str, str, str],
    describe: Callable[[ReadOnlyAws, str, str], dict[str, Any]],
) -> dict[str, Any]:
    """Per region: the SageMaker resources a list operation names, each as describe(aws, region, name).
    `listing` is (list operation, the answer's key, the summary's name field)."""
    operation, key, name_field = listing

    def fetch(aws: ReadOnlyAws, region: str) -> list[dict[str, Any]]:
        listed = aws.paginate("sagemaker", operation, region)[key]
        return [describe(aws, region, summary[name_field]) for summary in listed]

    return per_region(ctx, args, fetch)


def _endpoint(aws: ReadOnlyAws, region: str, name: str) -> dict[str, Any]:
    endpoint = read_or_error(lambda: aws.call("sagemaker", "describe_endpoint", region, EndpointName=name))
    if "error" in endpoint:
        return {"EndpointName": name, **endpoint}
    config_name = endpoint["EndpointConfigName"]
    config = read_or_error(
        lambda: aws.call("sagemaker", "describe_endpoint_config", region, EndpointConfigName=config_name)
    )
    endpoint["EndpointConfig"] = config
    for variant in config.get("ProductionVariants", []) if "error" not in config else []:
        variant["Model"] = _model(aws, region, variant["ModelName"])
    return endpoint


def _model(aws: ReadOnlyAws, region: str, name: str) -> dict[str, Any]:
    model = read_or_error(lambda: aws.call("sagemaker", "describe_model", region, ModelName=name))
    containers = [model["PrimaryContainer"]] if model.get("PrimaryContainer") else model.get("Containers", [])
    for container in containers:
        if container.get("ModelPackageName"):
            container["ModelPackage"] = read_or_error(
                lambda package=container["ModelPackageName"]: aws.call(
                    "sagemaker", "describe_model_package", region, ModelPackageName=package
                )
            )
    return model


@tool(
    "aws.sagemaker.training_jobs",
    source="aws",
    description="SageMaker training jobs with their input data (S3 URIs), output path, output KMS key and the "
    "default encryption of the output bucket: which data trained which model.",
    args=RegionsArgs,
    operations=("sagemaker:ListTrainingJobs", "sagemaker:DescribeTrainingJob", "s3:GetBucketEncryption"),
)
def training_jobs(ctx: CollectContext, args: RegionsArgs) -> dict[str, Any]:
    listing = ("list_training_jobs", "TrainingJobSummaries", "TrainingJobName")
    return _each_listed(ctx, args, listing, _training_job)


def _training_job(aws: ReadOnlyAws, region: str, name: str) -> dict[str, Any]:
    job = read_or_error(lambda: aws.call("sagemaker", "describe_training_job", region, TrainingJobName=name))
    if "error" in job:
        return {"TrainingJobName": name, **job}
    output_path = (job.get("OutputDataConfig") or {}).get("S3OutputPath", "")
    bucket = urlsplit(output_path).netloc if output_path.startswith("s3://") else None
    if bucket:
        job["OutputBucketEncryption"] = read_or_error(
            lambda: aws.call("s3", "get_bucket_encryption", Bucket=bucket)["ServerSideEncryptionConfiguration"]
        )
    keep = (
        "TrainingJobName",
        "TrainingJobArn",
        "TrainingJobStatus",
        "CreationTime",
        "TrainingEndTime",
        "InputDataConfig",
        "OutputDataConfig",
        "ModelArtifacts",
        "OutputBucketEncryption",
        "RoleArn",
    )
    return {key: job[key] for key in keep if key in job}  # fmt: skip


# -- Bedrock -----------------------------------------------------------------------------------


@tool(
    "aws.bedrock.models",
    source="aws",
    description="Bedrock: the model invocation logging configuration, custom models with their base model and "
    "training data, and model customization jobs with their training data and output.",
    args=RegionsArgs,
    operations=(
        "bedrock:GetModelInvocationLoggingConfiguration",
        "bedrock:ListCustomModels",
        "bedrock:GetCustomModel",
        "bedrock:ListModelCustomizationJobs",
        "bedrock:GetModelCustomizationJob",
    ),
)
def bedrock_models(ctx: CollectContext, args: RegionsArgs) -> dict[str, Any]:
    def fetch(aws: ReadOnlyAws, region: str) -> dict[str, Any]:
        logging = read_or_error(lambda: aws.call("bedrock", "get_model_invocation_logging_configuration", region))
        listed = aws.paginate("bedrock", "list_custom_models", region)["modelSummaries"]
        jobs = aws.paginate("bedrock", "list_model_customization_jobs", region)["modelCustomizationJobSummaries"]
        return {
            # AWS answers without "loggingConfig" when invocation logging is off.
            "invocation_logging": logging,
            "custom_models": [
                read_or_error(lambda arn=model["modelArn"]: aws.call("bedrock", "get_custom_model", region,
                                                                      modelIdentifier=arn))
                for model in listed
            ],
            "customization_jobs": [
                read_or_error(lambda arn=job["jobArn"]: aws.call("bedrock", "get_model_customization_job", region,
                                                                  jobIdentifier=arn))
                for job in jobs
            ],
        }  # fmt: skip

    return per_region(ctx, args, fetch)


# -- model providers ---------------------------------------------------------------------------


@tool(
    "git.ai_provider_usage",
    source="git",
    description="Lines in each local repository's HEAD tree that import a model provider's SDK (openai, "
    "anthropic, ...) or name its API host: which model providers the code uses.",
    args=GitArgs,
    operations=("git grep",),
)
def provider_usage(ctx: CollectContext, args: GitArgs) -> dict[str, Any]:
    patterns = [pattern for signatures in PROVIDER_SIGNATURES.values() for pattern in signatures]

    def read(repo: GitRepo) -> dict[str, Any]:
        found = repo.grep(patterns)
        lines = [{"path": path, "line": number, "text": text[:300]} for path, number, text in found]
        return {"head": repo.head(), "lines": lines[:MAX_PROVIDER_LINES], "truncated": len(lines) > MAX_PROVIDER_LINES}

    return _for_each_local_repo(ctx, args, read)


@tool(
    "ai.vendor_register",
    source="manual",
    description="The company's register of model providers (vendors.yaml): provider, SOC 2 report date, DPA, "
    "data retention, fallback provider, critical.",
    operations=("read vendors.yaml",),
)
def vendor_register(ctx: CollectContext, args: NoArgs) -> dict[str, Any]:
    path = ctx.config.vendor_register
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        return {"path": str(path), "error": str(error.strerror or error)}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        return {"path": str(path), "error": f"not valid YAML at{where}: {getattr(error, 'problem', error)}"}
    return jsonable({"path": str(path), "vendors": document})


# -- changes to AI assets ----------------------------------------------------------------------


@tool(
    "github.pull_changes",
    source="github",
    description="Pull requests merged since a date (default: the last 90 days) with their reviews, the files "
    "each changed and the check runs on its head commit: the record tiered change management is judged on.",
    args=PullsArgs,
    operations=(
        "GET /repos/{owner}/{repo}/pulls",
        "GET /repos/{owner}/{repo}/pulls/{number}/reviews",
        "GET /repos/{owner}/{repo}/pulls/{number}/files",
        "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
    ),
)
def pull_changes(ctx: CollectContext, args: PullsArgs) -> dict[str, Any]:
    merged = pulls(ctx, args)
    # The tier rules in force when the changes were read ([ai.change_tiers]): the check judges against these.
    tiers = {name: tier.model_dump() for name, tier in ctx.config.ai.change_tiers.items()}
    for entry in merged["repos"]:
        entry["tiers"] = tiers
        for pull in entry.get("pulls", []):
            files_path = repository_path(entry["repo"], "pulls", str(pull["number"]), "files")
            files = _part(lambda path=files_path: ctx.github.paginate(path))
            pull["files"] = files if isinstance(files, dict) else [item["filename"] for item in files]
            pull["check_runs"] = _check_runs(ctx, entry["repo"], pull.get("head_sha"))
    return merged


def _check_runs(ctx: CollectContext, repo: str, sha: str | None) -> Any:
    if not sha:
        return {"error": "the pull request has no head commit"}
    answer = _part(lambda: ctx.github.get(repository_path(repo, "commits", sha, "check-runs"), {"per_page": 100}))
    if "error" in answer:  # GitHub refused: {"error", "http_status"}
        return answer
    return [trimmed({key: run.get(key) for key in ("name", "status", "conclusion", "completed_at")})
            for run in answer.get("check_runs", [])]  # fmt: skip
