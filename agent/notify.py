"""After each run, tell a webhook what changed: new failures, fixed items, a failed or incomplete run, overdue
evidence requests. Nothing to say, nothing sent.

The body is JSON with a Slack-compatible `text` line; it is redacted like evidence before it leaves. The webhook
URL is a secret (it carries the token): the configuration names only the environment variable holding it.
A webhook that fails is reported back as one line and never fails the run.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

import httpx

from agent.history import RunDiff, compare_reports
from agent.report import read_report
from agent.report_schema import ReadinessReport
from agent.requests import EvidenceRequest
from tools.redact import redact
from tools.signing import PublicKey
from tools.workspace import Workspace

TIMEOUT_S = 10.0
MAX_LISTED = 20  # entries per list in the body; the text gives the full counts


def notification(
    company: str,
    run_id: str,
    *,
    report: ReadinessReport | None = None,
    changes: RunDiff | None = None,
    error: str | None = None,
    overdue: list[EvidenceRequest] = (),  # type: ignore[assignment]
) -> dict[str, Any] | None:
    """The body to send about one run (None: nothing worth a message). `report` is None when the run failed
    (then `error` says why); `changes` compares it with the run before."""
    unread = [s.line() for s in report.run.sources if s.state == "error"] if report else []
    new_failures = changes.new_failures if changes else []
    fixed = changes.fixed if changes else []
    overdue = list(overdue)
    if not (error or unread or new_failures or fixed or overdue):
        return None
    status = "failed" if error else "incomplete" if unread else "completed"
    parts = [f"agentic-auditor: run {run_id} for {company} {status}"]
    if error:
        parts.append(f"error: {error}")
    if report is not None:
        before = f" (was {changes.readiness_before:.1f}%)" if changes else ""
        parts.append(f"readiness {report.summary.readiness_pct:.1f}%{before}")
    if new_failures or fixed:
        parts.append(f"{len(new_failures)} new failure(s), {len(fixed)} fixed")
    if unread:
        parts.append(f"sources not read: {'; '.join(unread)}")
    if overdue:
        parts.append(f"{len(overdue)} overdue evidence request(s)")
    body = {
        "text": "; ".join(parts) + ".",
        "run_id": run_id,
        "company": company,
        "status": status,
        "readiness_pct": report.summary.readiness_pct if report else None,
        "new_failures": [e.model_dump(mode="json") for e in new_failures[:MAX_LISTED]],
        "fixed": [e.model_dump(mode="json") for e in fixed[:MAX_LISTED]],
        "unread_sources": unread,
        "overdue_requests": [
            {
                "control": r.control,
                "owner_role": r.owner_role,
                "period_start": str(r.period_start),
                "period_end": str(r.period_end),
                "due": str(r.due),
            }
            for r in overdue[:MAX_LISTED]
        ],
        "error": error,
    }
    return redact(body).data


def changes_since_previous(workspace: Workspace, public: PublicKey, report: ReadinessReport) -> RunDiff | None:
    """This run compared with the newest earlier run that wrote a report its run signed with `public` (None: it
    is the first)."""
    from agent.history import run_history

    earlier = [
        e
        for e in run_history(workspace, public)
        if e.status == "completed" and e.started_at < report.run.started_at and e.full is not None
    ]
    if not earlier:
        return None
    return compare_reports(read_report(workspace, earlier[0].run_id), report)


def send(body: dict[str, Any], env_name: str) -> str | None:
    """POST the body to the URL in the environment variable `env_name`. Returns a warning line when it could
    not be delivered (None when sent, or when no URL is set: notifications are off)."""
    url = os.environ.get(env_name, "").strip()
    if not url:
        return None
    try:
        response = httpx.post(url, json=body, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        return f"notification not sent (webhook from ${env_name}): {type(exc).__name__}"
    if response.status_code >= 300:
        return f"notification not sent (webhook from ${env_name}): HTTP {response.status_code}"
    return None


def overdue_requests(workspace: Workspace, today: date) -> list[EvidenceRequest]:
    """The evidence requests overdue today (see agent/requests.py)."""
    from agent.requests import evidence_requests
    from agent.review_log import ReviewLog, approved_attachments
    from agent.runs import RunStore
    from knowledge.control_library import load_controls

    runs = RunStore(workspace.runs_db).runs(limit=1_000_000)
    since = min(run.started_at for run in runs).date() if runs else None
    with ReviewLog(workspace.review_db) as review_log:
        approved = approved_attachments(review_log)
    return [
        r for r in evidence_requests(load_controls().controls, approved, today, since=since) if r.state == "overdue"
    ]


def notify_after_run(
    workspace: Workspace,
    env_name: str,
    company: str,
    run_id: str,
    *,
    public: PublicKey | None = None,  # what the earlier runs' reports are checked with; needed with `report`
    report: ReadinessReport | None = None,
    error: str | None = None,
    today: date,
) -> str | None:
    """Build and send the message about a run; a warning line when it could not be sent. Never raises: a
    notification is a courtesy, the run's own result stands whatever happens to it."""
    if not os.environ.get(env_name, "").strip():
        return None
    try:
        changes = changes_since_previous(workspace, public, report) if report is not None and public else None
        body = notification(
            company, run_id, report=report, changes=changes, error=error, overdue=overdue_requests(workspace, today)
        )
    except Exception as exc:  # noqa: BLE001  (a broken history must not fail the run either)
        return f"notification not built: {type(exc).__name__}: {exc}"
    return send(body, env_name) if body is not None else None
