"""The review log: append-only (triggers), hash-chained (tamper detection), and the state it implies."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from agent.report import summarize
from agent.report_schema import (
    ControlResult,
    CriterionResult,
    Narrative,
    Provenance,
    ReadinessReport,
    RunInfo,
    VerifierResult,
    WriterInfo,
)
from agent.review_log import (
    ReviewLog,
    apply_review,
    approved_attachments,
    derive_review,
    evidence_fingerprint,
    manual_attachments,
    parse_period,
    quarter_of,
    text_hash,
)
from tools.findings import Finding, Status

FIXED_TIME = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def _control(text: str = "MFA is enforced [CC6.1] [ev:aaaaaaaaaaaa].", evidence: str = "aaaaaaaaaaaa") -> ControlResult:
    """A fixture control result (built from the report models, not from a run)."""
    return ControlResult(
        id="IAM-01",
        title="MFA for console users",
        criteria=["CC6.1"],
        kind="automated",
        status="pass",
        findings=[
            Finding(
                check="aws.iam.console_user_mfa",
                status=Status.PASS,
                resource="user/alice",
                reason="alice has an MFA device",
                evidence_ids=[evidence],
            )
        ],
        narrative=Narrative(
            status="verified",
            text=text,
            citations=["CC6.1", f"ev:{evidence}"],
            verifier=VerifierResult(passed=True, sentences=1, cited_sentences=1),
            provenance=Provenance(
                writer="offline", provider="offline", model="deterministic-v1", evidence_ids=[evidence]
            ),
        ),
    )


@pytest.fixture
def log(tmp_path):
    review_log = ReviewLog(tmp_path / "review.sqlite", clock=lambda: FIXED_TIME)
    yield review_log
    review_log.close()


def _decide(log: ReviewLog, control: ControlResult, action: str, **fields):
    return log.append(
        reviewer="dana",
        action=action,
        control_id=control.id,
        run_id="run-1",
        before_hash=fields.pop("before_hash", text_hash(control.narrative.text)),
        after_hash=fields.pop("after_hash", text_hash(control.narrative.text)),
        evidence_hash=evidence_fingerprint(control),
        **fields,
    )


def test_entries_chain_and_verify(log):
    control = _control()
    first = _decide(log, control, "reject", reason="cite the password policy too")
    second = _decide(log, control, "approve")
    assert second.prev_hash == first.hash
    assert first.at == "2025-03-01T09:30:00+00:00"
    report = log.verify()
    assert report.ok and report.entries == 2


def test_update_and_delete_are_refused(log):
    _decide(log, _control(), "approve")
    db = sqlite3.connect(log.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE review_log SET reviewer = 'mallory'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM review_log")
    db.close()
    assert log.entries()[0].reviewer == "dana"


def test_wal_mode(log):
    db = sqlite3.connect(log.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def _tamper(path, sql: str) -> None:
    # Someone with file access can drop the triggers; the chain still catches the change.
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TRIGGER IF EXISTS review_log_no_update; DROP TRIGGER IF EXISTS review_log_no_delete;"
        "DROP TRIGGER IF EXISTS drafts_no_update; DROP TRIGGER IF EXISTS drafts_no_delete;"
        "DROP TRIGGER IF EXISTS draft_records_no_update; DROP TRIGGER IF EXISTS draft_records_no_delete;" + sql
    )
    db.close()


def _tamper_drafts(path, control: ControlResult) -> None:
    """Overwrite every stored draft with `control`, in whichever table the log keeps drafts."""
    db = sqlite3.connect(path)
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    db.close()
    raw = control.model_dump_json().replace("'", "''")
    updates = [f"UPDATE {t} SET control_json = '{raw}';" for t in ("drafts", "draft_records") if t in tables]
    _tamper(path, "".join(updates))


def test_altered_row_breaks_the_chain(log):
    control = _control()
    _decide(log, control, "reject", reason="missing evidence")
    _decide(log, control, "approve")
    _tamper(log.path, "UPDATE review_log SET reason = 'looks fine' WHERE seq = 1;")
    report = log.verify()
    assert not report.ok
    assert any("row 1" in problem and "altered" in problem for problem in report.problems)


def test_deleted_row_breaks_the_chain(log):
    control = _control()
    for _ in range(3):
        _decide(log, control, "approve")
    _tamper(log.path, "DELETE FROM review_log WHERE seq = 2;")
    report = log.verify()
    assert not report.ok
    assert any("row 3" in problem for problem in report.problems)


def test_altered_draft_text_is_detected(log):
    control = _control()
    edited_text = "MFA is enforced for every console user [CC6.1] [ev:aaaaaaaaaaaa]."
    edited = control.model_copy(update={"narrative": control.narrative.model_copy(update={"text": edited_text})})
    _decide(log, control, "edit", after_hash=text_hash(edited_text), draft=edited)
    assert log.verify().ok
    forged = edited.model_copy(update={"narrative": edited.narrative.model_copy(update={"text": "All good."})})
    _tamper_drafts(log.path, forged)
    problems = log.verify().problems
    assert any(problem.startswith("row 1:") and "altered" in problem for problem in problems)
    # The session never shows an altered draft: the control keeps the text the chain vouches for.
    assert derive_review(control, log.entries(), log.drafts()).control.narrative.text == control.narrative.text


def _failing_edit(log: ReviewLog, control: ControlResult) -> ControlResult:
    """Record an edit whose draft the verifier failed (so it cannot be approved)."""
    text = "MFA is enforced. Nobody checked [CC6.1]."
    verifier = VerifierResult(passed=False, sentences=2, cited_sentences=1, problems=["sentence 1 cites nothing"])
    edited = control.model_copy(
        update={"narrative": control.narrative.model_copy(update={"text": text, "verifier": verifier})}
    )
    _decide(log, control, "edit", after_hash=text_hash(text), draft=edited)
    return edited


def test_altered_draft_verifier_result_is_detected(log):
    # The verifier result gates approval: the chain must cover it, not only the draft's text.
    control = _control()
    edited = _failing_edit(log, control)
    assert log.verify().ok
    assert not derive_review(control, log.entries(), log.drafts()).control.narrative.verifier.passed

    forged = edited.model_copy(
        update={
            "narrative": edited.narrative.model_copy(
                update={"verifier": VerifierResult(passed=True, sentences=2, cited_sentences=2)}
            )
        }
    )
    _tamper_drafts(log.path, forged)
    report = log.verify()
    assert not report.ok
    assert any(problem.startswith("row 1:") and "altered" in problem for problem in report.problems)
    # And the forged draft is not used: nothing reads "passed" from it.
    review = derive_review(control, log.entries(), log.drafts())
    assert review.control.narrative.text == control.narrative.text != edited.narrative.text


def test_altered_draft_findings_are_detected(log):
    control = _control()
    edited = _failing_edit(log, control)
    forged = edited.model_copy(update={"findings": [], "status": "pass"})
    _tamper_drafts(log.path, forged)
    assert any("row 1:" in problem and "altered" in problem for problem in log.verify().problems)


def test_logs_written_before_drafts_were_chained_stay_readable(log):
    """An older log: the draft sits in `drafts` under its text hash and the row names no draft hash."""
    from agent.review_log import LogEntry
    from tools.chain import GENESIS, chain_hash

    control = _control()
    text = "Every console user has MFA [CC6.1] [ev:aaaaaaaaaaaa]."
    edited = control.model_copy(update={"narrative": control.narrative.model_copy(update={"text": text})})
    entry = LogEntry(
        seq=1,
        at="2024-12-01T09:00:00+00:00",
        reviewer="dana",
        action="edit",
        control_id=control.id,
        run_id="run-0",
        before_hash=text_hash(control.narrative.text),
        after_hash=text_hash(text),
        evidence_hash=evidence_fingerprint(control),
        reason=None,
        detail={},
        prev_hash=GENESIS,
        hash="",
    )
    db = sqlite3.connect(log.path)
    db.execute(
        "INSERT INTO drafts (text_hash, control_id, control_json) VALUES (?, ?, ?)",
        (text_hash(text), control.id, edited.model_dump_json()),
    )
    db.execute(
        "INSERT INTO review_log (seq, at, reviewer, action, control_id, run_id, before_hash, after_hash,"
        " evidence_hash, reason, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        replace(entry, hash=chain_hash(GENESIS, entry.payload())).row(),  # detail {} is stored as '{}'
    )
    db.commit()
    db.close()
    assert log.verify().ok
    assert derive_review(control, log.entries(), log.drafts()).control.narrative.text == text
    _decide(log, edited, "approve")  # new rows chain onto the old ones
    assert log.verify().ok and derive_review(control, log.entries(), log.drafts()).state == "approved"


def test_two_drafts_with_the_same_text_are_both_kept(log):
    # Same text, other verifier result (e.g. re-verified against new evidence): each row keeps its own draft.
    control = _control()
    edited = _failing_edit(log, control)
    passing = edited.model_copy(
        update={
            "narrative": edited.narrative.model_copy(
                update={"verifier": VerifierResult(passed=True, sentences=2, cited_sentences=2)}
            )
        }
    )
    log.append(
        reviewer="dana",
        action="regenerate",
        control_id=control.id,
        run_id="run-1",
        before_hash=text_hash(edited.narrative.text),
        after_hash=text_hash(edited.narrative.text),
        evidence_hash=evidence_fingerprint(edited),
        draft=passing,
    )
    assert log.verify().ok
    assert derive_review(control, log.entries(), log.drafts()).control.narrative.verifier.passed


def test_state_is_derived_from_log_and_report(log):
    control = _control()
    assert derive_review(control, log.entries(), log.drafts()).state == "draft"

    _decide(log, control, "approve")
    review = derive_review(control, log.entries(), log.drafts())
    assert review.state == "approved" and review.decided_by == "dana"

    # A later run with the same text but other evidence: the approval no longer holds.
    rerun = _control(text=control.narrative.text, evidence="bbbbbbbbbbbb")
    review = derive_review(rerun, log.entries(), log.drafts())
    assert review.state == "stale" and review.awaiting_review
    assert "evidence changed" in (review.note or "")

    # A later run with other text: stale as well, and the note says the text changed.
    rewritten = _control(text="MFA is required for all users [CC6.1] [ev:aaaaaaaaaaaa].")
    review = derive_review(rewritten, log.entries(), log.drafts())
    assert review.state == "stale" and "text changed" in (review.note or "")


def test_edit_after_approval_returns_to_review_and_rebases_on_the_run(log):
    control = _control()
    _decide(log, control, "approve")
    edited_text = "Every console user has MFA [CC6.1] [ev:aaaaaaaaaaaa]."
    edited = control.model_copy(update={"narrative": control.narrative.model_copy(update={"text": edited_text})})
    _decide(log, control, "edit", after_hash=text_hash(edited_text), draft=edited)
    review = derive_review(control, log.entries(), log.drafts())
    assert review.state == "stale" and review.control.narrative.text == edited_text
    assert review.note == "edited after approval"

    log.append(
        reviewer="dana",
        action="approve",
        control_id=control.id,
        run_id="run-1",
        before_hash=text_hash(edited_text),
        after_hash=text_hash(edited_text),
        evidence_hash=evidence_fingerprint(review.control),
    )
    assert derive_review(control, log.entries(), log.drafts()).state == "approved"


def test_reject_then_new_text_is_a_fresh_draft(log):
    control = _control()
    _decide(log, control, "reject", reason="no policy citation")
    review = derive_review(control, log.entries(), log.drafts())
    assert review.state == "rejected" and review.note == "no policy citation"
    newer = _control(text="MFA is enforced per policy [CC6.1] [ev:aaaaaaaaaaaa].")
    assert derive_review(newer, log.entries(), log.drafts()).state == "draft"


def test_attach_after_approval_returns_to_review(log):
    control = _control()
    _decide(log, control, "approve")
    _decide(log, control, "attach", detail={"evidence_id": "cccccccccccc", "path": "/tmp/nda.pdf"})
    review = derive_review(control, log.entries(), log.drafts())
    assert review.state == "stale" and review.attachments == ("cccccccccccc",)


def test_unknown_action_is_refused(log):
    with pytest.raises(Exception, match="unknown review action"):
        _decide(log, _control(), "delete")
    assert log.entries() == []


# -- the review in the report ------------------------------------------------------------------------------


def _report(control: ControlResult) -> ReadinessReport:
    """A one-control fixture report (built from the report models, not from a run)."""
    criteria = [CriterionResult(id="CC6.1", status="ready", control_ids=[control.id])]
    return ReadinessReport(
        company="Acme AI",
        run=RunInfo(id="run-1", started_at=FIXED_TIME, writer=WriterInfo(provider="offline", model="deterministic-v1")),
        summary=summarize(criteria, [control]),
        criteria=criteria,
        controls=[control],
    )


def _reviewed(log: ReviewLog, control: ControlResult):
    review = apply_review(_report(control), log).controls[0].review
    assert review is not None
    return review


def test_report_review_state_follows_the_log(log):
    control = _control()
    assert _reviewed(log, control).state == "awaiting_review"

    _decide(log, control, "reject", reason="cite the password policy too")
    rejected = _reviewed(log, control)
    assert (rejected.state, rejected.reviewer, rejected.at) == ("rejected", "dana", FIXED_TIME)
    assert rejected.note == "cite the password policy too" and rejected.text is None

    edited_text = "MFA is enforced for every console user [CC6.1] [ev:aaaaaaaaaaaa]."
    edited = control.model_copy(update={"narrative": control.narrative.model_copy(update={"text": edited_text})})
    _decide(log, control, "edit", after_hash=text_hash(edited_text), draft=edited)
    review = _reviewed(log, control)
    assert (review.state, review.reviewer, review.text, review.edited_by) == ("edited", "dana", edited_text, "dana")

    _decide(log, edited, "approve")
    approved = apply_review(_report(control), log).controls[0]
    assert approved.review is not None and approved.review.state == "approved"
    assert approved.review.text == edited_text and approved.review.edited_at == FIXED_TIME
    assert approved.narrative.text == control.narrative.text  # the run's draft stays in the report as written


def test_a_later_run_with_other_text_awaits_review_again(log):
    control = _control()
    _decide(log, control, "approve")
    assert _reviewed(log, control).state == "approved"
    rewritten = _control(text="MFA is required for all users [CC6.1] [ev:aaaaaaaaaaaa].")
    review = _reviewed(log, rewritten)
    assert review.state == "awaiting_review" and review.reviewer is None
    assert "text changed since dana approved it" in (review.note or "")


def test_attachments_carry_their_period_and_approval(log):
    control = _control()
    _decide(
        log,
        control,
        "attach",
        reason="signed by every employee",
        detail={
            "evidence_id": "cccccccccccc",
            "path": "/tmp/nda.pdf",
            "period_start": "2025-01-01",
            "period_end": "2025-06-30",
        },
    )
    (pending,) = manual_attachments(log)
    assert not pending.approved and approved_attachments(log) == {}
    assert (pending.period_start, pending.period_end) == (date(2025, 1, 1), date(2025, 6, 30))
    assert pending.covers(date(2025, 6, 30)) and not pending.covers(date(2025, 7, 1))

    _decide(log, control, "approve")
    (accepted,) = approved_attachments(log)["IAM-01"]
    assert (accepted.evidence_id, accepted.file) == ("cccccccccccc", "/tmp/nda.pdf")
    assert accepted.note == "signed by every employee"
    assert (accepted.approved_by, accepted.approved_at, accepted.attached_by) == ("dana", FIXED_TIME, "dana")
    assert _reviewed(log, control).attachments == [accepted]

    # A file attached after the approval is not approved until the next one; a rejection withdraws both.
    _decide(log, control, "attach", detail={"evidence_id": "dddddddddddd", "path": "/tmp/later.pdf"})
    assert [a.approved for a in manual_attachments(log)] == [True, False]
    _decide(log, control, "reject", reason="the NDA is unsigned")
    assert approved_attachments(log) == {}


def test_an_attachment_recorded_without_a_period_covers_the_quarter_it_was_attached_in(log):
    control = _control()
    _decide(log, control, "attach", detail={"evidence_id": "cccccccccccc", "path": "/tmp/nda.pdf"})
    (attachment,) = manual_attachments(log)
    assert (attachment.period_start, attachment.period_end) == (date(2025, 1, 1), date(2025, 3, 31))


def test_periods_as_a_reviewer_types_them():
    today = date(2025, 11, 3)
    assert quarter_of(today) == (date(2025, 10, 1), date(2025, 12, 31))
    assert parse_period("", today) == (date(2025, 10, 1), date(2025, 12, 31))
    assert parse_period("2024-q2", today) == (date(2024, 4, 1), date(2024, 6, 30))
    assert parse_period("2025-01-15..2025-02-14", today) == (date(2025, 1, 15), date(2025, 2, 14))
    with pytest.raises(ValueError, match="ends before it starts"):
        parse_period("2025-02-01..2025-01-01", today)
    with pytest.raises(ValueError, match="write a quarter"):
        parse_period("last quarter", today)


def test_a_response_answers_one_exception_and_the_report_shows_the_others_unanswered(log):
    from agent.report import render_markdown

    failing = [
        Finding(
            check="logs.audit_logging_tampered",
            status=Status.FAIL,
            resource=f"trail/{name}",
            reason=f"StopLogging on {name}.",
            evidence_ids=["aaaaaaaaaaaa"],
        )
        for name in ("org-trail", "legacy-trail")
    ]
    control = _control().model_copy(update={"status": "fail", "findings": failing})
    _decide(log, control, "approve")
    detail = {
        "check": "logs.audit_logging_tampered",
        "resource": "trail/org-trail",
        "cause": "an admin paused the trail",
        "response": "incident INC-7 opened; logging restored",
        "remediation_date": "2025-03-06",
        "compensating_control": None,
    }
    _decide(log, control, "respond", detail=detail)
    review = _reviewed(log, control)
    assert review.state == "approved"  # a response neither changes nor decides the narrative
    [response] = review.responses
    assert response.answers(failing[0]) and not response.answers(failing[1])
    assert response.remediation_date == date(2025, 3, 6) and response.responded_by == "dana"
    report = apply_review(_report(control), log)
    markdown = render_markdown(report)
    assert (
        "`trail/org-trail` (logs.audit_logging_tampered): cause: an admin paused the trail; response: incident "
        "INC-7 opened; logging restored; remediation by 2025-03-06 (dana,"
    ) in markdown
    assert "`trail/legacy-trail` (logs.audit_logging_tampered): no response yet." in markdown


# The schema of a review log written before the `respond` action existed (tui/review_log.py at 1bc7d25, with
# the signatures table signing added): its CHECK constraint refuses `respond`.
OLD_SCHEMA = """
CREATE TABLE review_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('approve', 'reject', 'edit', 'regenerate', 'attach')),
    control_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    before_hash TEXT NOT NULL,
    after_hash TEXT NOT NULL,
    evidence_hash TEXT NOT NULL,
    reason TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE INDEX review_log_control ON review_log (control_id, seq);
