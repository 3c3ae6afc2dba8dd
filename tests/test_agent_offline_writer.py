"""The offline writer, over FIXTURE findings for each kind of control and outcome: it writes from the control's
design statements (tested ones with procedure, period and population; untested ones as requests), says
"operated as designed" only when every statement was tested and passed, answers past events with an incident
or management response, and always passes the verifier."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from agent.citations import sentences
from agent.nodes import attachment_facts
from agent.report_schema import Attachment, ToolCallRecord
from agent.requests import period_of
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
COLLECTED = "2026-11-28T10:00:00+00:00"
RUN_DAY = date(2026, 11, 28)


def _chunks(control: Control) -> list[dict]:
    """Criteria, the control's curated points of focus and a point of focus it did not choose, and the control."""
    catalog = load_catalog()
    chunks = []
    for criterion_id in control.criteria:
        criterion = catalog.get(criterion_id)
        chunks.append(
            {
                "id": criterion.id,
                "text": f"{criterion.id} {criterion.series_title}. {criterion.text}",
                "collection": "criteria",
                "title": criterion.id,
            }
        )
        for pof in criterion.points_of_focus:
            pof_id = pof.citation_id(criterion.id)
            if pof_id in control.points_of_focus or pof.index == 1:
                chunks.append(
                    {
                        "id": pof_id,
                        "text": f"{criterion.id}: {pof.title}.",
                        "collection": "criteria",
                        "title": pof.title,
                    }
                )
    chunks.append(
        {
            "id": f"control:{control.id}",
            "text": f"{control.title}. {control.description}",
            "collection": "controls",
            "title": control.title,
        }
    )
    chunks.append(
        {
            "id": "policy:access-control.md#joiners",
            "text": "Joiners\nAccess is requested in the ticketing system.",
            "collection": "documents",
            "title": "Joiners",
        }
    )
    return chunks


def _mfa(statuses: dict[str, Status]) -> list[Finding]:
    reasons = {
        Status.PASS: "Console user {} has an MFA device.",
        Status.FAIL: "Console user {} has no MFA device.",
        Status.NOT_APPLICABLE: "{} has no console password.",
    }
    return [
        Finding(
            check="aws.iam.console_user_mfa",
            status=status,
            resource=f"{ACCOUNT}/{user}",
            reason=reasons[status].format(user),
            evidence_ids=[REPORT],
            facts={"user": user},
        )
        for user, status in statuses.items()
    ]


def _draft(
    control_id: str,
    findings: list[Finding],
    *,
    collected: bool = True,
    tool: str = "aws.iam.credential_report",
    data: object = None,
    audit_period: tuple[date, date] | None = None,
    attachments: tuple[Attachment, ...] = (),
) -> tuple[DraftInput, VerificationContext]:
    load_all()
    control = load_controls().get(control_id)
    data = data if data is not None else {"rows": [{"user": user, "arn": f"{ACCOUNT}/{user}"} for user in USERS]}
    chunks = _chunks(control)
    calls = (
        [ToolCallRecord(tool=tool, evidence_id=REPORT)]
        if collected
        else [ToolCallRecord(tool=tool, error="CollectionError: access denied")]
    )
    titles = {check_id: spec.title for check_id, spec in CHECKS.items()}
    draft = DraftInput(
        company="Acme AI",
        control=control,
        findings=findings,
        evidence=[{"id": REPORT, "tool": tool, "params": {}, "summary": "rows: 8 items"}] if collected else [],
        chunks=chunks,
        check_titles=titles,
        tool_calls=calls,
        collected_at={REPORT: COLLECTED} if collected else {},
        as_of=RUN_DAY,
        audit_period=audit_period,
        attachments=list(attachments),
    )
    evidence = {REPORT: EvidenceFacts.from_data(REPORT, tool, {}, data, COLLECTED)} if collected else {}
    context = VerificationContext(
        {c["id"]: c["text"] for c in chunks},
        evidence | attachment_facts(list(attachments)),
        findings,
        titles,
        statements=list(control.statements),
        as_of=RUN_DAY,
        audit_period=audit_period,
    )
    return draft, context


def _written(draft: DraftInput, context: VerificationContext) -> str:
    text = write(draft)
    result = verify(text, context)
    assert result.passed, (text, result.problems)
    assert result.sentences == result.cited_sentences == len(sentences(text))
    return text


