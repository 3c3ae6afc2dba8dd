"""The one configuration file, `auditor.toml`, validated by pydantic.

Every error names the file and the offending key, so a user can fix it without reading code.
Secrets (API keys, tokens) never live here: the config only names the environment variable.
"""

from __future__ import annotations

import getpass
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CONFIG_FILENAME = "auditor.toml"


class ConfigError(Exception):
    """A configuration problem, with the file (and key, where known) in the message."""


class _Section(BaseModel):
    # Unknown keys are typos more often than not: refuse them.
    model_config = ConfigDict(extra="forbid")


class AwsConfig(_Section):
    regions: list[str] = Field(default_factory=lambda: ["us-east-1"], min_length=1)
    profile: str | None = None
    # None means the standard chain: AWS_ENDPOINT_URL if set, else the real AWS endpoints.
    endpoint_url: str | None = None
    max_workers: int = Field(default=8, ge=1, le=64)


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


class RunConfig(_Section):
    concurrency: int = Field(default=4, ge=1, le=32)
    evidence_ttl_hours: float = Field(default=24.0, gt=0)


class ReviewConfig(_Section):
    reviewer: str | None = None

    def reviewer_name(self) -> str:
        return self.reviewer or getpass.getuser()


class AuditorConfig(_Section):
    company: str = "My Company"
    workspace: Path = Path(".auditor")
    aws: AwsConfig = Field(default_factory=AwsConfig)
    github: GithubConfig = Field(default_factory=GithubConfig)
    repos: ReposConfig = Field(default_factory=ReposConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    llm: LlmConfig = Field(default_factory=LlmConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)

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


CONFIG_TEMPLATE = '''\
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
# Stored evidence younger than this is reused instead of collected again.
evidence_ttl_hours = 24.0

[review]
# Name recorded in the review log; defaults to the OS user.
# reviewer = "Dana Compliance"
'''
