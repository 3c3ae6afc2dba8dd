"""The packages form layers and import downward only: tools and knowledge at the bottom, agent above them,
tui (the terminal front end, the command line included) at the top. evals and tests may import anything."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# What each package may import besides itself.
ALLOWED = {
    "tools": set(),
    "knowledge": {"tools"},
    "agent": {"tools", "knowledge"},
    "tui": {"tools", "knowledge", "agent"},
}


def _imported_packages(path: Path) -> set[tuple[str, int]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add((node.module.split(".")[0], node.lineno))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_lower_layers(package: str) -> None:
    upward = []
    for path in sorted((REPO / package).rglob("*.py")):
        for imported, line in _imported_packages(path):
            if imported in ALLOWED and imported != package and imported not in ALLOWED[package]:
                upward.append(f"{path.relative_to(REPO)}:{line} imports {imported}")
    assert not upward, "imports that run upward:\n" + "\n".join(upward)


def test_only_the_command_line_package_uses_typer() -> None:
    users = [
        str(path.relative_to(REPO))
        for package in ALLOWED
        for path in (REPO / package).rglob("*.py")
        if any(name == "typer" for name, _ in _imported_packages(path)) and "tui/cli" not in path.as_posix()
    ]
    assert not users, f"command-line code outside tui/cli/: {users}"
