"""AI governance checks: judge stored evidence of model registries, Bedrock, model providers and changes to AI assets.

Missing and unreadable evidence, and resource names, follow tools/checks_common.py. Model providers are named
``model-provider/<name>`` (the vendor register's name for them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from fnmatch import fnmatchcase
from typing import Any

from tools.ai.collectors import PROVIDER_SIGNATURES
from tools.aws.checks import aws_check, by_region
from tools.catalog import CHECKS, EvidenceView, StoredEvidence, check
from tools.checks_common import finding, missing_evidence, nothing_to_judge, passed_if, read_error, unreadable
from tools.findings import Finding, Severity, Status
from tools.repos.checks import approvers_before_merge, repo_check

MAX_ASSURANCE_REPORT_AGE_DAYS = 365  # a SOC 2 report older than 12 months no longer covers the current period
APPROVED = "Approved"  # SageMaker's ModelApprovalStatus of a package cleared for production
PROVIDER = "model-provider/"


# -- SageMaker ---------------------------------------------------------------------------------


@aws_check(
    "ai.sagemaker.endpoint_model_approved",
    "SageMaker endpoints serve only approved model packages from the model registry",
    ("aws.sagemaker.endpoints",),
    severity=Severity.HIGH,
)
def endpoint_model_approved(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(evidence_id: str, region: str, endpoints: list[dict[str, Any]]) -> Iterator[Finding]:
        for endpoint in endpoints:
            resource = endpoint.get("EndpointArn") or f"{region}/{endpoint['EndpointName']}/-"
            yield _served_models_verdict(check_id, resource, endpoint, evidence_id)

    return by_region(check_id, items, judge)


def _served_models_verdict(check_id: str, resource: str, endpoint: dict[str, Any], evidence_id: str) -> Finding:
    name = endpoint["EndpointName"]
    config = endpoint.get("EndpointConfig", endpoint)
    error = read_error(config)
    if error is not None:
        return unreadable(check_id, resource, error, [evidence_id], f"Endpoint {name}", endpoint=name)
    served: list[tuple[str, str]] = []  # (model, package ARN or why it is not an approved package)
    problems: list[str] = []
    for variant in config.get("ProductionVariants", []):
        model = variant.get("Model", {})
        error = read_error(model)
        if error is not None:
            return unreadable(check_id, resource, error, [evidence_id], f"Model {variant['ModelName']}", endpoint=name)
        containers = [model["PrimaryContainer"]] if model.get("PrimaryContainer") else model.get("Containers", [])
        for container in containers:
            package = container.get("ModelPackage")
            if package is None:
                problems.append(f"model {variant['ModelName']} is not a registered model package")
                continue
            error = read_error(package)
            if error is not None:
                what = f"Model package {container['ModelPackageName']}"
                return unreadable(check_id, resource, error, [evidence_id], what, endpoint=name)
            status = package.get("ModelApprovalStatus", "unknown")
            served.append((variant["ModelName"], package.get("ModelPackageArn", container["ModelPackageName"])))
            if status != APPROVED:
                problems.append(
                    f"model {variant['ModelName']} is package {served[-1][1]}, whose approval status is {status}"
                )
    facts = {"endpoint": name, "packages": ", ".join(arn for _, arn in served)}
    if not served and not problems:
        return finding(
            check_id, Status.ERROR, resource, f"Endpoint {name} lists no model it serves.", [evidence_id], **facts
        )
    if problems:
        return finding(
            check_id,
            Status.FAIL,
            resource,
            f"Endpoint {name} serves a model that is not approved: {'; '.join(problems)}.",
            [evidence_id],
            **facts,
        )
    reason = f"Endpoint {name} serves only approved model packages ({facts['packages']})."
    return finding(check_id, Status.PASS, resource, reason, [evidence_id], **facts)


@aws_check(
    "ai.sagemaker.training_data_lineage",
    "Each SageMaker training job records the S3 data it trained on and where its model went",
    ("aws.sagemaker.training_jobs",),
    severity=Severity.MEDIUM,
)
def training_data_lineage(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def verdict(evidence_id: str, name: str, resource: str, job: dict[str, Any]) -> Finding:
        inputs = [_s3_uri(channel) for channel in job.get("InputDataConfig", [])]
        output = (job.get("OutputDataConfig") or {}).get("S3OutputPath", "")
        facts = {"job": name, "training_data": ", ".join(uri for uri in inputs if uri), "output": output}
        missing = []
        if not inputs or not all(inputs):
            missing.append("its input data in S3")
        if not output.startswith("s3://"):
            missing.append("an S3 output path")
        if missing:
            reason = f"Training job {name} does not record {' or '.join(missing)}, so its lineage is unknown."
        else:
            reason = f"Training job {name} trained on {facts['training_data']} and wrote its model to {output}."
        return finding(check_id, passed_if(not missing), resource, reason, [evidence_id], **facts)

    return _by_training_job(check_id, items, verdict)


def _by_training_job(
    check_id: str, items: list[StoredEvidence], verdict: Callable[[str, str, str, dict[str, Any]], Finding | None]
) -> Iterator[Finding]:
    """`verdict(evidence_id, name, resource, job)` of each readable training job (None: not of the kind judged);
    an unreadable one is said so."""

    def judge(evidence_id: str, region: str, jobs: list[dict[str, Any]]) -> Iterator[Finding]:
        for job in jobs:
            name = job["TrainingJobName"]
            resource = job.get("TrainingJobArn") or f"{region}/{name}/-"
            error = read_error(job)
            if error is not None:
                yield unreadable(check_id, resource, error, [evidence_id], f"Training job {name}", job=name)
            elif (found := verdict(evidence_id, name, resource, job)) is not None:
                yield found

    return by_region(check_id, items, judge)


def _s3_uri(channel: dict[str, Any]) -> str | None:
    uri = ((channel.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri")
    return uri if isinstance(uri, str) and uri.startswith("s3://") else None


@aws_check(
    "ai.sagemaker.training_output_encrypted",
    "Model artifacts written by SageMaker training jobs are encrypted at rest",
    ("aws.sagemaker.training_jobs",),
    severity=Severity.HIGH,
)
def training_output_encrypted(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def verdict(evidence_id: str, name: str, resource: str, job: dict[str, Any]) -> Finding:
        output = job.get("OutputDataConfig") or {}
        key = output.get("KmsKeyId")
        bucket_rules = job.get("OutputBucketEncryption", {"error": "no S3 output path"})
        facts = {"job": name, "output": output.get("S3OutputPath", ""), "kms_key": key or ""}
        if key:
            reason = f"Training job {name} encrypts its model artifacts with KMS key {key}."
            return finding(check_id, Status.PASS, resource, reason, [evidence_id], **facts)
        error = read_error(bucket_rules, absent="ServerSideEncryptionConfigurationNotFoundError")
        if error is not None:
            what = f"The default encryption of the output bucket of training job {name}"
            return unreadable(check_id, resource, error, [evidence_id], what, **facts)
        algorithms = sorted(
            {
                rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
                for rule in (bucket_rules.get("Rules") or [])
                if rule.get("ApplyServerSideEncryptionByDefault")
            }
        )
        if algorithms:
            reason = (
                f"Training job {name} sets no KMS key, but its output bucket encrypts new objects by "
                f"default ({', '.join(algorithms)})."
            )
        else:
            reason = f"Training job {name} sets no KMS key and its output bucket has no default encryption."
        return finding(
            check_id,
            passed_if(bool(algorithms)),
            resource,
            reason,
            [evidence_id],
            bucket_encryption=", ".join(algorithms),
            **facts,
        )

    return _by_training_job(check_id, items, verdict)


# -- Bedrock -----------------------------------------------------------------------------------


@check(
    "ai.bedrock.invocation_logging",
    title="Bedrock model invocation logging is on in every region read",
    needs=("aws.bedrock.models",),
    severity=Severity.HIGH,
)
def invocation_logging(view: EvidenceView) -> list[Finding]:
    check_id, items = "ai.bedrock.invocation_logging", view.all("aws.bedrock.models")
    if not items:
        return missing_evidence(check_id, "aws.bedrock.models")

    def judge(evidence_id: str, region: str, data: dict[str, Any]) -> Iterator[Finding]:
        answer = data["invocation_logging"]
        error = read_error(answer)
        if error is not None:
            yield unreadable(check_id, region, error, [evidence_id], f"Bedrock invocation logging in {region}")
            return
        config = answer.get("loggingConfig") or {}
        destinations = [
            name for name, key in (("S3", "s3Config"), ("CloudWatch Logs", "cloudWatchConfig")) if config.get(key)
        ]
        text = bool(config.get("textDataDeliveryEnabled"))
        facts = {"destinations": ", ".join(destinations), "text_data": text}
        if destinations and text:
            reason = (
                f"Bedrock logs model invocations in {region}, prompts and answers included, to {facts['destinations']}."
            )
        elif destinations:
            reason = f"Bedrock logs model invocations in {region} to {facts['destinations']}, but not their text."
        else:
            reason = f"Bedrock model invocation logging is off in {region}: no record of prompts and answers is kept."
        yield finding(check_id, passed_if(bool(destinations) and text), region, reason, [evidence_id], **facts)

    return list(by_region(check_id, items, judge))


@aws_check(
    "ai.bedrock.custom_model_lineage",
    "Each Bedrock custom model records its base model, training data and the job that made it",
    ("aws.bedrock.models",),
    severity=Severity.MEDIUM,
)
def custom_model_lineage(check_id: str, items: list[StoredEvidence]) -> Iterator[Finding]:
    def judge(evidence_id: str, region: str, data: dict[str, Any]) -> Iterator[Finding]:
        for model in data["custom_models"]:
            error = read_error(model)
            if error is not None:
                yield unreadable(check_id, region, error, [evidence_id], f"A Bedrock custom model in {region}")
                continue
            name, training = model.get("modelName", "?"), (model.get("trainingDataConfig") or {}).get("s3Uri", "")
            facts = {
                "model": name,
                "base_model": model.get("baseModelArn", ""),
                "training_data": training,
                "job": model.get("jobArn", ""),
            }
            missing = [
                what
                for what, value in (
                    ("training data", training),
                    ("base model", facts["base_model"]),
                    ("customization job", facts["job"]),
                )
                if not value
            ]
            if missing:
                reason = f"Custom model {name} does not record its {', '.join(missing)}."
            else:
                reason = f"Custom model {name} was trained from {facts['base_model']} on {training} by {facts['job']}."
            resource = model.get("modelArn") or f"{region}/{name}/-"
            yield finding(check_id, passed_if(not missing), resource, reason, [evidence_id], **facts)

    return by_region(check_id, items, judge)


# -- model artifact buckets --------------------------------------------------------------------
# AI-10 judges model artifact buckets. Its applies_to finds them by name and tag; this check finds the rest by
# where models are actually written (SageMaker training jobs' output, the ModelDataUrl of the models and model
# packages endpoints serve, Bedrock custom models and customization jobs' output) and holds each such bucket to
# the same bucket checks, whatever its name.

ARTIFACT_BUCKET_CHECKS = ("aws.s3.bucket_encryption", "aws.s3.bucket_public_access_block", "aws.s3.bucket_public")
ARTIFACT_WRITERS = ("aws.sagemaker.training_jobs", "aws.sagemaker.endpoints", "aws.bedrock.models")
ArtifactWrites = dict[str, dict[str, str]]  # bucket -> {"training job x": "s3://bucket/path", ...}


@check(
    "ai.model_artifacts.buckets_protected",
    title="Every bucket models are written to encrypts by default, blocks public access and is not public",
    needs=("aws.s3.buckets", "aws.s3.account_public_access_block", *ARTIFACT_WRITERS),
    severity=Severity.HIGH,
    picks_resources_by_evidence=True,
)
def artifact_buckets_protected(view: EvidenceView) -> list[Finding]:
    check_id = "ai.model_artifacts.buckets_protected"
    for tool_name in CHECKS[check_id].needs:
        if not view.all(tool_name):
            return missing_evidence(check_id, tool_name)
    writes: ArtifactWrites = {}
    cited: dict[str, set[str]] = {}  # bucket -> the writers' evidence ids
    unread: list[Finding] = []
    for item in view.all("aws.sagemaker.training_jobs") + view.all("aws.sagemaker.endpoints"):
        unread += _artifact_writes(check_id, item, writes, cited)
    for item in view.all("aws.bedrock.models"):
        unread += _bedrock_artifact_writes(check_id, item, writes, cited)
    if not writes:
        reason = "No training job, served model or Bedrock custom model records where it writes model artifacts."
        return unread or nothing_to_judge(check_id, ARTIFACT_WRITERS[0], reason, [i.id for i in view.items])
    judged = {name: {f.resource: f for f in CHECKS[name].func(view)} for name in ARTIFACT_BUCKET_CHECKS}
    findings = []
    for bucket, writers in sorted(writes.items()):
        resource = f"arn:aws:s3:::{bucket}"
        written = "; ".join(f"{writer}: {uri}" for writer, uri in writers.items())
        verdicts = [judged[name].get(resource) for name in ARTIFACT_BUCKET_CHECKS]
        evidence = cited[bucket] | {e for v in verdicts if v is not None for e in v.evidence_ids}
        facts = {"bucket": bucket, "written_by": ", ".join(writers)}
        if None in verdicts:  # another account's bucket, or one deleted since
            reason = (
                f"Model artifacts are stored in bucket {bucket} ({written}), which the S3 evidence does not "
                "list, so its protection cannot be judged."
            )
            findings.append(finding(check_id, Status.ERROR, resource, reason, evidence, **facts))
            continue
        failed = [v for v in verdicts if v is not None and v.status == Status.FAIL]
        unjudged = [v for v in verdicts if v is not None and v.status == Status.ERROR]
        status = Status.FAIL if failed else Status.ERROR if unjudged else Status.PASS
        said = " ".join(v.reason for v in (failed or unjudged or verdicts) if v is not None)
        reason = f"Model artifacts are stored in bucket {bucket} ({written}). {said}"
        findings.append(finding(check_id, status, resource, reason, evidence, **facts))
    return unread + findings


def _add_write(writes: ArtifactWrites, cited: dict[str, set[str]], writer: str, uri: Any, evidence_id: str) -> None:
    if isinstance(uri, str) and uri.startswith("s3://") and (bucket := uri[5:].split("/", 1)[0]):
        writes.setdefault(bucket, {})[writer] = uri
        cited.setdefault(bucket, set()).add(evidence_id)


def _artifact_writes(
    check_id: str, item: StoredEvidence, writes: ArtifactWrites, cited: dict[str, set[str]]
) -> list[Finding]:
    """The buckets SageMaker training jobs write models to and the models endpoints serve are read from; what
    AWS would not describe is an error finding: it may write to any bucket."""

    def judge(evidence_id: str, region: str, listed: list[dict[str, Any]]) -> Iterator[Finding]:
        for entry in listed:
            name = entry.get("TrainingJobName") or entry.get("EndpointName", "?")
            resource = entry.get("TrainingJobArn") or entry.get("EndpointArn") or f"{region}/{name}/-"
            what = f"Training job {name}" if "TrainingJobName" in entry else f"Endpoint {name}"
            error = read_error(entry) or read_error(entry.get("EndpointConfig", {}))
            if error is not None:
                yield unreadable(check_id, resource, error, [evidence_id], what)
                continue
            if "TrainingJobName" in entry:
                output = (entry.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
                output = output or (entry.get("OutputDataConfig") or {}).get("S3OutputPath")
                _add_write(writes, cited, f"training job {name}", output, evidence_id)
            for variant in (entry.get("EndpointConfig") or {}).get("ProductionVariants", []):
                for writer, uri, error in _served_model_data(variant):
                    if error is not None:
                        yield unreadable(check_id, resource, error, [evidence_id], f"The {writer} of {what}")
                    else:
                        _add_write(writes, cited, writer, uri, evidence_id)

    return list(by_region(check_id, [item], judge))


def _served_model_data(variant: dict[str, Any]) -> Iterator[tuple[str, Any, str | None]]:
    """(what, its ModelDataUrl, the error AWS gave instead) of the model an endpoint variant serves and of the
    model package behind it."""
    model, what = variant.get("Model", {}), f"model {variant['ModelName']}"
    if (error := read_error(model)) is not None:
        yield what, None, error
        return
    for container in [model["PrimaryContainer"]] if model.get("PrimaryContainer") else model.get("Containers", []):
        yield what, container.get("ModelDataUrl"), None
        if "ModelPackage" not in container:
            continue
        package = container["ModelPackage"]
        packaged = f"model package {package.get('ModelPackageArn', container['ModelPackageName'])}"
        if (error := read_error(package)) is not None:
            yield packaged, None, error
            continue
        for packaged_container in (package.get("InferenceSpecification") or {}).get("Containers", []):
            yield packaged, packaged_container.get("ModelDataUrl"), None


def _bedrock_artifact_writes(
    check_id: str, item: StoredEvidence, writes: ArtifactWrites, cited: dict[str, set[str]]
) -> list[Finding]:
    """The buckets Bedrock custom models and customization jobs write their output to."""

    def judge(evidence_id: str, region: str, data: dict[str, Any]) -> Iterator[Finding]:
        for kind, entries, name_key in (
            ("custom model", "custom_models", "modelName"),
            ("customization job", "customization_jobs", "jobName"),
        ):
            for entry in data[entries]:
                error = read_error(entry)
                if error is not None:
                    yield unreadable(check_id, region, error, [evidence_id], f"A Bedrock {kind} in {region}")
                    continue
                uri = (entry.get("outputDataConfig") or {}).get("s3Uri")
                _add_write(writes, cited, f"Bedrock {kind} {entry.get(name_key, '?')}", uri, evidence_id)

    return list(by_region(check_id, [item], judge))


# -- consent to train on customer data ---------------------------------------------------------
# A SageMaker training job or Bedrock customization job whose training data matches an [ai] customer_data glob
# needs a consent record: a file attached to the consent control (AI-06) that a reviewer approved, whose
# period covers the day the job started. The review log's approved attachments reach the check as the
# stored evidence of ai.consent_records, with the globs in force.


def customer_data_in(uris: Iterable[str], globs: Iterable[str]) -> list[str]:
    """The training data locations that hold customer data ([ai] customer_data globs)."""
    globs = list(globs)
    return [uri for uri in uris if any(fnmatchcase(uri, glob) for glob in globs)]


@aws_check(
    "ai.training.customer_data_consent",
    "Every SageMaker training job and Bedrock customization job on customer data has an approved consent record",
    ("aws.sagemaker.training_jobs", "aws.bedrock.models", "ai.consent_records"),
    severity=Severity.HIGH,
)
def customer_data_consent(
    check_id: str, sagemaker: list[StoredEvidence], bedrock: list[StoredEvidence], consent: list[StoredEvidence]
) -> Iterator[Finding]:
    records = consent[0]
    if not records.data["customer_data"]:
        yield from nothing_to_judge(
            check_id,
            "ai.consent_records",
            "No customer-data location is configured ([ai] "
            "customer_data), so no training job can be matched against one.",
            [records.id],
        )
        return

    def verdict(evidence_id: str, resource: str, what: str, uris: list[str], started: Any) -> Finding | None:
        customer = customer_data_in(uris, records.data["customer_data"])
        if not customer:
            return None
        return _consent_verdict(check_id, resource, what, customer, started, records, evidence_id)

    def sagemaker_job(evidence_id: str, name: str, resource: str, job: dict[str, Any]) -> Finding | None:
        uris = [uri for uri in map(_s3_uri, job.get("InputDataConfig", [])) if uri]
        return verdict(evidence_id, resource, f"Training job {name}", uris, job.get("CreationTime"))

    def bedrock_jobs(evidence_id: str, region: str, data: dict[str, Any]) -> Iterator[Finding]:
        for job in data["customization_jobs"]:
            error = read_error(job)
            if error is not None:
                yield unreadable(check_id, region, error, [evidence_id], f"A Bedrock customization job in {region}")
                continue
            name, uri = job.get("jobName", "?"), (job.get("trainingDataConfig") or {}).get("s3Uri", "")
            resource = job.get("jobArn") or f"{region}/{name}/-"
            found = verdict(evidence_id, resource, f"Customization job {name}", [uri], job.get("creationTime"))
            if found is not None:
                yield found

    # A training job AWS would not describe is an error: what it trained on may be customer data.
    yield from _by_training_job(check_id, sagemaker, sagemaker_job)
    yield from by_region(check_id, bedrock, bedrock_jobs)


def _consent_verdict(
    check_id: str,
    resource: str,
    what: str,
    customer: list[str],
    started: Any,
    records: StoredEvidence,
    evidence_id: str,
) -> Finding:
    control, day = records.data["control"], _date(started)
    data = ", ".join(customer)
    facts = {"customer_data": data, "started": str(started or ""), "consent_control": control}
    ids = [evidence_id, records.id]
    error = read_error(records.data)
    if error is not None:
        return unreadable(check_id, resource, error, ids, f"The consent records attached to {control}", **facts)
    covering = [
        record
        for record in records.data["attachments"]
        if day is not None and record["period_start"] <= day.isoformat() <= record["period_end"]
    ]
    if covering:
        record = covering[-1]  # the latest approved
        reason = (
            f"{what} trained on customer data ({data}) on {day} under consent record {record['file']}, "
            f"attached to {control} by {record['attached_by']} and approved by {record['approved_by']} on "
            f"{record['approved_at']}, covering {record['period_start']} to {record['period_end']}."
        )
        return finding(
            check_id,
            Status.PASS,
            resource,
            reason,
            ids,
            consent_record=record["file"],
            consent_evidence=record.get("evidence_id", ""),
            **facts,
        )
    if day is None:
        reason = (
            f"{what} trained on customer data ({data}) and records no start date, so no consent record "
            f"attached to {control} can be shown to cover it."
        )
    else:
        reason = (
            f"{what} trained on customer data ({data}) on {day} with no consent record: no attachment of "
            f"{control} approved by a reviewer covers that day."
        )
    return finding(check_id, Status.FAIL, resource, reason, ids, consent_record="", **facts)


# -- MLflow model registry ---------------------------------------------------------------------
# A version is "in production" when its stage is Production or it carries one of the production aliases; it
# must then carry the approval tag (default approved_by) naming who approved it. Training on a dataset whose
# source matches an [ai] customer_data glob needs the run's consent tag (default consent_record). The rules in
# force are stored with the evidence ([ai.mlflow]). Versions are named mlflow/<model>/<version>.

MLFLOW_PRODUCTION_STAGE = "Production"
MlflowVerdict = Callable[[str, str, dict[str, Any], dict[str, Any], list[str]], Finding | None]


def _mlflow_check(check_id: str, title: str, severity: Severity) -> Callable[[MlflowVerdict], Any]:
    """Register a check that judges each model version of the stored registry with
    verdict(check_id, resource, version, rules, aliases) -> finding or None (not of the kind judged)."""

    def register(verdict: MlflowVerdict) -> Any:
        def run(view: EvidenceView) -> list[Finding]:
            item = view.one("mlflow.model_registry")
            if item is None:
                return missing_evidence(check_id, "mlflow.model_registry")
            registry = item.data
            if registry["tracking_uri"] is None:
                return nothing_to_judge(
                    check_id,
                    "mlflow.model_registry",
                    "No MLflow tracking server is configured ([ai.mlflow] tracking_uri).",
                    [item.id],
                )
            error = read_error(registry)
            if error is not None:
                what = f"The MLflow registry at {registry['tracking_uri']}"
                return [unreadable(check_id, registry["tracking_uri"], error, [item.id], what)]
            findings = []
            for model in registry["models"]:
                resource = f"mlflow/{model['name']}"
                error = read_error(model["versions"])
                if error is not None:
                    findings.append(unreadable(check_id, resource, error, [item.id], f"The versions of {resource}"))
                    continue
                for version in model["versions"]:
                    aliases = sorted(a for a, number in model["aliases"].items() if number == str(version["version"]))
                    found = verdict(check_id, f"{resource}/{version['version']}", version, registry["rules"], aliases)
                    if found is not None:
                        findings.append(found.model_copy(update={"evidence_ids": [item.id]}))
            return findings or nothing_to_judge(
                check_id,
                "mlflow.model_registry",
                "No model version in the MLflow registry is of the kind this check judges.",
                [item.id],
            )

        return check(check_id, title=title, needs=("mlflow.model_registry",), severity=severity)(run)

    return register


@_mlflow_check(
    "ai.mlflow.production_approved",
    "Every MLflow model version in production carries an approval record",
    Severity.HIGH,
)
def mlflow_production_approved(
    check_id: str, resource: str, version: dict[str, Any], rules: dict[str, Any], aliases: list[str]
) -> Finding | None:
    production_aliases = [alias for alias in aliases if alias in rules["production_aliases"]]
    stage = version.get("current_stage") or "None"
    if stage != MLFLOW_PRODUCTION_STAGE and not production_aliases:
        return None
    why = " and ".join(
        [f"stage {stage}"] * (stage == MLFLOW_PRODUCTION_STAGE)
        + [f"alias {', '.join(production_aliases)}"] * bool(production_aliases)
    )
    tag = rules["approval_tag"]
    approver = str(version["tags"].get(tag, "")).strip()
    facts = {"stage": stage, "aliases": ", ".join(aliases), "approval_tag": tag, "approved_by": approver}
    if approver:
        reason = f"Model version {resource} is in production ({why}) and was approved by {approver} ({tag} tag)."
    else:
        reason = f"Model version {resource} is in production ({why}) with no approval record: no {tag} tag."
    return finding(check_id, passed_if(bool(approver)), resource, reason, **facts)


@_mlflow_check(
    "ai.mlflow.training_data_lineage",
    "Every MLflow model version records the run and the datasets that trained it, with consent for customer data",
    Severity.MEDIUM,
)
def mlflow_training_data_lineage(
    check_id: str, resource: str, version: dict[str, Any], rules: dict[str, Any], aliases: list[str]
) -> Finding:
    run = version.get("run")
    if run is None:
        reason = f"Model version {resource} names no run, so the data that trained it is unknown."
        return finding(check_id, Status.FAIL, resource, reason)
    error = read_error(run)
    if error is not None:
        return unreadable(check_id, resource, error, [], f"The run {version['run_id']} behind {resource}")
    sources = [_dataset_source(dataset) for dataset in run["datasets"]]
    customer = customer_data_in(sources, rules["customer_data"])
    consent = str(run["tags"].get(rules["consent_tag"], "")).strip()
    facts = {
        "run": run["run_id"],
        "datasets": ", ".join(sources),
        "customer_data": ", ".join(customer),
        "consent_record": consent,
    }
    if not sources:
        reason = f"Model version {resource} comes from run {run['run_id']}, which records no dataset input."
        return finding(check_id, Status.FAIL, resource, reason, **facts)
    trained = f"Model version {resource} was trained by run {run['run_id']} on {facts['datasets']}"
    if customer and not consent:
        reason = (
            f"{trained}: customer data ({facts['customer_data']}) with no consent record ({rules['consent_tag']} tag)."
        )
        return finding(check_id, Status.FAIL, resource, reason, **facts)
    reason = trained + (f"; customer data under consent record {consent}." if customer else ".")
    return finding(check_id, Status.PASS, resource, reason, **facts)


def _dataset_source(dataset: dict[str, Any]) -> str:
    """Where a dataset input came from: MLflow stores the source as JSON ({"uri": ...}) for most source types."""
    source = str(dataset.get("source") or "")
    try:
        parsed = json.loads(source)
    except ValueError:
        return source or str(dataset.get("name", "?"))
    if isinstance(parsed, dict):
        return str(parsed.get("uri") or parsed.get("url") or parsed.get("path") or source)
    return source


# -- model providers as vendors ----------------------------------------------------------------

SIGNATURES = {
    provider: [re.compile(pattern) for pattern in patterns] for provider, patterns in PROVIDER_SIGNATURES.items()
}


# Model ids name their provider: Bedrock's "<provider>.<model>" (after an inference profile's geography, e.g.
# "us."), Hugging Face's "<organisation>/<model>" in a SageMaker container's HF_MODEL_ID. id prefix -> provider.
BEDROCK_PROVIDERS = frozenset(
    {
        "anthropic",
        "meta",
        "amazon",
        "cohere",
        "mistral",
        "ai21",
        "stability",
        "deepseek",
        "writer",
        "openai",
        "qwen",
        "luma",
        "twelvelabs",
    }
)
INFERENCE_PROFILE_GEOGRAPHIES = ("us", "eu", "apac", "us-gov", "ca", "jp", "au", "global")
HUGGING_FACE_ORGANISATIONS = {
    "meta-llama": "meta",
    "mistralai": "mistral",
    "google": "google",
    "cohereforai": "cohere",
    "coherelabs": "cohere",
    "deepseek-ai": "deepseek",
    "qwen": "qwen",
    "openai": "openai",
    "microsoft": "microsoft",
    "tiiuae": "tii",
    "amazon": "amazon",
}
# CloudTrail events of a call to a Bedrock model (requestParameters.modelId names it).
MODEL_INVOCATION_EVENTS = frozenset({"InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream"})
BEDROCK_EVENT_SOURCE = "bedrock.amazonaws.com"


def provider_of_model(model_id: str) -> str | None:
    """The provider a Bedrock or Hugging Face model id (or a Bedrock model ARN) names; None when it names none."""
    model_id = model_id.strip()
    if "/" in model_id and not model_id.startswith("arn:"):
        return HUGGING_FACE_ORGANISATIONS.get(model_id.split("/", 1)[0].lower())
    parts = model_id.rsplit("/", 1)[-1].lower().split(".")
    if len(parts) > 2 and parts[0] in INFERENCE_PROFILE_GEOGRAPHIES:
        parts = parts[1:]
    return parts[0] if len(parts) > 1 and parts[0] in BEDROCK_PROVIDERS else None


ProviderUse = tuple[str, str]  # (model id or matched line, where it is used)


def _model_ids_in_use(view: EvidenceView) -> tuple[list[ProviderUse], list[Finding], list[str]]:
    """Model ids in the AWS evidence: Bedrock custom models' base models, SageMaker endpoints' HF_MODEL_ID, and
    the models CloudTrail recorded Bedrock calls to. Parts that could not be read are ERROR findings."""
    check_id, uses, unread, ids = "ai.vendors.registered", [], [], []
    for item in view.all("aws.bedrock.models"):
        ids.append(item.id)
        for region, data in item.data.items():
            error = read_error(data)
            models = [] if error is not None else data["custom_models"]
            if error is not None:
                unread.append(unreadable(check_id, region, error, [item.id], f"Bedrock in {region}"))
            for model in models:
                if model.get("baseModelArn"):
                    uses.append(
                        (model["baseModelArn"], f"Bedrock custom model {model.get('modelName', '?')} ({region})")
                    )
    for item in view.all("aws.sagemaker.endpoints"):
        ids.append(item.id)
        for region, endpoints in item.data.items():
            error = read_error(endpoints)
            if error is not None:
                unread.append(unreadable(check_id, region, error, [item.id], f"SageMaker endpoints in {region}"))
                continue
            for endpoint in endpoints:
                for variant in (endpoint.get("EndpointConfig") or {}).get("ProductionVariants", []):
                    model = variant.get("Model") or {}
                    containers = (
                        [model["PrimaryContainer"]] if model.get("PrimaryContainer") else model.get("Containers", [])
                    )
                    for container in containers:
                        model_id = (container.get("Environment") or {}).get("HF_MODEL_ID")
                        if model_id:
                            uses.append((model_id, f"SageMaker endpoint {endpoint['EndpointName']} ({region})"))
    for item in view.all("logs.cloudtrail_events"):
        ids.append(item.id)
        for entry in item.data.get("events", []):
            event = entry.get("event") or {}
            model_id = (event.get("requestParameters") or {}).get("modelId")
            if (
                event.get("eventSource") == BEDROCK_EVENT_SOURCE
                and event.get("eventName") in MODEL_INVOCATION_EVENTS
                and isinstance(model_id, str)
            ):
                uses.append((model_id, f"CloudTrail {event['eventName']} in {event.get('awsRegion', '?')}"))
    return uses, unread, ids


def _providers_in_use(view: EvidenceView) -> tuple[dict[str, list[str]], list[Finding], list[str]]:
    """provider -> where it is used ("repo:path:line", "Bedrock custom model ...", "CloudTrail InvokeModel ..."),
    the sources that could not be read, evidence ids."""
    used: dict[str, dict[str, None]] = {}  # provider -> its places, in order, each once
    items = view.all("git.ai_provider_usage")
    unread: list[Finding] = []
    for item in items:
        for entry in item.data.get("repos", []):
            error = read_error(entry)
            if error is not None:
                unread.append(unreadable("ai.vendors.registered", entry["repo"], error, [item.id]))
                continue
            for line in entry["lines"]:
                for provider, patterns in SIGNATURES.items():
                    if any(pattern.search(line["text"]) for pattern in patterns):
                        used.setdefault(provider, {})[f"{entry['repo']}:{line['path']}:{line['line']}"] = None
    model_uses, model_unread, model_ids = _model_ids_in_use(view)
    for model_id, where in model_uses:
        provider = provider_of_model(model_id)
        if provider is not None:
            used.setdefault(provider, {})[f"{where}: {model_id}"] = None
    places = {provider: list(found) for provider, found in used.items()}
    return places, unread + model_unread, [item.id for item in items] + model_ids


def _register(view: EvidenceView, check_id: str) -> tuple[list[dict[str, Any]] | list[Finding], list[str]]:
    """The register's entries, or the findings saying why it cannot be judged."""
    item = view.one("ai.vendor_register")
    if item is None:
        return missing_evidence(check_id, "ai.vendor_register"), []
    error = read_error(item.data)
    if error is not None:
        path = item.data["path"]
        return [unreadable(check_id, path, error, [item.id], f"The vendor register {path}")], []
    vendors = item.data.get("vendors")
    if not isinstance(vendors, list) or not all(isinstance(v, dict) and v.get("provider") for v in vendors):
        reason = f"The vendor register {item.data['path']} is not a list of entries each naming a provider."
        return [finding(check_id, Status.ERROR, item.data["path"], reason, [item.id])], []
    return [{**vendor, "provider": str(vendor["provider"]).lower()} for vendor in vendors], [item.id]


