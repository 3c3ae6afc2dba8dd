"""Consent to train on customer data: SageMaker training jobs and Bedrock customization jobs on a real moto server,
judged against the consent records reviewers attached to AI-06 and approved in a real review log."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import boto3
import pytest

from agent.api import approved_records
from agent.review_log import ReviewLog
from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence, load_all
from tools.config import AiConfig, AuditorConfig, AwsConfig
from tools.context import CollectContext
from tools.demo.aws import create_training_job
from tools.findings import Finding, Status
from tools.workspace import Workspace

load_all()
CHECK = "ai.training.customer_data_consent"
REGION = "sa-east-1"  # the session's moto server is shared: a region no other test seeds
ACCOUNT = "123456789012"
CUSTOMER_DATA = ["s3://acme-customer-*"]


@pytest.fixture(scope="module")
def training(moto_server: str) -> str:
    """The moto server, with two SageMaker jobs (one on customer tickets) and a Bedrock customization job on
    customer chats in REGION."""
    client = partial(
        boto3.client,
        region_name=REGION,
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    sagemaker, role = client("sagemaker"), f"arn:aws:iam::{ACCOUNT}:role/training"
    for job, data in [("tickets-ft", "s3://acme-customer-tickets/2026/"), ("faq-ft", "s3://acme-curated/faq/")]:
        create_training_job(sagemaker, job, role=role, image="image:latest", data=data, output="s3://models/")
    client("bedrock").create_model_customization_job(
        jobName="chat-tone",
        customModelName="chat-tone",
        roleArn=role,
        baseModelIdentifier="amazon.titan-text-lite-v1",
        trainingDataConfig={"s3Uri": "s3://acme-customer-chats/train.jsonl"},
        outputDataConfig={"s3Uri": "s3://models/"},
        hyperParameters={"epochCount": "1"},
    )
    return moto_server


def judged(endpoint_url: str, workspace: Workspace | None, customer_data: list[str] = CUSTOMER_DATA) -> list[Finding]:
    config = AuditorConfig(
        aws=AwsConfig(regions=[REGION], endpoint_url=endpoint_url), ai=AiConfig(customer_data=customer_data)
    )
    reader = partial(approved_records, workspace) if workspace is not None else None
    ctx = CollectContext(config, approved_attachments=reader)
    items = [
        StoredEvidence(name, name, {}, TOOLS[name].func(ctx, TOOLS[name].args_model())) for name in CHECKS[CHECK].needs
    ]
    return CHECKS[CHECK].func(EvidenceView(items))


def by_name(findings: list[Finding]) -> dict[str, Status]:
    return {found.resource.rsplit("/", 1)[-1]: found.status for found in findings}


def decide(workspace: Workspace, action: str, reviewer: str, detail: dict[str, str] | None = None) -> None:
    with ReviewLog(workspace.review_db) as log:
        log.append(
            reviewer=reviewer,
            action=action,
            control_id="AI-06",
            run_id="-",
            before_hash="",
            after_hash="",
            evidence_hash="",
            detail=detail,
        )


def consent_file(period_start: str, period_end: str) -> dict[str, str]:
    return {
        "evidence_id": "c0ffee000001",
        "path": "/records/consent-register.csv",
        "period_start": period_start,
        "period_end": period_end,
    }


def test_training_on_customer_data_needs_an_approved_consent_record_covering_its_day(
    tmp_path: Path, training: str
) -> None:
    workspace = Workspace.at(tmp_path / "ws")
    year = datetime.now(UTC).year
    customer_jobs = {"tickets-ft": Status.FAIL, "chat-tone": Status.FAIL}  # faq-ft is not customer data: not judged

    findings = judged(training, workspace)
    assert by_name(findings) == customer_jobs
    tickets = next(found for found in findings if found.resource.endswith("/tickets-ft"))
    assert tickets.resource == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/tickets-ft"
    assert "s3://acme-customer-tickets/2026/" in tickets.reason and "no consent record" in tickets.reason

    decide(workspace, "attach", "dana", consent_file(f"{year}-01-01", f"{year}-12-31"))
    assert by_name(judged(training, workspace)) == customer_jobs, "attached but not yet approved"

    decide(workspace, "approve", "priya")
    findings = judged(training, workspace)
    assert by_name(findings) == {"tickets-ft": Status.PASS, "chat-tone": Status.PASS}
    assert all("consent-register.csv" in found.reason and "approved by priya" in found.reason for found in findings)
    assert all(found.facts["consent_evidence"] == "c0ffee000001" for found in findings)  # the file in the locker

    decide(workspace, "reject", "priya")  # a rejection withdraws the approval
    assert by_name(judged(training, workspace)) == customer_jobs


def test_a_consent_record_for_another_period_does_not_cover_the_job(tmp_path: Path, training: str) -> None:
    workspace = Workspace.at(tmp_path / "ws")
    decide(workspace, "attach", "dana", consent_file("2020-01-01", "2020-03-31"))
    decide(workspace, "approve", "priya")
    assert set(by_name(judged(training, workspace)).values()) == {Status.FAIL}


def test_no_review_log_is_an_error_and_no_customer_data_setting_is_not_applicable(training: str) -> None:
    findings = judged(training, None)
    assert by_name(findings) == {"tickets-ft": Status.ERROR, "chat-tone": Status.ERROR}
    assert "no review log was read" in findings[0].reason
    [found] = judged(training, None, customer_data=[])
    assert found.status == Status.NOT_APPLICABLE and "[ai] customer_data" in found.reason


def test_a_training_job_aws_refused_to_describe_is_an_error_it_may_have_used_customer_data() -> None:
    refused = {"us-east-1": [{"TrainingJobName": "secret-job", "error": "AccessDeniedException"}]}
    consent = {"control": "AI-06", "customer_data": CUSTOMER_DATA, "attachments": []}
    view = EvidenceView(
        [
            StoredEvidence("e1", "aws.sagemaker.training_jobs", {}, refused),
            StoredEvidence("e2", "aws.bedrock.models", {}, {}),
            StoredEvidence("e3", "ai.consent_records", {}, consent),
        ]
    )
    [found] = CHECKS[CHECK].func(view)
    assert (found.status, found.resource) == (Status.ERROR, "us-east-1/secret-job/-")


@pytest.mark.slow
def test_a_run_reads_the_consent_record_approved_in_the_workspace_review_log(
    tmp_path: Path, workspace_with_knowledge, demo_config
) -> None:
    from agent.api import run_proof

    workspace = workspace_with_knowledge(tmp_path / "ws")
    year = datetime.now(UTC).year
    decide(workspace, "attach", "dana", consent_file(f"{year - 1}-01-01", f"{year + 1}-12-31"))
    decide(workspace, "approve", "priya")
    [control] = run_proof(demo_config(workspace), workspace, control_ids=["AI-06"], model=None).report.controls
    [experiment] = [found for found in control.findings if found.check == CHECK]
    assert experiment.resource.endswith("training-job/summarizer-experiment")  # on customer tickets in the demo
    assert experiment.status == Status.PASS and "consent-register.csv" in experiment.reason
