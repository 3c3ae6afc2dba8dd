"""The one configuration file, `auditor.toml`, validated by pydantic.

Every error names the file and the offending key, so a user can fix it without reading code.
Secrets (API keys, tokens) never live here: the config only names the environment variable.
"""

from __future__ import annotations

import getpass
import re
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from tools.findings import Severity
from tools.scope import AppliesTo
from tools.workspace import CONFIG_FILENAME


class ConfigError(Exception):
    """A configuration problem, with the file (and key, where known) in the message."""


class _Section(BaseModel):
    # Unknown keys are typos more often than not: refuse them.
    model_config = ConfigDict(extra="forbid")


def _account_id(value: str) -> str:
    if not re.fullmatch(r"\d{12}", value):
        message = "an AWS account id is twelve digits, not {value}"
        raise PydanticCustomError("account_id", message, {"value": repr(value)})
    return value


AwsAccountId = Annotated[str, AfterValidator(_account_id)]


class AwsOrganizationConfig(_Section):
    """Audit every account of an AWS Organization through a read-only role assumed in each."""

    # The role assumed in each member account; sts:AssumeRole is sent only to arn:aws:iam::<id>:role/<role_name>.
    role_name: str = Field(pattern=r"^[\w+=,.@-]{1,64}$")
    accounts: list[AwsAccountId] = Field(default_factory=list)  # only these (empty: every active account)
    exclude_accounts: list[AwsAccountId] = Field(default_factory=list)
    max_workers: int = Field(default=4, ge=1, le=32)  # accounts collected at once

    @field_validator("role_name", mode="before")
    @classmethod
    def _a_name_not_an_arn(cls, value: object) -> object:
        if isinstance(value, str) and value.startswith("arn:"):
            message = "the role's name (e.g. AuditorReadOnly), not its ARN: each account's ARN is built from it"
            raise PydanticCustomError("role_arn", message)
        return value

    @field_validator("exclude_accounts")
    @classmethod
    def _not_both(cls, value: list[str], info: ValidationInfo) -> list[str]:
        both = sorted(set(value) & set(info.data.get("accounts", [])))
        if both:
            message = "listed in both accounts and exclude_accounts: {both}"
            raise PydanticCustomError("accounts_excluded", message, {"both": ", ".join(both)})
        return value


class AwsConfig(_Section):
    regions: list[str] = Field(default_factory=lambda: ["us-east-1"], min_length=1)
    profile: str | None = None
    # None means the standard chain: AWS_ENDPOINT_URL if set, else the real AWS endpoints.
    endpoint_url: str | None = None
    max_workers: int = Field(default=8, ge=1, le=64)
    organization: AwsOrganizationConfig | None = None  # None: only the account the credentials belong to


class GithubConfig(_Section):
    api_url: str = "https://api.github.com"
    owner: str | None = None
    repos: list[str] = Field(default_factory=list)
    token_env: str = "GITHUB_TOKEN"


class ReposConfig(_Section):
    local: list[Path] = Field(default_factory=list)


class LogsConfig(_Section):
    paths: list[Path] = Field(default_factory=list)
    cloudwatch_log_groups: list[str] = Field(default_factory=list)
    # Read the log files that the trails (cloudtrail:DescribeTrails) deliver to S3, for the [audit] period.
    cloudtrail_from_s3: bool = False
    failed_login_threshold: int = Field(default=5, ge=1)


Provider = Literal["offline", "openai", "anthropic", "ollama"]


class LlmEndpoint(_Section):
    provider: Provider = "offline"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    # Caps each answer; small local models otherwise write until their context runs out.
    max_tokens: int | None = Field(default=None, ge=1)


class LlmConfig(LlmEndpoint):
    # Tried in order when the primary fails; the offline writer is always the last resort.
    fallbacks: list[LlmEndpoint] = Field(default_factory=list)


DEFAULT_EVIDENCE_TTL_HOURS = 24.0