def _register_failed(entries: list[Any]) -> bool:
    return bool(entries) and isinstance(entries[0], Finding)


@check(
    "ai.vendors.registered",
    title="Every model provider in use (code, Bedrock and SageMaker model ids, CloudTrail model calls) is in the "
    "vendor register",
    needs=(
        "git.ai_provider_usage",
        "ai.vendor_register",
        "aws.bedrock.models",
        "aws.sagemaker.endpoints",
        "logs.cloudtrail_events",
    ),
    severity=Severity.HIGH,
)
def vendors_registered(view: EvidenceView) -> list[Finding]:
    check_id = "ai.vendors.registered"
    usage = view.all("git.ai_provider_usage")
    if not usage:
        return missing_evidence(check_id, "git.ai_provider_usage")
    entries, register_ids = _register(view, check_id)
    if _register_failed(entries):
        return entries  # type: ignore[return-value]
    registered = {vendor["provider"] for vendor in entries}
    used, findings, usage_ids = _providers_in_use(view)
    for provider, places in sorted(used.items()):
        facts = {"provider": provider, "used_at": ", ".join(places[:5]), "uses": len(places)}
        if provider in registered:
            reason = f"Model provider {provider}, used at {facts['used_at']}, is in the vendor register."
        else:
            reason = f"Model provider {provider} is used at {facts['used_at']} but is not in the vendor register."
        findings.append(
            finding(
                check_id,
                passed_if(provider in registered),
                PROVIDER + provider,
                reason,
                [*usage_ids, *register_ids],
                **facts,
            )
        )
    return findings or nothing_to_judge(
        check_id,
        "git.ai_provider_usage",
        "No model provider appears in the repositories, model ids or model calls read.",
        usage_ids,
    )


