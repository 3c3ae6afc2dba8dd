"""Repository checks: judge stored git and GitHub evidence, one finding per repository, branch, pull
request, alert or member. They read only the EvidenceView. Missing and unreadable evidence, and the names
of resources, follow tools/checks_common.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import wraps
from typing import Any

import yaml

from tools.catalog import EvidenceView, check
from tools.checks_common import finding, missing_evidence, nothing_to_judge, read_error, unreadable
from tools.findings import Finding, Severity, Status
from tools.redact import MARKER_PATTERN

Facts = dict[str, str | int | float | bool | None]

# Where GitHub looks for CODEOWNERS, in its order of precedence.
CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")
CI_FILES = (
    ".gitlab-ci.yml",
    "Jenkinsfile",
    ".circleci/config.yml",
    "azure-pipelines.yml",
    "bitbucket-pipelines.yml",
    ".travis.yml",
)
DEPENDENCY_UPDATE_FILES = (
    ".github/dependabot.yml",
    ".github/dependabot.yaml",
    "renovate.json",
    "renovate.json5",
    ".renovaterc",
    ".renovaterc.json",
    ".github/renovate.json",
    ".github/renovate.json5",
    ".gitlab/renovate.json",
)
# git's %G? letters for a signature that is there and not bad (G good; U unknown trust; X/Y expired;
# R revoked key; E cannot be checked here, e.g. the public key is not in this machine's keyring).
SIGNED = {"G", "U", "X", "Y", "R", "E"}


RepoJudge = Callable[[str, dict[str, Any], str], list[Finding]]  # (check id, repository entry, evidence id)


def _per_repo(view: EvidenceView, check_id: str, tool: str, judge: RepoJudge) -> list[Finding]:
    """Run judge on every repository entry of a tool's evidence; unreadable entries become ERROR."""
    items = view.all(tool)
    if not items:
        return missing_evidence(check_id, tool)
    findings: list[Finding] = []
    for item in items:
        for entry in item.data.get("repos", []):
            error = read_error(entry)
            if error is None:
                findings.extend(judge(check_id, entry, item.id))
            else:
                findings.append(unreadable(check_id, entry["repo"], error, [item.id]))
    if not findings:
        source = (
            "local repositories ([repos] local)" if tool.startswith("git.") else "GitHub repositories ([github] repos)"
        )
        return nothing_to_judge(check_id, tool, f"No {source} are configured.", [items[0].id])
    return findings


def repo_check(
    check_id: str, title: str, tool: str, *, severity: Severity
) -> Callable[[RepoJudge], Callable[[EvidenceView], list[Finding]]]:
    """Register a check that judges each repository entry of one tool's evidence with a RepoJudge."""

    def register(judge: RepoJudge) -> Callable[[EvidenceView], list[Finding]]:
        @wraps(judge)
        def run(view: EvidenceView) -> list[Finding]:
            return _per_repo(view, check_id, tool, judge)

        return check(check_id, title=title, needs=(tool,), severity=severity)(run)

    return register


# -- local repository contents ---------------------------------------------------------------


