"""The control library: our own SOC 2 controls in knowledge/controls/*.yaml, each mapped to criteria.

Each control's design is split into statements, each tested by checks of the control's evidence or provided
by a person, and names the points of focus it addresses. Loading validates everything and reports every
problem at once, each naming the file, the line and the control, so one bad file never hides the errors of
another.
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

    def points_of_focus_addressed(self) -> set[str]:
        return {pof for c in self.controls for pof in c.points_of_focus}


@dataclass(frozen=True)
class _Known:
    criteria: set[str]
    points_of_focus: set[str]  # citation ids, "CC6.1/pof/4"


def load_controls(directory: Path | None = None) -> ControlLibrary:
    """Load and validate every *.yaml in `directory` (default: the shipped library); raise ControlLibraryError."""
    directory = directory or CONTROLS_DIR
    if not directory.is_dir():
        raise ControlLibraryError([f"{directory}: no such directory of control files"])
    catalog = load_catalog()
    known = _Known(
        criteria=set(catalog.ids()),
        points_of_focus={pof.citation_id(c.id) for c in catalog.criteria for pof in c.points_of_focus},
    )
    problems: list[str] = []
    controls: list[Control] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        for control, node in _read_file(path, problems):
            where = _where(path, node)
            if control.id in seen:
                problems.append(f"{where}: control {control.id}: duplicate id (first defined at {seen[control.id]})")
                continue
            seen[control.id] = where
            problems.extend(_semantic_problems(control, path, node, known))
            controls.append(control)
    if problems:
        raise ControlLibraryError(problems)
    return ControlLibrary(tuple(sorted(controls, key=lambda c: c.id)))


def _where(path: Path, node: yaml.Node, *keys: str | int) -> str:
    """path:line of the value at `keys` inside a control's YAML node (or of the deepest part of it that exists),
    so a problem in one statement points at that statement."""
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            found = next((value for name, value in node.value if name.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            found = node.value[key]
        else:
            found = None
        if found is None:
            break
        node = found
    return f"{path}:{node.start_mark.line + 1}"


def _read_file(path: Path, problems: list[str]) -> list[tuple[Control, yaml.Node]]:
    text = path.read_text(encoding="utf-8")
    try:
        # libyaml's loader: the pure-Python one took most of a second for the shipped library.
        root = yaml.compose(text, Loader=yaml.CSafeLoader)
        items = yaml.load(text, Loader=yaml.CSafeLoader)
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
    for node, item in zip(root.value, items, strict=True):
        label = item.get("id", "?") if isinstance(item, dict) else "?"
        try:
            loaded.append((Control.model_validate(item), node))
        except ValidationError as exc:
            for error in exc.errors():
                key = ".".join(str(part) for part in error["loc"]) or "(control)"
                problems.append(f"{_where(path, node, *error['loc'])}: control {label}: key '{key}': {error['msg']}")
    return loaded


def _semantic_problems(control: Control, path: Path, node: yaml.Node, known: _Known) -> list[str]:
    where = _where(path, node)
    problems = []
    for criterion in control.criteria:
        if criterion not in known.criteria:
            problems.append(f"{where}: control {control.id}: unknown criterion {criterion!r}")
    for criterion in control.weak_criteria:
        if criterion not in control.criteria:
            problems.append(f"{where}: control {control.id}: weak criterion {criterion!r} is not in its criteria")
    if control.kind in ("automated", "hybrid") and not control.evidence:
        problems.append(f"{where}: control {control.id}: {control.kind} control lists no evidence")
    if control.kind in ("manual", "hybrid") and not control.manual_evidence:
        problems.append(f"{where}: control {control.id}: {control.kind} control lists no manual_evidence")
    if control.kind == "manual" and control.evidence:
        problems.append(f"{where}: control {control.id}: manual control lists automated evidence; make it hybrid")
    if not CONTROL_ID.fullmatch(control.id):
        problems.append(f"{where}: control {control.id}: id must look like IAM-01 (letters, dash, two or more digits)")
    problems.extend(_statement_problems(control, path, node))
    for index, pof in enumerate(control.points_of_focus):
        at = f"{_where(path, node, 'points_of_focus', index)}: control {control.id}"
        criterion = pof.split("/", 1)[0]
        if pof not in known.points_of_focus:
            problems.append(f"{at}: unknown point of focus {pof!r} (ids look like CC6.1/pof/4)")
        elif criterion not in control.criteria:
            problems.append(f"{at}: point of focus {pof} belongs to {criterion}, which is not in its criteria")
    return problems


def _statement_problems(control: Control, path: Path, node: yaml.Node) -> list[str]:
    """Every evidence check tests at least one statement, and statements cite only the control's own checks;
    a manual control's statements are all provided by people, an automated control's none (a control whose
    checks cover only part of its design is hybrid, so a pass of its checks alone never passes it)."""
    where = f"{_where(path, node)}: control {control.id}"
    if not control.statements:
        return [f"{where}: lists no design statements"]
    problems = []
    evidence_checks = {spec.check for spec in control.evidence}
    for index, statement in enumerate(control.statements):
        at = f"{_where(path, node, 'statements', index)}: control {control.id}: statement {index + 1}"
        if control.kind == "manual" and statement.tested:
            problems.append(f"{at}: a manual control's statements give `provide`, not checks")
            continue
        if control.kind == "automated" and not statement.tested:
            problems.append(
                f"{at}: gives `provide` in an automated control; evidence a person provides makes it hybrid"
            )
        for check_id in statement.checks:
            if check_id not in evidence_checks:
                problems.append(f"{at}: check {check_id!r} is not among the control's evidence checks")
    tested = {check_id for statement in control.statements for check_id in statement.checks}
    for check_id in sorted(evidence_checks - tested):
        problems.append(f"{where}: evidence check {check_id!r} tests none of its statements")
    if control.kind == "automated" and not any(statement.tested for statement in control.statements):
        problems.append(f"{where}: automated control has no statement tested by its checks")
    return problems