def _vendor_check(check_id: str, title: str, severity: Severity) -> Any:
    """Register a check that judges each vendor register entry with judge(entry) -> finding or None."""

    def register(judge: Any) -> Any:
        def run(view: EvidenceView) -> list[Finding]:
            entries, ids = _register(view, check_id)
            if _register_failed(entries):
                return entries  # type: ignore[return-value]
            findings = [found for vendor in entries if (found := judge(check_id, vendor, ids)) is not None]
            return findings or nothing_to_judge(
                check_id, "ai.vendor_register", "No entry of the vendor register is of the kind this check judges.", ids
            )

        return check(check_id, title=title, needs=("ai.vendor_register",), severity=severity)(run)

    return register


@_vendor_check(
    "ai.vendors.assurance_current", "Each model provider's SOC 2 report is less than 12 months old", Severity.MEDIUM
)
def assurance_current(check_id: str, vendor: dict[str, Any], ids: list[str]) -> Finding:
    provider, value = vendor["provider"], vendor.get("soc2_report_date")
    report = _date(value)
    facts = {"provider": provider, "soc2_report_date": str(value or ""), "dpa": bool(vendor.get("dpa"))}
    if report is None:
        reason = f"The vendor register gives no SOC 2 report date for {provider} (soc2_report_date: {value!r})."
        return finding(check_id, Status.FAIL, PROVIDER + provider, reason, ids, **facts)
    age = (datetime.now(UTC).date() - report).days
    if age > MAX_ASSURANCE_REPORT_AGE_DAYS:
        reason = f"The SOC 2 report of {provider} is dated {report}, {age} days ago: older than 12 months."
    else:
        reason = f"The SOC 2 report of {provider} is dated {report}, {age} days ago."
    return finding(
        check_id,
        passed_if(age <= MAX_ASSURANCE_REPORT_AGE_DAYS),
        PROVIDER + provider,
        reason,
        ids,
        report_age_days=age,
        **facts,
    )


