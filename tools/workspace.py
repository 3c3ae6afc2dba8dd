"""The workspace directory: everything the tool writes lives under one folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Here rather than in tools.config, so that the command line can name it without loading pydantic.
CONFIG_FILENAME = "auditor.toml"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def at(cls, root: Path) -> "Workspace":
        workspace = cls(Path(root).resolve())
        workspace.root.mkdir(parents=True, exist_ok=True)
        return workspace

    @property
    def chroma_dir(self) -> Path:
        return self.root / "knowledge"

    @property
    def locker_db(self) -> Path:
        return self.root / "evidence" / "locker.sqlite"

    @property
    def blobs_dir(self) -> Path:
        return self.root / "evidence" / "blobs"

    @property
    def runs_db(self) -> Path:
        return self.root / "runs.sqlite"

    @property
    def checkpoints_db(self) -> Path:
        return self.root / "checkpoints.sqlite"

    @property
    def review_db(self) -> Path:
        return self.root / "review.sqlite"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"
