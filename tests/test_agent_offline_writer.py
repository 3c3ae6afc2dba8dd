"""The offline writer, over FIXTURE findings for each kind of control and outcome: it reads as prose,
names and counts what fails, summarises long lists, and always passes the verifier."""

from __future__ import annotations

import pytest

from agent.citations import sentences
from agent.report_schema import ToolCallRecord
from agent.verifier import EvidenceFacts, VerificationContext, verify
from agent.writers import DraftInput
from agent.writers.offline import write
from knowledge.catalog import load_catalog
from knowledge.control_library import load_controls
from knowledge.models import Control
from tools.catalog import CHECKS, load_all
from tools.findings import Finding, Status

REPORT = "0a1b2c3d4e5f"
ACCOUNT = "arn:aws:iam::123456789012:user"
USERS = ["ana", "ben", "cho", "dev", "eli", "fay", "gus", "hal"]


def _chunks(control: Control, policy: bool = False) -> list[dict]:
    catalog = load_catalog()
    chunks = []
    for criterion_id in control.criteria:
        criterion = catalog.get(criterion_id)
        chunks.append({"id": criterion.id, "text": f"{criterion.id} {criterion.series_title}. {criterion.text}", "collection": "criteria", "title": criterion.id})
        pof = criterion.points_of_focus[0]
        chunks.append({"id": pof.citation_id(criterion.id), "text": f"{criterion.id}: {pof.title}.", "collection": "criteria", "title": pof.title})
    chunks.append({"id": f"control:{control.id}", "text": f"{control.title}. {control.description}", "collection": "controls", "title": control.title})
    if policy:
        chunks.append({"id": "policy:access-control.md#joiners", "text": "Joiners\nAccess is requested in the ticketing system.", "collection": "documents", "title": "Joiners"})
    return chunks


def _mfa(statuses: dict[str, Status]) -> list[Finding]:
    reasons = {Status.PASS: "Console user {} has an MFA device.", Status.FAIL: "Console user {} has no MFA device.", Status.NOT_APPLICABLE: "{} has no console password."}
    return [
        Finding(check="aws.iam.console_user_mfa", status=status, resource=f"{ACCOUNT}/{user}", reason=reasons[status].format(user), evidence_ids=[REPORT], facts={"user": user})
        for user, status in statuses.items()
    ]


def _draft(control_id: str, findings: list[Finding], *, policy: bool = False, collected: bool = True) -> tuple[DraftInput, VerificationContext]:
    load_all()
    control = load_controls().get(control_id)
    rows = [{"user": user, "arn": f"{ACCOUNT}/{user}"} for user in USERS]
    chunks = _chunks(control, policy)
    calls = [ToolCallRecord(tool="aws.iam.credential_report", evidence_id=REPORT)] if collected else [ToolCallRecord(tool="aws.iam.credential_report", error="CollectionError: access denied")]
    titles = {check_id: spec.title for check_id, spec in CHECKS.items()}
    draft = DraftInput(
        company="Acme AI", control=control, findings=findings,
        evidence=[{"id": REPORT, "tool": "aws.iam.credential_report", "params": {}, "summary": "rows: 8 items"}] if collected else [],
        chunks=chunks, check_titles=titles, tool_calls=calls,
    )
    evidence = {REPORT: EvidenceFacts.from_data(REPORT, "aws.iam.credential_report", {}, {"rows": rows})} if collected else {}
    context = VerificationContext({c["id"]: c["text"] for c in chunks}, evidence, findings, titles)
    return draft, context


def _written(draft: DraftInput, context: VerificationContext) -> str:
    text = write(draft)
    result = verify(text, context)
    assert result.passed, (text, result.problems)
    assert result.sentences == result.cited_sentences == len(sentences(text))
    return text


def test_all_passing_control_states_it_plainly() -> None:
    text = _written(*_draft("IAM-01", _mfa({"ana": Status.PASS, "ben": Status.PASS, "cho": Status.NOT_APPLICABLE})))
    assert "“Every console user has MFA” holds for each of the 2 IAM users checked; 1 more is out of scope (for example, cho has no console password)" in text
    assert "With no exception found, IAM-01 operated as designed" in text
    assert "remediate" not in text


def test_a_few_failures_are_named_with_their_reasons() -> None:
    text = _written(*_draft("IAM-01", _mfa({"ana": Status.PASS, "ben": Status.FAIL, "cho": Status.FAIL, "dev": Status.PASS})))
    assert "fails for 2 of the 4 IAM users checked" in text
    assert "The exceptions are these: console user ben has no MFA device; and console user cho has no MFA device" in text
    assert "The other 2 IAM users pass" in text
    assert "should fix the exceptions for `ben` and `cho` and confirm the fix with a run after the stored evidence has expired" in text


def test_long_lists_are_summarised() -> None:
    statuses = {user: Status.FAIL for user in USERS[:7]} | {"hal": Status.PASS}
    text = _written(*_draft("IAM-01", _mfa(statuses)))
    assert "fails for 7 of the 8 IAM users checked, including `ana`, `ben`, `cho`, `dev`, `eli` and others" in text
    assert "A typical exception reads: console user ana has no MFA device" in text
    assert "The remaining IAM user passes" in text
    assert "`gus`" not in text


def test_every_judged_resource_failing() -> None:
    text = _written(*_draft("IAM-01", _mfa({"ana": Status.FAIL, "ben": Status.FAIL})))
    assert "fails for both IAM users" in text and "pass" not in text.split("fails for both")[1].split("Until")[0]


def test_uncollected_evidence_is_reported_without_inventing_detail() -> None:
    error = Finding(check="aws.iam.console_user_mfa", status=Status.ERROR, resource="aws-account", reason="No stored evidence from aws.iam.credential_report, so this cannot be judged.")
    text = _written(*_draft("IAM-01", [error], collected=False))
    assert "could not be judged because its evidence could not be collected" in text
    assert "Some evidence could not be collected in this run" in text
    assert "restore read access" in text


@pytest.mark.parametrize("control_id", ["IAM-09", "GOV-01"])
def test_manual_controls_say_what_the_owner_must_attach(control_id: str) -> None:
    draft, context = _draft(control_id, [], policy=True, collected=False)
    text = _written(draft, context)
    control = draft.control
    assert text.startswith(f"{control.id}, ") and "is a manual control" in text
    assert all(item in text for item in control.manual_evidence)
    assert "must attach them in review" in text
    assert "section “Joiners” of `access-control.md`" in text


def test_structure_varies_with_kind_and_outcome() -> None:
    passing = write(_draft("IAM-01", _mfa({"ana": Status.PASS}))[0])
    failing = write(_draft("IAM-01", _mfa({"ana": Status.FAIL}))[0])
    manual = write(_draft("GOV-01", [], collected=False)[0])
    assert passing.startswith("Acme AI addresses") and manual.startswith("GOV-01, ")
    assert "is met: console user ana has an MFA device" in passing
    assert "fails: console user ana has no MFA device" in failing and "Until these exceptions are fixed" in failing
    assert len({p.count("\n\n") for p in (passing, failing, manual)}) > 1