@dataclass(frozen=True)
class EvidenceTtl:
    """How long stored evidence is reused, per collector: the longest matching prefix of its tool name
    ("aws.iam" matches aws.iam.credential_report, "github" every github.* collector), else the default."""

    default: timedelta
    by_prefix: tuple[tuple[str, timedelta], ...] = ()  # longest prefix first

    def for_tool(self, tool_name: str) -> timedelta:
        for prefix, ttl in self.by_prefix:
            if tool_name == prefix or tool_name.startswith(prefix + "."):
                return ttl
        return self.default


class RunConfig(_Section):
    concurrency: int = Field(default=4, ge=1, le=32)
    # Hours stored evidence is reused: one number, or a table by collector prefix with an optional `default`
    # ({default = 24, "aws.iam" = 6, "github" = 168}). 0: never reuse (`auditor run --fresh`: for one run).
    evidence_ttl_hours: float | dict[str, float] = DEFAULT_EVIDENCE_TTL_HOURS

    @field_validator("evidence_ttl_hours", mode="before")
    @classmethod
    def _hours_not_negative(cls, value: object) -> object:
        # Checked here, not by the union's members: their errors would name pydantic's types, not the key.
        table = value if isinstance(value, dict) else {"": value}
        for prefix, hours in table.items():
            where = f" ({prefix!r})" if prefix else ""
            if isinstance(hours, bool) or not isinstance(hours, int | float):
                raise PydanticCustomError(
                    "ttl_hours",
                    "expected a number of hours{where}, or a table of them by collector prefix",
                    {"where": where},
                )
            if hours < 0:
                raise PydanticCustomError(
                    "greater_than_equal", "Input should be greater than or equal to 0{where}", {"where": where}
                )
        return value

    def evidence_ttl(self) -> EvidenceTtl:
        hours = self.evidence_ttl_hours
        if not isinstance(hours, dict):
            return EvidenceTtl(timedelta(hours=hours))
        prefixes = sorted((p for p in hours if p != "default"), key=len, reverse=True)
        return EvidenceTtl(
            timedelta(hours=hours.get("default", DEFAULT_EVIDENCE_TTL_HOURS)),
            tuple((p, timedelta(hours=hours[p])) for p in prefixes),
        )


DEFAULT_DUE_DAYS: dict[Severity, int] = {
    Severity.CRITICAL: 7,
    Severity.HIGH: 30,
    Severity.MEDIUM: 90,
    Severity.LOW: 180,
}


class RemediationConfig(_Section):
    # Days from the run to fix a finding, by severity; the report's fix list shows the due date.
    due_days: dict[Severity, Annotated[int, Field(ge=0)]] = Field(default_factory=lambda: dict(DEFAULT_DUE_DAYS))

    @field_validator("due_days")
    @classmethod
    def _keep_defaults(cls, value: dict[Severity, int]) -> dict[Severity, int]:
        # A partial table keeps the defaults for the severities it leaves out.
        return {**DEFAULT_DUE_DAYS, **value}


class ScopeConfig(_Section):
    # A resource whose tag `tag_key` has one of `out_values` is out of scope (tools/scope.py has the rules).
    tag_key: str = Field(default="soc2:scope", min_length=1)
    out_values: list[str] = Field(default_factory=lambda: ["out"])
    # Globs over resource ARNs (or labels, paths) and names: matching resources are out of scope.
    exclude: list[str] = Field(default_factory=list)
    # Control id -> the resources it judges, replacing the control library's `applies_to`.
    applies_to: dict[str, AppliesTo] = Field(default_factory=dict)


def date_range(text: str) -> tuple[date, date]:
    """ "2026-01-01..2026-12-31" as (first day, last day), both included; ValueError saying what is wrong."""
    start_text, separator, end_text = text.strip().partition("..")
    try:
        if not separator:
            raise ValueError
        start, end = date.fromisoformat(start_text.strip()), date.fromisoformat(end_text.strip())
    except ValueError:
        raise ValueError(f"period {text!r}: write two dates, first and last day, e.g. 2026-01-01..2026-12-31") from None
    if end < start:
        raise ValueError(f"period {text!r}: it ends before it starts")
    return start, end


