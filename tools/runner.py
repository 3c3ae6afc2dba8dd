"""Collect evidence through the catalog into the locker, and judge it with checks.

A run asks for the same (tool, params) from many controls; each distinct call is collected once per run,
and a fresh locker item (younger than the TTL) is reused instead of collecting again, which is what makes
`--resume` and repeated runs cheap. A TTL of 0, or `fresh`, reuses only what this run itself stored (before
an interruption). An earlier run's item is reused only when a signed run record lists it (`signed`, from
agent/integrity.py): an item appended to the locker by anyone else is collected again, never trusted.
Checks see only what the locker holds: the redacted, stored data.

Every source problem met on the way (a collector that raised, an unreadable part in what it returned) goes
to the run's SourceLedger; after a problem that fails the whole source (no credentials, endpoint down), the
source's other calls fail at once with that cause instead of each waiting for its own timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Container
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from tools.catalog import AWS_OPERATION, CHECKS, TOOLS, EvidenceView, StoredEvidence, ToolSpec
from tools.chain import canonical_json
from tools.config import AuditorConfig, EvidenceTtl
from tools.context import CollectContext
from tools.findings import Finding, Status
from tools.locker import DEFAULT_TTL, EvidenceLocker, EvidenceTooLarge, TamperedEvidence
from tools.repos.github import repository_full_name
from tools.sources import SourceLedger, SourceProblem, problem_from_error, problems_in_data

if TYPE_CHECKING:
    from tools.aws.accounts import MemberAccount

log = logging.getLogger(__name__)


class InvalidToolCall(ValueError):
    """An unknown tool or check, or params its args model refuses."""


class CollectionError(RuntimeError):
    """A collector raised; the caller turns this into an error finding."""

    def __init__(self, tool: str, reason: str) -> None:
        super().__init__(f"{tool}: collection failed: {reason}")
        self.tool = tool
        self.reason = reason


def outside_configuration(spec: ToolSpec, args: BaseModel, config: AuditorConfig) -> list[str]:
    """What a tool call's arguments reach beyond the configuration, one line each (empty: nothing).

    Arguments (a model chooses them) may narrow a collection, never widen it: files only under a
    configured log path once resolved (no `..` or symlink leads out), and only configured local
    repositories, GitHub repositories, organisation, CloudWatch log groups and AWS regions.
    """
    problems: list[str] = []
    paths = getattr(args, "paths", None)
    if spec.source == "logs" and paths is not None:
        roots = [_real_path(config, root) for root in config.logs.paths]
        for path in paths:
            if not any(_real_path(config, Path(path)).is_relative_to(root) for root in roots):
                problems.append(f"{path!r} is not under a configured [logs] path")
    repos = getattr(args, "repos", None)
    if spec.source == "git" and repos is not None:
        local = {_real_path(config, path) for path in config.repos.local}
        for repo in repos:
            if _real_path(config, Path(repo)) not in local:
                problems.append(f"{repo!r} is not a configured [repos] local repository")
    if spec.source == "github" and repos is not None:
        configured = {_github_name(name, config) for name in config.github.repos}
        for repo in repos:
            name = _github_name(repo, config)
            if name is None or name not in configured:
                problems.append(f"{repo!r} is not a configured [github] repository")
    org = getattr(args, "org", None)
    if org is not None and org.lower() != (config.github.owner or "").lower():
        problems.append(f"organisation {org!r} is not the configured [github] owner")
    for group in getattr(args, "log_groups", None) or []:
        if group not in config.logs.cloudwatch_log_groups:
            problems.append(f"log group {group!r} is not a configured [logs] CloudWatch log group")
    for region in getattr(args, "regions", None) or []:
        if region not in config.aws.regions:
            problems.append(f"region {region!r} is not a configured [aws] region")
    return problems


def _real_path(config: AuditorConfig, path: Path) -> Path:
    # Resolved the way a collector opens it, then with symlinks and `..` followed to where it really is.
    return config.resolve(path).resolve()


def _github_name(name: str, config: AuditorConfig) -> str | None:
    try:
        return repository_full_name(name, config.github.owner).lower()  # GitHub names ignore case
    except ValueError:
        return None


def reads_aws(spec: ToolSpec) -> bool:
    """Whether the tool sends AWS requests: with [aws.organization] it is collected once per member account."""
    return any(AWS_OPERATION.fullmatch(operation) for operation in spec.operations)


@dataclass
class RunnerCounters:
    collected: int = 0  # collector calls that stored a new item
    reused_from_locker: int = 0  # fresh items from an earlier run (TTL)
    cache_hits: int = 0  # repeated requests within this run


class EvidenceRunner:
    def __init__(
        self,
        locker: EvidenceLocker,
        ctx: CollectContext,
        run_id: str | None = None,
        ttl: timedelta | EvidenceTtl = DEFAULT_TTL,
        *,
        fresh: bool = False,
        sources: SourceLedger | None = None,
        signed: Container[str] = frozenset(),
    ) -> None:
        self.locker = locker
        self.ctx = ctx
        self.run_id = run_id or ctx.run_id
        self.ttl = ttl if isinstance(ttl, EvidenceTtl) else EvidenceTtl(ttl)  # per collector (tool name)
        self.fresh = fresh  # ignore evidence stored by earlier runs
        self.signed = signed  # record hashes of items signed runs collected: the only earlier items reused
        self.sources = sources if sources is not None else SourceLedger()
        self.counters = RunnerCounters()
        self._calls: dict[tuple[str, str], Future[StoredEvidence]] = {}
        self._lock = threading.Lock()

    def collect_each_account(
        self, tool_name: str, params: dict[str, Any] | None = None
    ) -> list[tuple[str | None, StoredEvidence | Exception]]:
        """(account, evidence or the error that stopped it) for one tool call: one per member account for an AWS
        tool under [aws.organization], the accounts collected concurrently; else one, with account None."""
        spec = TOOLS.get(tool_name)
        if spec is None or not reads_aws(spec) or self.ctx.config.aws.organization is None:
            return [(None, _outcome(lambda: self.collect(tool_name, params)))]
        try:
            accounts = self.ctx.accounts
        except Exception as exc:  # the organization could not be listed: the call fails as a whole
            self.sources.record([problem_from_error(spec.source, exc, self.ctx.config)])
            return [(None, CollectionError(tool_name, f"the AWS Organization's accounts: {type(exc).__name__}: {exc}"))]
        workers = self.ctx.config.aws.organization.max_workers
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = pool.map(lambda a: _outcome(lambda: self.collect(tool_name, params, account=a.id)), accounts)
            return [(account.id, outcome) for account, outcome in zip(accounts, outcomes, strict=True)]

    def collect(
        self, tool_name: str, params: dict[str, Any] | None = None, account: str | None = None
    ) -> StoredEvidence:
        """The stored evidence for one tool call: from this run, from a fresh locker item, or collected now.
        `account`: the member account to read ([aws.organization]), kept in the stored params."""
        spec = TOOLS.get(tool_name)
        if spec is None:
            raise InvalidToolCall(f"unknown tool {tool_name!r}")
        try:
            args = spec.args_model.model_validate(params or {})
        except ValidationError as exc:
            problems = "; ".join(
                f"'{'.'.join(str(part) for part in error['loc']) or '(params)'}': {error['msg']}"
                for error in exc.errors()
            )
            raise InvalidToolCall(f"{tool_name}: invalid params: {problems}") from exc
        beyond = outside_configuration(spec, args, self.ctx.config)
        if beyond:
            raise InvalidToolCall(f"{tool_name}: params outside the configuration: {'; '.join(beyond)}")
        # Defaults filled in, so {} and its spelled-out equivalent are the same call.
        canonical_params = args.model_dump(mode="json") | ({"account": account} if account else {})
        key = (tool_name, canonical_json(canonical_params).decode())

        with self._lock:
            pending = self._calls.get(key)
            if pending is None:
                pending = self._calls[key] = Future()
                is_first = True
            else:
                self.counters.cache_hits += 1
                is_first = False
        if not is_first:
            # Waits while the first request is still collecting. A failed call is not retried within the
            # run: its error is raised again.
            return pending.result()

        try:
            evidence = self._reuse_fresh(tool_name, canonical_params) or self._collect_now(spec, args, canonical_params)
        except BaseException as exc:
            pending.set_exception(exc)
            raise
        # Reused evidence counts too: a log path missing an hour ago is still an unread source now.
        self.sources.record(problems_in_data(spec.source, evidence.data))
        pending.set_result(evidence)
        return evidence

    def _reuse_fresh(self, tool_name: str, params: dict[str, Any]) -> StoredEvidence | None:
        ttl = self.ttl.for_tool(tool_name)
        # This run's own items first: a run resumed after a kill was never signed, yet what it stored is its own.
        record = self.locker.find_fresh(tool_name, params, only_run=self.run_id)
        if record is None and not self.fresh and ttl > timedelta(0):
            record = self.locker.find_fresh(tool_name, params, max_age=ttl, signed=self.signed)
        if record is None:
            return None
        try:
            data = self.locker.read_record(record)
        except TamperedEvidence as exc:
            log.warning("not reusing %s: %s; collecting again", record.id, exc)
            return None
        with self._lock:
            self.counters.reused_from_locker += 1
        return StoredEvidence(id=record.id, tool=record.tool, params=record.params, data=data)

    def _collect_now(self, spec: ToolSpec, args: BaseModel, params: dict[str, Any]) -> StoredEvidence:
        ctx = self._context_for(spec, params.get("account"))
        blocking = self.sources.blocking(spec.source)
        if blocking is not None:
            raise CollectionError(spec.name, f"not tried: {blocking.cause} (met earlier in this run)")
        try:
            data = spec.func(ctx, args)
        except Exception as exc:
            self.sources.record([problem_from_error(spec.source, exc, self.ctx.config)])
            raise CollectionError(spec.name, f"{type(exc).__name__}: {exc}") from exc
        try:
            record = self.locker.put(
                run_id=self.run_id,
                source=spec.source,
                tool=spec.name,
                operation=",".join(spec.operations) or spec.name,
                params=params,
                data=data,
                ttl=self.ttl.for_tool(spec.name),
            )
        except EvidenceTooLarge as exc:
            self.sources.record([problem_from_error(spec.source, exc, self.ctx.config)])
            raise CollectionError(spec.name, str(exc)) from exc
        with self._lock:
            self.counters.collected += 1
        # Read back, so the caller holds exactly what is stored (redacted, as JSON) and nothing else.
        stored_data = self.locker.read_record(record)
        return StoredEvidence(id=record.id, tool=record.tool, params=record.params, data=stored_data)

    def _context_for(self, spec: ToolSpec, account: str | None) -> CollectContext:
        if account is None:
            return self.ctx
        member = self._member(account)
        if member.aws is None:  # this account only: the others go on, and every check says so (evaluate)
            self._note_unreachable(member)
            raise CollectionError(spec.name, f"account {account}: {member.problem}")
        return self.ctx.for_account(member)

    def _note_unreachable(self, member: MemberAccount) -> None:
        """An account that could not be read makes AWS an unread source: the run is incomplete, never a pass."""
        self.sources.record(
            [
                SourceProblem(
                    "aws",
                    f"account {member.id} was not read: {member.problem}",
                    "check the account id in [aws.organization], and that the role exists there and trusts the "
                    "auditing account (see README, Many accounts)",
                )
            ]
        )

    def _member(self, account: str) -> MemberAccount:
        member = next((member for member in self.ctx.accounts if member.id == account), None)
        if member is None:
            raise InvalidToolCall(f"account {account!r} is not one of the AWS Organization's chosen accounts")
        return member

    def evaluate(self, check_id: str, items: list[StoredEvidence]) -> list[Finding]:
        """Run a check over stored items; a check that raises yields one error finding naming it.

        Under [aws.organization] a check that reads AWS runs once per member account, over that account's
        items (and any items from other sources), and each finding names its account."""
        spec = CHECKS.get(check_id)
        if spec is None:
            raise InvalidToolCall(f"unknown check {check_id!r}")
        per_account = any(reads_aws(TOOLS[tool]) for tool in spec.needs if tool in TOOLS)
        if self.ctx.config.aws.organization is None or not per_account:
            return self._evaluate_once(check_id, items)
        try:
            accounts = self.ctx.accounts
        except Exception:  # the organization could not be listed: the collection errors say why
            return self._evaluate_once(check_id, items)
        from tools.aws.accounts import unreachable_finding  # boto3 loads only when AWS is used

        shared = [item for item in items if "account" not in item.params]  # evidence from other sources
        shared_ids = {item.id for item in shared}
        findings: list[Finding] = []
        for member in accounts:
            own = [item for item in items if item.params.get("account") == member.id]
            if member.aws is None:
                self._note_unreachable(member)
                unreachable = unreachable_finding(check_id, member, [item.id for item in own])
                findings.append(unreachable.model_copy(update={"severity": spec.severity}))
                continue
            for finding in self._evaluate_once(check_id, shared + own):
                if finding.evidence_ids and set(finding.evidence_ids) <= shared_ids:
                    # Judged from the other sources alone (a local log file, a repository): not this account's,
                    # and the same for every account, so listed once, with the account the check named, if any.
                    if finding not in findings:
                        findings.append(finding)
                else:
                    findings.append(finding if finding.account else finding.model_copy(update={"account": member.id}))
        return findings

    def _evaluate_once(self, check_id: str, items: list[StoredEvidence]) -> list[Finding]:
        spec = CHECKS[check_id]
        evidence_ids = [item.id for item in items]
        try:
            # The data comes from the locker, whatever the caller's objects hold.
            view = EvidenceView(
                [StoredEvidence(item.id, item.tool, item.params, self.locker.read(item.id)) for item in items]
            )
            findings = spec.func(view)
            if not isinstance(findings, list) or not all(isinstance(finding, Finding) for finding in findings):
                raise TypeError(f"returned {type(findings).__name__}, not a list of Finding")
        except Exception as exc:
            findings = [
                Finding(
                    check=check_id,
                    status=Status.ERROR,
                    resource=check_id,
                    reason=f"check {check_id} failed: {type(exc).__name__}: {exc}",
                    evidence_ids=evidence_ids,
                )
            ]
        # The severity is the check's, from its registration: one rubric, not each check's own say.
        return [finding.model_copy(update={"severity": spec.severity}) for finding in findings]


def _outcome(collect: Callable[[], StoredEvidence]) -> StoredEvidence | Exception:
    try:
        return collect()
    except Exception as exc:  # a failed source is a result (error findings), not a crash
        return exc