def codeowner_rules(text: str) -> list[str]:
    """CODEOWNERS lines that assign an owner: a pattern followed by at least one owner."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if len(line.split()) >= 2]


@repo_check(
    "repo.codeowners",
    "Code owners are defined for the repository",
    "git.repository_files",
    severity=Severity.MEDIUM,
)
def codeowners(check_id: str, entry: dict[str, Any], evidence_id: str) -> list[Finding]:
    repo = entry["repo"]
    path = next((p for p in CODEOWNERS_PATHS if p in entry["contents"]), None)
    if path is None:
        reason = f"{repo} has no CODEOWNERS file at HEAD (looked in {', '.join(CODEOWNERS_PATHS)})."
        return [finding(check_id, Status.FAIL, repo, reason, [evidence_id], path=None, rules=0)]
    rules = codeowner_rules(entry["contents"][path])
    default_owner = any(rule.split()[0] == "*" for rule in rules)
    if not rules:
        reason = f"{repo} has {path} but it assigns no owners (0 rules)."
        return [finding(check_id, Status.FAIL, repo, reason, [evidence_id], path=path, rules=0)]
    reason = f"{repo} has {path} with {len(rules)} ownership rules" + (
        ", including a default owner for every file (*)." if default_owner else "; no default (*) owner."
    )
    facts = {"path": path, "rules": len(rules), "default_owner": default_owner}
    return [finding(check_id, Status.PASS, repo, reason, [evidence_id], **facts)]


def _runs_on_pull_requests(workflow_text: str) -> bool:
    try:
        workflow = yaml.safe_load(workflow_text)
    except yaml.YAMLError:
        return False
    if not isinstance(workflow, dict):
        return False
    # YAML 1.1 reads the key `on` as the boolean True.
    triggers = workflow.get("on", workflow.get(True))
    if isinstance(triggers, str):
        triggers = [triggers]
    return bool(triggers) and any(t in ("pull_request", "pull_request_target", "merge_group") for t in triggers)


@repo_check(
    "repo.ci_workflows",
    "Changes run through continuous integration",
    "git.repository_files",
    severity=Severity.HIGH,
)
def ci_workflows(check_id: str, entry: dict[str, Any], evidence_id: str) -> list[Finding]:
    repo = entry["repo"]
    contents: dict[str, str] = entry["contents"]
    workflows = sorted(p for p in contents if p.startswith(".github/workflows/"))
    others = sorted(p for p in contents if p in CI_FILES)
    on_pull_requests = sum(_runs_on_pull_requests(contents[p]) for p in workflows)
    found = workflows + others
    if not found:
        reason = f"{repo} has no CI definition at HEAD (no .github/workflows/*.yml, {', '.join(CI_FILES)})."
        return [finding(check_id, Status.FAIL, repo, reason, [evidence_id], ci_definitions=0)]
    reason = (
        f"{repo} defines CI in {len(found)} file(s): {', '.join(found)}; "
        f"{on_pull_requests} GitHub workflow(s) run on pull requests."
    )
    return [
        finding(
            check_id,
            Status.PASS,
            repo,
            reason,
            [evidence_id],
            ci_definitions=len(found),
            github_workflows=len(workflows),
            workflows_on_pull_request=on_pull_requests,
            files=", ".join(found),
        )
    ]


@repo_check(
    "repo.dependency_updates",
    "Automated dependency updates are configured (Dependabot or Renovate)",
    "git.repository_files",
    severity=Severity.MEDIUM,
)
def dependency_updates(check_id: str, entry: dict[str, Any], evidence_id: str) -> list[Finding]:
    repo = entry["repo"]
    found = [p for p in DEPENDENCY_UPDATE_FILES if p in entry["contents"]]
    if not found:
        reason = (
            f"{repo} has no Dependabot or Renovate configuration at HEAD "
            f"(looked for {len(DEPENDENCY_UPDATE_FILES)} file names)."
        )
        return [finding(check_id, Status.FAIL, repo, reason, [evidence_id], config=None)]
    reason = f"{repo} configures automated dependency updates in {', '.join(found)}."
    return [finding(check_id, Status.PASS, repo, reason, [evidence_id], config=", ".join(found))]


# -- local repository history ----------------------------------------------------------------


@repo_check("repo.signed_commits", "Recent commits are signed", "git.commits", severity=Severity.MEDIUM)
def signed_commits(check_id: str, entry: dict[str, Any], evidence_id: str) -> list[Finding]:
    repo = entry["repo"]
    commits = entry["commits"]
    if not commits:
        return [finding(check_id, Status.NOT_APPLICABLE, repo, f"{repo} has no commits.", [evidence_id])]
    verdicts = Counter(c["signature"] for c in commits)
    signed = sum(n for letter, n in verdicts.items() if letter in SIGNED)
    bad = verdicts["B"]
    unsigned = verdicts["N"]
    facts = {
        "commits": len(commits),
        "signed": signed,
        "verified": verdicts["G"] + verdicts["U"],
        "unsigned": unsigned,
        "bad_signature": bad,
    }
    if unsigned or bad:
        reason = f"{unsigned} of the latest {len(commits)} commits of {repo} are unsigned" + (
            f" and {bad} carry a bad signature." if bad else "."
        )
        return [finding(check_id, Status.FAIL, repo, reason, [evidence_id], **facts)]
    reason = f"All {len(commits)} latest commits of {repo} are signed ({facts['verified']} verified on this machine)."
    return [finding(check_id, Status.PASS, repo, reason, [evidence_id], **facts)]


def added_markers(patch: str) -> Counter[str]:
    """Redaction markers on the lines a patch adds (kinds counted), ignoring the file headers."""
    kinds: Counter[str] = Counter()
    in_hunk = False
    for line in patch.splitlines():
        if line.startswith("@@"):
            in_hunk = True
        elif in_hunk and line.startswith("+"):
            kinds.update(MARKER_PATTERN.findall(line))
    return kinds


def _secret_findings(repo: str, commit: dict[str, Any], evidence_id: str) -> Iterator[Finding]:
    who = f"{commit['sha'][:12]} by {commit['author']} on {commit['date'][:10]}"
    places = [(f["path"], added_markers(f["patch"])) for f in commit["files"]]
    places.append(("(commit message)", Counter(MARKER_PATTERN.findall(commit["subject"]))))
    for path, kinds in places:
        if not kinds:
            continue
        total = sum(kinds.values())
        listed = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        reason = (
            f"Commit {who} added {total} secret(s) ({listed}) to {path}; it stays in the history even if "
            "removed later, so rotate it."
        )
        yield finding(
            "repo.secrets_in_history",
            Status.FAIL,
            f"{repo}@{commit['sha'][:12]}:{path}",
            reason,
            [evidence_id],
            commit=commit["sha"],
            path=path,
            secrets=total,
            kinds=", ".join(sorted(kinds)),
            author=commit["author"],
            date=commit["date"],
        )


@repo_check(
    "repo.secrets_in_history",
    "No secrets were ever committed to the repository history",
    "git.history",
    severity=Severity.CRITICAL,
)
def secrets_in_history(check_id: str, entry: dict[str, Any], evidence_id: str) -> list[Finding]:
    repo = entry["repo"]
    findings = [f for commit in entry["commits"] for f in _secret_findings(repo, commit, evidence_id)]
    if findings:
        return findings
    if entry.get("history_complete") is False:  # absent from evidence stored before the field existed
        reason = f"The history of {repo} is not whole ({entry['history_problem']}), so it cannot pass."
        return [finding(check_id, Status.ERROR, repo, reason, [evidence_id])]
    if entry["truncated"] and not entry["commits"]:
        reason = f"Not one whole commit of {repo} fits in {entry['max_bytes']:,} bytes of patches; raise max_bytes."
        return [finding(check_id, Status.ERROR, repo, reason, [evidence_id], truncated=True)]
    scope = f"the {len(entry['commits'])} commits read"
    if entry["truncated"]:
        scope += f" (history cut at {entry['max_bytes']:,} bytes of patches; older commits were not read)"
    reason = f"No secret was found in the patches of {scope} of {repo}."
    facts = {"commits": len(entry["commits"]), "bytes_read": entry["bytes_read"], "truncated": entry["truncated"]}
    return [finding(check_id, Status.PASS, repo, reason, [evidence_id], **facts)]


# -- GitHub: branches --------------------------------------------------------------------------


def _branch_rules_by_repo(view: EvidenceView) -> dict[str, list[dict[str, Any]]]:
    """Rules in force on each repository's branch, from github.rulesets evidence (when collected)."""
    rules: dict[str, list[dict[str, Any]]] = {}
    for item in view.all("github.rulesets"):
        for entry in item.data.get("repos", []):
            if isinstance(entry.get("branch_rules"), list):
                rules[entry["repo"]] = entry["branch_rules"]
    return rules