def _date(value: Any) -> date | None:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


@_vendor_check("ai.vendors.critical_fallback", "Each critical model provider has a fallback provider", Severity.MEDIUM)
def critical_fallback(check_id: str, vendor: dict[str, Any], ids: list[str]) -> Finding | None:
    if vendor.get("critical") is not True:
        return None
    provider, fallback = vendor["provider"], str(vendor.get("fallback") or "").strip()
    if fallback:
        reason = f"Critical model provider {provider} has a fallback: {fallback}."
    else:
        reason = f"Critical model provider {provider} has no fallback: an outage or quota stop halts the service."
    return finding(
        check_id, passed_if(bool(fallback)), PROVIDER + provider, reason, ids, provider=provider, fallback=fallback
    )


# -- tiered change management ------------------------------------------------------------------


def tier_of(path: str, patterns: Iterable[str]) -> bool:
    """Whether a path is in a tier: a glob with "/" matches the whole path, one without matches the file name."""
    name = path.rsplit("/", 1)[-1]
    return any(fnmatchcase(path if "/" in pattern else name, pattern) for pattern in patterns)


@repo_check(
    "ai.changes.tier_rules",
    "Every merged change to AI assets (weights, prompts, knowledge base, routing) met its tier's rule",
    "github.pull_changes",
    severity=Severity.HIGH,
)
def tier_rules(check_id: str, entry: dict[str, Any], evidence_id: str) -> list[Finding]:
    repo, tiers = entry["repo"], entry["tiers"]
    findings = []
    for pull in entry["pulls"]:
        resource = f"{repo}#{pull['number']}"
        for part in ("files", "check_runs"):
            error = read_error(pull[part])
            if error is not None:
                findings.append(unreadable(check_id, resource, error, [evidence_id], f"The {part} of {resource}"))
                break
        else:
            touched = {
                name: [path for path in pull["files"] if tier_of(path, tier["paths"])] for name, tier in tiers.items()
            }
            touched = {name: paths for name, paths in touched.items() if paths}
            if touched:
                findings.append(_judge_tiered_change(check_id, resource, pull, tiers, touched, evidence_id))
    if not findings:
        reason = f"No pull request merged into {repo} since {entry['since'][:10]} changed a file of an AI change tier."
        return [finding(check_id, Status.NOT_APPLICABLE, repo, reason, [evidence_id])]
    return findings