def test_a_tested_statement_names_procedure_collection_date_and_population() -> None:
    text = _written(*_draft("IAM-01", _mfa({"ana": Status.PASS, "ben": Status.PASS, "cho": Status.NOT_APPLICABLE})))
    assert (
        "By inspection of configuration collected on 2026-11-28, the agent tested “Every IAM user with a console "
        "password has an active MFA device” with “Every console user has MFA” on 2 IAM users: 2 passed, and 1 did "
        "not apply"
    ) in text
    # IAM-01's second statement is for a person to evidence: never "operated as designed".
    assert "operated as designed" not in text
    assert (
        "Until the Security Engineer provides the records requested below, this run allows no conclusion on IAM-01"
        in text
    )
    assert (
        "For “Users found without MFA are fixed within one business day”, which the agent does not test, the "
        "Security Engineer must provide: tickets showing each MFA gap"
    ) in text
    assert "covering 2026-10-01 to 2026-12-31, by 2026-12-31" in text


def test_criterion_quoted_whole_and_only_curated_points_of_focus_cited() -> None:
    draft, context = _draft("IAM-01", _mfa({"ana": Status.PASS}))
    text = _written(draft, context)
    criterion = load_catalog().get("CC6.1").text.rstrip(".")
    assert f"CC6.1 reads: “{criterion}”" in text
    cited_focus = {c for part in sentences(text) for c in part.citations if "/pof/" in c}
    assert cited_focus == {p for p in draft.control.points_of_focus if any(c["id"] == p for c in draft.chunks)}
    assert "policy:" not in text and "works alongside" not in text


def test_configuration_exceptions_are_named_with_their_reasons_and_advice_to_correct() -> None:
    text = _written(
        *_draft("IAM-01", _mfa({"ana": Status.PASS, "ben": Status.FAIL, "cho": Status.FAIL, "dev": Status.PASS}))
    )
    assert "on 4 IAM users: 2 of them failed" in text
    assert "The exceptions: console user ben has no MFA device; and console user cho has no MFA device" in text
    title = CHECKS["aws.iam.console_user_mfa"].title
    assert (
        f"IAM-01 does not operate as designed until the Security Engineer remediates the 2 IAM users (`ben` and "
        f"`cho`) failing “{title}”"
    ) in text
    assert "a run after the stored evidence expires" not in text


def test_a_quoted_reason_starting_with_a_is_lowered_mid_sentence() -> None:
    findings = [
        f.model_copy(update={"reason": f"A console user {f.resource.rsplit('/', 1)[1]} has no MFA device."})
        for f in _mfa({"ana": Status.FAIL, "ben": Status.FAIL})
    ]
    text = _written(*_draft("IAM-01", findings))
    assert "The exceptions: a console user ana has no MFA device; and a console user ben" in text


def test_long_lists_are_summarised() -> None:
    statuses = {user: Status.FAIL for user in USERS[:7]} | {"hal": Status.PASS}
    text = _written(*_draft("IAM-01", _mfa(statuses)))
    assert "7 of them failed" in text and "The exceptions include `ana`, `ben`, `cho`, `dev`, `eli` and others" in text
    assert "A typical one reads: console user ana has no MFA device" in text
    assert "`gus`" not in text


def _branch_protected() -> Finding:
    return _finding(
        "github.branch_protection", Status.PASS, "acme-ai/platform", "Branch main of acme-ai/platform is protected."
    )


def test_every_statement_tested_and_passed_is_the_only_case_for_operated_as_designed() -> None:
    protected = _branch_protected()
    reviewed = _finding(
        "github.required_reviews",
        Status.PASS,
        "acme-ai/platform",
        "Branch main of acme-ai/platform requires 1 approving review(s) before merge.",
    )
    admins = _finding(
        "github.enforce_admins",
        Status.PASS,
        "acme-ai/platform:main",
        "Branch protection of main in acme-ai/platform applies to administrators too (enforce_admins: true).",
    )
    data = {"repos": [{"repo": "acme-ai/platform"}]}
    every = _written(*_draft("CHG-01", [protected, reviewed, admins], tool="github.branch_protection", data=data))
    assert (
        "Its design statements were tested and passed, so CHG-01 operated as designed "
        "on the evidence collected on 2026-11-28" in every
    )
    # The demo's protection spares administrators (enforce_admins: false): no longer "operated as designed".
    spared = admins.model_copy(
        update={
            "status": Status.FAIL,
            "reason": "Branch protection of main in acme-ai/platform does not apply to administrators "
            "(enforce_admins: false).",
        }
    )
    spared_admins = _written(
        *_draft("CHG-01", [protected, reviewed, spared], tool="github.branch_protection", data=data)
    )
    assert "operated as designed" not in spared_admins
    assert "does not apply to administrators" in spared_admins and "does not operate as designed" in spared_admins
    only_one = _written(*_draft("CHG-01", [protected], tool="github.branch_protection", data=data))
    assert "operated as designed" not in only_one
    assert (
        "“Merging into the default branch requires a pull request with at least one approving review” "
        "was not tested in this run" in only_one
    )


