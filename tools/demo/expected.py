"""The demo company's expected findings: the one documented place they live.

Every YAML file in tools/demo/expected/ maps a check id to a list of ``{resource, status}``.
A resource may be a shell-style pattern (``us-east-1/bastion-ssh/*``) where the cloud hands out
random ids; every finding it matches must have that status.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import yaml

from tools.findings import Finding, Status

EXPECTED_DIR = Path(__file__).parent / "expected"


@dataclass(frozen=True)
class ExpectedFinding:
    check: str
    resource: str  # exact name or shell-style pattern
    status: Status
    source: str  # file it came from, for messages

    def matches(self, finding: Finding) -> bool:
        return finding.check == self.check and fnmatchcase(finding.resource, self.resource)


def load_expected(directory: Path = EXPECTED_DIR) -> dict[str, list[ExpectedFinding]]:
    """check id -> expected findings, from every YAML file in the folder."""
    expected: dict[str, list[ExpectedFinding]] = {}
    for path in sorted(directory.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(document, dict):
            raise ValueError(f"{path}: expected a mapping of check id to findings")
        for check_id, entries in document.items():
            for number, entry in enumerate(entries or [], start=1):
                if not isinstance(entry, dict) or {"resource", "status"} - entry.keys():
                    raise ValueError(f"{path}: {check_id} entry {number} needs 'resource' and 'status'")
                expected.setdefault(check_id, []).append(
                    ExpectedFinding(check_id, str(entry["resource"]), Status(entry["status"]), path.name)
                )
    return expected


def compare(expected: dict[str, list[ExpectedFinding]], findings: list[Finding], checks: set[str]) -> list[str]:
    """Differences between expected and actual findings for the given checks; empty when they agree.

    Every expected entry must match at least one finding, all with its status; every failing or
    erroring finding must be expected.
    """
    problems = []
    for check_id in sorted(checks):
        produced = [finding for finding in findings if finding.check == check_id]
        entries = expected.get(check_id, [])
        for entry in entries:
            matched = [finding for finding in produced if entry.matches(finding)]
            if not matched:
                problems.append(f"{check_id}: no finding for {entry.resource} (expected {entry.status.value})")
            for finding in matched:
                if finding.status != entry.status:
                    problems.append(
                        f"{check_id}: {finding.resource} is {finding.status.value}, expected {entry.status.value}"
                        f" ({finding.reason})"
                    )
        for finding in produced:
            if finding.status in (Status.FAIL, Status.ERROR) and not any(entry.matches(finding) for entry in entries):
                problems.append(
                    f"{check_id}: unexpected {finding.status.value} on {finding.resource} ({finding.reason})"
                )
    return problems