CREATE TRIGGER review_log_no_update BEFORE UPDATE ON review_log
BEGIN SELECT RAISE(ABORT, 'the review log is append-only: UPDATE refused'); END;
CREATE TRIGGER review_log_no_delete BEFORE DELETE ON review_log
BEGIN SELECT RAISE(ABORT, 'the review log is append-only: DELETE refused'); END;
CREATE TABLE review_signatures (seq INTEGER PRIMARY KEY, os_user TEXT NOT NULL, key_id TEXT NOT NULL,
                                signature TEXT NOT NULL);
CREATE TABLE drafts (text_hash TEXT PRIMARY KEY, control_id TEXT NOT NULL, control_json TEXT NOT NULL);
CREATE TABLE draft_records (draft_hash TEXT PRIMARY KEY, control_id TEXT NOT NULL, control_json TEXT NOT NULL);
"""


def test_a_log_from_before_responses_is_upgraded_in_place_with_its_chain_and_signatures(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from agent.review_log import SCHEMA_VERSION
    from tools.signing import Signer

    signer = Signer(Ed25519PrivateKey.generate(), "test key")
    control = _control()
    # Signed, chained decisions, written with today's code, then copied row for row into the old schema.
    with ReviewLog(tmp_path / "source.sqlite", clock=lambda: FIXED_TIME, signer=signer) as source:
        _decide(source, control, "approve")
        _decide(source, control, "attach", detail={"file": "access-review.pdf", "evidence_id": "bbbbbbbbbbbb"})
    old_path = tmp_path / "review.sqlite"
    old = sqlite3.connect(old_path)
    old.executescript(OLD_SCHEMA)
    old.execute("ATTACH DATABASE ? AS source", (str(tmp_path / "source.sqlite"),))
    for table in ("review_log", "review_signatures"):
        old.execute(f"INSERT INTO main.{table} SELECT * FROM source.{table}")
    old.commit()
    old.execute("DETACH DATABASE source")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint"):
        old.execute(
            "INSERT INTO review_log SELECT 3, at, reviewer, 'respond', control_id, run_id, before_hash, "
            "after_hash, evidence_hash, reason, detail, prev_hash, 'x' FROM review_log WHERE seq = 2"
        )
    old.close()

    with ReviewLog(old_path, clock=lambda: FIXED_TIME, signer=signer) as upgraded:
        detail = {"check": "aws.iam.console_user_mfa", "resource": "user/alice", "cause": "c", "response": "r"}
        responded = _decide(upgraded, control, "respond", detail=detail)
        assert responded.seq == 3
        assert upgraded.verify().ok and upgraded.verify().entries == 3
        assert not upgraded.verify_signatures(signer.public)
        assert [entry.action for entry in upgraded.entries()] == ["approve", "attach", "respond"]
    db = sqlite3.connect(old_path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    # Still append-only after the rebuild: the triggers are back on the new table.
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM review_log")
    db.close()
    # Opening it again changes nothing.
    with ReviewLog(old_path) as reopened:
        assert reopened.verify().entries == 3


def test_a_log_from_a_newer_version_is_refused_by_name(tmp_path):
    from agent.review_log import ReviewLogError

    path = tmp_path / "review.sqlite"
    ReviewLog(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(ReviewLogError, match=r"review\.sqlite: the review log has schema version 99"):
        ReviewLog(path)
