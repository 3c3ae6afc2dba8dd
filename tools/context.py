"""What a collector gets: the configuration and the read-only clients built from it.

Clients are built lazily and once per run, so caching and call counting are per run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from tools.config import AuditorConfig

if TYPE_CHECKING:
    from tools.aws.session import ReadOnlyAws
    from tools.repos.github import GithubClient


@dataclass(frozen=True)
class AwsCalls:
    made: int = 0  # requests that left the process
    distinct: int = 0  # distinct requests among them; equal to `made` when the per-run cache works


@dataclass
class CollectContext:
    config: AuditorConfig
    run_id: str = "adhoc"
    extra: dict[str, object] = field(default_factory=dict)

    @cached_property
    def aws(self) -> "ReadOnlyAws":
        from tools.aws.session import ReadOnlyAws

        return ReadOnlyAws(self.config.aws)

    @property
    def aws_calls(self) -> AwsCalls:
        """AWS requests sent so far; none when no collector needed AWS (reading `aws` would build the client)."""
        aws = self.__dict__.get("aws")  # where cached_property keeps the client once it is built
        return AwsCalls(aws.calls_made, aws.distinct_calls) if aws is not None else AwsCalls()

    @cached_property
    def github(self) -> "GithubClient":
        from tools.repos.github import GithubClient

        return GithubClient.from_config(self.config.github)
