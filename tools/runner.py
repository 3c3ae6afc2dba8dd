"""Collect evidence through the catalog into the locker, and judge it with checks.

A run asks for the same (tool, params) from many controls; each distinct call is collected once per run,
and a fresh locker item (younger than the TTL) is reused instead of collecting again, which is what makes
`--resume` and repeated runs cheap. Checks see only what the locker holds: the redacted, stored data.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence, ToolSpec
from tools.chain import canonical_json
from tools.context import CollectContext
from tools.findings import Finding, Status
from tools.locker import DEFAULT_TTL, EvidenceLocker, TamperedEvidence

log = logging.getLogger(__name__)


class InvalidToolCall(ValueError):
    """An unknown tool or check, or params its args model refuses."""


class CollectionError(RuntimeError):
    """A collector raised; the caller turns this into an error finding."""

    def __init__(self, tool: str, reason: str) -> None:
        super().__init__(f"{tool}: collection failed: {reason}")
        self.tool = tool
        self.reason = reason


@dataclass
class RunnerCounters:
    collected: int = 0  # collector calls that stored a new item
    reused_from_locker: int = 0  # fresh items from an earlier run (TTL)
    cache_hits: int = 0  # repeated requests within this run


class EvidenceRunner:
    def __init__(
        self, locker: EvidenceLocker, ctx: CollectContext, run_id: str | None = None, ttl: timedelta = DEFAULT_TTL
    ) -> None:
        self.locker = locker
        self.ctx = ctx
        self.run_id = run_id or ctx.run_id
        self.ttl = ttl
        self.counters = RunnerCounters()
        self._calls: dict[tuple[str, str], Future[StoredEvidence]] = {}
        self._lock = threading.Lock()

    def collect(self, tool_name: str, params: dict[str, Any] | None = None) -> StoredEvidence:
        """The stored evidence for one tool call: from this run, from a fresh locker item, or collected now."""
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
        # Defaults filled in, so {} and its spelled-out equivalent are the same call.
        canonical_params = args.model_dump(mode="json")
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
        pending.set_result(evidence)
        return evidence

    def _reuse_fresh(self, tool_name: str, params: dict[str, Any]) -> StoredEvidence | None:
        record = self.locker.find_fresh(tool_name, params)
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
        try:
            data = spec.func(self.ctx, args)
        except Exception as exc:
            raise CollectionError(spec.name, f"{type(exc).__name__}: {exc}") from exc
        record = self.locker.put(
            run_id=self.run_id,
            source=spec.source,
            tool=spec.name,
            operation=",".join(spec.operations) or spec.name,
            params=params,
            data=data,
            ttl=self.ttl,
        )
        with self._lock:
            self.counters.collected += 1
        # Read back, so the caller holds exactly what is stored (redacted, as JSON) and nothing else.
        stored_data = self.locker.read_record(record)
        return StoredEvidence(id=record.id, tool=record.tool, params=record.params, data=stored_data)

    def evaluate(self, check_id: str, items: list[StoredEvidence]) -> list[Finding]:
        """Run a check over stored items; a check that raises yields one error finding naming it."""
        spec = CHECKS.get(check_id)
        if spec is None:
            raise InvalidToolCall(f"unknown check {check_id!r}")
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
            return [
                Finding(
                    check=check_id,
                    status=Status.ERROR,
                    resource=check_id,
                    reason=f"check {check_id} failed: {type(exc).__name__}: {exc}",
                    evidence_ids=evidence_ids,
                )
            ]
        return findings
