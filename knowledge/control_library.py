"""The control library: our own SOC 2 controls in knowledge/controls/*.yaml, each mapped to criteria.

Loading validates everything and reports every problem at once, each naming the file, the line and
the control, so one bad file never hides the errors of another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from knowledge.catalog import load_catalog
from knowledge.models import Control

CONTROLS_DIR = Path(__file__).resolve().parent / "controls"
CONTROL_ID = re.compile(r"[A-Z]+-\d{2,}")


class ControlLibraryError(Exception):
    """Every problem found while loading, one line each, naming file:line and control."""

    def __init__(self, problems: list[str]):
        super().__init__(f"{len(problems)} problem(s) in the control library:\n" + "\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ControlLibrary:
    controls: tuple[Control, ...]  # sorted by id

    def get(self, control_id: str) -> Control | None:
        return next((c for c in self.controls if c.id == control_id.upper()), None)

    def for_criterion(self, criterion_id: str) -> list[Control]:
        return [c for c in self.controls if criterion_id.upper() in c.criteria]

    def by_check(self, check_id: str) -> list[Control]:
        return [c for c in self.controls if any(e.check == check_id for e in c.evidence)]

    def criteria_covered(self) -> set[str]:
        return {criterion for c in self.controls for criterion in c.criteria}


def load_controls(directory: Path | None = None) -> ControlLibrary:
    """Load and validate every *.yaml in `directory` (default: the shipped library); raise ControlLibraryError."""
    directory = directory or CONTROLS_DIR
    if not directory.is_dir():
        raise ControlLibraryError([f"{directory}: no such directory of control files"])
    known_criteria = set(load_catalog().ids())
    problems: list[str] = []
    controls: list[Control] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        for control, where in _read_file(path, problems):
            if control.id in seen:
                problems.append(f"{where}: control {control.id}: duplicate id (first defined at {seen[control.id]})")
                continue
            seen[control.id] = where
            problems.extend(_semantic_problems(control, where, known_criteria))
            controls.append(control)
    if problems:
        raise ControlLibraryError(problems)
    return ControlLibrary(tuple(sorted(controls, key=lambda c: c.id)))


def _read_file(path: Path, problems: list[str]) -> list[tuple[Control, str]]:
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
        items = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problems.append(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}")
        return []
    if items is None:
        return []
    if not isinstance(items, list) or root is None:
        problems.append(f"{path}: expected a list of controls at the top level")
        return []
    loaded = []
    for node, item in zip(root.value, items):
        where = f"{path}:{node.start_mark.line + 1}"
        label = item.get("id", "?") if isinstance(item, dict) else "?"
        try:
            loaded.append((Control.model_validate(item), where))
        except ValidationError as exc:
            for error in exc.errors():
                key = ".".join(str(part) for part in error["loc"]) or "(control)"
                problems.append(f"{where}: control {label}: key '{key}': {error['msg']}")
    return loaded


def _semantic_problems(control: Control, where: str, known_criteria: set[str]) -> list[str]:
    problems = []
    for criterion in control.criteria:
        if criterion not in known_criteria:
            problems.append(f"{where}: control {control.id}: unknown criterion {criterion!r}")
    if control.kind in ("automated", "hybrid") and not control.evidence:
        problems.append(f"{where}: control {control.id}: {control.kind} control lists no evidence")
    if control.kind in ("manual", "hybrid") and not control.manual_evidence:
        problems.append(f"{where}: control {control.id}: {control.kind} control lists no manual_evidence")
    if control.kind == "manual" and control.evidence:
        problems.append(f"{where}: control {control.id}: manual control lists automated evidence; make it hybrid")
    if not CONTROL_ID.fullmatch(control.id):
        problems.append(f"{where}: control {control.id}: id must look like IAM-01 (letters, dash, two or more digits)")
    return problems
