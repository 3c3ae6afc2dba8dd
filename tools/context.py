"""What a collector gets: the configuration and the read-only clients built from it.

Clients are built lazily and once per run, so caching and call counting are per run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from agent.config import AuditorConfig

if TYPE_CHECKING:
    from tools.aws.session import ReadOnlyAws
    from tools.repos.github import GithubClient


@dataclass
class CollectContext:
    config: AuditorConfig
    run_id: str = "adhoc"
    extra: dict[str, object] = field(default_factory=dict)

    @cached_property
    def aws(self) -> "ReadOnlyAws":
        from tools.aws.session import ReadOnlyAws

        return ReadOnlyAws(self.config.aws)

    @cached_property
    def github(self) -> "GithubClient":
        from tools.repos.github import GithubClient

        return GithubClient.from_config(self.config.github)
