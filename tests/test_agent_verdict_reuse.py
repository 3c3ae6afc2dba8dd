"""A verifier verdict is reused only when everything the verifier reads is identical and the run's key signed it;
any change verifies again, and so does a verdict written into the run store by anyone else."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import agent.nodes
from agent.nodes import _verdict
from agent.runs import RunStore, StoredVerdict
from agent.verifier import EvidenceFacts, VerificationContext, verification_digest, verify
from knowledge.models import DesignStatement
from tools.checks_common import finding
from tools.findings import Status
from tools.signing import Signer

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
    ctx = SimpleNamespace(runs=RunStore(tmp_path / "runs.sqlite"), signer=_signer())

    first = _verdict(ctx, "IAM-01", TEXT, _context())
    again = _verdict(ctx, "IAM-01", TEXT, _context())
    assert first.passed and again == first and len(verified) == 1  # the second run read the stored verdict

    # The finding now fails: the same draft is verified again, and refused.
    failed = _verdict(ctx, "IAM-01", TEXT, _context(status=Status.FAIL))
    assert len(verified) == 2 and not failed.passed
    assert _verdict(ctx, "IAM-01", TEXT, _context(status=Status.FAIL)) == failed and len(verified) == 2
    # Back to the first inputs: only the latest verdict per control is kept, so it is verified once more.
    assert _verdict(ctx, "IAM-01", TEXT, _context()) == first and len(verified) == 3


def _signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate(), "test")


def _counting_verify(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    verified: list[str] = []

    def counted(text: str, context: VerificationContext):
        verified.append(text)
        return verify(text, context)

    monkeypatch.setattr(agent.nodes, "verify", counted)
    return verified


def test_a_verdict_forged_in_the_run_store_is_not_believed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone who can write runs.sqlite (a CI cache, a shared folder) marks a rejected draft as passed, for
    exactly the inputs the next run will have. The run verifies the draft again and rejects it."""
    verified = _counting_verify(monkeypatch)
    ctx = SimpleNamespace(runs=RunStore(tmp_path / "runs.sqlite"), signer=_signer())
    failing = _context(status=Status.FAIL)
    rejected = _verdict(ctx, "IAM-01", TEXT, failing)
    assert not rejected.passed and len(verified) == 1

    stored = ctx.runs.verdict("IAM-01")
    passed = rejected.model_copy(update={"passed": True, "problems": []}).model_dump_json()
    ctx.runs.save_verdict(replace(stored, verdict=passed))  # the old signature, over the rejected verdict
    again = _verdict(ctx, "IAM-01", TEXT, failing)
    assert again == rejected and len(verified) == 2

    # Signed, but with the forger's own key: not the run's.
    forger = _signer()
    forged = StoredVerdict("IAM-01", stored.inputs_sha256, passed, signature="")
    payload = {"control_id": "IAM-01", "inputs_sha256": stored.inputs_sha256, "verdict": passed}
    ctx.runs.save_verdict(replace(forged, signature=forger.sign(payload)))
    assert _verdict(ctx, "IAM-01", TEXT, failing) == rejected and len(verified) == 3
    # The verdict the run stored in its place is its own, signed, and reused.
    assert _verdict(ctx, "IAM-01", TEXT, failing) == rejected and len(verified) == 3


def test_without_a_signer_no_verdict_is_stored_or_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    verified = _counting_verify(monkeypatch)
    ctx = SimpleNamespace(runs=RunStore(tmp_path / "runs.sqlite"), signer=None)
    assert _verdict(ctx, "IAM-01", TEXT, _context()) == _verdict(ctx, "IAM-01", TEXT, _context())
    assert len(verified) == 2 and ctx.runs.verdict("IAM-01") is None
