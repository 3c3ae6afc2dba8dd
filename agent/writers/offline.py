"""The offline writer: a deterministic narrative from the control, its findings, evidence and criteria.

It writes what a compliance lead would send an auditor: what the control is and which criteria it
serves, how it operates, what this run's evidence shows per check (with counts and the names of the
resources that fail), what must be fixed, and for manual controls what the owner must attach. Every
sentence ends with its citations, and it passes the verifier by construction: numbers and names are
taken only from the findings and evidence it cites, and universal claims are made only where no cited
finding failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from agent.citations import cite
from agent.report_schema import WriterInfo
from agent.writers import CheckGroup, DraftInput, group_by_check
from knowledge.text import terms
from tools.catalog import TOOLS
from tools.findings import Finding

WRITER = WriterInfo(provider="offline", model="deterministic-v1")
MAX_NAMED = 5  # failing resources named in one sentence before summarising
MAX_REASONS = 3  # failing findings quoted in full

_FREQUENCY = {
    "continuous": "continuously",
    "daily": "every day",
    "weekly": "every week",
    "monthly": "every month",
    "quarterly": "every quarter",
    "annually": "once a year",
    "per_event": "each time the triggering event occurs",
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
_ID_NOUNS = {"sg-": ("security group", "security groups"), "vpc-": ("VPC", "VPCs"), "vol-": ("EBS volume", "EBS volumes")}
_CHECK_NOUNS = {
    "github.pr_approved_before_merge": ("pull request", "pull requests"),
    "github.dependabot_alerts_open": ("alert", "alerts"),
    "github.code_scanning_alerts_open": ("alert", "alerts"),
    "github.secret_scanning_alerts_open": ("alert", "alerts"),
    "github.org_members_2fa": ("organisation member", "organisation members"),
    "aws.backup.plan_retention": ("backup plan", "backup plans"),
    "aws.kms.key_rotation": ("KMS key", "KMS keys"),
    "repo.": ("repository", "repositories"),
    "github.": ("repository", "repositories"),
    "logs.": ("log source", "log sources"),
}
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


def write(draft: DraftInput) -> str:
    """The narrative: paragraphs separated by blank lines, every sentence cited."""
    control = draft.control
    paragraphs = [_the_control(draft), _how_it_operates(draft)]
    if control.kind != "manual":
        paragraphs += [_what_the_evidence_shows(draft), _exceptions(draft)]
    if control.kind != "automated":
        paragraphs.append(_manual_evidence(draft))
    return "\n\n".join(p for p in paragraphs if p)


# -- sentences ----------------------------------------------------------------------------------------


def _sentence(text: str, *citations: str | Iterable[str]) -> str:
    text = text.strip().rstrip(".")
    return f"{text[0].upper()}{text[1:]} {cite(*citations)}."


def _paragraph(sentences: Iterable[str | None]) -> str:
    return " ".join(s for s in sentences if s)


def _lower_first(text: str) -> str:
    # "The entity ..." -> "the entity ..."; acronyms and names ("IAM ...", "CloudTrail ...") stay as they are.
    first_word = text.split(" ", 1)[0]
    return text[0].lower() + text[1:] if len(first_word) > 1 and first_word[1:].islower() else text


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[a-z0-9)])\.\s", text.strip(), maxsplit=1)[0].rstrip(".")


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _count(n: int, nouns: tuple[str, str]) -> str:
    return f"{n} {nouns[0] if n == 1 else nouns[1]}"


def _evidence(findings: Iterable[Finding]) -> list[str]:
    return list(dict.fromkeys(f"ev:{e}" for f in findings for e in f.evidence_ids))


_TEAM_WORDS = {"Operations", "Team", "Engineering", "Legal", "Finance", "Security", "IT", "Committee", "Board"}


def _owner(control_owner: str) -> str:
    """"the Security Engineer", but "People Operations": teams take no article."""
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
    opening = {
        "automated": f"{_company(draft)} addresses {criteria_list} with {control.id}, {_lower_first(control.title)}, an automated control",
        "manual": f"{control.id}, {_lower_first(control.title)}, is a manual control that {_company(draft)} operates for {criteria_list}",
        "hybrid": f"{control.id}, {_lower_first(control.title)}, combines automated checks with records kept by people, in support of {criteria_list}",
    }[control.kind]
    sentences = [_sentence(opening, own, criteria_ids)]
    # The description says what the control is designed to do; what this run found comes later. Written
    # as design, it never reads as a claim that the evidence may contradict.
    design = [part for part in re.split(r"(?<=[a-z0-9)])\.\s+", control.description.strip()) if part.strip()]
    sentences += [_sentence(f"As designed, {_lower_first(part)}" if n == 0 else part, own) for n, part in enumerate(design)]
    if criteria:
        primary = criteria[0]
        statement = _first_sentence(_criterion_statement(primary["text"]))
        sentences.append(_sentence(f"{primary['id']} reads: “{statement}”", primary["id"]))
    focus = _relevant_points_of_focus(draft)
    if focus:
        titles = _join([f"“{c['title']}”" for c in focus])
        lead = "The point of focus it answers most directly is" if len(focus) == 1 else "The points of focus it answers most directly are"
        sentences.append(_sentence(f"{lead} {titles}", [c["id"] for c in focus]))
    return _paragraph(sentences)


def _relevant_points_of_focus(draft: DraftInput, limit: int = 2) -> list[dict]:
    """The retrieved points of focus of the control's criteria that share most with the control itself.

    A shared word stem counts 2, a shared concept (a looser, lexicon-made link) 1, and a point of focus
    needs 2: one word or two concepts. None qualifying gives no sentence rather than an unrelated one."""
    control = draft.control
    own_terms = set(terms(f"{control.title}. {control.description}"))
    scored = []
    for order, chunk in enumerate(draft.chunks_of("point_of_focus")):
        if chunk["id"].split("/pof/")[0] not in control.criteria:
            continue
        shared = own_terms & set(terms(chunk["title"]))
        score = sum(1 if term.startswith("@") else 2 for term in shared if "_" not in term)
        if score >= 2:
            scored.append((-score, order, chunk))
    return [chunk for _, _, chunk in sorted(scored, key=lambda item: item[:2])[:limit]]


def _criterion_statement(chunk_text: str) -> str:
    # Criterion chunks read "CC6.1 <series title>. <statement>"; the statement is what the criterion asks.
    parts = chunk_text.split(". ", 1)
    return parts[1].strip() if len(parts) == 2 and re.match(r"^[A-Z]{1,2}\d+\.\d+ ", chunk_text) else chunk_text.strip()


# -- how it operates ----------------------------------------------------------------------------------------


def _how_it_operates(draft: DraftInput) -> str:
    control = draft.control
    own = f"control:{control.id}"
    sentences = [_sentence(f"{_owner(control.owner_role)} owns it, and it operates {_FREQUENCY[control.frequency]}", own)]
    collected = [call for call in draft.tool_calls if call.evidence_id]
    baseline = [call for call in collected if call.source == "baseline"]
    requested = [call for call in collected if call.source == "model"]
    if baseline:
        sources = _join(list(dict.fromkeys(_tool_phrase(call.tool) for call in baseline)))
        sentences.append(_sentence(f"For this run the agent read {sources} with read-only access", [f"ev:{c.evidence_id}" for c in baseline]))
    if requested:
        sources = _join(list(dict.fromkeys(_tool_phrase(call.tool) for call in requested)))
        sentences.append(_sentence(f"At the planner's request it also read {sources}", [f"ev:{c.evidence_id}" for c in requested]))
    if any(call.error for call in draft.tool_calls):
        sentences.append(_sentence("Some evidence could not be collected in this run, and the run log records why", own))
    return _paragraph(sentences)


# Tools whose description does not open with a noun phrase a sentence can use.
_TOOL_PHRASES = {
    "aws.ec2.ebs_encryption_by_default": "EBS encryption-by-default setting",
    "github.repository": "GitHub repository settings",
    "git.history": "commit history with its patches",
    "logs.cloudwatch_events": "events from CloudWatch Logs groups",
}


def _tool_phrase(tool: str) -> str:
    """"IAM credential report: one row per user..." -> "the IAM credential report"."""
    spec = TOOLS.get(tool)
    if spec is None:
        return tool
    phrase = _TOOL_PHRASES.get(tool) or re.split(r"[:(,;]|\.(?:\s|$)| with | per ", spec.description, maxsplit=1)[0].strip()
    phrase = re.sub(r"^(The|An?) ", "", phrase)
    if re.search(r"\w[/_.]\w", phrase):
        phrase = phrase.split(" from ", 1)[0]  # "auth events from syslog/auth.log files": names stay out of prose
    return "the " + _lower_first(phrase)


# -- what the evidence shows ------------------------------------------------------------------------------------


def _what_the_evidence_shows(draft: DraftInput) -> str:
    control = draft.control
    groups = group_by_check(draft.findings, draft.check_titles, [e.check for e in control.evidence])
    if not groups:
        return _sentence("No finding was produced for this control in this run, so it could not be assessed", f"control:{control.id}")
    sentences = [_lead(groups)]
    for group in groups:
        sentences += _group_sentences(group, draft)
    return _paragraph(sentences)


def _lead(groups: list[CheckGroup]) -> str | None:
    if len(groups) < 2:
        return None
    outcomes = [g.outcome for g in groups]
    evidence = list(dict.fromkeys(f"ev:{e}" for g in groups for e in g.evidence_ids))
    if not evidence:
        return None
    passed = sum(1 for o in outcomes if o in ("pass", "not_applicable"))
    failed = outcomes.count("fail")
    errored = outcomes.count("error")
    total = len(groups)
    every = "Both" if total == 2 else f"All {total}"
    if failed == 0 and errored == 0:
        return _sentence(f"{every} checks passed in this run", evidence)
    if failed == total:
        return _sentence(f"{every} checks found exceptions", evidence)
    parts = []
    if passed:
        parts.append(f"{passed} of {len(groups)} checks passed")
    if failed:
        parts.append(f"{failed} found exceptions" if passed else f"{failed} of {len(groups)} checks found exceptions")
    if errored:
        parts.append(f"{errored} could not be judged")
    return _sentence(_join(parts), evidence)


def _group_sentences(group: CheckGroup, draft: DraftInput) -> list[str]:
    nouns = _nouns(group)
    title = f"“{group.title}”"
    evidence = _evidence(group.passed + group.failed + group.errors + group.not_applicable)
    if not evidence:
        # Nothing stored to cite: the collector failed before the check could read anything.
        return [_sentence("One of its checks could not be judged because its evidence could not be collected", f"control:{draft.control.id}")]
    if group.failed:
        return _failing(group, title, nouns)
    if group.errors:
        first = group.errors[0]
        more = f" ({_count(len(group.errors), nouns)} affected)" if len(group.errors) > 1 else ""
        return [_sentence(f"{title} could not be judged{more}: {_lower_first(_first_sentence(first.reason))}", _evidence(group.errors))]
    if group.passed:
        return [_passing(group, title, nouns)]
    first = group.not_applicable[0]
    if len(group.not_applicable) == 1:
        return [_sentence(f"{title} does not apply here: {_lower_first(_first_sentence(first.reason))}", _evidence(group.not_applicable))]
    return [
        _sentence(
            f"{title} does not apply to any of the {_count(len(group.not_applicable), nouns)} in scope; for example, {_lower_first(_first_sentence(first.reason))}",
            _evidence(group.not_applicable),
        )
    ]


def _passing(group: CheckGroup, title: str, nouns: tuple[str, str]) -> str:
    cited = _evidence(group.passed + group.not_applicable)
    if len(group.passed) == 1 and not group.not_applicable:
        return _sentence(f"{title} is met: {_lower_first(_first_sentence(group.passed[0].reason))}", cited)
    text = f"{title} holds for each of the {_count(len(group.passed), nouns)} checked"
    if group.not_applicable:
        example = _lower_first(_first_sentence(group.not_applicable[0].reason))
        verb = "is" if len(group.not_applicable) == 1 else "are"
        text += f"; {len(group.not_applicable)} more {verb} out of scope (for example, {example})"
    return _sentence(text, cited)


def _failing(group: CheckGroup, title: str, nouns: tuple[str, str]) -> list[str]:
    failed = group.failed
    cited = _evidence(failed)
    if group.judged == 1:
        return [_sentence(f"{title} fails: {_lower_first(_first_sentence(failed[0].reason))}", cited)]
    names = [f"`{_short_name(f.resource)}`" for f in failed]
    sentences = []
    if len(failed) == group.judged:
        scope = f"both {nouns[1]}" if len(failed) == 2 else f"all {_count(len(failed), nouns)} checked"
    else:
        scope = f"{len(failed)} of the {_count(group.judged, nouns)} checked"
    if len(failed) <= MAX_REASONS:
        sentences.append(_sentence(f"{title} fails for {scope}", cited))
        reasons = [_lower_first(_first_sentence(f.reason)) for f in failed]
        detail = reasons[0] if len(reasons) == 1 else "; ".join(reasons[:-1]) + f"; and {reasons[-1]}"
        sentences.append(_sentence(f"The exceptions are these: {detail}" if len(reasons) > 1 else f"The exception: {detail}", cited))
    else:
        shown = _join(names[:MAX_NAMED]) if len(names) <= MAX_NAMED else ", ".join(names[:MAX_NAMED]) + " and others"
        head = f"{title} fails for {scope}, including {shown}"
        sentences.append(_sentence(head, cited))
        sentences.append(_sentence(f"A typical exception reads: {_lower_first(_first_sentence(failed[0].reason))}", _evidence(failed[:1])))
    if len(group.passed) == 1:
        sentences.append(_sentence(f"The remaining {nouns[0]} passes", _evidence(group.passed)))
    elif group.passed:
        sentences.append(_sentence(f"The other {_count(len(group.passed), nouns)} pass", _evidence(group.passed)))
    return sentences


def _exceptions(draft: DraftInput) -> str:
    control = draft.control
    own = f"control:{control.id}"
    failed = [f for f in draft.findings if f.status == "fail"]
    errors = [f for f in draft.findings if f.status == "error"]
    primary = control.criteria[0]
    has_primary = any(c["id"] == primary for c in draft.chunks_of("criterion"))
    criterion = [primary] if has_primary else []
    if not failed and not errors:
        if not draft.findings:
            return ""
        scope = _join(control.criteria) if has_primary else "its criteria"
        cited_criteria = [c for c in control.criteria if any(ch["id"] == c for ch in draft.chunks_of("criterion"))]
        if control.kind == "hybrid":  # its manual half is unproven until the records are attached
            return _sentence(f"Its automated checks found no exception for {scope} during this run", own, cited_criteria)
        return _sentence(f"With no exception found, {control.id} operated as designed for {scope} during this run",
                         own, cited_criteria)
    sentences = []
    if failed:
        sentences.append(_sentence(f"Until these exceptions are fixed, {control.id} does not fully meet its design", own, criterion))
        # Stored evidence is reused until it expires (run.evidence_ttl_hours): a re-run straight after a fix
        # would judge the old evidence again, so the advice says to wait for fresh evidence.
        names = list(dict.fromkeys(f"`{_short_name(f.resource)}`" for f in failed))
        target = _join(names) if len(names) <= MAX_NAMED else ", ".join(names[:MAX_NAMED]) + " and the others above"
        sentences.append(_sentence(
            f"{_owner(control.owner_role)} should fix the exceptions for {target} and confirm the fix with a run "
            "after the stored evidence has expired, so that the evidence is collected afresh", _evidence(failed)))
    if errors:
        sentences.append(
            _sentence(f"{_owner(control.owner_role)} should also restore read access for the evidence that could not be judged, so the next run can assess it", own)
        )
    return _paragraph(sentences)


# -- manual evidence ---------------------------------------------------------------------------------------------


def _manual_evidence(draft: DraftInput) -> str:
    control = draft.control
    own = f"control:{control.id}"
    items = _join(control.manual_evidence)
    lead = "As a manual control, it rests on records that" if control.kind == "manual" else "Beyond the automated checks, it rests on records that"
    sentences = [
        _sentence(f"{lead} {_owner(control.owner_role)} must keep: {items}", own),
        _sentence(
            f"No such record is collected automatically, so {_owner(control.owner_role)} must attach them in review before this control counts as evidenced",
            own,
        ),
    ]
    policies = draft.chunks_of("documents")[:1]
    for policy in policies:
        file = policy["id"].removeprefix("policy:").split("#", 1)[0]
        sentences.append(_sentence(f"The procedure is described in the section “{policy['title']}” of `{file}`", policy["id"]))
    related = [c for c in draft.chunks_of("control") if c["id"] != own][:1]
    for chunk in related:
        other = chunk["id"].removeprefix("control:")
        sentences.append(_sentence(f"It works alongside {other}, {_lower_first(chunk['title'])}", chunk["id"]))
    return _paragraph(sentences)


# -- resource names ------------------------------------------------------------------------------------------


def _short_name(resource: str) -> str:
    """What a reader calls a resource: the name at the end of an ARN, the name in region/name/id labels."""
    if resource.startswith("arn:"):
        tail = resource.split(":", 5)[-1]
        return re.split(r"[/:]", tail)[-1] or resource
    parts = resource.split("/")
    if len(parts) == 3 and _REGION.match(parts[0]):
        return parts[1] if parts[1] not in ("", "-") else parts[2]
    if len(parts) == 4 and _REGION.match(parts[0]) and parts[1] == "alias":
        return f"alias/{parts[2]}"  # a KMS key by its alias: "us-east-1/alias/<name>/<key id>"
    return resource


def _nouns(group: CheckGroup) -> tuple[str, str]:
    for prefix, nouns in _CHECK_NOUNS.items():
        if group.check == prefix or (prefix.endswith(".") and group.check.startswith(prefix)):
            return nouns
    findings = group.passed + group.failed + group.errors + group.not_applicable
    resource = findings[0].resource if findings else ""
    if resource.startswith("arn:"):
        parts = resource.split(":", 5)
        service = parts[2] if len(parts) > 2 else ""
        kind = re.split(r"[/:]", parts[5])[0] if len(parts) > 5 and ("/" in parts[5] or ":" in parts[5] or parts[5] == "root") else ""
        return _ARN_NOUNS.get((service, kind), _ARN_NOUNS.get((service, ""), ("resource", "resources")))
    parts = resource.split("/")
    if len(parts) == 3 and _REGION.match(parts[0]):
        for prefix, nouns in _ID_NOUNS.items():
            if parts[2].startswith(prefix):
                return nouns
    if _REGION.match(resource):
        return ("region", "regions")
    if resource in ("aws-account", "account-password-policy"):
        return ("account setting", "account settings")
    return ("resource", "resources")