def _enabled(protection: dict[str, Any], setting: str) -> bool:
    return bool((protection.get(setting) or {}).get("enabled"))


Rules = list[dict[str, Any]]


@dataclass(frozen=True)
class Branch:
    """A repository's default branch as its branch-protection entry and the rulesets in force describe it."""

    repo: str
    name: str
    classic: dict[str, Any] | None  # classic branch protection; None when the branch has none
    rules: Rules  # the ruleset rules in force on the branch
    evidence_id: str  # the branch-protection item

    @property
    def resource(self) -> str:
        return f"{self.repo}:{self.name}"


BranchJudge = Callable[[str, Branch], list[Finding]]


def _branch_check(
    check_id: str, title: str, *, severity: Severity
) -> Callable[[BranchJudge], Callable[[EvidenceView], list[Finding]]]:
    """Register a check that judges each repository's default branch with judge(check id, Branch)."""

    def register(judge: BranchJudge) -> Callable[[EvidenceView], list[Finding]]:
        @wraps(judge)
        def run(view: EvidenceView) -> list[Finding]:
            rules_by_repo = _branch_rules_by_repo(view)

            def with_rules(check_id: str, entry: dict[str, Any], evidence_id: str) -> list[Finding]:
                classic = entry.get("protection") if entry["protected"] else None
                rules = rules_by_repo.get(entry["repo"], [])
                return judge(check_id, Branch(entry["repo"], entry["branch"], classic, rules, evidence_id))

            return _per_repo(view, check_id, "github.branch_protection", with_rules)

        return check(check_id, title=title, needs=("github.branch_protection", "github.rulesets"), severity=severity)(
            run
        )

    return register


