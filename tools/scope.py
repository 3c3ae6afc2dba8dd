"""Audit scope: which resources a control's findings judge, and which are set aside as out of scope.

Three rules decide it for each pass or fail finding on one resource, in this order:
1. a resource tagged `[scope] tag_key` with one of `out_values` (default: soc2:scope = out) is out of scope;
2. a resource whose name or ARN matches a `[scope] exclude` glob is out of scope;
3. a control that declares `applies_to` (in the control library, or replaced under `[scope.applies_to]`) judges
   only the resources carrying one of its tags or named by one of its globs; others are out of scope for it.
   A check that picks its resources by evidence (ai.model_artifacts.buckets_protected: the buckets training jobs,
   model packages and custom models write to) is not narrowed by this rule: the evidence, not a name, put them
   in the control's scope.
An out-of-scope finding keeps its resource and evidence, says which rule put it there, and counts neither as a
pass nor as a failure. Errors stay errors, and findings on the account, a region, all events read or a tool
(not one resource) are never re-scoped. With no tags and no settings, every finding stays as it was.

Tags are those in the evidence the check read, through the tag readers check modules register
(tools.catalog.TAG_READERS): S3 buckets, IAM users, KMS keys, EC2 security groups, volumes and VPCs, and RDS
instances. Tags that could not be read count as none. Other resources (trails, policies, backup plans,
repositories, log sources, and resources named in log events) are scoped by name only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.catalog import CHECKS, TAG_READERS, TOOLS, StoredEvidence
from tools.checks_common import ACCOUNT, ALL_EVENTS, REGION, short_name
from tools.findings import Finding, Status

if TYPE_CHECKING:
    from tools.config import ScopeConfig


class AppliesTo(BaseModel):
    """The resources a control judges: any carrying one of the tags, or named by one of the globs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tags: dict[str, str] = Field(default_factory=dict)
    names: list[str] = Field(default_factory=list)  # globs over the resource's ARN (or label, path) and its name

    @model_validator(mode="after")
    def _names_something(self) -> AppliesTo:
        if not self.tags and not self.names:
            raise ValueError("applies_to needs tags, names or both")
        return self

    def matches(self, resource: str, tags: Mapping[str, str]) -> bool:
        return any(tags.get(key) == value for key, value in self.tags.items()) or any(
            name_matches(resource, glob) for glob in self.names
        )

    def describe(self) -> str:
        """'resources tagged data-class=model-artifacts or named *model*'."""
        tagged = [f"tagged {key}={value}" for key, value in self.tags.items()]
        named = [f"named {glob}" for glob in self.names]
        return "resources " + " or ".join(tagged + named)


class ScopedControl(Protocol):
    """What scope needs of a control (knowledge.models.Control has it)."""

    @property
    def id(self) -> str: ...

    @property
    def applies_to(self) -> AppliesTo | None: ...


def name_matches(resource: str, glob: str) -> bool:
    """A glob matches a resource by its full name (ARN, label or path) or by its short name."""
    return fnmatchcase(resource, glob) or fnmatchcase(short_name(resource), glob)


def names_one_resource(resource: str) -> bool:
    """False for a finding on the whole account, a region, all events read, or the tool or check that had
    nothing to judge: scope rules pick resources, and these are not one."""
    whole = resource == ACCOUNT or resource in ALL_EVENTS or REGION.match(resource)
    return not (whole or resource in TOOLS or resource in CHECKS)


def tag_index(items: Iterable[StoredEvidence], read: Callable[[str], Any]) -> dict[str, dict[str, str]]:
    """Resource (as findings name it) -> its tags, from the items whose tool lists tags; read(id) gives the data."""
    index: dict[str, dict[str, str]] = {}
    for item in items:
        reader = TAG_READERS.get(item.tool)
        if reader is not None:
            index.update(reader(read(item.id)))
    return index


class Scope:
    """The [scope] settings applied to findings; see the module docstring for the rules."""

    def __init__(self, config: ScopeConfig) -> None:
        self.config = config

    def applies_to(self, control: ScopedControl) -> AppliesTo | None:
        """The control's own applies_to, unless the configuration replaces it."""
        return self.config.applies_to.get(control.id, control.applies_to)

    def why_out(
        self, control: ScopedControl, resource: str, tags: Mapping[str, str], picked_by_evidence: bool = False
    ) -> str | None:
        """Why the resource is out of scope for the control, or None when it is in scope; `picked_by_evidence`:
        the check chose the resource from evidence, so applies_to does not apply."""
        value = tags.get(self.config.tag_key)
        if value is not None and value in self.config.out_values:
            return f"tagged {self.config.tag_key}={value}"
        for glob in self.config.exclude:
            if name_matches(resource, glob):
                return f"matches scope.exclude '{glob}'"
        applies_to = self.applies_to(control)
        if applies_to is not None and not picked_by_evidence and not applies_to.matches(resource, tags):
            return f"{control.id} applies to {applies_to.describe()}"
        return None

    def judge(self, control: ScopedControl, finding: Finding, tags: Mapping[str, str] | None) -> Finding:
        """The finding unchanged, or a copy that is out of scope with the reason why."""
        if finding.status not in (Status.PASS, Status.FAIL) or not names_one_resource(finding.resource):
            return finding
        spec = CHECKS.get(finding.check)
        picked = spec is not None and spec.picks_resources_by_evidence
        reason = self.why_out(control, finding.resource, tags or {}, picked)
        if reason is None:
            return finding
        return finding.model_copy(update={"status": Status.OUT_OF_SCOPE, "reason": reason})
