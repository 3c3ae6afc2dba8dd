"""Repository checks: judge stored git and GitHub evidence, one finding per repository, branch, pull
request, alert or member. They read only the EvidenceView.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from tools.catalog import EvidenceView, check
from tools.findings import Finding, Status
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
    ".github/dependabot.yml", ".github/dependabot.yaml",
    "renovate.json", "renovate.json5", ".renovaterc", ".renovaterc.json",
    ".github/renovate.json", ".github/renovate.json5", ".gitlab/renovate.json",
)  # fmt: skip
# git's %G? letters for a signature that is there and not bad (G good; U unknown trust; X/Y expired;
# R revoked key; E cannot be checked here, e.g. the public key is not in this machine's keyring).
SIGNED = {"G", "U", "X", "Y", "R", "E"}


def _finding(
    check_id: str, status: Status, resource: str, reason: str, evidence_id: str | None, **facts: Any
) -> Finding:
    return Finding(
        check=check_id,
        status=status,
        resource=resource,
        reason=reason,
        evidence_ids=[evidence_id] if evidence_id else [],
        facts=facts,
    )


def _per_repo(
    view: EvidenceView, check_id: str, tool: str, judge: Callable[[dict[str, Any], str], list[Finding]]
) -> list[Finding]:
    """Run judge on every repository entry of a tool's evidence; unreadable entries become ERROR."""
    items = view.all(tool)
    if not items:
        return [_finding(check_id, Status.ERROR, tool, f"No evidence from {tool} was collected.", None)]
    findings: list[Finding] = []
    for item in items:
        for entry in item.data.get("repos", []):
            if "error" in entry:
                reason = f"{entry['repo']} could not be read: {entry['error']}"
                findings.append(_finding(check_id, Status.ERROR, entry["repo"], reason, item.id))
            else:
                findings.extend(judge(entry, item.id))
    if not findings:
        source = (
            "local repositories ([repos] local)" if tool.startswith("git.") else "GitHub repositories ([github] repos)"
        )
        return [_finding(check_id, Status.NOT_APPLICABLE, tool, f"No {source} are configured.", items[0].id)]
    return findings


# -- local repository contents ---------------------------------------------------------------