def _written_trail_stopped(
    when: str = "2025-03-05T22:17:03Z", audit_period: tuple[date, date] | None = None, **facts: object
) -> str:
    """LOG-04's narrative over one StopLogging of the organisation trail at `when` (by default in March 2025): its
    CloudTrail records, and logs.audit_logging_tampered failing on them with `facts`."""
    trail = "arn:aws:cloudtrail:us-east-1:123456789012:trail/acme-org-trail"
    reason = f"Audit logging of {trail} was changed 1 time(s): StopLogging by ops-admin at {when}."
    stopped = _finding(
        "logs.audit_logging_tampered", Status.FAIL, trail, reason, events=1, first=when, last=when, **facts
    )
    records = {"records_scanned": 40, "events": [{"eventName": "StopLogging", "eventTime": when}]}
    return _written(
        *_draft("LOG-04", [stopped], tool="logs.cloudtrail_events", data=records, audit_period=audit_period)
    )


def test_a_past_event_in_the_period_is_an_exception_to_answer_not_to_fix() -> None:
    text = _written_trail_stopped("2026-11-02T22:17:03Z", principal="ops-admin")
    assert "1 exception found" in text and "Warning" not in text
    assert (
        "record past events in the period, which a later fix cannot undo, so LOG-04 does not operate as designed "
        "until the Security Engineer records an incident or a management response"
    ) in text
    assert "confirm the fix" not in text and "remediates" not in text


def test_a_past_event_before_the_period_is_said_to_be_of_an_earlier_period_with_a_stale_evidence_warning() -> None:
    text = _written_trail_stopped(principal="ops-admin")
    assert "The agent reperformed “Audit logging was not stopped, deleted or narrowed”, dated 2025-03-05" in text
    assert "1 exception found" in text
    assert (
        "Warning: the newest record examined is from 2025-03-05, more than a quarter before the evidence was "
        "collected on 2026-11-28" in text
    )
    assert (
        "The exceptions for `acme-org-trail` record events on 2025-03-05, before the period under review (2026-10-01 "
        "to 2026-12-31), so they belong to an earlier period than this one; the Security Engineer should still answer "
        "each in the review with an incident record or a management response"
    ) in text
    assert "in the period, which" not in text and "does not operate as designed" not in text
    # With an [audit] period, that period is the one under review.
    text = _written_trail_stopped(audit_period=(date(2025, 3, 1), date(2025, 6, 30)), principal="ops-admin")
    assert "record past events in the period, which a later fix cannot undo" in text


def test_uncollected_evidence_is_reported_without_saying_it_was_tested() -> None:
    error = Finding(
        check="aws.iam.console_user_mfa",
        status=Status.ERROR,
        resource="aws-account",
        reason="No stored evidence from aws.iam.credential_report, so this cannot be judged.",
    )
    text = _written(*_draft("IAM-01", [error], collected=False))
    assert "could not be tested because its evidence could not be collected" in text
    assert "restore read access" in text
    assert "the agent tested" not in text


@pytest.mark.parametrize("control_id", ["IAM-09", "GOV-01"])
def test_manual_controls_are_specific_requests(control_id: str) -> None:
    draft, context = _draft(control_id, [], collected=False)
    text = _written(draft, context)
    control = draft.control
    assert text.startswith(f"{control.id}, ") and "is a manual control" in text
    for statement in control.statements:
        assert statement.provide.rstrip(".")[1:] in text
    start, end = period_of(control.frequency, RUN_DAY)  # as `auditor requests` asks (agent/requests.py)
    assert text.count(f"covering {start} to {end}, by {end}") == len(control.statements)
    assert "No such record" not in text and "works alongside" not in text and "triggering event" not in text


def _review_attachment(start: date, end: date, approved: bool = True, name: str = "access-review-q4.pdf") -> Attachment:
    return Attachment(
        control_id="IAM-09",
        evidence_id="b1b2b3b4b5b6",
        file=f"/home/dana/records/{name}",
        attached_by="dana",
        attached_at=datetime(2026, 11, 20, 14, 5, tzinfo=UTC),
        period_start=start,
        period_end=end,
        approved_by="priya" if approved else None,
        approved_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC) if approved else None,
    )


