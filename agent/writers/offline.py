"""The offline writer: a deterministic narrative from the control's design statements and this run's findings.

It writes what an auditor needs to read: the control and the criterion it serves (quoted whole), the points of
focus people chose for it, then each design statement: which were tested, by what procedure, on evidence
collected when, covering which time span, over how many items and with how many exceptions; which were not
tested and what a person must provide for them, by when. Exceptions from past events (a log event, a merged
pull request, a committed secret) are said as such, with the advice to record an incident or a management
response, not to "fix and re-run". "Operated as designed" is said only when every statement was tested and
passed. Every sentence ends with its citations, and numbers, names and dates come only from what it cites.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

from agent.citations import cite
from agent.report_schema import OFFLINE_WRITER, Attachment
from agent.requests import EvidenceRequest, control_requests
from agent.review_log import attachment_record
from agent.verifier import reliance_supported
from agent.writers import (
    PROCEDURES,
    CheckGroup,
    DraftInput,
    StatementResult,
    before_period,
    day_of,
    event_days,
    is_past_event,
    operated_as_designed,
    span,
    stale,
    statement_results,
)
from tools.checks_common import REGION, short_name
from tools.findings import Finding

WRITER = OFFLINE_WRITER
MAX_NAMED = 5  # failing resources named in one sentence before summarising
MAX_REASONS = 3  # failing findings quoted in full

_FREQUENCY = {
    "continuous": "continuously",
    "daily": "every day",
    "weekly": "every week",
    "monthly": "every month",
    "quarterly": "every quarter",
    "annually": "once a year",
}

# (singular, plural) by ARN service and resource type, then by the shape of other resource names.
_ARN_NOUNS = {
    ("iam", "user"): ("IAM user", "IAM users"),
    ("iam", "root"): ("root user", "root users"),
    ("iam", "role"): ("IAM role", "IAM roles"),
    ("iam", "policy"): ("IAM policy", "IAM policies"),
    ("s3", "account"): ("account setting", "account settings"),
    ("s3", ""): ("S3 bucket", "S3 buckets"),
    ("rds", "db"): ("RDS instance", "RDS instances"),
    ("cloudtrail", "trail"): ("CloudTrail trail", "CloudTrail trails"),
    ("kms", "key"): ("KMS key", "KMS keys"),
}
_ID_NOUNS = {
    "sg-": ("security group", "security groups"),
    "vpc-": ("VPC", "VPCs"),
    "vol-": ("EBS volume", "EBS volumes"),
}
_CHECK_NOUNS = {
    "github.pr_approved_before_merge": ("merged pull request", "merged pull requests"),
    "github.dependabot_alerts_open": ("repository", "repositories"),
    "github.code_scanning_alerts_open": ("repository", "repositories"),
    "github.secret_scanning_alerts_open": ("repository", "repositories"),
    "github.org_members_2fa": ("organisation member", "organisation members"),
    "aws.backup.plan_retention": ("backup plan", "backup plans"),
    "aws.kms.key_rotation": ("KMS key", "KMS keys"),
    "repo.": ("repository", "repositories"),
    "github.": ("repository", "repositories"),
    "logs.": ("log finding", "log findings"),
}


def write(draft: DraftInput) -> str:
    """The narrative: paragraphs separated by blank lines, every sentence cited."""
    results = statement_results(draft)
    tested = [r for r in results if r.statement.tested]
    paragraphs = [_the_control(draft)]
    if tested:
        sentences = [_audit_period(draft), *(s for r in tested for s in _tested_statement(draft, r))]
        paragraphs += [_paragraph(sentences), _verdict(draft, results)]
    paragraphs.append(_requests(draft, [r for r in results if not r.statement.tested]))
    return "\n\n".join(p for p in paragraphs if p)


# -- sentences ----------------------------------------------------------------------------------------


def _sentence(text: str, *citations: str | Iterable[str]) -> str:
    text = text.strip().rstrip(".")
    return f"{text[0].upper()}{text[1:]} {cite(*citations)}."


def _paragraph(sentences: Iterable[str | None]) -> str:
    return " ".join(s for s in sentences if s)


def _lower_first(text: str) -> str:
    # "The entity ..." / "A new ..." -> "the entity ..." / "a new ..."; acronyms and names ("IAM ...",
    # "CloudTrail ...") stay as they are.
    first_word = text.split(" ", 1)[0]
    word = first_word == "A" or (len(first_word) > 1 and first_word[1:].islower())
    return text[0].lower() + text[1:] if word else text


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[a-z0-9)])\.\s", text.strip(), maxsplit=1)[0].rstrip(".")


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _count(n: int, nouns: tuple[str, str]) -> str:
    return f"{n} {nouns[0] if n == 1 else nouns[1]}"


def _quoted(statement_text: str) -> str:
    return f"“{statement_text.strip().rstrip('.')}”"


def _evidence(findings: Iterable[Finding]) -> list[str]:
    return list(dict.fromkeys(f"ev:{e}" for f in findings for e in f.evidence_ids))


_TEAM_WORDS = {"Operations", "Team", "Engineering", "Legal", "Finance", "Security", "IT", "Committee", "Board"}


def _owner(control_owner: str) -> str:
    """ "the Security Engineer", but "People Operations": teams take no article."""
    return control_owner if control_owner.split()[-1] in _TEAM_WORDS else f"the {control_owner}"


def _company(draft: DraftInput) -> str:
    # A company name with digits would read as an unsupported figure to the verifier.
    return draft.company if not re.search(r"\d", draft.company) else "the company"


# -- the control -----------------------------------------------------------------------------------------


def _the_control(draft: DraftInput) -> str:
    control = draft.control
    own = f"control:{control.id}"
    criteria = [c for c in draft.chunks_of("criterion") if c["id"] in control.criteria]
    criteria_ids = [c["id"] for c in criteria]
    criteria_list = _join(criteria_ids) or "the Trust Services Criteria"
    how_often = f", operating {_FREQUENCY[control.frequency]}" if control.frequency in _FREQUENCY else ""
    opening = {
        "automated": f"{_company(draft)} addresses {criteria_list} with {control.id}, {_lower_first(control.title)}, "
        f"an automated control owned by {_owner(control.owner_role)}{how_often}",
        "manual": f"{control.id}, {_lower_first(control.title)}, is a manual control that {_owner(control.owner_role)} "
        f"operates{how_often.removeprefix(', operating')} for {criteria_list}",
        "hybrid": f"{control.id}, {_lower_first(control.title)}, combines automated checks with records kept by "
        f"{_owner(control.owner_role)}, in support of {criteria_list}{how_often}",
    }[control.kind]
    sentences = [_sentence(opening, own, criteria_ids)]
    if criteria and _criterion_statement(criteria[0]["text"]):
        # Quoted whole, one cited sentence per sentence of the criterion (a citation closes each sentence).
        primary = criteria[0]
        parts = re.split(r"(?<=[a-z0-9)])\.\s+(?=[A-Z])", _criterion_statement(primary["text"]))
        for number, part in enumerate(parts):
            lead = f"{primary['id']} reads" if number == 0 else "It continues"
            sentences.append(_sentence(f"{lead}: “{part.rstrip('.')}”", primary["id"]))
    focus = _points_of_focus(draft)
    if focus:
        titles = _join([f"“{c['title']}”" for c in focus])
        lead = "The point of focus chosen for it is" if len(focus) == 1 else "The points of focus chosen for it are"
        sentences.append(_sentence(f"{lead} {titles}", [c["id"] for c in focus]))
    return _paragraph(sentences)


def _points_of_focus(draft: DraftInput) -> list[dict]:
    """The control's curated points of focus, as retrieved (a citation must resolve to a retrieved chunk)."""
    retrieved = {c["id"]: c for c in draft.chunks_of("point_of_focus")}
    return [retrieved[pof] for pof in draft.control.points_of_focus if pof in retrieved]


