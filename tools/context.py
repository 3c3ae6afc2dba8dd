"""What a collector gets: the configuration and the read-only clients built from it.

Clients are built lazily and once per run, so caching and call counting are per run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from tools.config import AuditorConfig

if TYPE_CHECKING:
    from tools.aws.accounts import MemberAccount
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
    account: str | None = None  # the member account `aws` reads ([aws.organization]); None: the credentials' own
    # The attachments reviewers approved for a control, as the review log records them (agent/api.py gives the
    # workspace's); None where no review log is read, which the collector asking for them reports.
    approved_attachments: Callable[[str], list[dict[str, str]]] | None = None
    _accounts_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def aws(self) -> ReadOnlyAws:
        from tools.aws.session import ReadOnlyAws

        return ReadOnlyAws(self.config.aws)

    @property
    def aws_calls(self) -> AwsCalls:
        """AWS requests sent so far, member accounts included; none when no collector needed AWS (reading `aws`
        would build the client)."""
        aws = self.__dict__.get("aws")  # where cached_property keeps the client once it is built
        members = [account.aws for account in self.__dict__.get("_accounts", [])]
        sessions = [session for session in (aws, *members) if session is not None]
        return AwsCalls(sum(s.calls_made for s in sessions), sum(s.distinct_calls for s in sessions))

    @property
    def accounts(self) -> list[MemberAccount]:
        """The organization's member accounts, opened once per run; [] without [aws.organization]."""
        organization = self.config.aws.organization
        if organization is None:
            return []
        with self._accounts_lock:  # controls run concurrently: one listing and one AssumeRole per account
            if "_accounts" not in self.__dict__:
                from tools.aws.accounts import open_accounts

                self.__dict__["_accounts"] = open_accounts(self.aws, organization)
            return self.__dict__["_accounts"]

    def for_account(self, member: MemberAccount) -> CollectContext:
        """A context whose `aws` reads one member account: collectors run in it unchanged."""
        context = CollectContext(
            self.config, self.run_id, self.extra, account=member.id, approved_attachments=self.approved_attachments
        )
        context.__dict__["aws"] = member.aws  # the slot the `aws` cached_property fills
        return context

    @cached_property
    def github(self) -> GithubClient:
        from tools.repos.github import GithubClient

        return GithubClient.from_config(self.config.github)