@_branch_check(
    "github.branch_protection",
    "The default branch is protected against force pushes and deletion",
    severity=Severity.HIGH,
)
def branch_protection(check_id: str, b: Branch) -> list[Finding]:
    repo, branch, classic, resource, evidence_id = b.repo, b.name, b.classic, b.resource, b.evidence_id
    rule_types = {rule.get("type") for rule in b.rules}
    if classic is None and not rule_types:
        reason = f"Branch {branch} of {repo} has no branch protection and no ruleset rules."
        return [finding(check_id, Status.FAIL, resource, reason, [evidence_id], protected=False)]
    force_push_blocked = "non_fast_forward" in rule_types or (
        classic is not None and not _enabled(classic, "allow_force_pushes")
    )
    deletion_blocked = "deletion" in rule_types or (classic is not None and not _enabled(classic, "allow_deletions"))
    by = " and ".join(n for n, on in (("branch protection", classic is not None), ("rulesets", bool(rule_types))) if on)
    facts = {
        "protected": True,
        "protected_by": by,
        "force_pushes_blocked": force_push_blocked,
        "deletion_blocked": deletion_blocked,
        "enforce_admins": classic is not None and _enabled(classic, "enforce_admins"),
    }
    gaps = [g for g, blocked in (("force pushes", force_push_blocked), ("deletion", deletion_blocked)) if not blocked]
    if gaps:
        reason = f"Branch {branch} of {repo} is protected by {by} but still allows {' and '.join(gaps)}."
        return [finding(check_id, Status.FAIL, resource, reason, [evidence_id], **facts)]
    reason = f"Branch {branch} of {repo} is protected by {by}; force pushes and deletion are blocked."
    return [finding(check_id, Status.PASS, resource, reason, [evidence_id], **facts)]


@_branch_check(
    "github.enforce_admins",
    "Branch protection of the default branch applies to administrators",
    severity=Severity.HIGH,
)
def enforce_admins(check_id: str, b: Branch) -> list[Finding]:
    repo, branch, classic, resource, evidence_id = b.repo, b.name, b.classic, b.resource, b.evidence_id
    if classic is not None:
        if _enabled(classic, "enforce_admins"):
            reason = f"Branch protection of {branch} in {repo} applies to administrators too (enforce_admins: true)."
            return [finding(check_id, Status.PASS, resource, reason, [evidence_id], enforce_admins=True)]
        reason = (
            f"Branch protection of {branch} in {repo} does not apply to administrators (enforce_admins: false): "
            "an administrator can push or merge without the required reviews and checks."
        )
        return [finding(check_id, Status.FAIL, resource, reason, [evidence_id], enforce_admins=False)]
    if b.rules:
        # Who may bypass a ruleset is in each ruleset's own record, which github.rulesets does not read.
        reason = (
            f"Branch {branch} of {repo} is protected only by ruleset rules; who may bypass them is not in the "
            "collected evidence, so whether administrators are bound cannot be judged."
        )
        return [finding(check_id, Status.ERROR, resource, reason, [evidence_id], enforce_admins=None)]
    reason = f"Branch {branch} of {repo} has no branch protection, so none applies to administrators."
    return [finding(check_id, Status.FAIL, resource, reason, [evidence_id], enforce_admins=False, protected=False)]