class AuditConfig(_Section):
    # The period under review, "YYYY-MM-DD..YYYY-MM-DD" (both days included). None: each run's calendar quarter.
    period: str | None = None

    @field_validator("period")
    @classmethod
    def _is_a_date_range(cls, value: str | None) -> str | None:
        if value is not None:
            date_range(value)
        return value

    @property
    def bounds(self) -> tuple[date, date] | None:
        """(first day, last day) of the configured period, or None when none is set."""
        return date_range(self.period) if self.period is not None else None


class ReviewConfig(_Section):
    reviewer: str | None = None

    def reviewer_name(self) -> str:
        return self.reviewer or getpass.getuser()


class IntegrityConfig(_Section):
    # The ed25519 signing key; never inside the workspace. None: AUDITOR_SIGNING_KEY, else the user's config folder.
    key_file: Path | None = None
    # A file outside the workspace where every signed head is appended (None: beside a key file, see tools/signing.py).
    anchor_file: Path | None = None


class ChangeTier(_Section):
    # Files of this tier (globs; one without "/" matches a file name in any folder) and the rule its changes meet.
    paths: list[str] = Field(min_length=1)
    approvals: int = Field(default=1, ge=0)  # approving reviews, other than the author's, before the merge
    status_checks: list[str] = Field(default_factory=list)  # check runs that must have succeeded on the PR's head


DEFAULT_CHANGE_TIERS: dict[str, ChangeTier] = {
    "weights": ChangeTier(paths=["models/**", "*.safetensors", "*.gguf"], approvals=2, status_checks=["evaluation"]),
    "prompts": ChangeTier(paths=["prompts/**", "*.prompt"], approvals=1, status_checks=["evaluation"]),
    "knowledge_base": ChangeTier(paths=["kb/**"], approvals=1),
    "routing": ChangeTier(paths=["routing*.yaml"], approvals=2),
}


class MlflowConfig(_Section):
    # The MLflow tracking server whose model registry is read (GET only); None: no MLflow registry is read.
    tracking_uri: str | None = None
    token_env: str = Field(default="MLFLOW_TRACKING_TOKEN", min_length=1)  # sent as a bearer token when set
    # A version is in production when its stage is Production or it carries one of these aliases.
    production_aliases: list[str] = Field(default_factory=lambda: ["production", "prod", "champion"])
    # The version tag naming who approved it for production: required before a production stage or alias.
    approval_tag: str = Field(default="approved_by", min_length=1)
    # The run tag naming the consent record under which a run trained on customer data ([ai] customer_data).
    consent_tag: str = Field(default="consent_record", min_length=1)


class AiConfig(_Section):
    # The model-provider vendor register (YAML); None: vendors.yaml in the workspace.
    vendors: Path | None = None
    # Training data locations (globs over S3 URIs and dataset sources) that hold customer data: SageMaker training
    # jobs, Bedrock customization jobs and MLflow runs that train on them need a consent record.
    customer_data: list[str] = Field(default_factory=list)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)
    # Tier name -> its paths and rule; a table given here replaces the defaults.
    change_tiers: dict[str, ChangeTier] = Field(default_factory=lambda: dict(DEFAULT_CHANGE_TIERS))


class NotifyConfig(_Section):
    # The environment variable holding the webhook URL (a secret: it carries the token); unset = no messages.
    webhook_url_env: str = Field(default="AUDITOR_WEBHOOK", min_length=1)