def _criterion_statement(chunk_text: str) -> str:
    """The whole criterion from its chunk ("CC6.1 <series title>. <statement>"); empty when the chunk was cut
    short, since a criterion is quoted whole or not at all."""
    parts = chunk_text.split(". ", 1)
    statement = (
        parts[1].strip() if len(parts) == 2 and re.match(r"^[A-Z]{1,2}\d+\.\d+ ", chunk_text) else chunk_text.strip()
    )
    return statement.rstrip(".") if statement.endswith(".") else ""


# -- tested statements: procedure, period, population, result ----------------------------------------------


def _audit_period(draft: DraftInput) -> str | None:
    """The configured period under review, said once before the tests (without one, requests name the quarter)."""
    if draft.audit_period is None:
        return None
    start, end = draft.audit_period
    return _sentence(f"The audit period runs from {start} to {end}", f"control:{draft.control.id}")


def _collected(draft: DraftInput, result: StatementResult) -> str:
    days = sorted({day_of(draft.collected_at[e]) for e in result.evidence_ids if e in draft.collected_at})
    return _join(days)


def _span_phrase(result: StatementResult) -> str:
    covered = span(result)
    if covered is None:
        return ""
    what = "merged" if any(g.check == "github.pr_approved_before_merge" for g in result.groups) else "dated"
    return f", {what} {covered[0]}" if covered[0] == covered[1] else f", {what} from {covered[0]} to {covered[1]}"


