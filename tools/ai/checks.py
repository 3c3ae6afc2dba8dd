"""AI governance checks: judge stored evidence of model registries, Bedrock, model providers and changes to AI assets.

Missing and unreadable evidence, and resource names, follow tools/checks_common.py. Model providers are named
``model-provider/<name>`` (the vendor register's name for them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from fnmatch import fnmatchcase
from typing import Any

from tools.ai.collectors import PROVIDER_SIGNATURES
from tools.aws.checks import aws_check, by_region
from tools.catalog import EvidenceView, StoredEvidence, check
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
                problems.append(f"model {variant['ModelName']} is package {served[-1][1]}, whose approval status is "
                                f"{status}")  # fmt: skip
    facts = {"endpoint": name, "packages": ", ".join(arn for _, arn in served)}
    if not served and not problems:
        return finding(check_id, Status.ERROR, resource, f"Endpoint {name} lists no model it serves.",
                       [evidence_id], **facts)  # fmt: skip
    if problems:
        return finding(check_id, Status.FAIL, resource, f"Endpoint {name} serves a model that is not approved: "
                       f"{'; '.join(problems)}.", [evidence_id], **facts)  # fmt: skip
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
    check_id: str, items: list[StoredEvidence], verdict: Callable[[str, str, str, dict[str, Any]], Finding]
) -> Iterator[Finding]:
    """`verdict(evidence_id, name, resource, job)` of each readable training job; an unreadable one is said so."""

    def judge(evidence_id: str, region: str, jobs: list[dict[str, Any]]) -> Iterator[Finding]:
        for job in jobs:
            name = job["TrainingJobName"]
            resource = job.get("TrainingJobArn") or f"{region}/{name}/-"
            error = read_error(job)
            if error is not None:
                yield unreadable(check_id, resource, error, [evidence_id], f"Training job {name}", job=name)
            else:
                yield verdict(evidence_id, name, resource, job)

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
        algorithms = sorted({rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
                             for rule in (bucket_rules.get("Rules") or [])
                             if rule.get("ApplyServerSideEncryptionByDefault")})  # fmt: skip
        if algorithms:
            reason = (f"Training job {name} sets no KMS key, but its output bucket encrypts new objects by "
                      f"default ({', '.join(algorithms)}).")  # fmt: skip
        else:
            reason = f"Training job {name} sets no KMS key and its output bucket has no default encryption."
        return finding(check_id, passed_if(bool(algorithms)), resource, reason, [evidence_id],
                       bucket_encryption=", ".join(algorithms), **facts)  # fmt: skip

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
        destinations = [name for name, key in (("S3", "s3Config"), ("CloudWatch Logs", "cloudWatchConfig"))
                        if config.get(key)]  # fmt: skip
        text = bool(config.get("textDataDeliveryEnabled"))
        facts = {"destinations": ", ".join(destinations), "text_data": text}
        if destinations and text:
            reason = (f"Bedrock logs model invocations in {region}, prompts and answers included, to "
                      f"{facts['destinations']}.")  # fmt: skip
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
            facts = {"model": name, "base_model": model.get("baseModelArn", ""), "training_data": training,
                     "job": model.get("jobArn", "")}  # fmt: skip
            missing = [what for what, value in (("training data", training), ("base model", facts["base_model"]),
                                                ("customization job", facts["job"])) if not value]  # fmt: skip
            if missing:
                reason = f"Custom model {name} does not record its {', '.join(missing)}."
            else:
                reason = f"Custom model {name} was trained from {facts['base_model']} on {training} by {facts['job']}."
            resource = model.get("modelArn") or f"{region}/{name}/-"
            yield finding(check_id, passed_if(not missing), resource, reason, [evidence_id], **facts)

    return by_region(check_id, items, judge)


# -- model providers as vendors ----------------------------------------------------------------

SIGNATURES = {provider: [re.compile(pattern) for pattern in patterns]
              for provider, patterns in PROVIDER_SIGNATURES.items()}  # fmt: skip


def _providers_in_use(items: list[StoredEvidence]) -> tuple[dict[str, list[str]], list[Finding], list[str]]:
    """provider -> where it is used ("repo:path:line"), the repositories that could not be read, evidence ids."""
    used: dict[str, list[str]] = {}
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
                        used.setdefault(provider, []).append(f"{entry['repo']}:{line['path']}:{line['line']}")
    return used, unread, [item.id for item in items]


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
    title="Every model provider the code uses is in the vendor register",
    needs=("git.ai_provider_usage", "ai.vendor_register"),
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
    used, findings, usage_ids = _providers_in_use(usage)
    for provider, places in sorted(used.items()):
        facts = {"provider": provider, "used_at": ", ".join(places[:5]), "uses": len(places)}
        if provider in registered:
            reason = f"Model provider {provider}, used at {facts['used_at']}, is in the vendor register."
        else:
            reason = f"Model provider {provider} is used at {facts['used_at']} but is not in the vendor register."
        findings.append(finding(check_id, passed_if(provider in registered), PROVIDER + provider, reason,
                                [*usage_ids, *register_ids], **facts))  # fmt: skip
    return findings or nothing_to_judge(check_id, "git.ai_provider_usage",
                                        "No model provider SDK or API host appears in the repositories read.",
                                        usage_ids)  # fmt: skip


def _vendor_check(check_id: str, title: str, severity: Severity) -> Any:
    """Register a check that judges each vendor register entry with judge(entry) -> finding or None."""

    def register(judge: Any) -> Any:
        def run(view: EvidenceView) -> list[Finding]:
            entries, ids = _register(view, check_id)
            if _register_failed(entries):
                return entries  # type: ignore[return-value]
            findings = [found for vendor in entries if (found := judge(check_id, vendor, ids)) is not None]
            return findings or nothing_to_judge(check_id, "ai.vendor_register", "No entry of the vendor register "
                                                "is of the kind this check judges.", ids)  # fmt: skip

        return check(check_id, title=title, needs=("ai.vendor_register",), severity=severity)(run)

    return register


@_vendor_check("ai.vendors.assurance_current", "Each model provider's SOC 2 report is less than 12 months old",
               Severity.MEDIUM)  # fmt: skip
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
    return finding(check_id, passed_if(age <= MAX_ASSURANCE_REPORT_AGE_DAYS), PROVIDER + provider, reason, ids,
                   report_age_days=age, **facts)  # fmt: skip


def _date(value: Any) -> date | None:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


@_vendor_check("ai.vendors.critical_fallback", "Each critical model provider has a fallback provider",
               Severity.MEDIUM)  # fmt: skip
def critical_fallback(check_id: str, vendor: dict[str, Any], ids: list[str]) -> Finding | None:
    if vendor.get("critical") is not True:
        return None
    provider, fallback = vendor["provider"], str(vendor.get("fallback") or "").strip()
    if fallback:
        reason = f"Critical model provider {provider} has a fallback: {fallback}."
    else:
        reason = f"Critical model provider {provider} has no fallback: an outage or quota stop halts the service."
    return finding(check_id, passed_if(bool(fallback)), PROVIDER + provider, reason, ids, provider=provider,
                   fallback=fallback)  # fmt: skip


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
            touched = {name: [path for path in pull["files"] if tier_of(path, tier["paths"])]
                       for name, tier in tiers.items()}  # fmt: skip
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
    facts = {"tiers": tier_names, "files": ", ".join(files[:10]), "approvers_before_merge": len(approvers),
             "required_approvals": required_approvals, "required_checks": ", ".join(required_checks),
             "merged_at": pull["merged_at"], "author": pull["author"]}  # fmt: skip
    if shortfalls:
        reason = f"PR {resource} changed {tier_names} files ({facts['files']}) with {'; '.join(shortfalls)}."
    else:
        checks = f" and a successful {', '.join(required_checks)} check run" if required_checks else ""
        reason = (f"PR {resource} changed {tier_names} files ({facts['files']}) with {len(approvers)} approval(s) "
                  f"before the merge{checks}.")  # fmt: skip
    return finding(check_id, passed_if(not shortfalls), resource, reason, [evidence_id], **facts)