class AuditorConfig(_Section):
    company: str = "My Company"
    workspace: Path = Path(".auditor")
    aws: AwsConfig = Field(default_factory=AwsConfig)
    github: GithubConfig = Field(default_factory=GithubConfig)
    repos: ReposConfig = Field(default_factory=ReposConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    llm: LlmConfig = Field(default_factory=LlmConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    integrity: IntegrityConfig = Field(default_factory=IntegrityConfig)
    remediation: RemediationConfig = Field(default_factory=RemediationConfig)
    scope: ScopeConfig = Field(default_factory=ScopeConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    ai: AiConfig = Field(default_factory=AiConfig)

    # Where the file was read from; relative paths in it resolve against its folder.
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("workspace", mode="before")
    @classmethod
    def _workspace_not_empty(cls, value: object) -> object:
        # Checked before the str becomes a Path: Path("") is ".", which would hide the mistake.
        if isinstance(value, str) and value.strip() == "":
            raise ValueError("must not be empty")
        return value

    def resolve(self, path: Path) -> Path:
        """A path from the config, made absolute against the config file's folder."""
        if path.is_absolute() or self.source is None:
            return path
        return (self.source.parent / path).resolve()

    @property
    def workspace_dir(self) -> Path:
        return self.resolve(self.workspace)

    @property
    def vendor_register(self) -> Path:
        return self.resolve(self.ai.vendors) if self.ai.vendors is not None else self.workspace_dir / "vendors.yaml"


def load_config(path: Path | None = None, *, workspace: Path | None = None) -> AuditorConfig:
    """Read `auditor.toml` (given, or in the current directory); defaults when there is none.

    `workspace` overrides the file's `workspace` key (the `--workspace` option).
    """
    explicit = path is not None
    path = Path(path) if path is not None else Path.cwd() / CONFIG_FILENAME
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: configuration file not found")
        config = AuditorConfig()
    else:
        config = _parse(path)
    if workspace is not None:
        config = config.model_copy(update={"workspace": Path(workspace).resolve()})
    return config


def _parse(path: Path) -> AuditorConfig:
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, not a configuration file")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); TOML files are UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from exc
    try:
        config = AuditorConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"]) or "(top level)"
            problems.append(f"{path}: key '{key}': {error['msg']}")
        raise ConfigError("\n".join(problems)) from exc
    return config.model_copy(update={"source": path.resolve()})


CONFIG_TEMPLATE = """\
# auditor.toml: configuration for agentic-auditor.
# Every key is optional; the values shown are the defaults unless marked "example".
# Secrets never go in this file: name the environment variable that holds them.

# The company being audited, as it appears in reports.
company = "My Company"

# Everything the tool writes (evidence locker, knowledge store, runs, reports) goes here.
workspace = ".auditor"

[aws]
# Regions to collect from. Credentials come from the standard AWS chain
# (environment, ~/.aws/credentials, SSO, instance role). All calls are read-only.
regions = ["us-east-1"]
# profile = "audit-readonly"            # example: a named profile
# endpoint_url = "http://127.0.0.1:5000" # example: AWS_ENDPOINT_URL works too
max_workers = 8

# Many accounts (example): list the Organization's accounts and assume this read-only role in each.
# [aws.organization]
# role_name = "AuditorReadOnly"
# accounts = ["111111111111"]           # example: only these (default: every active account)
# exclude_accounts = ["222222222222"]   # example
# max_workers = 4                       # accounts collected at once

[github]
api_url = "https://api.github.com"
# owner = "acme-ai"                      # example: organisation or user
# repos = ["platform", "model-serving"]  # example
# A token with read scopes only, read from this environment variable.
token_env = "GITHUB_TOKEN"

[repos]
# Local git repositories to inspect (read through git, never changed).
local = []

[logs]
# Log files or folders: JSON lines, CloudTrail, syslog/auth.log.
paths = []
cloudwatch_log_groups = []
# Read the CloudTrail files your trails deliver to S3, for the [audit] period only (s3:ListObjectsV2 and
# s3:GetObject, on the trails' own buckets only).
cloudtrail_from_s3 = false
# Failed logins from one source at or above this count are flagged.
failed_login_threshold = 5

[llm]
# "offline" needs no model and no network: deterministic planning and writing.
# Others: "openai" (also any OpenAI-compatible server via base_url), "anthropic", "ollama".
provider = "offline"
# model = "gpt-4o-mini"                  # example
# base_url = "http://127.0.0.1:8080/v1"  # example: vLLM, llama.cpp, LM Studio
# api_key_env = "OPENAI_API_KEY"         # example: the variable holding the key
timeout_s = 60.0
max_retries = 2
temperature = 0.0
# max_tokens = 800                       # example: cap each answer (useful with small local models)
# Tried in order when the primary provider fails; offline is always the last resort.
# [[llm.fallbacks]]
# provider = "ollama"
# model = "llama3.1"

[run]
# Controls processed at once.
concurrency = 4
# Stored evidence younger than this is reused instead of collected again; 0 = never reuse.
# Per collector: a table by tool-name prefix, e.g. {default = 24, "aws.iam" = 6, "github" = 168}.
evidence_ttl_hours = 24.0

[audit]
# The period under review (first and last day). Unset: each run's calendar quarter. Narratives state it and
# warn about evidence from before it; evidence requests and `auditor report --period` cover it.
# period = "2026-01-01..2026-12-31"   # example

[review]
# Name recorded in the review log; defaults to the OS user.
# reviewer = "Dana Compliance"

[integrity]
# The ed25519 key that signs every run's record and review decision (see README "Integrity"). It must live
# outside the workspace. Default: $AUDITOR_SIGNING_KEY (base64, for CI), else
# $XDG_CONFIG_HOME/agentic-auditor/signing.key (~/.config/...), created by `auditor keys init` or the first run.
# key_file = "/secure/auditor-signing.key"   # example
# Signed heads are appended here after each run and decision (default: anchors.log beside the key file).
# anchor_file = "/secure/auditor-anchors.log"  # example

[remediation]
# Days to fix a finding, by severity, counted from the run: the fix list's due dates.
due_days = {critical = 7, high = 30, medium = 90, low = 180}

[notify]
# After each run, a JSON message (with a Slack-compatible "text") goes to the webhook whose URL is in this
# environment variable, when there are new failures, fixed items, a failed or incomplete run, or overdue
# evidence requests. Unset variable: no messages.
webhook_url_env = "AUDITOR_WEBHOOK"

[scope]
# Out of scope (listed in the report's appendix, never failed): resources tagged tag_key with one of
# out_values, and resources whose ARN or name matches an exclude glob.
tag_key = "soc2:scope"
out_values = ["out"]
exclude = []
# exclude = ["arn:aws:s3:::sandbox-*", "acme-ai/playground"]  # example
# A control judges only the resources its applies_to names (tags or name globs; any one matching is
# enough). The control library sets some (AI-10: model-artifact buckets); this replaces them.
# [scope.applies_to.AI-10]                # example
# tags = {data-class = "model-artifacts"}
# names = ["*model*"]

[ai]
# The register of model providers (vendors.yaml: provider, soc2_report_date, dpa, data_retention, fallback,
# critical). Default: vendors.yaml in the workspace.
# vendors = "vendors.yaml"
# Where customer data lives (globs). Training on it needs a consent record: for SageMaker and Bedrock jobs a
# file attached to AI-06 and approved by a reviewer, covering the job's date; for MLflow runs the consent_tag.
# customer_data = ["s3://acme-customer-*"]  # example
# Tiered change management: each merged pull request touching a tier's paths must meet its rule. A table
# here replaces the defaults (weights, prompts, knowledge_base, routing; see README "AI governance evidence").
# [ai.change_tiers.prompts]               # example
# paths = ["prompts/**", "*.prompt"]
# approvals = 1
# status_checks = ["evaluation"]
# An MLflow model registry (read with GET only; token from the token_env variable). A version in the
# Production stage or with a production alias needs an approval_tag; a run that trained on [ai] customer_data
# needs its consent_tag.
# [ai.mlflow]                             # example
# tracking_uri = "https://mlflow.internal.example.com"
# token_env = "MLFLOW_TRACKING_TOKEN"
# production_aliases = ["production", "prod", "champion"]
# approval_tag = "approved_by"
# consent_tag = "consent_record"
"""