def _judge_tiered_change(
    check_id: str,
    resource: str,
    pull: dict[str, Any],
    tiers: dict[str, Any],
    touched: dict[str, list[str]],
    evidence_id: str,
) -> Finding:
    approvers = approvers_before_merge(pull)
    succeeded = {run["name"] for run in pull["check_runs"] if run.get("conclusion") == "success"}
    required_approvals = max(tiers[name]["approvals"] for name in touched)
    required_checks = sorted({name for tier in touched for name in tiers[tier]["status_checks"]})
    missing_checks = [name for name in required_checks if name not in succeeded]
    shortfalls = []
    if len(approvers) < required_approvals:
        shortfalls.append(f"{len(approvers)} of {required_approvals} required approval(s) before the merge")
    if missing_checks:
        shortfalls.append(f"no successful {', '.join(missing_checks)} check run")
    tier_names = ", ".join(sorted(touched))
    files = sorted({path for paths in touched.values() for path in paths})
    facts = {
        "tiers": tier_names,
        "files": ", ".join(files[:10]),
        "approvers_before_merge": len(approvers),
        "required_approvals": required_approvals,
        "required_checks": ", ".join(required_checks),
        "merged_at": pull["merged_at"],
        "author": pull["author"],
    }
    if shortfalls:
        reason = f"PR {resource} changed {tier_names} files ({facts['files']}) with {'; '.join(shortfalls)}."
    else:
        checks = f" and a successful {', '.join(required_checks)} check run" if required_checks else ""
        reason = (
            f"PR {resource} changed {tier_names} files ({facts['files']}) with {len(approvers)} approval(s) "
            f"before the merge{checks}."
        )
    return finding(check_id, passed_if(not shortfalls), resource, reason, [evidence_id], **facts)


