"""AI governance collectors: model registries and services (SageMaker, Bedrock, MLflow), model providers in use,
the vendor register, the consent records reviewers approved, the files and status checks of merged pull requests,
and the commits that landed on each local repository's branch. They fetch; tools/ai/checks.py judges.

SageMaker and Bedrock collectors are per region, ``{region: data}``, like every AWS collector; a part AWS refuses
is recorded as ``{"error": "<code>"}``. Model Monitor schedules and Bedrock guardrails are not collected: the
local AWS (moto) the tests and the demo run on does not serve them, so their reads could not be tested.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import Field

from tools.ai.mlflow_registry import MlflowError, MlflowRegistry
from tools.aws.collectors import jsonable, read_or_error, regional_tool
from tools.aws.session import ReadOnlyAws
from tools.catalog import NoArgs, tool
from tools.context import CollectContext
from tools.repos.collectors import GitArgs, PullsArgs, _for_each_local_repo, _part, local_repo_tool, pulls, trimmed
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
MAX_BRANCH_COMMITS = 5000  # per repository and period; a longer history is cut and says so


# -- SageMaker ---------------------------------------------------------------------------------


@regional_tool(
    "aws.sagemaker.model_registry",
    "SageMaker model registry: every model package group and its model packages with approval status.",
    operations=("sagemaker:ListModelPackageGroups", "sagemaker:ListModelPackages"),
)
def model_registry(aws: ReadOnlyAws, region: str) -> list[dict[str, Any]]:
    return _each_listed(aws, region, ("list_model_package_groups", "ModelPackageGroupSummaryList"), _package_group)


def _package_group(aws: ReadOnlyAws, region: str, group: dict[str, Any]) -> dict[str, Any]:
    packages = read_or_error(
        lambda: aws.paginate(
            "sagemaker", "list_model_packages", region, ModelPackageGroupName=group["ModelPackageGroupName"]
        )["ModelPackageSummaryList"]
    )
    return {**group, "ModelPackages": packages}


@regional_tool(
    "aws.sagemaker.endpoints",
    "SageMaker endpoints with what each serves: endpoint config, production variants, models, and the "
    "registered model package (with its approval status) behind each model.",
    operations=(
        "sagemaker:ListEndpoints",
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeEndpointConfig",
        "sagemaker:DescribeModel",
        "sagemaker:DescribeModelPackage",
    ),
)
def endpoints(aws: ReadOnlyAws, region: str) -> list[dict[str, Any]]:
    return _each_listed(aws, region, ("list_endpoints", "Endpoints"), _endpoint)


def _each_listed(
    aws: ReadOnlyAws,
    region: str,
    listing: tuple[str, str],
    describe: Callable[[ReadOnlyAws, str, dict[str, Any]], dict[str, Any]],
) -> list[dict[str, Any]]:
    """The SageMaker resources a list operation names in the region, each as describe(aws, region, its summary).
    `listing` is (list operation, the answer's key)."""
    operation, key = listing
    listed = aws.paginate("sagemaker", operation, region)[key]
    return [describe(aws, region, summary) for summary in listed]


def _endpoint(aws: ReadOnlyAws, region: str, summary: dict[str, Any]) -> dict[str, Any]:
    name = summary["EndpointName"]
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


@regional_tool(
    "aws.sagemaker.training_jobs",
    "SageMaker training jobs with their input data (S3 URIs), output path, output KMS key and the "
    "default encryption of the output bucket: which data trained which model.",
    operations=("sagemaker:ListTrainingJobs", "sagemaker:DescribeTrainingJob", "s3:GetBucketEncryption"),
)
def training_jobs(aws: ReadOnlyAws, region: str) -> list[dict[str, Any]]:
    return _each_listed(aws, region, ("list_training_jobs", "TrainingJobSummaries"), _training_job)


def _training_job(aws: ReadOnlyAws, region: str, summary: dict[str, Any]) -> dict[str, Any]:
    name = summary["TrainingJobName"]
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
    return {key: job[key] for key in keep if key in job}


# -- Bedrock -----------------------------------------------------------------------------------


@regional_tool(
    "aws.bedrock.models",
    "Bedrock: the model invocation logging configuration, custom models with their base model and "
    "training data, and model customization jobs with their training data and output.",
    operations=(
        "bedrock:GetModelInvocationLoggingConfiguration",
        "bedrock:ListCustomModels",
        "bedrock:GetCustomModel",
        "bedrock:ListModelCustomizationJobs",
        "bedrock:GetModelCustomizationJob",
    ),
)
def bedrock_models(aws: ReadOnlyAws, region: str) -> dict[str, Any]:
    logging = read_or_error(lambda: aws.call("bedrock", "get_model_invocation_logging_configuration", region))
    listed = aws.paginate("bedrock", "list_custom_models", region)["modelSummaries"]
    jobs = aws.paginate("bedrock", "list_model_customization_jobs", region)["modelCustomizationJobSummaries"]
    return {
        # AWS answers without "loggingConfig" when invocation logging is off.
        "invocation_logging": logging,
        "custom_models": [
            read_or_error(
                lambda arn=model["modelArn"]: aws.call("bedrock", "get_custom_model", region, modelIdentifier=arn)
            )
            for model in listed
        ],
        # By name: AWS takes a job's name or ARN, the local AWS (moto) only its name.
        "customization_jobs": [
            read_or_error(
                lambda name=job["jobName"]: aws.call(
                    "bedrock", "get_model_customization_job", region, jobIdentifier=name
                )
            )
            for job in jobs
        ],
    }


# -- MLflow ------------------------------------------------------------------------------------


@tool(
    "mlflow.model_registry",
    source="mlflow",
    description="MLflow model registry ([ai.mlflow]): registered models with their aliases and tags, every version "
    "with its stage, tags and source, and the run behind each version with its tags and dataset inputs.",
    operations=(
        "GET /api/2.0/mlflow/registered-models/search",
        "GET /api/2.0/mlflow/model-versions/search",
        "GET /api/2.0/mlflow/runs/get",
    ),
)
def mlflow_registry(ctx: CollectContext, args: NoArgs) -> dict[str, Any]:
    config = ctx.config.ai.mlflow
    # The rules in force when the registry was read: the checks judge against these.
    rules = {
        **config.model_dump(include={"production_aliases", "approval_tag", "consent_tag"}),
        "customer_data": ctx.config.ai.customer_data,
    }
    if config.tracking_uri is None:
        return {"tracking_uri": None, "rules": rules, "models": []}
    registry = MlflowRegistry.from_config(config)
    try:
        models = registry.paginate("/registered-models/search", "registered_models")
        return {
            "tracking_uri": registry.tracking_uri,
            "rules": rules,
            "models": [_registered_model(registry, model) for model in models],
        }
    except MlflowError as error:
        return {"tracking_uri": registry.tracking_uri, "rules": rules, "error": str(error)}
    finally:
        registry.close()


def _registered_model(registry: MlflowRegistry, model: dict[str, Any]) -> dict[str, Any]:
    name = model["name"]
    quoted = f'"{name}"' if "'" in name else f"'{name}'"  # MLflow's filter takes either quote
    versions = _part(
        lambda: registry.paginate("/model-versions/search", "model_versions", {"filter": f"name={quoted}"}),
        refused=MlflowError,
    )
    runs: dict[str, Any] = {}  # one read per run, however many versions it made
    for version in versions if isinstance(versions, list) else []:
        run_id = version.get("run_id")
        if run_id and run_id not in runs:
            runs[run_id] = _part(lambda run_id=run_id: _run(registry, run_id), refused=MlflowError)
        version["tags"] = _tag_map(version.get("tags"))
        version["run"] = runs.get(run_id) if run_id else None
    return {
        "name": name,
        "tags": _tag_map(model.get("tags")),
        "aliases": {entry["alias"]: str(entry["version"]) for entry in model.get("aliases", [])},
        "versions": versions,
    }


def _run(registry: MlflowRegistry, run_id: str) -> dict[str, Any]:
    run = registry.get("/runs/get", {"run_id": run_id})["run"]
    info = run.get("info", {})
    return {
        "run_id": run_id,
        "experiment_id": info.get("experiment_id"),
        "status": info.get("status"),
        "user_id": info.get("user_id"),
        "tags": _tag_map((run.get("data") or {}).get("tags")),
        "datasets": [
            {**entry.get("dataset", {}), "tags": _tag_map(entry.get("tags"))}
            for entry in (run.get("inputs") or {}).get("dataset_inputs", [])
        ],
    }


def _tag_map(tags: list[dict[str, Any]] | None) -> dict[str, str]:
    """MLflow's [{"key": k, "value": v}] as {k: v}."""
    return {tag["key"]: tag.get("value", "") for tag in tags or []}


# -- model providers ---------------------------------------------------------------------------


PROVIDER_PATTERNS = [pattern for signatures in PROVIDER_SIGNATURES.values() for pattern in signatures]


@local_repo_tool(
    "git.ai_provider_usage",
    "Lines in each local repository's HEAD tree that import a model provider's SDK (openai, "
    "anthropic, ...) or name its API host: which model providers the code uses.",
    args=GitArgs,
    operations=("git grep",),
)
def provider_usage(args: GitArgs, repo: GitRepo) -> dict[str, Any]:
    found = repo.grep(PROVIDER_PATTERNS)
    lines = [{"path": path, "line": number, "text": text[:300]} for path, number, text in found]
    return {"head": repo.head(), "lines": lines[:MAX_PROVIDER_LINES], "truncated": len(lines) > MAX_PROVIDER_LINES}


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


# -- consent to train on customer data ---------------------------------------------------------

CONSENT_CONTROL = "AI-06"  # Customer data excluded from training without consent: its attachments are the records


class ConsentArgs(NoArgs):
    control: str = Field(
        default=CONSENT_CONTROL, description="The control whose approved attachments are the consent records"
    )


@tool(
    "ai.consent_records",
    source="manual",
    description="Consent records for training on customer data: the files reviewers attached to a control "
    "(default AI-06) and approved, each with the period it covers, and the [ai] customer_data locations in force.",
    args=ConsentArgs,
    operations=("read the review log",),
)
def consent_records(ctx: CollectContext, args: ConsentArgs) -> dict[str, Any]:
    found = {"control": args.control, "customer_data": list(ctx.config.ai.customer_data)}
    if ctx.approved_attachments is None:
        return {**found, "error": "no review log was read for this collection"}
    return {**found, "attachments": ctx.approved_attachments(args.control)}


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
    tiers = _tiers_in_force(ctx)
    for entry in merged["repos"]:
        entry["tiers"] = tiers
        for pull in entry.get("pulls", []):
            files_path = repository_path(entry["repo"], "pulls", str(pull["number"]), "files")
            files = _part(lambda path=files_path: ctx.github.paginate(path))
            pull["files"] = files if isinstance(files, dict) else [item["filename"] for item in files]
            pull["check_runs"] = _check_runs(ctx, entry["repo"], pull.get("head_sha"))
    return merged


class BranchChangesArgs(GitArgs):
    since: datetime | None = Field(
        default=None,
        description="Earliest commit date; default: 90 days ago, as github.pull_changes reads merged pull requests",
    )
    limit: int = Field(default=MAX_BRANCH_COMMITS, ge=1, le=MAX_BRANCH_COMMITS)


@tool(
    "git.branch_changes",
    source="git",
    description="Commits that landed on each local repository's checked-out (default) branch since a date "
    "(default: the last 90 days), first-parent line, each with the files it changed: compared with the merge "
    "commits of merged pull requests to find changes pushed directly.",
    args=BranchChangesArgs,
    operations=("git log",),
)
def branch_changes(ctx: CollectContext, args: BranchChangesArgs) -> dict[str, Any]:
    since = args.since or datetime.now(UTC) - timedelta(days=90)
    since = since if since.tzinfo else since.replace(tzinfo=UTC)

    def read(repo: GitRepo) -> dict[str, Any]:
        changes = repo.first_parent_changes(since.isoformat(), args.limit + 1)
        return {
            "branch": repo.branch(),
            "head": repo.head(),
            "since": since.isoformat(),
            "commits": changes[: args.limit],
            "truncated": len(changes) > args.limit,
        }

    found = _for_each_local_repo(ctx, args, read)
    return {**found, "tiers": _tiers_in_force(ctx)}


def _tiers_in_force(ctx: CollectContext) -> dict[str, Any]:
    """The [ai.change_tiers] rules in force when the changes were read: the checks judge against these."""
    return {name: tier.model_dump() for name, tier in ctx.config.ai.change_tiers.items()}


def _check_runs(ctx: CollectContext, repo: str, sha: str | None) -> Any:
    if not sha:
        return {"error": "the pull request has no head commit"}
    answer = _part(lambda: ctx.github.get(repository_path(repo, "commits", sha, "check-runs"), {"per_page": 100}))
    if "error" in answer:  # GitHub refused: {"error", "http_status"}
        return answer
    return [
        trimmed({key: run.get(key) for key in ("name", "status", "conclusion", "completed_at")})
        for run in answer.get("check_runs", [])
    ]
