"""A verifier verdict is reused only when everything the verifier reads is identical; any change verifies again."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

import agent.nodes
from agent.nodes import _verdict
from agent.runs import RunStore
from agent.verifier import EvidenceFacts, VerificationContext, verification_digest, verify
from knowledge.models import DesignStatement
from tools.checks_common import finding
from tools.findings import Status

REPORT = "0a1b2c3d4e5f"
USER = "arn:aws:iam::123456789012:user/alice"
TEXT = f"Every console user has an MFA device: `alice` has one [ev:{REPORT}] [CC6.1]."


def _context(status: Status = Status.PASS, mfa_active: str = "true") -> VerificationContext:
    rows = [{"user": "alice", "mfa_active": mfa_active}]
    return VerificationContext(
        chunks={"CC6.1": "CC6.1 The entity implements logical access security software."},
        evidence={REPORT: EvidenceFacts.from_data(REPORT, "aws.iam.credential_report", {}, {"rows": rows})},
        findings=[finding("aws.iam.console_user_mfa", status, USER, "Console user alice has an MFA device.", [REPORT])],
        check_titles={"aws.iam.console_user_mfa": "Every console user has MFA"},
        as_of=date(2026, 11, 28),
    )


def test_the_digest_is_equal_for_equal_inputs_and_changes_with_each_of_them() -> None:
    base = _context()
    assert verification_digest(TEXT, base) == verification_digest(TEXT, _context())
    statement = DesignStatement(text="Access is reviewed each quarter.", provide="the signed review")
    changed = [
        (TEXT + " ", base),
        (TEXT, _context(status=Status.FAIL)),
        (TEXT, _context(mfa_active="false")),  # the evidence's data, under the same id
        (TEXT, replace(base, chunks={"CC6.1": "CC6.1 Another text."})),
        (TEXT, replace(base, check_titles={})),
        (TEXT, replace(base, statements=[statement])),
        (TEXT, replace(base, as_of=date(2026, 11, 29))),
        (TEXT, replace(base, audit_period=(date(2026, 1, 1), date(2026, 12, 31)))),
    ]
    digests = {verification_digest(text, context) for text, context in changed}
    assert verification_digest(TEXT, base) not in digests and len(digests) == len(changed)


def test_a_run_reuses_a_verdict_only_for_identical_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    verified: list[str] = []

    def counted(text: str, context: VerificationContext):
        verified.append(text)
        return verify(text, context)

    monkeypatch.setattr(agent.nodes, "verify", counted)
    ctx = SimpleNamespace(runs=RunStore(tmp_path / "runs.sqlite"))

    first = _verdict(ctx, "IAM-01", TEXT, _context())
    again = _verdict(ctx, "IAM-01", TEXT, _context())
    assert first.passed and again == first and len(verified) == 1  # the second run read the stored verdict

    # The finding now fails: the same draft is verified again, and refused.
    failed = _verdict(ctx, "IAM-01", TEXT, _context(status=Status.FAIL))
    assert len(verified) == 2 and not failed.passed
    assert _verdict(ctx, "IAM-01", TEXT, _context(status=Status.FAIL)) == failed and len(verified) == 2
    # Back to the first inputs: only the latest verdict per control is kept, so it is verified once more.
    assert _verdict(ctx, "IAM-01", TEXT, _context()) == first and len(verified) == 3