def codeowner_rules(text: str) -> list[str]:
    """CODEOWNERS lines that assign an owner: a pattern followed by at least one owner."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if len(line.split()) >= 2]


@check("repo.codeowners", title="Code owners are defined for the repository", needs=("git.repository_files",))
def codeowners(view: EvidenceView) -> list[Finding]:
    def judge(entry: dict[str, Any], evidence_id: str) -> list[Finding]:
        repo = entry["repo"]
        path = next((p for p in CODEOWNERS_PATHS if p in entry["contents"]), None)
        if path is None:
            reason = f"{repo} has no CODEOWNERS file at HEAD (looked in {', '.join(CODEOWNERS_PATHS)})."
            return [_finding("repo.codeowners", Status.FAIL, repo, reason, evidence_id, path=None, rules=0)]
        rules = codeowner_rules(entry["contents"][path])
        default_owner = any(rule.split()[0] == "*" for rule in rules)
        if not rules:
            reason = f"{repo} has {path} but it assigns no owners (0 rules)."
            return [_finding("repo.codeowners", Status.FAIL, repo, reason, evidence_id, path=path, rules=0)]
        reason = f"{repo} has {path} with {len(rules)} ownership rules" + (
            ", including a default owner for every file (*)." if default_owner else "; no default (*) owner."
        )
        return [
            _finding(
                "repo.codeowners",
                Status.PASS,
                repo,
                reason,
                evidence_id,
                path=path,
                rules=len(rules),
                default_owner=default_owner,
            )  # fmt: skip
        ]

    return _per_repo(view, "repo.codeowners", "git.repository_files", judge)


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


@check("repo.ci_workflows", title="Changes run through continuous integration", needs=("git.repository_files",))
def ci_workflows(view: EvidenceView) -> list[Finding]:
    def judge(entry: dict[str, Any], evidence_id: str) -> list[Finding]:
        repo = entry["repo"]
        contents: dict[str, str] = entry["contents"]
        workflows = sorted(p for p in contents if p.startswith(".github/workflows/"))
        others = sorted(p for p in contents if p in CI_FILES)
        on_pull_requests = sum(_runs_on_pull_requests(contents[p]) for p in workflows)
        found = workflows + others
        if not found:
            reason = f"{repo} has no CI definition at HEAD (no .github/workflows/*.yml, {', '.join(CI_FILES)})."
            return [_finding("repo.ci_workflows", Status.FAIL, repo, reason, evidence_id, ci_definitions=0)]
        reason = (
            f"{repo} defines CI in {len(found)} file(s): {', '.join(found)}; "
            f"{on_pull_requests} GitHub workflow(s) run on pull requests."
        )
        return [
            _finding(
                "repo.ci_workflows",
                Status.PASS,
                repo,
                reason,
                evidence_id,
                ci_definitions=len(found),
                github_workflows=len(workflows),
                workflows_on_pull_request=on_pull_requests,
                files=", ".join(found),
            )  # fmt: skip
        ]

    return _per_repo(view, "repo.ci_workflows", "git.repository_files", judge)


@check(
    "repo.dependency_updates",
    title="Automated dependency updates are configured (Dependabot or Renovate)",
    needs=("git.repository_files",),
)
def dependency_updates(view: EvidenceView) -> list[Finding]:
    def judge(entry: dict[str, Any], evidence_id: str) -> list[Finding]:
        repo = entry["repo"]
        found = [p for p in DEPENDENCY_UPDATE_FILES if p in entry["contents"]]
        if not found:
            reason = f"{repo} has no Dependabot or Renovate configuration at HEAD (looked for {len(DEPENDENCY_UPDATE_FILES)} file names)."
            return [_finding("repo.dependency_updates", Status.FAIL, repo, reason, evidence_id, config=None)]
        reason = f"{repo} configures automated dependency updates in {', '.join(found)}."
        return [_finding("repo.dependency_updates", Status.PASS, repo, reason, evidence_id, config=", ".join(found))]

    return _per_repo(view, "repo.dependency_updates", "git.repository_files", judge)


# -- local repository history ----------------------------------------------------------------


@check("repo.signed_commits", title="Recent commits are signed", needs=("git.commits",))
def signed_commits(view: EvidenceView) -> list[Finding]:
    def judge(entry: dict[str, Any], evidence_id: str) -> list[Finding]:
        repo = entry["repo"]
        commits = entry["commits"]
        if not commits:
            return [
                _finding("repo.signed_commits", Status.NOT_APPLICABLE, repo, f"{repo} has no commits.", evidence_id)
            ]
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
            return [_finding("repo.signed_commits", Status.FAIL, repo, reason, evidence_id, **facts)]
        reason = (
            f"All {len(commits)} latest commits of {repo} are signed ({facts['verified']} verified on this machine)."
        )
        return [_finding("repo.signed_commits", Status.PASS, repo, reason, evidence_id, **facts)]

    return _per_repo(view, "repo.signed_commits", "git.commits", judge)


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
        yield _finding(
            "repo.secrets_in_history", Status.FAIL, f"{repo}@{commit['sha'][:12]}:{path}", reason, evidence_id,
            commit=commit["sha"], path=path, secrets=total, kinds=", ".join(sorted(kinds)),
            author=commit["author"], date=commit["date"],
        )  # fmt: skip


@check(
    "repo.secrets_in_history",
    title="No secrets were ever committed to the repository history",
    needs=("git.history",),
)
def secrets_in_history(view: EvidenceView) -> list[Finding]:
    def judge(entry: dict[str, Any], evidence_id: str) -> list[Finding]:
        repo = entry["repo"]
        findings = [f for commit in entry["commits"] for f in _secret_findings(repo, commit, evidence_id)]
        if findings:
            return findings
        if entry["truncated"] and not entry["commits"]:
            reason = f"Not one whole commit of {repo} fits in {entry['max_bytes']:,} bytes of patches; raise max_bytes."
            return [_finding("repo.secrets_in_history", Status.ERROR, repo, reason, evidence_id, truncated=True)]
        scope = f"the {len(entry['commits'])} commits read"
        if entry["truncated"]:
            scope += f" (history cut at {entry['max_bytes']:,} bytes of patches; older commits were not read)"
        reason = f"No secret was found in the patches of {scope} of {repo}."
        return [
            _finding(
                "repo.secrets_in_history",
                Status.PASS,
                repo,
                reason,
                evidence_id,
                commits=len(entry["commits"]),
                bytes_read=entry["bytes_read"],
                truncated=entry["truncated"],
            )  # fmt: skip
        ]

    return _per_repo(view, "repo.secrets_in_history", "git.history", judge)


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


@check(
    "github.branch_protection",
    title="The default branch is protected against force pushes and deletion",
    needs=("github.branch_protection", "github.rulesets"),
)
def branch_protection(view: EvidenceView) -> list[Finding]:
    rules_by_repo = _branch_rules_by_repo(view)

    def judge(entry: dict[str, Any], evidence_id: str) -> list[Finding]:
        repo, branch = entry["repo"], entry["branch"]
        resource = f"{repo}:{branch}"
        classic = entry.get("protection") if entry["protected"] else None
        rule_types = {rule.get("type") for rule in rules_by_repo.get(repo, [])}
        if classic is None and not rule_types:
            reason = f"Branch {branch} of {repo} has no branch protection and no ruleset rules."
            return [_finding("github.branch_protection", Status.FAIL, resource, reason, evidence_id, protected=False)]
        force_push_blocked = "non_fast_forward" in rule_types or (
            classic is not None and not _enabled(classic, "allow_force_pushes")
        )
        deletion_blocked = "deletion" in rule_types or (
            classic is not None and not _enabled(classic, "allow_deletions")
        )
        by = " and ".join(
            n for n, on in (("branch protection", classic is not None), ("rulesets", bool(rule_types))) if on
        )
        facts = {
            "protected": True,
            "protected_by": by,
            "force_pushes_blocked": force_push_blocked,
            "deletion_blocked": deletion_blocked,
            "enforce_admins": classic is not None and _enabled(classic, "enforce_admins"),
        }
        gaps = [
            g for g, blocked in (("force pushes", force_push_blocked), ("deletion", deletion_blocked)) if not blocked
        ]
        if gaps:
            reason = f"Branch {branch} of {repo} is protected by {by} but still allows {' and '.join(gaps)}."
            return [_finding("github.branch_protection", Status.FAIL, resource, reason, evidence_id, **facts)]
        reason = f"Branch {branch} of {repo} is protected by {by}; force pushes and deletion are blocked."
        return [_finding("github.branch_protection", Status.PASS, resource, reason, evidence_id, **facts)]

    return _per_repo(view, "github.branch_protection", "github.branch_protection", judge)


@check(
    "github.required_reviews",
    title="Pull requests into the default branch need an approving review",
    needs=("github.branch_protection", "github.rulesets"),
)
def required_reviews(view: EvidenceView) -> list[Finding]:
    rules_by_repo = _branch_rules_by_repo(view)

    def judge(entry: dict[str, Any], evidence_id: str) -> list[Finding]:
        repo, branch = entry["repo"], entry["branch"]
        resource = f"{repo}:{branch}"
        reviews = (entry.get("protection") or {}).get("required_pull_request_reviews") or {}
        classic_count = int(reviews.get("required_approving_review_count", 0)) if reviews else 0
        ruleset_counts = [
            int((rule.get("parameters") or {}).get("required_approving_review_count", 0))
            for rule in rules_by_repo.get(repo, [])
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
            reason = (
                f"Branch {branch} of {repo} does not require an approving review before merge (0 approvals required)."
            )
            return [_finding("github.required_reviews", Status.FAIL, resource, reason, evidence_id, **facts)]
        extra = ", code owners must review" if facts["code_owner_review"] else ""
        reason = f"Branch {branch} of {repo} requires {required} approving review(s) before merge{extra}."
        return [_finding("github.required_reviews", Status.PASS, resource, reason, evidence_id, **facts)]

    return _per_repo(view, "github.required_reviews", "github.branch_protection", judge)


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


@check(
    "github.pr_approved_before_merge",
    title="Merged pull requests were approved by someone other than their author before merge",
    needs=("github.pulls",),
)
def pr_approved_before_merge(view: EvidenceView) -> list[Finding]:
    def judge(entry: dict[str, Any], evidence_id: str) -> list[Finding]:
        repo = entry["repo"]
        if not entry["pulls"]:
            reason = f"No pull request of {repo} was merged since {entry['since'][:10]}."
            return [_finding("github.pr_approved_before_merge", Status.NOT_APPLICABLE, repo, reason, evidence_id)]
        findings = []
        for pull in entry["pulls"]:
            resource = f"{repo}#{pull['number']}"
            approvals = [r for r in pull["reviews"] if r["state"] == "APPROVED"]
            approvers = approvers_before_merge(pull)
            facts = {
                "merged_at": pull["merged_at"],
                "author": pull["author"],
                "reviews": len(pull["reviews"]),
                "approvers_before_merge": len(approvers),
                "self_approvals": sum(r["user"] == pull["author"] for r in approvals),
                "approvals_after_merge": sum(
                    r["user"] != pull["author"] and (r.get("submitted_at") or "") > pull["merged_at"] for r in approvals
                ),
            }
            if approvers:
                reason = (
                    f"PR #{pull['number']} of {repo} by {pull['author']} was approved by {', '.join(sorted(approvers))} "
                    f"before it was merged at {pull['merged_at']}."
                )
                findings.append(
                    _finding("github.pr_approved_before_merge", Status.PASS, resource, reason, evidence_id, **facts)
                )
            else:
                reason = (
                    f"PR #{pull['number']} of {repo} by {pull['author']} was merged at {pull['merged_at']} without an "
                    f"approval from anyone but its author ({facts['reviews']} review(s), {facts['self_approvals']} "
                    f"self-approval(s), {facts['approvals_after_merge']} approval(s) after the merge)."
                )
                findings.append(
                    _finding("github.pr_approved_before_merge", Status.FAIL, resource, reason, evidence_id, **facts)
                )
        return findings

    return _per_repo(view, "github.pr_approved_before_merge", "github.pulls", judge)


# -- GitHub: security alerts -------------------------------------------------------------------


def _alert_check(
    check_id: str, tool: str, kind: str, path: str, describe: Callable[[dict[str, Any]], tuple[str, Facts]]
) -> Callable[[EvidenceView], list[Finding]]:
    """A check that fails each open alert and passes a repository with none."""

    def run(view: EvidenceView) -> list[Finding]:
        def judge(entry: dict[str, Any], evidence_id: str) -> list[Finding]:
            repo = entry["repo"]
            open_alerts = [a for a in entry["alerts"] if a.get("state") == "open"]
            if not open_alerts:
                return [
                    _finding(
                        check_id, Status.PASS, repo, f"{repo} has no open {kind} alerts.", evidence_id, open_alerts=0
                    )
                ]
            findings = []
            for alert in open_alerts:
                what, facts = describe(alert)
                reason = f"Open {kind} alert #{alert['number']} in {repo} since {alert['created_at'][:10]}: {what}."
                resource = f"{repo}/{path}/{alert['number']}"
                findings.append(
                    _finding(
                        check_id, Status.FAIL, resource, reason, evidence_id, created_at=alert["created_at"], **facts
                    )
                )
            return findings

        return _per_repo(view, check_id, tool, judge)

    return run


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


dependabot_alerts_open = check(
    "github.dependabot_alerts_open", title="No open Dependabot alerts", needs=("github.dependabot_alerts",)
)(
    _alert_check(
        "github.dependabot_alerts_open", "github.dependabot_alerts", "Dependabot", "dependabot", _describe_dependabot
    )
)

code_scanning_alerts_open = check(
    "github.code_scanning_alerts_open", title="No open code scanning alerts", needs=("github.code_scanning_alerts",)
)(
    _alert_check(
        "github.code_scanning_alerts_open",
        "github.code_scanning_alerts",
        "code scanning",
        "code-scanning",
        _describe_code_scanning,
    )  # fmt: skip
)

secret_scanning_alerts_open = check(
    "github.secret_scanning_alerts_open",
    title="No open secret scanning alerts",
    needs=("github.secret_scanning_alerts",),
)(
    _alert_check(
        "github.secret_scanning_alerts_open",
        "github.secret_scanning_alerts",
        "secret scanning",
        "secret-scanning",
        _describe_secret_scanning,
    )  # fmt: skip
)


# -- GitHub: organisation ----------------------------------------------------------------------


@check(
    "github.org_members_2fa",
    title="Every organisation member uses two-factor authentication",
    needs=("github.org_members",),
)
def org_members_2fa(view: EvidenceView) -> list[Finding]:
    check_id = "github.org_members_2fa"
    items = view.all("github.org_members")
    if not items:
        return [
            _finding(
                check_id, Status.ERROR, "github.org_members", "No evidence from github.org_members was collected.", None
            )
        ]
    findings = []
    for item in items:
        data = item.data
        org = data["org"]
        if org is None:
            reason = "No GitHub organisation is configured ([github] owner)."
            findings.append(_finding(check_id, Status.NOT_APPLICABLE, "github.org_members", reason, item.id))
        elif "error" in data:
            reason = f"Members of {org} could not be read (listing members without 2FA needs an owner's token): {data['error']}"
            findings.append(_finding(check_id, Status.ERROR, org, reason, item.id))
        elif not data["without_2fa"]:
            reason = f"All {len(data['members'])} members of {org} have two-factor authentication enabled."
            findings.append(
                _finding(check_id, Status.PASS, org, reason, item.id, members=len(data["members"]), without_2fa=0)
            )
        else:
            count = len(data["without_2fa"])
            for login in data["without_2fa"]:
                reason = f"{login} is a member of {org} without two-factor authentication ({count} of {len(data['members'])} members lack it)."
                findings.append(
                    _finding(
                        check_id,
                        Status.FAIL,
                        f"{org}/{login}",
                        reason,
                        item.id,
                        members=len(data["members"]),
                        without_2fa=count,
                    )
                )
    return findings