@_branch_check(
    "github.required_reviews",
    "Pull requests into the default branch need an approving review",
    severity=Severity.HIGH,
)
def required_reviews(check_id: str, b: Branch) -> list[Finding]:
    repo, branch, resource, evidence_id = b.repo, b.name, b.resource, b.evidence_id
    reviews = (b.classic or {}).get("required_pull_request_reviews") or {}
    classic_count = int(reviews.get("required_approving_review_count", 0)) if reviews else 0
    ruleset_counts = [
        int((rule.get("parameters") or {}).get("required_approving_review_count", 0))
        for rule in b.rules
        if rule.get("type") == "pull_request"
    ]
    required = max([classic_count, *ruleset_counts])
    facts = {
        "required_approvals": required,
        "code_owner_review": bool(reviews.get("require_code_owner_reviews")),
        "dismiss_stale_reviews": bool(reviews.get("dismiss_stale_reviews")),
        "pull_request_required": bool(reviews) or bool(ruleset_counts),
    }
    if required < 1:
        reason = f"Branch {branch} of {repo} does not require an approving review before merge (0 approvals required)."
        return [finding(check_id, Status.FAIL, resource, reason, [evidence_id], **facts)]
    extra = ", code owners must review" if facts["code_owner_review"] else ""
    reason = f"Branch {branch} of {repo} requires {required} approving review(s) before merge{extra}."
    return [finding(check_id, Status.PASS, resource, reason, [evidence_id], **facts)]


# -- GitHub: pull requests ---------------------------------------------------------------------

# Review states that set a reviewer's verdict; COMMENTED and PENDING leave it as it was.
VERDICT_STATES = {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}


def approvers_before_merge(pull: dict[str, Any]) -> set[str]:
    """Reviewers other than the author whose last verdict before the merge was an approval."""
    verdicts: dict[str, str] = {}
    timed = [r for r in pull["reviews"] if r.get("submitted_at") and r["submitted_at"] <= pull["merged_at"]]
    for review in sorted(timed, key=lambda r: r["submitted_at"]):
        if review["state"] in VERDICT_STATES:
            verdicts[review["user"]] = review["state"]
    return {user for user, state in verdicts.items() if state == "APPROVED" and user != pull["author"]}


@repo_check(
    "github.pr_approved_before_merge",
    "Merged pull requests were approved by someone other than their author before merge",
    "github.pulls",
    severity=Severity.HIGH,
)
def pr_approved_before_merge(check_id: str, entry: dict[str, Any], evidence_id: str) -> list[Finding]:
    repo = entry["repo"]
    if not entry["pulls"]:
        reason = f"No pull request of {repo} was merged since {entry['since'][:10]}."
        return [finding(check_id, Status.NOT_APPLICABLE, repo, reason, [evidence_id])]
    findings = []
    for pull in entry["pulls"]:
        number, author, merged_at = pull["number"], pull["author"], pull["merged_at"]
        approvals = [r for r in pull["reviews"] if r["state"] == "APPROVED"]
        approvers = approvers_before_merge(pull)
        facts = {
            "merged_at": merged_at,
            "author": author,
            "reviews": len(pull["reviews"]),
            "approvers_before_merge": len(approvers),
            "self_approvals": sum(r["user"] == author for r in approvals),
            "approvals_after_merge": sum(
                r["user"] != author and (r.get("submitted_at") or "") > merged_at for r in approvals
            ),
        }
        if approvers:
            reason = (
                f"PR #{number} of {repo} by {author} was approved by {', '.join(sorted(approvers))} "
                f"before it was merged at {merged_at}."
            )
        else:
            reason = (
                f"PR #{number} of {repo} by {author} was merged at {merged_at} without an "
                f"approval from anyone but its author ({facts['reviews']} review(s), {facts['self_approvals']} "
                f"self-approval(s), {facts['approvals_after_merge']} approval(s) after the merge)."
            )
        status = Status.PASS if approvers else Status.FAIL
        findings.append(finding(check_id, status, f"{repo}#{number}", reason, [evidence_id], **facts))
    return findings


# -- GitHub: security alerts -------------------------------------------------------------------


def _alert_check(
    check_id: str,
    title: str,
    tool: str,
    kind: str,
    path: str,
    describe: Callable[[dict[str, Any]], tuple[str, Facts]],
    *,
    severity: Severity,
) -> None:
    """Register a check that fails each open alert and passes a repository with none."""

    @repo_check(check_id, title, tool, severity=severity)
    def judge(check_id: str, entry: dict[str, Any], evidence_id: str) -> list[Finding]:
        repo = entry["repo"]
        open_alerts = [a for a in entry["alerts"] if a.get("state") == "open"]
        if not open_alerts:
            reason = f"{repo} has no open {kind} alerts."
            return [finding(check_id, Status.PASS, repo, reason, [evidence_id], open_alerts=0)]
        findings = []
        for alert in open_alerts:
            what, facts = describe(alert)
            reason = f"Open {kind} alert #{alert['number']} in {repo} since {alert['created_at'][:10]}: {what}."
            resource = f"{repo}/{path}/{alert['number']}"
            findings.append(
                finding(check_id, Status.FAIL, resource, reason, [evidence_id], created_at=alert["created_at"], **facts)
            )
        return findings


