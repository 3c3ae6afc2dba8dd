"""The catalog of read-only tools (collectors) and checks.

A collector fetches raw evidence and applies no logic. A check reads only stored evidence and returns
findings. Both register here under stable names; the agent plans with the tool names and argument
schemas, and the control library refers to check ids.

Collector signature: ``func(ctx: CollectContext, args: ArgsModel) -> JSON-serialisable data``.
Check signature:     ``func(evidence: EvidenceView) -> list[Finding]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tools.findings import Finding, Severity

Source = Literal["aws", "github", "git", "logs", "manual", "mlflow"]

# How a tool names an AWS API operation it performs: botocore's service name and operation name.
AWS_OPERATION = re.compile(r"[a-z0-9-]+:[A-Z][A-Za-z0-9]+")


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ToolSpec:
    name: str  # e.g. "aws.iam.credential_report"
    source: Source
    description: str
    args_model: type[BaseModel]
    func: Callable[..., Any]
    # The API operations it performs, for provenance (e.g. ["iam:GenerateCredentialReport", "iam:GetCredentialReport"]).
    # For AWS they are also the allowlist: the session refuses any operation no tool declares.
    operations: tuple[str, ...] = ()

    def json_schema(self) -> dict[str, Any]:
        return self.args_model.model_json_schema()


@dataclass(frozen=True)
class StoredEvidence:
    """One evidence item as a check sees it: its locker id, which tool made it, and the data."""

    id: str
    tool: str
    params: dict[str, Any]
    data: Any


@dataclass
class EvidenceView:
    """The stored evidence a check may read; nothing else is reachable from a check."""

    items: list[StoredEvidence] = field(default_factory=list)

    def all(self, tool: str) -> list[StoredEvidence]:
        return [item for item in self.items if item.tool == tool]

    def one(self, tool: str) -> StoredEvidence | None:
        matches = self.all(tool)
        return matches[0] if matches else None


@dataclass(frozen=True)
class CheckSpec:
    id: str  # e.g. "aws.iam.console_user_mfa"
    title: str
    needs: tuple[str, ...]  # tool names whose evidence the check reads
    func: Callable[[EvidenceView], list[Finding]]
    severity: Severity  # how bad a failure is (README "Severity rubric"); the runner stamps it on findings
    # It judges only resources the evidence shows belong to what it checks (the buckets models are written to),
    # so a control's applies_to, a rule about names and tags, does not set them aside (tools/scope.py).
    picks_resources_by_evidence: bool = False


# The resource tags one tool's stored evidence holds: data -> {resource, named as findings name it: {key: value}}.
TagReader = Callable[[Any], dict[str, dict[str, str]]]

TOOLS: dict[str, ToolSpec] = {}
CHECKS: dict[str, CheckSpec] = {}
# Registered by the check modules, which know how findings name resources; tools/scope.py reads them.
TAG_READERS: dict[str, TagReader] = {}


def tool(
    name: str,
    *,
    source: Source,
    description: str,
    args: type[BaseModel] = NoArgs,
    operations: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in TOOLS:
            raise ValueError(f"tool {name!r} registered twice")
        TOOLS[name] = ToolSpec(name, source, description, args, func, operations)
        return func

    return register


def check(
    id: str, *, title: str, needs: tuple[str, ...], severity: Severity, picks_resources_by_evidence: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(func: Callable[[EvidenceView], list[Finding]]) -> Callable[[EvidenceView], list[Finding]]:
        if id in CHECKS:
            raise ValueError(f"check {id!r} registered twice")
        CHECKS[id] = CheckSpec(id, title, tuple(needs), func, severity, picks_resources_by_evidence)
        return func

    return register


def tag_reader(tool: str, reader: TagReader) -> None:
    """Register how to read the tags of the resources the tool's evidence lists."""
    if tool in TAG_READERS:
        raise ValueError(f"tag reader for {tool!r} registered twice")
    TAG_READERS[tool] = reader


def allowed_aws_operations() -> frozenset[str]:
    """Every AWS operation ("service:Operation") that some collector declares: all the AWS session may send."""
    load_all()
    return frozenset(
        operation for spec in TOOLS.values() for operation in spec.operations if AWS_OPERATION.fullmatch(operation)
    )


def load_all() -> None:
    """Import every collector and check module so the registries are complete."""
    import tools.ai.checks  # noqa: F401
    import tools.ai.collectors  # noqa: F401
    import tools.aws.checks  # noqa: F401
    import tools.aws.collectors  # noqa: F401
    import tools.logs.checks  # noqa: F401
    import tools.logs.collectors  # noqa: F401
    import tools.logs.s3  # noqa: F401
    import tools.repos.checks  # noqa: F401
    import tools.repos.collectors  # noqa: F401