def _records_read(result: StatementResult) -> int | None:
    counts = [f.facts["records_scanned"] for f in result.findings if isinstance(f.facts.get("records_scanned"), int)]
    return max(counts) if counts else None


def _tested_statement(draft: DraftInput, result: StatementResult) -> list[str]:
    text = _quoted(result.statement.text)
    outcome = result.outcome
    if outcome == "not_run":
        return [
            _sentence(
                f"{text} was not tested in this run: no check linked to it produced a finding",
                f"control:{draft.control.id}",
            )
        ]
    cited = [f"ev:{e}" for e in result.evidence_ids]
    if not cited:
        return [
            _sentence(
                f"{text} could not be tested because its evidence could not be collected", f"control:{draft.control.id}"
            )
        ]
    if outcome == "error":
        errors = [f for g in result.groups for f in g.errors]
        return [
            _sentence(
                f"{text} could not be tested: {_lower_first(_first_sentence(errors[0].reason))}", _evidence(errors)
            )
        ]
    if outcome == "not_applicable":
        skipped = [f for g in result.groups for f in g.not_applicable]
        if skipped:
            return [
                _sentence(
                    f"{text} did not apply in this run: {_lower_first(_first_sentence(skipped[0].reason))}",
                    _evidence(skipped),
                )
            ]
        out = [f for g in result.groups for f in g.out_of_scope]  # everything judged lies outside the audit scope
        return [
            _sentence(f"{text} had nothing in the audit scope to test in this run: {out[0].reason}", _evidence(out))
        ]
    sentences = [_sentence(_procedure_and_population(draft, result), cited)]
    if result.failed:
        sentences += _exception_detail(result)
    stale = _staleness(draft, result)
    if stale:
        sentences.append(stale)
    return sentences


def _procedure_and_population(draft: DraftInput, result: StatementResult) -> str:
    """One sentence: the statement, the procedure, when the evidence was collected, its span, how many items
    were examined and how many failed."""
    statement = result.statement
    text = _quoted(statement.text)
    titles = _join([f"“{g.title}”" for g in result.groups])
    collected = _collected(draft, result)
    on = f" collected on {collected}" if collected else ""
    dated = _span_phrase(result)
    nouns = _nouns(result.groups[0])
    examined, failed = result.examined, len(result.failed)
    not_applicable = sum(len(g.not_applicable) for g in result.groups)
    out_of_scope = sum(len(g.out_of_scope) for g in result.groups)
    aside = f", and {not_applicable} did not apply" if not_applicable else ""
    aside += f", and {out_of_scope} lay outside the audit scope" if out_of_scope else ""
    verdict = f"{failed} of them failed" if failed else f"{examined - failed} passed{aside}"
    if statement.procedure == "reperformance":
        records = _records_read(result)
        over = f" over {records} log records" if records is not None else ""
        found = f"{_count(failed, ('exception', 'exceptions'))} found" if failed else "0 exceptions found"
        return f"The agent reperformed {titles}{over}{dated} (evidence{on}) to test {text}: {found}"
    if statement.procedure == "records":
        records = f"{_count(examined, nouns)}{dated}, collected on {collected or 'this run'}"
        return f"{text} was tested by inspection of the records of {records}: {verdict}"
    population = _count(examined, nouns)
    return f"By {PROCEDURES['inspection']}{on}, the agent tested {text} with {titles} on {population}: {verdict}"


def _exception_detail(result: StatementResult) -> list[str]:
    failed = result.failed
    cited = _evidence(failed)
    if len(failed) <= MAX_REASONS:
        reasons = [_lower_first(_first_sentence(f.reason)) for f in failed]
        detail = reasons[0] if len(reasons) == 1 else "; ".join(reasons[:-1]) + f"; and {reasons[-1]}"
        return [_sentence(f"The exceptions: {detail}" if len(reasons) > 1 else f"The exception: {detail}", cited)]
    names = [f"`{short_name(f.resource)}`" for f in failed]
    shown = ", ".join(dict.fromkeys(names[:MAX_NAMED])) + " and others"
    return [
        _sentence(f"The exceptions include {shown}", cited),
        _sentence(f"A typical one reads: {_lower_first(_first_sentence(failed[0].reason))}", _evidence(failed[:1])),
    ]