def test_an_approved_attachment_is_described_instead_of_requested() -> None:
    quarter = _review_attachment(date(2026, 10, 1), date(2026, 12, 31))
    text = _written(*_draft("IAM-09", [], collected=False, attachments=(quarter,)))
    assert (
        "The record `access-review-q4.pdf`, attached by dana on 2026-11-20, covers 2026-10-01 to 2026-12-31, and "
        "priya approved it on 2026-11-21 [ev:b1b2b3b4b5b6]."
    ) in text
    assert "These records are provided for “" in text and "must provide" not in text
    assert "operated as designed" not in text
    # Covering part of the period: described, and the rest still requested.
    october = _review_attachment(date(2026, 10, 1), date(2026, 10, 31), name="october.pdf")
    partial = _written(*_draft("IAM-09", [], collected=False, attachments=(october,)))
    assert "The record `october.pdf`" in partial and "must provide" in partial
    # Not approved (yet, or withdrawn): requested as before, never described.
    pending = _written(
        *_draft(
            "IAM-09",
            [],
            collected=False,
            attachments=(_review_attachment(date(2026, 10, 1), date(2026, 12, 31), approved=False),),
        )
    )
    assert "access-review-q4.pdf" not in pending and "must provide" in pending


def test_the_verifier_checks_an_attachment_sentence_against_the_review_log_record() -> None:
    quarter = _review_attachment(date(2026, 10, 1), date(2026, 12, 31))
    _, context = _draft("IAM-09", [], collected=False, attachments=(quarter,))
    invented = verify("The record `access-review-q3.pdf` covers 2026-07-01 to 2026-09-30 [ev:b1b2b3b4b5b6].", context)
    assert not invented.passed
    assert any("2026-07-01" in p for p in invented.problems), invented.problems


def test_a_configured_audit_period_is_stated_requested_and_warns_about_older_evidence() -> None:
    year = (date(2026, 1, 1), date(2026, 12, 31))
    text = _written(*_draft("IAM-01", _mfa({"ana": Status.PASS}), audit_period=year))
    assert "The audit period runs from 2026-01-01 to 2026-12-31 [control:IAM-01]." in text
    assert "covering 2026-01-01 to 2026-12-31, by 2026-12-31" in text
    old = _written_trail_stopped(audit_period=year)
    assert (
        "Warning: the newest record examined is from 2025-03-05, before the audit period starts on 2026-01-01"
    ) in old
    # A period that the records fall in: no warning.
    then = _written_trail_stopped(audit_period=(date(2025, 1, 1), date(2025, 12, 31)))
    assert "Warning" not in then


def test_verifier_refuses_a_statement_said_tested_when_no_linked_check_ran() -> None:
    protected = _branch_protected()
    _, context = _draft(
        "CHG-01", [protected], tool="github.branch_protection", data={"repos": [{"repo": "acme-ai/platform"}]}
    )
    reviews = "“Merging into the default branch requires a pull request with at least one approving review”"
    claimed = verify(f"The agent tested {reviews} and it passed [ev:{REPORT}].", context)
    assert any("no check linked to it judged anything" in p for p in claimed.problems), claimed.problems
    said_untested = verify(f"{reviews} was not tested in this run [control:CHG-01].", context)
    assert not any("no check linked" in p for p in said_untested.problems), said_untested.problems
    protection = "“The default branch of every repository is protected against force pushes and deletion”"
    tested = verify(f"The agent tested {protection} on 1 repository: 1 passed [ev:{REPORT}].", context)
    assert not any("no check linked" in p for p in tested.problems), tested.problems


def test_a_date_must_be_in_what_the_sentence_cites() -> None:
    _, context = _draft("IAM-01", _mfa({"ana": Status.PASS}))
    assert verify(f"The credential report was collected on 2026-11-28 [ev:{REPORT}].", context).passed
    invented = verify(f"The credential report was collected on 2026-05-02 [ev:{REPORT}].", context)
    assert any("the date 2026-05-02" in p for p in invented.problems), invented.problems


# -- the labelled sentences of evals/narratives/labelled.yaml ------------------------------------------------

LABELLED = Path(__file__).resolve().parent.parent / "evals" / "narratives" / "labelled.yaml"
PLATFORM = "acme-ai/platform"


def _labelled() -> list[dict]:
    return yaml.safe_load(LABELLED.read_text(encoding="utf-8"))["sentences"]


