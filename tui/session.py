"""The review session: the latest report, the review log over it, and every reviewer action.

Screens call these methods and show what they return; nothing here knows about widgets. Each action
checks what it may do, writes one row to the review log and re-derives the control's state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from agent.citations import citation_ids
from agent.report_schema import ControlResult, ReadinessReport, VerifierResult
from agent.review_log import (
    ControlReview,
    LogEntry,
    ReviewLog,
    derive_review,
    group_entries,
    parse_period,
    text_hash,
)
from tools.config import CONFIG_FILENAME, AuditorConfig, ConfigError, load_config
from tools.findings import Finding, Status
from tools.workspace import Workspace
from tui.sources import Sources

# Criterion series in the order the Trust Services Criteria present them.
SERIES_ORDER = [f"CC{n}" for n in range(1, 10)] + ["A1", "C1", "PI1"] + [f"P{n}" for n in range(1, 9)]
# `open(model=...)` default: build the chat model from the configuration (None means offline).
CONFIGURED_MODEL: Any = object()
# A gap: checks that failed or could not be judged. A control awaiting manual evidence is not one: nothing failed.
GAP_STATUSES = frozenset({"fail", "partial", "error"})
# Where `auditor demo` writes the demo company's configuration, inside the workspace it runs in
# (tui/cli/proof.py `demo`: DemoCompany(workspace.root / "demo"), which writes auditor.toml there).
DEMO_CONFIG = Path("demo") / CONFIG_FILENAME

RegenerateFn = Callable[[str, str, Callable[[str], None]], ControlResult]
VerifyFn = Callable[[ControlResult, str], VerifierResult]


class NoRunError(Exception):
    """The workspace has no run to review yet."""


class ReviewActionError(Exception):
    """An action the reviewer asked for cannot be done; the message says why, in plain words."""


def run_config(
    config: AuditorConfig, workspace: Workspace, report: ReadinessReport, *, config_given: bool = True
) -> AuditorConfig:
    """The configuration to regenerate the report's controls with: the one its run used, as far as known.

    `config` is the CLI's (it honours --config and --workspace). When no --config was given and the
    report is from `auditor demo`, the demo's own configuration (written into the workspace by the
    demo) is the one the run used: it points the tools at the demo company. The reviewer stays the
    CLI's. Whatever the configuration, anything written names the company the report names.
    """
    if not config_given and report.run.trigger == "demo":
        demo_path = workspace.root / DEMO_CONFIG
        if demo_path.is_file():
            try:
                demo = load_config(demo_path, workspace=workspace.root)
            except ConfigError:
                demo = None
            if demo is not None:
                config = demo.model_copy(update={"review": config.review})
    if report.company and config.company != report.company:
        config = config.model_copy(update={"company": report.company})
    return config


def search_text(review: ControlReview) -> str:
    """Everything the list search looks in: id, title, criteria, status, state, narrative and findings."""
    control = review.control
    parts = [control.id, control.title, *control.criteria, control.status, review.state, control.narrative.text]
    for finding in control.findings:
        parts.extend((finding.check, finding.resource, finding.reason))
    return " ".join(parts).lower()


def series_of(criterion_id: str) -> str:
    return criterion_id.split(".", 1)[0]


def series_rank(series: str) -> int:
    return SERIES_ORDER.index(series) if series in SERIES_ORDER else len(SERIES_ORDER)


@dataclass(frozen=True)
class SeriesGroup:
    series: str
    title: str
    reviews: list[ControlReview]

    def count(self, *, status: str | None = None, state: str | None = None) -> int:
        return sum(
            1
            for review in self.reviews
            if (status is None or review.control.status == status) and (state is None or review.state == state)
        )


@dataclass(frozen=True)
class ListFilter:
    gaps_only: bool = False
    awaiting_only: bool = False
    query: str = ""

    def admits(self, review: ControlReview) -> bool:
        if self.gaps_only and review.control.status not in GAP_STATUSES:
            return False
        if self.awaiting_only and not review.awaiting_review:
            return False
        if self.query:
            haystack = search_text(review)
            return all(word in haystack for word in self.query.lower().split())
        return True


class ReviewSession:
    def __init__(
        self,
        *,
        config: AuditorConfig,
        workspace: Workspace,
        report: ReadinessReport,
        log: ReviewLog,
        sources: Sources,
        regenerate: RegenerateFn,
        verify: VerifyFn,
        series_titles: dict[str, str] | None = None,
        model: Any = None,
    ) -> None:
        self.config = config
        self.workspace = workspace
        self.report = report
        self.log = log
        self.sources = sources
        self.reviewer = config.review.reviewer_name()
        self._regenerate = regenerate
        self._verify = verify
        self.series_titles = series_titles or {}
        self._model = model
        self._report_controls = {control.id: control for control in report.controls}
        self.reviews: dict[str, ControlReview] = {}
        self.reload()

    @classmethod
    def open(
        cls,
        config: AuditorConfig,
        workspace: Workspace,
        *,
        model: Any = CONFIGURED_MODEL,
        clock: Callable[[], datetime] | None = None,
        config_given: bool = True,
    ) -> ReviewSession:
        """The session over the workspace's latest run, wired to the real agent, locker and knowledge.

        `model` is the chat model for regenerating and for the chat (default: built from the
        configuration when first needed; None: offline). `clock` stamps review-log entries (tests fix it).
        `config_given`: the reviewer named the configuration (--config); if not, a demo run's own
        configuration is used (see `run_config`).
        """
        # agent.report, not agent.api: reading a report must not import the agent graph (start-up time).
        from agent.report import latest_run_id, read_report
        from knowledge.catalog import load_catalog

        run_id = latest_run_id(workspace)
        if run_id is None:
            raise NoRunError(f"no run in {workspace.root} yet: run `auditor run` (or `auditor demo`) first")
        report = read_report(workspace, run_id)
        config = run_config(config, workspace, report, config_given=config_given)

        def regenerate(control_id: str, feedback: str, on_event: Callable[[str], None]) -> ControlResult:
            from agent.api import regenerate_control

            return regenerate_control(
                config,
                workspace,
                control_id,
                feedback,
                model=session.model,
                on_event=lambda event: on_event(str(event)),
            )

        def verify(control: ControlResult, text: str) -> VerifierResult:
            from agent.api import verify_narrative

            return verify_narrative(workspace, control, text, config.audit.bounds)

        session = cls(
            config=config,
            workspace=workspace,
            report=report,
            log=_signed_log(config, workspace, clock),
            sources=Sources(workspace),
            regenerate=regenerate,
            verify=verify,
            series_titles=load_catalog().series(),
            model=model,
        )
        return session

    @cached_property
    def model(self) -> Any:
        """The chat model (None: offline); built on first use, as langchain takes a while to import."""
        if self._model is not CONFIGURED_MODEL:
            return self._model
        from agent.providers import build_chat_model

        return build_chat_model(self.config)

    @cached_property
    def manual_requirements(self) -> dict[str, list[str]]:
        """What a person must provide per control (from the control library), e.g. "signed NDA"."""
        from knowledge.control_library import load_controls

        return {control.id: list(control.manual_evidence) for control in load_controls().controls}

    def close(self) -> None:
        self.log.close()
        self.sources.close()

    # ----------------------------------------------------------------------------- state

    def reload(self) -> None:
        """Re-derive every control's review state from the log (another reviewer may have written)."""
        entries = group_entries(self.log.entries())
        drafts = self.log.drafts()
        self.reviews = {
            control_id: derive_review(control, entries.get(control_id, []), drafts)
            for control_id, control in self._report_controls.items()
        }

    def _refresh(self, control_id: str) -> ControlReview:
        drafts = self.log.drafts()
        review = derive_review(self._report_controls[control_id], self.log.entries(control_id), drafts)
        self.reviews[control_id] = review
        return review

    def review(self, control_id: str) -> ControlReview:
        try:
            return self.reviews[control_id]
        except KeyError:
            raise ReviewActionError(f"{control_id} is not in the latest run") from None

    def groups(self, list_filter: ListFilter = ListFilter()) -> list[SeriesGroup]:
        by_series: dict[str, list[ControlReview]] = {}
        for review in self.reviews.values():
            if list_filter.admits(review):
                series = series_of(review.control.criteria[0]) if review.control.criteria else "other"
                by_series.setdefault(series, []).append(review)
        return [
            SeriesGroup(series, self.series_titles.get(series, ""), reviews)
            for series, reviews in sorted(by_series.items(), key=lambda item: (series_rank(item[0]), item[0]))
        ]

    def id_match(self, query: str) -> str | None:
        """The control whose id the query is (any case): the search selects it first, since other
        controls whose narrative or findings mention that id are listed too."""
        wanted = query.strip().upper()
        return wanted if wanted in self.reviews else None

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for review in self.reviews.values():
            counts[review.control.status] = counts.get(review.control.status, 0) + 1
            counts[review.state] = counts.get(review.state, 0) + 1
        counts["awaiting"] = sum(1 for review in self.reviews.values() if review.awaiting_review)
        return counts

    def manual_evidence_needed(self, control_id: str) -> list[str]:
        """Manual evidence the control asks for, while no reviewer has attached any."""
        if self.review(control_id).attachments:
            return []
        return list(self.manual_requirements.get(control_id, []))

    # ----------------------------------------------------------------------------- actions

    def _append(self, review: ControlReview, action: str, **fields: object) -> LogEntry:
        return self.log.append(
            reviewer=self.reviewer,
            action=action,  # type: ignore[arg-type]
            control_id=review.id,
            run_id=self.report.run.id,
            before_hash=review.text_hash,
            after_hash=fields.pop("after_hash", review.text_hash),  # type: ignore[arg-type]
            evidence_hash=fields.pop("evidence_hash", review.evidence_hash),  # type: ignore[arg-type]
            **fields,  # type: ignore[arg-type]
        )

    def approve(self, control_id: str) -> ControlReview:
        review = self.review(control_id)
        if review.state == "approved":
            raise ReviewActionError(f"{control_id} is already approved")
        verifier = review.control.narrative.verifier
        if not verifier.passed:
            problems = "; ".join(verifier.problems) or "the verifier did not pass it"
            raise ReviewActionError(f"{control_id} cannot be approved until its draft verifies: {problems}")
        self._append(review, "approve")
        return self._refresh(control_id)

    def reject(self, control_id: str, reason: str) -> ControlReview:
        reason = reason.strip()
        if not reason:
            raise ReviewActionError("a rejection needs a reason")
        review = self.review(control_id)
        self._append(review, "reject", reason=reason)
        return self._refresh(control_id)

    def verify(self, control_id: str, text: str) -> VerifierResult:
        return self._verify(self.review(control_id).control, text)

    def save_edit(self, control_id: str, text: str) -> ControlReview:
        """Record the reviewer's text as the new draft, verified like any other draft."""
        review = self.review(control_id)
        text = text.strip()
        if not text:
            raise ReviewActionError("the narrative cannot be empty")
        if text == review.control.narrative.text:
            raise ReviewActionError("the text is unchanged")
        verifier = self._verify(review.control, text)
        # The reviewer is now the writer of record; the run's evidence and retrieval stay as they were.
        provenance = review.control.narrative.provenance.model_copy(
            update={"writer": "reviewer", "provider": "edit", "model": self.reviewer, "attempts": 1}
        )
        narrative = review.control.narrative.model_copy(
            update={"text": text, "citations": citation_ids(text), "verifier": verifier, "provenance": provenance}
        )
        draft = review.control.model_copy(update={"narrative": narrative})
        self._append(review, "edit", after_hash=text_hash(text), draft=draft)
        return self._refresh(control_id)

    def regenerate(self, control_id: str, feedback: str, on_event: Callable[[str], None]) -> ControlResult:
        """Run the agent for one control with the reviewer's feedback (blocking: call it from a worker)."""
        self.review(control_id)
        return self._regenerate(control_id, feedback, on_event)

    def record_regenerate(self, control_id: str, result: ControlResult, feedback: str) -> ControlReview:
        review = self.review(control_id)
        if result.id != control_id:
            raise ReviewActionError(f"the agent returned {result.id} for {control_id}")
        self._append(
            review,
            "regenerate",
            after_hash=text_hash(result.narrative.text),
            reason=feedback.strip() or None,
            draft=result,
        )
        return self._refresh(control_id)

    def exceptions(self, control_id: str) -> list[Finding]:
        """The control's failing findings: the exceptions a person may answer with a response."""
        return [f for f in self.review(control_id).control.findings if f.status == Status.FAIL]

    def respond(
        self,
        control_id: str,
        exception: Finding,
        *,
        cause: str,
        response: str,
        remediation_date: str = "",
        compensating_control: str = "",
    ) -> ControlReview:
        """Record a management response to one exception (cause, response, remediation date, compensating control)."""
        review = self.review(control_id)
        if not cause.strip() or not response.strip():
            raise ReviewActionError("a response needs its cause and what was done")
        if remediation_date.strip():
            try:
                date.fromisoformat(remediation_date.strip())
            except ValueError as exc:
                raise ReviewActionError(f"remediation date {remediation_date!r}: write it as 2025-03-31") from exc
        detail = {
            "check": exception.check,
            "resource": exception.resource,
            "cause": cause.strip(),
            "response": response.strip(),
            "remediation_date": remediation_date.strip() or None,
            "compensating_control": compensating_control.strip() or None,
        }
        self._append(review, "respond", detail=detail)
        return self._refresh(control_id)

    def attach(self, control_id: str, path: Path, note: str = "", period: str = "") -> tuple[ControlReview, str]:
        """Store a file as manual evidence for a control; returns the review and the evidence id.

        `period`: what the file covers, "2025-Q1" or "2025-01-01..2025-03-31"; empty means this quarter.
        """
        review = self.review(control_id)
        path = Path(path).expanduser()
        if not path.is_file():
            raise ReviewActionError(f"{path}: not a file")
        try:
            period_start, period_end = parse_period(period, self.log.clock().date())
        except ValueError as exc:
            raise ReviewActionError(str(exc)) from exc
        try:
            record = self.sources.attach_manual_evidence(self.report.run.id, control_id, path, note)
        except (OSError, ValueError) as exc:
            raise ReviewActionError(str(exc)) from exc
        detail = {
            "evidence_id": record.id,
            "path": str(path),
            "period_start": period_start.isoformat(),
            "period_end": period_end.isoformat(),
        }
        self._append(review, "attach", reason=note.strip() or None, detail=detail)
        return self._refresh(control_id), record.id


def _signed_log(config: AuditorConfig, workspace: Workspace, clock: Callable[[], datetime] | None) -> ReviewLog:
    """The review log, signing each decision with the workspace key (created on first use) and anchoring its head."""
    from agent.integrity import review_anchors
    from tools.signing import load_signer

    signer = load_signer(config, create=True)
    return ReviewLog(workspace.review_db, clock=clock, signer=signer, anchors=review_anchors(config, workspace, signer))
