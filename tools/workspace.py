"""The workspace directory: everything the tool writes lives under one folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Here rather than in tools.config, so that the command line can name it without loading pydantic.
CONFIG_FILENAME = "auditor.toml"


def _below_root(*parts: str) -> property:
    """A Workspace property: the path `parts` below the workspace root."""
    return property(lambda workspace: workspace.root.joinpath(*parts))


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def at(cls, root: Path) -> Workspace:
        workspace = cls(Path(root).resolve())
        workspace.root.mkdir(parents=True, exist_ok=True)
        return workspace

    chroma_dir = _below_root("knowledge")
    locker_db = _below_root("evidence", "locker.sqlite")
    blobs_dir = _below_root("evidence", "blobs")
    runs_db = _below_root("runs.sqlite")
    checkpoints_db = _below_root("checkpoints.sqlite")
    review_db = _below_root("review.sqlite")
    reports_dir = _below_root("reports")
