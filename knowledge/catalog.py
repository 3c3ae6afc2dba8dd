"""The Trust Services Criteria catalog shipped with the package (statements and point-of-focus titles)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from knowledge.models import Criterion

EXPECTED_CRITERIA = 61


class CatalogError(Exception):
    pass


@dataclass(frozen=True)
class Catalog:
    framework: dict[str, str]
    criteria: tuple[Criterion, ...]

    def get(self, criterion_id: str) -> Criterion | None:
        return self._by_id().get(criterion_id.upper())

    def ids(self) -> list[str]:
        return [c.id for c in self.criteria]

    def _by_id(self) -> dict[str, Criterion]:
        return {c.id: c for c in self.criteria}


@cache
def load_catalog() -> Catalog:
    source = resources.files("knowledge") / "data" / "tsc.json"
    raw = json.loads(source.read_text(encoding="utf-8"))
    criteria = tuple(Criterion.model_validate(item) for item in raw["criteria"])
    ids = [c.id for c in criteria]
    if len(set(ids)) != EXPECTED_CRITERIA:
        raise CatalogError(f"{source}: expected {EXPECTED_CRITERIA} distinct criteria, found {len(set(ids))}")
    return Catalog(framework=raw["framework"], criteria=criteria)