@check(
    "ai.changes.direct_pushes",
    title="Every change to AI assets on the default branch arrived through a merged pull request",
    needs=("git.branch_changes", "github.pull_changes"),
    severity=Severity.HIGH,
)
def direct_pushes(view: EvidenceView) -> list[Finding]:
    """A commit on the checked-out branch that touches a tier's files and is no merged pull request's merge commit
    was pushed directly. A rebase merge lands several commits of which GitHub names only the last: the others
    are reported as direct pushes, to be explained by the reviewer."""
    check_id = "ai.changes.direct_pushes"
    history, merged_items = view.one("git.branch_changes"), view.all("github.pull_changes")
    if history is None or not merged_items:
        return missing_evidence(check_id, "git.branch_changes" if history is None else "github.pull_changes")
    merged_ids = [item.id for item in merged_items]
    merge_commits: dict[str, str] = {}  # merge commit sha -> owner/repo#N
    since = datetime.fromisoformat(history.data["repos"][0]["since"]) if history.data["repos"] else None
    for entry in (entry for item in merged_items for entry in item.data["repos"]):
        error = read_error(entry) or ("more merged pull requests than were read" if entry.get("truncated") else None)
        if error is not None:  # an unread pull request would make its merge look like a direct push
            what = f"The merged pull requests of {entry['repo']}"
            return [unreadable(check_id, entry["repo"], error, [history.id, *merged_ids], what)]
        since = max(since, datetime.fromisoformat(entry["since"])) if since else since
        merge_commits.update(
            {
                pull["merge_commit_sha"]: f"{entry['repo']}#{pull['number']}"
                for pull in entry["pulls"]
                if pull.get("merge_commit_sha")
            }
        )
    findings: list[Finding] = []
    for entry in history.data["repos"]:
        findings += _direct_pushes_in(
            check_id, entry, history.data["tiers"], merge_commits, since, [history.id, *merged_ids]
        )
    return findings or nothing_to_judge(check_id, "git.branch_changes", "No local repository was read.", [history.id])