def _staleness(draft: DraftInput, result: StatementResult) -> str | None:
    """A warning when every record examined predates the audit period, or (without one) when the newest is older
    than a quarter before its collection."""
    if draft.audit_period is not None:
        newest = before_period(draft, result)
        if newest is None:
            return None
        return _sentence(
            f"Warning: the newest record examined is from {newest}, before the audit period starts on "
            f"{draft.audit_period[0]}, so it does not show how the control operated in the period",
            [f"ev:{e}" for e in result.evidence_ids],
        )
    old = stale(draft, result)
    if old is None:
        return None
    newest, collected_on = old
    return _sentence(
        f"Warning: the newest record examined is from {newest}, more than a quarter before the evidence was collected "
        f"on {collected_on}, so it does not show how the control operated in the current period",
        [f"ev:{e}" for e in result.evidence_ids],
    )


# -- exceptions, and what to do about them ----------------------------------------------------------------------


def _verdict(draft: DraftInput, results: list[StatementResult]) -> str:
    """Whether the control operated as designed, and what its owner should do about each kind of exception.

    Past events cannot be fixed, only answered (an incident record or a management response); a setting that
    fails now is remediated, and only fresh evidence shows it (stored evidence is reused until it expires)."""
    control = draft.control
    own = f"control:{control.id}"
    owner = _owner(control.owner_role)
    criteria = [c for c in control.criteria if any(ch["id"] == c for ch in draft.chunks_of("criterion"))][:1]
    failed = [f for r in results for f in r.failed]
    period_start, period_end = draft.period
    earlier = [f for f in failed if is_past_event(f) and _before(f, period_start)]
    past = [f for f in failed if is_past_event(f) and f not in earlier]
    present = [f for f in failed if not is_past_event(f)]
    could_not_judge = any(r.outcome == "error" or (r.statement.tested and not r.evidence_ids) for r in results)
    sentences = []
    if earlier:
        days = sorted({day for f in earlier for day in event_days(f)})
        when = f"on {days[0]}" if days[0] == days[-1] else f"from {days[0]} to {days[-1]}"
        sentences.append(
            _sentence(
                f"The exceptions for {_names(earlier)} record events {when}, before the period under review "
                f"({period_start} to {period_end}), so they belong to an earlier period than this one; {owner} "
                "should still answer each in the review with an incident record or a management response",
                own,
                _evidence(earlier),
            )
        )
    if past:
        in_period = " in the period" if all(event_days(f) for f in past) else ""
        sentences.append(
            _sentence(
                f"The exceptions for {_names(past)} record past events{in_period}, which a later fix cannot "
                f"undo, so {control.id} does not operate as designed until {owner} records an incident or a "
                "management response per exception (cause, response, remediation date and compensating control) "
                "in the review",
                own,
                _evidence(past),
                criteria,
            )
        )
    if present:
        lead = (
            f"{owner} should also remediate"
            if past
            else f"{control.id} does not operate as designed until {owner} remediates"
        )
        sentences.append(
            _sentence(
                f"{lead} {_to_remediate(results)}",
                own,
                _evidence(present),
                [] if past else criteria,
            )
        )
    if could_not_judge:
        sentences.append(
            _sentence(f"{owner} should restore read access for the evidence that could not be judged", own)
        )
    if failed:
        return _paragraph(sentences)
    if operated_as_designed(results) and reliance_supported(draft.findings, list(control.statements)) is None:
        cited = [f"ev:{e}" for r in results for e in r.evidence_ids]
        collected = _join(sorted({day_of(draft.collected_at[c[3:]]) for c in cited if c[3:] in draft.collected_at}))
        when = f" on the evidence collected on {collected}" if collected else " in this run"
        sentences.append(
            _sentence(
                f"Its design statements were tested and passed, so {control.id} operated as designed{when}",
                own,
                cited,
                criteria,
            )
        )
    elif any(not r.statement.tested for r in results):
        sentences.append(
            _sentence(
                f"Until {owner} provides the records requested below, this run allows no conclusion on {control.id}",
                own,
            )
        )
    elif not could_not_judge:
        sentences.append(
            _sentence(f"Part of its design could not be tested, so this run allows no conclusion on {control.id}", own)
        )
    return _paragraph(sentences)


def _to_remediate(results: list[StatementResult]) -> str:
    """What fails now, per check: which resources fail which rule ("the 2 S3 buckets failing “S3 buckets block
    public access” (`a` and `b`)")."""
    failing = []
    for group in (g for r in results for g in r.groups if g.failed and not is_past_event(g.failed[0])):
        nouns, n = _nouns(group), len(group.failed)
        what = f"{nouns[0]} {_names(group.failed)}" if n == 1 else f"{n} {nouns[1]} ({_names(group.failed)})"
        failing.append(f"the {what} failing “{group.title}”")
    return _join(failing)