def _finding(check: str, status: Status, resource: str, reason: str, **facts: object) -> Finding:
    return Finding(check=check, status=status, resource=resource, reason=reason, evidence_ids=[REPORT], facts=facts)


def _demo_like_narratives() -> list[str]:
    """The offline writer over the situations the auditor read in the demo: a pass, configuration exceptions,
    an unapproved merge, a stopped trail in 2025, a committed secret, a pass with an untested statement, a manual
    control."""
    repos = {"repos": [{"repo": PLATFORM, "pulls": [{"number": 42}], "since": "2026-08-30T00:00:00Z"}]}
    merged = "2026-11-25T21:53:56Z"
    trail = "arn:aws:cloudtrail:us-east-1:123456789012:trail/acme-org-trail"
    stop = f"Audit logging of {trail} was changed 1 time(s): StopLogging by ops-admin at 2025-03-05T22:17:03Z."
    situations = [
        ("IAM-01", _mfa({"ana": Status.PASS, "ben": Status.PASS}), "aws.iam.credential_report", None),
        ("IAM-01", _mfa({"ana": Status.PASS, "ben": Status.FAIL}), "aws.iam.credential_report", None),
        (
            "CHG-01",
            [
                _finding("github.branch_protection", Status.PASS, PLATFORM, f"Branch main of {PLATFORM} is protected."),
                _finding(
                    "github.required_reviews",
                    Status.PASS,
                    PLATFORM,
                    f"Branch main of {PLATFORM} requires 1 approving review(s).",
                ),
            ],
            "github.branch_protection",
            repos,
        ),
        (
            "CHG-02",
            [
                _finding(
                    "github.pr_approved_before_merge",
                    Status.FAIL,
                    f"{PLATFORM}#42",
                    f"PR #42 of {PLATFORM} by maya-acme was merged at {merged} without an approval.",
                    merged_at=merged,
                )
            ],
            "github.pulls",
            repos,
        ),
        (
            "LOG-04",
            [
                _finding(
                    "logs.audit_logging_tampered",
                    Status.FAIL,
                    trail,
                    stop,
                    events=1,
                    first="2025-03-05T22:17:03Z",
                    last="2025-03-05T22:17:03Z",
                )
            ],
            "logs.cloudtrail_events",
            {"records_scanned": 40},
        ),
        (
            "SEC-01",
            [
                _finding(
                    "repo.secrets_in_history",
                    Status.FAIL,
                    f"{PLATFORM}@737fb7d2f42b:config/settings.env",
                    "Commit 737fb7d2f42b by Leo Park on 2025-02-03 added 2 secret(s) to config/settings.env.",
                ),
                _finding(
                    "github.secret_scanning_alerts_open",
                    Status.FAIL,
                    f"{PLATFORM}/secret-scanning/1",
                    f"Open secret scanning alert #1 in {PLATFORM} since 2025-02-03.",
                ),
            ],
            "git.history",
            repos,
        ),
        (
            "VUL-02",
            [
                _finding(
                    "github.code_scanning_alerts_open",
                    Status.PASS,
                    PLATFORM,
                    f"{PLATFORM} has no open code scanning alerts.",
                )
            ],
            "github.code_scanning_alerts",
            repos,
        ),
        ("GOV-01", [], "aws.iam.credential_report", None),
    ]
    return [
        _written(*_draft(control_id, findings, collected=bool(findings), tool=tool, data=data))
        for control_id, findings, tool, data in situations
    ]


def test_the_labelled_set_follows_its_rubric() -> None:
    rows = _labelled()
    assert len(rows) >= 60
    assert {row["label"] for row in rows} <= {"correct", "wrong", "boilerplate"}
    assert {row["source"].split()[0] for row in rows} == {"before", "after"}
    for row in rows:
        if row.get("pattern"):
            assert re.search(row["pattern"], row["text"]), row  # each pattern finds the sentence it was written for


def test_the_writer_never_writes_a_sentence_labelled_wrong_or_boilerplate_again() -> None:
    patterns = {row["pattern"] for row in _labelled() if row["label"] != "correct" and row.get("pattern")}
    assert patterns
    narratives = _demo_like_narratives()
    for pattern in sorted(patterns):
        found = [text for text in narratives if re.search(pattern, text)]
        assert not found, (pattern, found[:1])
    vul_02 = narratives[6]
    assert "operated as designed" not in vul_02 and "“Code scanning runs on every pull request”" in vul_02