def _describe_dependabot(alert: dict[str, Any]) -> tuple[str, Facts]:
    advisory = alert.get("security_advisory") or {}
    vulnerability = alert.get("security_vulnerability") or {}
    package = (vulnerability.get("package") or (alert.get("dependency") or {}).get("package") or {}).get("name")
    severity = advisory.get("severity") or vulnerability.get("severity")
    advisory_id = advisory.get("cve_id") or advisory.get("ghsa_id")
    version_range = vulnerability.get("vulnerable_version_range")
    what = f"{severity} severity {advisory_id} in {package} {version_range}"
    return what, {"severity": severity, "package": package, "advisory": advisory_id, "vulnerable_range": version_range}


def _describe_code_scanning(alert: dict[str, Any]) -> tuple[str, Facts]:
    rule = alert.get("rule") or {}
    location = (alert.get("most_recent_instance") or {}).get("location") or {}
    severity = rule.get("security_severity_level") or rule.get("severity")
    where = f"{location.get('path')}:{location.get('start_line')}"
    what = f"{severity} {rule.get('id')} ({rule.get('description')}) at {where}"
    tool_name = (alert.get("tool") or {}).get("name")
    return what, {"severity": severity, "rule": rule.get("id"), "tool": tool_name, "location": where}


def _describe_secret_scanning(alert: dict[str, Any]) -> tuple[str, Facts]:
    name = alert.get("secret_type_display_name") or alert.get("secret_type")
    what = f"{name} (validity: {alert.get('validity', 'unknown')})"
    facts: Facts = {
        "secret_type": alert.get("secret_type"),
        "validity": alert.get("validity"),
        "push_protection_bypassed": bool(alert.get("push_protection_bypassed")),
    }
    return what, facts


_alert_check(
    "github.dependabot_alerts_open",
    "No open Dependabot alerts",
    "github.dependabot_alerts",
    "Dependabot",
    "dependabot",
    _describe_dependabot,
    severity=Severity.HIGH,
)
_alert_check(
    "github.code_scanning_alerts_open",
    "No open code scanning alerts",
    "github.code_scanning_alerts",
    "code scanning",
    "code-scanning",
    _describe_code_scanning,
    severity=Severity.HIGH,
)
_alert_check(
    "github.secret_scanning_alerts_open",
    "No open secret scanning alerts",
    "github.secret_scanning_alerts",
    "secret scanning",
    "secret-scanning",
    _describe_secret_scanning,
    severity=Severity.CRITICAL,
)


# -- GitHub: organisation ----------------------------------------------------------------------


@check(
    "github.org_members_2fa",
    title="Every organisation member uses two-factor authentication",
    needs=("github.org_members",),
    severity=Severity.CRITICAL,
)
def org_members_2fa(view: EvidenceView) -> list[Finding]:
    check_id, tool = "github.org_members_2fa", "github.org_members"
    items = view.all(tool)
    if not items:
        return missing_evidence(check_id, tool)
    findings = []
    for item in items:
        data = item.data
        org = data["org"]
        error = read_error(data)
        if org is None:
            reason = "No GitHub organisation is configured ([github] owner)."
            findings += nothing_to_judge(check_id, tool, reason, [item.id])
        elif error is not None:
            what = f"Members of {org} (listing members without 2FA needs an owner's token)"
            findings.append(unreadable(check_id, org, error, [item.id], what))
        elif not data["without_2fa"]:
            reason = f"All {len(data['members'])} members of {org} have two-factor authentication enabled."
            findings.append(
                finding(check_id, Status.PASS, org, reason, [item.id], members=len(data["members"]), without_2fa=0)
            )
        else:
            members, count = len(data["members"]), len(data["without_2fa"])
            for login in data["without_2fa"]:
                reason = (
                    f"{login} is a member of {org} without two-factor authentication ({count} of {members} members "
                    "lack it)."
                )
                facts = {"members": members, "without_2fa": count}
                findings.append(finding(check_id, Status.FAIL, f"{org}/{login}", reason, [item.id], **facts))
    return findings