def _before(finding: Finding, period_start: date) -> bool:
    """Every day the finding's records speak of is before the period under review (undated: not before)."""
    days = event_days(finding)
    return bool(days) and max(days) < period_start.isoformat()


def _names(findings: list[Finding]) -> str:
    names = list(dict.fromkeys(f"`{short_name(f.resource)}`" for f in findings))
    return _join(names) if len(names) <= MAX_NAMED else ", ".join(names[:MAX_NAMED]) + " and others"


# -- what a person must provide ------------------------------------------------------------------------------


def _requests(draft: DraftInput, untested: list[StatementResult]) -> str:
    """The records a person provides for the statements the tool does not test, as `auditor requests` lists them
    (agent/requests.py control_requests: one computation for both): each approved attachment in a requested
    period described (file, date attached, period covered, approver); while they leave part of a period
    uncovered, a request per statement: what record, from whom, covering which period, due when."""
    if not untested:
        return ""
    control = draft.control
    own = f"control:{control.id}"
    approved = [a for a in draft.attachments if a.approved]
    requests = control_requests(control, approved, draft.as_of, audit_period=draft.audit_period)
    received = {evidence_id for r in requests for evidence_id in r.received}
    attached = [a for a in approved if a.evidence_id in received]
    sentences = [_attachment(a) for a in attached]
    open_requests = [r for r in requests if not _covered(r.period_start, r.period_end, attached)]
    if not open_requests:
        statements = _join([_quoted(r.statement.text) for r in untested])
        sentences.append(
            _sentence(
                f"These records are provided for {statements}, which the agent does not test: a reviewer's "
                "approval, not a check, accepted them",
                own,
                [f"ev:{a.evidence_id}" for a in attached],
            )
        )
        return _paragraph(sentences)
    owner = _owner(open_requests[0].owner_role)
    when = "; and ".join(_requested_period(r) for r in open_requests)
    for number, result in enumerate(untested):
        provide = _lower_first(result.statement.provide or "").rstrip(".")
        also = " also" if number else ""
        sentences.append(
            _sentence(
                f"For {_quoted(result.statement.text)}, which the agent does not test, {owner} must{also} provide: "
                f"{provide}, {when}",
                own,
            )
        )
    return _paragraph(sentences)


def _requested_period(request: EvidenceRequest) -> str:
    start, end = request.period_start.isoformat(), request.period_end.isoformat()
    period = f"for {start}" if start == end else f"covering {start} to {end}"
    due = f"which was due by {request.due.isoformat()}" if request.state == "overdue" else f"by {request.due}"
    return f"{period}, {due}"


def _attachment(attachment: Attachment) -> str:
    """What an approved attachment is, as the review log records it (agent/review_log.py attachment_record)."""
    record = attachment_record(attachment)
    return _sentence(
        f"The record `{record['file']}`, attached by {record['attached_by']} on {record['attached_at']}, covers "
        f"{record['period_start']} to {record['period_end']}, and {record['approved_by']} approved it on "
        f"{record['approved_at']}",
        f"ev:{attachment.evidence_id}",
    )


def _covered(start: date, end: date, attachments: list[Attachment]) -> bool:
    """Whether the attachments' periods together cover every day from start to end."""
    next_uncovered = start
    for attachment in sorted(attachments, key=lambda a: a.period_start):
        if attachment.period_start > next_uncovered:
            break
        next_uncovered = max(next_uncovered, attachment.period_end + timedelta(days=1))
    return next_uncovered > end


# -- resource names ------------------------------------------------------------------------------------------


def _nouns(group: CheckGroup) -> tuple[str, str]:
    for prefix, nouns in _CHECK_NOUNS.items():
        if group.check == prefix or (prefix.endswith(".") and group.check.startswith(prefix)):
            return nouns
    findings = group.findings
    resource = findings[0].resource if findings else ""
    if resource.startswith("arn:"):
        parts = resource.split(":", 5)
        service = parts[2] if len(parts) > 2 else ""
        kind = (
            re.split(r"[/:]", parts[5])[0]
            if len(parts) > 5 and ("/" in parts[5] or ":" in parts[5] or parts[5] == "root")
            else ""
        )
        return _ARN_NOUNS.get((service, kind), _ARN_NOUNS.get((service, ""), ("resource", "resources")))
    parts = resource.split("/")
    if len(parts) == 3 and REGION.match(parts[0]):
        for prefix, nouns in _ID_NOUNS.items():
            if parts[2].startswith(prefix):
                return nouns
    if REGION.match(resource):
        return ("region", "regions")
    if resource in ("aws-account", "account-password-policy"):
        return ("account setting", "account settings")
    return ("resource", "resources")
