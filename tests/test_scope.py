"""Audit scope against a real moto server: tags, exclude globs and a control's applies_to set resources aside.

A small account is seeded through plain boto3 (writing only to our own moto server): a model bucket, a public
website bucket and a sandbox bucket tagged soc2:scope=out, a sandbox user and a KMS key tagged out as well,
and an RDS instance tagged out (RDS lists tags in TagList). Proof runs over a few controls show where each
finding lands: judged, or out of scope with its reason and in the report's appendix, never failed.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from agent.api import RunError, run_proof
from agent.report import render_markdown
from agent.report_schema import ControlResult, ReadinessReport
from knowledge.control_library import load_controls
from tools.catalog import CHECKS, TOOLS, load_all
from tools.checks_common import ACCOUNT
from tools.config import AuditorConfig, AwsConfig, ScopeConfig, load_config
from tools.context import CollectContext
from tools.demo.aws import DEMO_REGIONS, seed_acme_ai
from tools.demo.server import MotoAdmin
from tools.findings import Finding, Status
from tools.locker import EvidenceLocker
from tools.runner import EvidenceRunner
from tools.scope import AppliesTo, Scope, tag_index

ACCOUNT_ID = "123456789012"
MODELS = "arn:aws:s3:::acme-models"
WEBSITE = "arn:aws:s3:::public-website"
SANDBOX = "arn:aws:s3:::sandbox-scratch"
SANDBOX_USER = f"arn:aws:iam::{ACCOUNT_ID}:user/sandbox-bot"
DEV_USER = f"arn:aws:iam::{ACCOUNT_ID}:user/dana"
SANDBOX_DB = f"arn:aws:rds:us-east-1:{ACCOUNT_ID}:db:sandbox-db"
CONTROLS = ["AI-10", "ENC-01", "ENC-03", "ENC-04", "IAM-01"]
OUT = [{"Key": "soc2:scope", "Value": "out"}]


def _client(endpoint: str, service: str):
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _seed(endpoint: str) -> None:
    s3 = _client(endpoint, "s3")
    for bucket in ("acme-models", "public-website", "sandbox-scratch"):
        s3.create_bucket(Bucket=bucket)
    # The model bucket is encrypted and private; the other two are neither.
    aes = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    s3.put_bucket_encryption(Bucket="acme-models", ServerSideEncryptionConfiguration=aes)
    blocks = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    s3.put_public_access_block(Bucket="acme-models", PublicAccessBlockConfiguration=dict.fromkeys(blocks, True))
    s3.put_bucket_tagging(Bucket="acme-models", Tagging={"TagSet": [{"Key": "data-class", "Value": "model-artifacts"}]})
    s3.put_bucket_tagging(Bucket="sandbox-scratch", Tagging={"TagSet": [*OUT, {"Key": "team", "Value": "ml"}]})

    iam = _client(endpoint, "iam")
    for name, tags in (("dana", [{"Key": "team", "Value": "platform"}]), ("sandbox-bot", OUT)):
        iam.create_user(UserName=name, Tags=tags)
        iam.create_login_profile(UserName=name, Password="Demo-Passw0rd-not-real!")  # neither has MFA

    kms = _client(endpoint, "kms")
    kms.create_key(Description="sandbox key, never rotated", Tags=[{"TagKey": "soc2:scope", "TagValue": "out"}])

    _client(endpoint, "rds").create_db_instance(
        DBInstanceIdentifier="sandbox-db",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="demo-password-not-real",
        StorageEncrypted=False,
        Tags=OUT,
    )


@pytest.fixture(scope="module")
def account(moto_server: str) -> str:
    MotoAdmin(moto_server).reset()
    _seed(moto_server)
    return moto_server


def _run(endpoint: str, path: Path, workspace_with_knowledge, scope: ScopeConfig | None = None) -> ReadinessReport:
    config = AuditorConfig(
        company="Scope Co", aws=AwsConfig(regions=["us-east-1"], endpoint_url=endpoint), scope=scope or ScopeConfig()
    )
    workspace = workspace_with_knowledge(path)
    return run_proof(config, workspace, control_ids=CONTROLS, model=None).report


def _control(report: ReadinessReport, control_id: str) -> ControlResult:
    return next(control for control in report.controls if control.id == control_id)


def _on(report: ReadinessReport, control_id: str, resource: str) -> list[Finding]:
    return [finding for finding in _control(report, control_id).findings if finding.resource == resource]


@pytest.fixture(scope="module")
def default_run(account: str, tmp_path_factory, workspace_with_knowledge) -> ReadinessReport:
    return _run(account, tmp_path_factory.mktemp("scope-default") / "ws", workspace_with_knowledge)


@pytest.mark.slow
def test_resources_tagged_out_are_listed_in_the_appendix_and_never_failed(default_run: ReadinessReport) -> None:
    report = default_run
    tagged_out = {
        SANDBOX: ("ENC-01", "aws.s3.bucket_encryption"),
        SANDBOX_USER: ("IAM-01", "aws.iam.console_user_mfa"),
        SANDBOX_DB: ("ENC-03", "aws.rds.storage_encrypted"),
    }
    for resource, (control_id, check_id) in tagged_out.items():
        [finding] = _on(report, control_id, resource)
        assert (finding.status, finding.reason) == (Status.OUT_OF_SCOPE, "tagged soc2:scope=out")
        assert finding.check == check_id
        assert finding.evidence_ids  # it still cites the evidence that lists it, tags included
    [key] = [f for f in _control(report, "ENC-04").findings if f.facts.get("alias") is None]
    assert (key.status, key.reason) == (Status.OUT_OF_SCOPE, "tagged soc2:scope=out")  # KMS tags: TagKey/TagValue

    listed = {(item.resource, item.reason): item for item in report.out_of_scope}
    sandbox = listed[(SANDBOX, "tagged soc2:scope=out")]
    assert sandbox.controls == ["AI-10", "ENC-01"]  # AI-10 too: the tag rule comes before applies_to
    assert {"aws.s3.bucket_encryption", "aws.s3.bucket_public_access_block"} <= set(sandbox.checks)
    assert {resource for resource, _ in listed} == {SANDBOX, SANDBOX_USER, SANDBOX_DB, WEBSITE, key.resource}

    failing = {item.resource for item in report.fix_list}
    assert not failing & {SANDBOX, SANDBOX_USER, SANDBOX_DB, key.resource}
    assert {WEBSITE, DEV_USER} <= failing  # the untagged ones are still failed

    markdown = render_markdown(report)
    appendix = markdown[markdown.index("## Appendix: out of scope") :]
    assert f"- `{SANDBOX}`: tagged soc2:scope=out (AI-10, ENC-01; aws.s3.bucket_encryption, " in appendix
    assert "## Criteria" not in appendix  # the appendix comes last


@pytest.mark.slow
def test_out_of_scope_findings_never_make_a_control_pass(default_run: ReadinessReport) -> None:
    # ENC-03's only database is tagged out: nothing was judged, so not applicable, not pass.
    enc03 = _control(default_run, "ENC-03")
    assert enc03.status == "not_applicable"
    assert {f.status for f in enc03.findings} == {Status.OUT_OF_SCOPE}
    # ENC-01: the website bucket still fails there, the sandbox bucket is set aside.
    assert _control(default_run, "ENC-01").status == "fail"


@pytest.mark.slow
def test_ai10_judges_model_artifact_buckets_only(default_run: ReadinessReport) -> None:
    ai10 = _control(default_run, "AI-10")
    assert {f.status for f in _on(default_run, "AI-10", MODELS)} == {Status.PASS}
    website = _on(default_run, "AI-10", WEBSITE)
    assert {f.status for f in website} == {Status.OUT_OF_SCOPE}
    assert {f.reason for f in website} == {
        "AI-10 applies to resources tagged data-class=model-artifacts or named *model*"
    }
    assert ai10.status == "pass"
    # The narrative says that some were set aside, and still verifies.
    assert "lay outside the audit scope" in ai10.narrative.text
    assert ai10.narrative.status == "verified"
    # Other controls judge the website bucket as before: applies_to is AI-10's alone.
    assert {f.status for f in _on(default_run, "ENC-01", WEBSITE)} == {Status.FAIL}


@pytest.mark.slow
def test_exclude_globs_match_arns_and_names(account: str, tmp_path: Path, workspace_with_knowledge) -> None:
    scope = ScopeConfig(exclude=["arn:aws:s3:::public-*", "dana"])
    report = _run(account, tmp_path / "ws", workspace_with_knowledge, scope)
    [website] = _on(report, "ENC-01", WEBSITE)
    assert (website.status, website.reason) == (Status.OUT_OF_SCOPE, "matches scope.exclude 'arn:aws:s3:::public-*'")
    [dana] = _on(report, "IAM-01", DEV_USER)
    assert (dana.status, dana.reason) == (Status.OUT_OF_SCOPE, "matches scope.exclude 'dana'")
    assert _control(report, "ENC-01").status == "pass"  # only the model bucket is left, and it passes
    assert {f.status for f in _control(report, "IAM-01").findings} == {Status.OUT_OF_SCOPE}


@pytest.mark.slow
def test_config_overrides_the_tag_and_applies_to(account: str, tmp_path: Path, workspace_with_knowledge) -> None:
    scope = ScopeConfig(tag_key="team", out_values=["platform"], applies_to={"AI-10": AppliesTo(names=["public-*"])})
    report = _run(account, tmp_path / "ws", workspace_with_knowledge, scope)
    # soc2:scope=out means nothing now; team=platform is the way out.
    assert {f.status for f in _on(report, "ENC-01", SANDBOX)} == {Status.FAIL}
    [dana] = _on(report, "IAM-01", DEV_USER)
    assert (dana.status, dana.reason) == (Status.OUT_OF_SCOPE, "tagged team=platform")
    # AI-10 now judges the website bucket and sets the model bucket aside.
    judged = {f.status for f in _on(report, "AI-10", WEBSITE)}
    assert Status.FAIL in judged and Status.OUT_OF_SCOPE not in judged
    assert {f.reason for f in _on(report, "AI-10", MODELS)} == {"AI-10 applies to resources named public-*"}


@pytest.mark.slow
def test_an_applies_to_override_for_an_unknown_control_is_refused(tmp_path: Path, workspace_with_knowledge) -> None:
    config_file = tmp_path / "auditor.toml"
    config_file.write_text('[scope.applies_to.AI-1O]\nnames = ["*model*"]\n')
    config = load_config(config_file)
    with pytest.raises(RunError, match=r"auditor.toml: key 'scope.applies_to': unknown control id\(s\): AI-1O"):
        run_proof(config, workspace_with_knowledge(tmp_path / "ws"), control_ids=["AI-10"], model=None)


def test_applies_to_needs_tags_or_names() -> None:
    with pytest.raises(ValueError, match="applies_to needs tags, names or both"):
        AppliesTo()


def test_errors_and_account_wide_findings_are_never_rescoped() -> None:
    scope = Scope(ScopeConfig(exclude=["*"]))
    control = load_controls().get("AI-10")
    error = Finding(check="aws.s3.bucket_encryption", status=Status.ERROR, resource=SANDBOX, reason="Unreadable.")
    account_wide = Finding(
        check="aws.s3.account_public_access_block", status=Status.FAIL, resource=ACCOUNT, reason="Not set."
    )
    regional = Finding(check="aws.guardduty.enabled", status=Status.PASS, resource="eu-west-1", reason="On.")
    nothing = Finding(
        check="aws.s3.bucket_encryption", status=Status.NOT_APPLICABLE, resource="aws.s3.buckets", reason="No buckets."
    )
    for finding in (error, account_wide, regional, nothing):
        assert scope.judge(control, finding, {"soc2:scope": "out"}) is finding


@pytest.mark.slow
def test_the_untagged_demo_keeps_every_finding_outside_the_controls_with_applies_to(
    moto_server: str, tmp_path: Path
) -> None:
    """Defaults change nothing on an account without soc2:scope tags: every control of the library but AI-02 and
    AI-10 (which declare applies_to) keeps exactly the findings its checks give."""
    load_all()
    MotoAdmin(moto_server).reset()
    seed_acme_ai(moto_server)
    ctx = CollectContext(AuditorConfig(aws=AwsConfig(regions=DEMO_REGIONS, endpoint_url=moto_server)))
    with EvidenceLocker(tmp_path / "locker.db", tmp_path / "blobs") as locker:
        runner = EvidenceRunner(locker, ctx)
        stored = {name: runner.collect(name, {}) for name, spec in TOOLS.items() if spec.source == "aws"}
        scope, changed = Scope(ScopeConfig()), set()
        for control in load_controls().controls:
            for check_id in {spec.check for spec in control.evidence if spec.check.startswith("aws.")}:
                items = [stored[name] for name in CHECKS[check_id].needs]
                tags = tag_index(items, locker.read)
                for finding in runner.evaluate(check_id, items):
                    if scope.judge(control, finding, tags.get(finding.resource)) != finding:
                        changed.add((control.id, finding.resource))
    assert changed == {
        ("AI-02", "arn:aws:s3:::model-artifacts"),
        ("AI-02", "arn:aws:s3:::acme-ai-marketing-site"),
        ("AI-02", "arn:aws:s3:::acme-ai-cloudtrail-logs"),
        ("AI-10", "arn:aws:s3:::ml-training-data"),
        ("AI-10", "arn:aws:s3:::acme-ai-marketing-site"),
        ("AI-10", "arn:aws:s3:::acme-ai-cloudtrail-logs"),
    }