def _direct_pushes_in(
    check_id: str,
    entry: dict[str, Any],
    tiers: dict[str, Any],
    merge_commits: dict[str, str],
    since: datetime | None,
    evidence_ids: list[str],
) -> list[Finding]:
    repo = entry["repo"]
    error = read_error(entry)
    if error is not None:
        return [unreadable(check_id, repo, error, evidence_ids)]
    branch, findings, through_pulls = entry.get("branch") or "HEAD", [], []
    for commit in entry["commits"]:
        if since is not None and datetime.fromisoformat(commit["date"]) < since:
            continue  # before the merged pull requests read: not judged
        touched = sorted(
            {name for name, tier in tiers.items() for path in commit["files"] if tier_of(path, tier["paths"])}
        )
        if not touched:
            continue
        if commit["sha"] in merge_commits:
            through_pulls.append(merge_commits[commit["sha"]])
            continue
        files = [path for path in commit["files"] if any(tier_of(path, tiers[name]["paths"]) for name in touched)]
        reason = (
            f"Commit {commit['sha'][:12]} by {commit['author']} on {commit['date'][:10]} "
            f'("{commit["subject"]}") changed {", ".join(touched)} files ({", ".join(files[:10])}) on {branch} '
            f"without a merged pull request."
        )
        findings.append(
            finding(
                check_id,
                Status.FAIL,
                f"{repo}@{commit['sha'][:12]}",
                reason,
                evidence_ids,
                commit=commit["sha"],
                tiers=", ".join(touched),
                files=", ".join(files[:10]),
                author=commit["author"],
                date=commit["date"],
            )
        )
    window = f"since {since.date()}" if since else "in the history read"
    if entry.get("truncated"):
        reason = f"The history of {branch} in {repo} {window} was cut at {len(entry['commits'])} commits."
        findings.append(finding(check_id, Status.ERROR, repo, reason, evidence_ids))
    elif not findings and through_pulls:
        reason = (
            f"Every change to AI-tier files on {branch} in {repo} {window} arrived through a merged pull "
            f"request ({', '.join(through_pulls[:10])})."
        )
        findings.append(finding(check_id, Status.PASS, repo, reason, evidence_ids, pulls=len(through_pulls)))
    elif not findings:
        reason = f"No commit on {branch} in {repo} {window} changed a file of an AI change tier."
        findings.append(finding(check_id, Status.NOT_APPLICABLE, repo, reason, evidence_ids))
    return findings
