"""The shipped control library (knowledge/controls/*.yaml) and its loader's validation."""

import json
import re
from collections import Counter

import pytest
from ai_collectors import AI_COLLECTORS

from knowledge.catalog import load_catalog
from knowledge.control_library import ControlLibraryError, load_controls

# The naming contract from the project brief: collectors ("tools") and checks, by source.
AWS_TOOLS = {
    "aws.iam.credential_report",
    "aws.iam.account_summary",
    "aws.iam.password_policy",
    "aws.iam.users",
    "aws.iam.policies",
    "aws.iam.roles",
    "aws.cloudtrail.trails",
    "aws.s3.account_public_access_block",
    "aws.s3.buckets",
    "aws.kms.keys",
    "aws.ec2.security_groups",
    "aws.ec2.ebs_encryption_by_default",
    "aws.ec2.volumes",
    "aws.ec2.vpcs",
    "aws.rds.instances",
    "aws.cloudwatch.alarms",
    "aws.logs.metric_filters",
    "aws.config.recorders",
    "aws.guardduty.detectors",
    "aws.backup.plans",
}
AWS_CHECKS = {
    "aws.iam.root_mfa",
    "aws.iam.root_access_keys",
    "aws.iam.console_user_mfa",
    "aws.iam.password_policy_length",
    "aws.iam.password_policy_complexity",
    "aws.iam.password_policy_reuse",
    "aws.iam.password_policy_expiry",
    "aws.iam.access_key_age",
    "aws.iam.unused_credentials",
    "aws.iam.user_direct_policies",
    "aws.iam.admin_privileges",
    "aws.iam.support_role",
    "aws.cloudtrail.multi_region",
    "aws.cloudtrail.log_file_validation",
    "aws.cloudtrail.logging_on",
    "aws.cloudtrail.kms_encryption",
    "aws.s3.account_public_access_block",
    "aws.s3.bucket_public_access_block",
    "aws.s3.bucket_public",
    "aws.s3.bucket_encryption",
    "aws.s3.bucket_versioning",
    "aws.s3.bucket_access_logging",
    "aws.s3.bucket_tls_only",
    "aws.kms.key_rotation",
    "aws.ec2.sg_admin_ports_open",
    "aws.ec2.ebs_default_encryption",
    "aws.ec2.default_sg_restricts_all",
    "aws.ec2.vpc_flow_logs",
    "aws.ec2.ebs_volume_encrypted",
    "aws.rds.storage_encrypted",
    "aws.rds.backup_retention",
    "aws.rds.not_public",
    "aws.rds.deletion_protection",
    "aws.rds.multi_az",
    "aws.cloudwatch.root_usage_alarm",
    "aws.cloudwatch.iam_change_alarm",
    "aws.cloudwatch.cloudtrail_change_alarm",
    "aws.config.recorder_on",
    "aws.guardduty.enabled",
    "aws.backup.plan_exists",
    "aws.backup.plan_retention",
}
REPO_TOOLS = {
    "git.repository_files",
    "git.commits",
    "git.history",
    "github.repository",
    "github.branch_protection",
    "github.rulesets",
    "github.pulls",
    "github.dependabot_alerts",
    "github.code_scanning_alerts",
    "github.secret_scanning_alerts",
    "github.org_members",
}
REPO_CHECKS = {
    "repo.codeowners",
    "repo.ci_workflows",
    "repo.dependency_updates",
    "repo.signed_commits",
    "repo.secrets_in_history",
    "github.branch_protection",
    "github.required_reviews",
    "github.enforce_admins",
    "github.pr_approved_before_merge",
    "github.dependabot_alerts_open",
    "github.code_scanning_alerts_open",
    "github.secret_scanning_alerts_open",
    "github.org_members_2fa",
}
LOG_TOOLS = {"logs.cloudtrail_events", "logs.auth_events", "logs.cloudwatch_events"}
LOG_CHECKS = {
    "logs.console_login_without_mfa",
    "logs.root_account_use",
    "logs.repeated_failed_logins",
    "logs.iam_changes",
    "logs.audit_logging_tampered",
    "logs.sg_opened_to_world",
    "logs.new_users_and_keys",
}
# No AI control lists the SageMaker model registry (the endpoints name their models); CloudTrail's Bedrock model
# calls name the providers in use.
AI_TOOLS = set(AI_COLLECTORS) - {"aws.sagemaker.model_registry"} | {"logs.cloudtrail_events"}
AI_CHECKS = {
    "ai.sagemaker.endpoint_model_approved",
    "ai.sagemaker.training_data_lineage",
    "ai.sagemaker.training_output_encrypted",
    "ai.bedrock.invocation_logging",
    "ai.bedrock.custom_model_lineage",
    "ai.vendors.registered",
    "ai.vendors.assurance_current",
    "ai.vendors.critical_fallback",
    "ai.changes.tier_rules",
    "ai.mlflow.production_approved",
    "ai.mlflow.training_data_lineage",
    "ai.changes.direct_pushes",
    "ai.training.customer_data_consent",
    "ai.model_artifacts.buckets_protected",
}
ALL_CHECKS = AWS_CHECKS | REPO_CHECKS | LOG_CHECKS | AI_CHECKS
ALL_TOOLS = AWS_TOOLS | REPO_TOOLS | LOG_TOOLS | AI_TOOLS
# A check may only read collectors of its own source family.
TOOLS_FOR_CHECKS = [
    (AWS_CHECKS, AWS_TOOLS),
    (REPO_CHECKS, REPO_TOOLS),
    (LOG_CHECKS, LOG_TOOLS),
    (AI_CHECKS, AI_TOOLS),
]

# The six AI themes the library must carry: control id -> words its title or description must contain.
AI_THEMES = {
    "AI-01": ("registry", "approval"),
    "AI-02": ("lineage", "sources"),
    "AI-03": ("weights", "prompts", "knowledge bases", "routing"),
    "AI-04": ("model providers", "critical vendors", "security review", "dpa"),
    "AI-05": ("incident", "model version", "inputs", "outputs"),
    "AI-06": ("customer data", "training", "opted in"),
}


@pytest.fixture(scope="module")
def library():
    return load_controls()


def test_library_has_at_least_90_controls_sorted_by_unique_id(library):
    ids = [control.id for control in library.controls]
    assert len(ids) >= 90
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert len({control.title for control in library.controls}) == len(ids), "two controls share a title"


def test_every_one_of_the_61_criteria_is_covered(library):
    catalog_ids = set(load_catalog().ids())
    assert len(catalog_ids) == 61
    assert library.criteria_covered() == catalog_ids
    for criterion_id in catalog_ids:
        assert library.for_criterion(criterion_id), criterion_id


def test_criteria_from_the_reference_catalog_are_all_covered(library, shared_data):
    reference = json.loads((shared_data / "tsc" / "tsc-2017-rev2022.json").read_text())
    assert {c["id"] for c in reference["criteria"]} == library.criteria_covered()


def test_kind_matches_the_evidence_a_control_lists(library):
    for control in library.controls:
        assert bool(control.evidence) == (control.kind != "manual"), control.id
        assert bool(control.manual_evidence) == (control.kind != "automated"), control.id
    kinds = Counter(control.kind for control in library.controls)
    assert 35 <= kinds["automated"] + kinds["hybrid"] <= 60, kinds


def test_descriptions_are_short(library):
    for control in library.controls:
        sentences = [s for s in re.split(r"(?<=[.;])\s+", control.description.strip()) if s]
        assert 1 <= len(sentences) <= 3, control.id


def test_every_contract_check_is_used_and_every_spec_names_contract_names(library):
    used_checks = set()
    for control in library.controls:
        for spec in control.evidence:
            assert spec.check in ALL_CHECKS, (control.id, spec.check)
            assert spec.tool in ALL_TOOLS, (control.id, spec.tool)
            family_tools = next(tools for checks, tools in TOOLS_FOR_CHECKS if spec.check in checks)
            assert spec.tool in family_tools, (control.id, spec.check, spec.tool)
            used_checks.add(spec.check)
    assert ALL_CHECKS - used_checks == set()
    assert len(ALL_CHECKS) == 75


def test_evidence_specs_read_a_collector_the_check_needs(library):
    from tools.catalog import CHECKS, TOOLS, load_all

    try:
        load_all()
    except ImportError as exc:
        pytest.skip(f"collector/check modules not all importable yet: {exc}")
    used_checks = set()
    for control in library.controls:
        for spec in control.evidence:
            assert spec.tool in TOOLS, (control.id, spec.tool)
            assert spec.tool in CHECKS[spec.check].needs, (control.id, spec.check, spec.tool, CHECKS[spec.check].needs)
            used_checks.add(spec.check)
    assert set(CHECKS) - used_checks == set(), "registered checks that no control uses"


def test_ai_controls_cover_the_required_themes(library):
    for control_id, words in AI_THEMES.items():
        control = library.get(control_id)
        assert control is not None, control_id
        assert "ai" in control.tags, control_id
        text = f"{control.title} {control.description}".lower()
        for word in words:
            assert word in text, (control_id, word)
    ai_controls = [c for c in library.controls if "ai" in c.tags]
    assert len(ai_controls) >= 10
    assert all(c.id.startswith("AI-") for c in ai_controls)


def test_queries_by_id_criterion_and_check(library):
    assert library.get("iam-01").id == "IAM-01"
    assert library.get("NOPE-01") is None
    assert "IAM-01" in [c.id for c in library.for_criterion("cc6.1")]
    assert all("PI1.5" in c.criteria for c in library.for_criterion("PI1.5"))
    by_mfa = library.by_check("aws.iam.console_user_mfa")
    assert by_mfa and all(any(e.check == "aws.iam.console_user_mfa" for e in c.evidence) for c in by_mfa)
    assert library.by_check("no.such.check") == []


# -- validation errors, on bad files written to tmp_path ----------------------------------------

GOOD = {
    "id": "T-01",
    "title": "t",
    "description": "d",
    "criteria": ["CC1.1"],
    "kind": "manual",
    "frequency": "annually",
    "owner_role": "CEO",
    "manual_evidence": ["x"],
    "statements": [{"text": "Staff sign the code of conduct.", "provide": "Signed acknowledgements."}],
}
MFA = {"tool": "aws.iam.credential_report", "check": "aws.iam.console_user_mfa"}
KEYS = {"tool": "aws.iam.credential_report", "check": "aws.iam.access_key_age"}
TESTED = {"text": "Console users have MFA.", "checks": ["aws.iam.console_user_mfa"], "procedure": "inspection"}
AUTOMATED = {**GOOD, "kind": "automated", "manual_evidence": [], "evidence": [MFA], "statements": [TESTED]}


def write(path, controls):
    """One control per line (JSON is YAML flow style), so control n sits on line n."""
    path.write_text("".join(f"- {json.dumps(control)}\n" for control in controls))


def problems_for(directory) -> list[str]:
    with pytest.raises(ControlLibraryError) as error:
        load_controls(directory)
    return error.value.problems


def test_a_good_directory_loads(tmp_path):
    write(tmp_path / "a.yaml", [GOOD, {**GOOD, "id": "T-02"}])
    assert [c.id for c in load_controls(tmp_path).controls] == ["T-01", "T-02"]


def test_duplicate_id_names_both_files(tmp_path):
    write(tmp_path / "a.yaml", [GOOD])
    write(tmp_path / "b.yaml", [{**GOOD, "title": "other"}])
    [problem] = problems_for(tmp_path)
    assert "b.yaml:1" in problem and "a.yaml:1" in problem and "T-01" in problem and "duplicate" in problem


def test_unknown_criterion_names_file_line_and_control(tmp_path):
    write(tmp_path / "a.yaml", [GOOD, {**GOOD, "id": "T-02", "criteria": ["CC1.1", "CC99.9"]}])
    [problem] = problems_for(tmp_path)
    assert "a.yaml:2" in problem and "T-02" in problem and "CC99.9" in problem


def test_a_weak_criterion_must_be_one_of_the_controls_criteria(tmp_path):
    write(tmp_path / "a.yaml", [{**GOOD, "criteria": ["CC1.1", "CC9.2"], "weak_criteria": ["CC9.2", "CC7.4"]}])
    [problem] = problems_for(tmp_path)
    assert "a.yaml:1" in problem and "T-01" in problem and "weak criterion 'CC7.4' is not in its criteria" in problem


def test_malformed_yaml_names_file_and_line(tmp_path):
    (tmp_path / "broken.yaml").write_text("- id: T-04\n  title: [unclosed\n  kind: manual\n")
    [problem] = problems_for(tmp_path)
    assert re.search(r"broken\.yaml:\d+: not valid YAML", problem)


def test_schema_errors_name_file_control_and_key(tmp_path):
    without_owner = {key: value for key, value in GOOD.items() if key != "owner_role"}
    write(tmp_path / "a.yaml", [{**GOOD, "kind": "sometimes"}, {**without_owner, "id": "T-02", "owner": "CEO"}])
    problems = problems_for(tmp_path)
    assert any("a.yaml:1" in p and "T-01" in p and "'kind'" in p for p in problems)
    assert any("a.yaml:2" in p and "T-02" in p and "'owner'" in p for p in problems)
    assert any("a.yaml:2" in p and "T-02" in p and "'owner_role'" in p for p in problems)


def test_evidence_must_match_the_kind(tmp_path):
    write(
        tmp_path / "a.yaml",
        [
            {**GOOD, "id": "T-01", "kind": "automated", "manual_evidence": []},
            {**GOOD, "id": "T-02", "manual_evidence": []},
            {**GOOD, "id": "T-03", "evidence": [MFA], "statements": [TESTED]},
            {**GOOD, "id": "T-04", "kind": "hybrid"},
        ],
    )
    problems = "\n".join(problems_for(tmp_path))
    assert "T-01: automated control lists no evidence" in problems
    assert "T-02: manual control lists no manual_evidence" in problems
    assert "T-03: manual control lists automated evidence" in problems
    assert "T-04: hybrid control lists no evidence" in problems


def test_one_bad_file_does_not_hide_the_others(tmp_path):
    (tmp_path / "a.yaml").write_text("id: T-09\n")  # a mapping, not a list of controls
    (tmp_path / "b.yaml").write_text("- id: [\n")
    write(tmp_path / "c.yaml", [{**GOOD, "id": "bad id"}, {**GOOD, "id": "T-02", "criteria": ["X1.1"]}])
    problems = problems_for(tmp_path)
    assert len(problems) == 4
    assert "a.yaml" in problems[0] and "list of controls" in problems[0]
    assert "b.yaml" in problems[1] and "not valid YAML" in problems[1]
    assert "c.yaml:1" in problems[2] and "id must look like" in problems[2]
    assert "c.yaml:2" in problems[3] and "X1.1" in problems[3]


def test_library_errors_name_the_file_for_each_problem(tmp_path):
    write(tmp_path / "a.yaml", [GOOD])
    write(
        tmp_path / "b.yaml",
        [GOOD, {**GOOD, "id": "T-02", "criteria": ["CC99.9"]}, {**GOOD, "id": "T-03", "kind": "sometimes"}],
    )
    (tmp_path / "c.yaml").write_text("- id: T-04\n  title: [unclosed\n")
    problems = problems_for(tmp_path)
    assert any("b.yaml:1" in p and "T-01" in p and "duplicate" in p for p in problems)
    assert any("b.yaml" in p and "T-02" in p and "CC99.9" in p for p in problems)
    assert any("b.yaml" in p and "T-03" in p and "'kind'" in p for p in problems)
    assert any("c.yaml:" in p and "not valid YAML" in p for p in problems)


def test_missing_directory_is_an_error(tmp_path):
    [problem] = problems_for(tmp_path / "absent")
    assert "absent" in problem and "no such directory" in problem


# -- design statements and points of focus -----------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ({**TESTED, "provide": "tickets"}, "either checks (tested by the tool) or provide"),
        ({"text": "Console users have MFA."}, "either checks (tested by the tool) or provide"),
        ({"text": "Console users have MFA.", "checks": ["aws.iam.console_user_mfa"]}, "needs a procedure"),
        ({"text": "t", "provide": "tickets", "procedure": "inspection"}, "procedure is only for statements tested"),
        ({**TESTED, "procedure": "interview"}, "Input should be 'inspection', 'reperformance' or 'records'"),
    ],
)
def test_a_statement_is_tested_by_checks_with_a_procedure_or_provided_by_a_person(tmp_path, statement, message):
    write(tmp_path / "a.yaml", [{**AUTOMATED, "statements": [TESTED, statement]}])
    [problem] = problems_for(tmp_path)
    assert "a.yaml:1" in problem and "T-01" in problem and "'statements.1" in problem and message in problem


def test_statements_link_only_the_controls_own_checks_and_every_check_tests_one(tmp_path):
    other = {"text": "Keys are rotated.", "checks": ["aws.iam.access_key_age"], "procedure": "inspection"}
    write(
        tmp_path / "a.yaml",
        [
            {**AUTOMATED, "statements": [TESTED, other]},  # access_key_age is not in its evidence
            {**AUTOMATED, "id": "T-02", "evidence": [MFA, KEYS]},  # access_key_age tests nothing
        ],
    )
    problems = problems_for(tmp_path)
    assert len(problems) == 2
    assert "a.yaml:1: control T-01: statement 2: check 'aws.iam.access_key_age' is not among" in problems[0]
    assert "a.yaml:2: control T-02: evidence check 'aws.iam.access_key_age' tests none of its statements" in problems[1]


def test_kind_decides_which_statements_a_control_may_have(tmp_path):
    write(
        tmp_path / "a.yaml",
        [
            {**AUTOMATED, "statements": GOOD["statements"]},  # automated, nothing tested
            {**GOOD, "id": "T-02", "statements": [TESTED]},  # manual, a tested statement
            {**GOOD, "id": "T-03", "statements": []},
            # automated, but part of its design only a person can evidence: it is hybrid
            {**AUTOMATED, "id": "T-04", "statements": [TESTED, *GOOD["statements"]]},
            {
                **AUTOMATED,
                "id": "T-05",
                "kind": "hybrid",
                "manual_evidence": ["x"],
                "statements": [TESTED, *GOOD["statements"]],
            },
        ],
    )
    problems = "\n".join(problems_for(tmp_path))
    assert "T-01: automated control has no statement tested by its checks" in problems
    assert "T-02: statement 1: a manual control's statements give `provide`, not checks" in problems
    assert "T-03: lists no design statements" in problems
    assert "T-04: statement 2: gives `provide` in an automated control; evidence a person provides makes it hybrid" in (
        problems
    )
    assert "T-05" not in problems


def test_points_of_focus_must_exist_and_sit_under_the_controls_criteria(tmp_path):
    write(tmp_path / "a.yaml", [{**GOOD, "points_of_focus": ["CC1.1/pof/2", "CC1.1/pof/99", "CC6.1/pof/4", "MFA"]}])
    problems = problems_for(tmp_path)
    assert len(problems) == 3
    assert "unknown point of focus 'CC1.1/pof/99'" in problems[0]
    assert "point of focus CC6.1/pof/4 belongs to CC6.1, which is not in its criteria" in problems[1]
    assert "unknown point of focus 'MFA' (ids look like CC6.1/pof/4)" in problems[2]


def test_statement_problems_name_the_line_of_the_statement(tmp_path):
    head = (
        "  title: t\n  description: d\n  criteria: [CC6.1]\n  kind: automated\n  frequency: continuous\n"
        "  owner_role: CEO\n  evidence:\n    - {tool: aws.iam.credential_report, check: aws.iam.console_user_mfa}\n"
        "  statements:\n    - text: Console users have MFA.\n      checks: [aws.iam.console_user_mfa]\n"
        "      procedure: inspection\n"
    )
    (tmp_path / "a.yaml").write_text(
        f"- id: T-01\n{head}"  # lines 1-13
        "    - text: Root has MFA.\n      checks: [aws.iam.root_mfa]\n      procedure: inspection\n"  # 14-16
        "  points_of_focus: [CC6.1/pof/4, CC6.6/pof/3]\n"  # 17
        f"- id: T-02\n{head}"  # 18-30
        "    - text: Gaps are fixed in a day.\n      provide: Tickets.\n      procedure: records\n"  # 31-33
    )
    path = tmp_path / "a.yaml"
    assert problems_for(tmp_path) == [
        f"{path}:31: control T-02: key 'statements.1': Value error, procedure is only for statements tested by checks",
        f"{path}:14: control T-01: statement 2: check 'aws.iam.root_mfa' is not among the control's evidence checks",
        f"{path}:17: control T-01: point of focus CC6.6/pof/3 belongs to CC6.6, which is not in its criteria",
    ]


# -- the shipped library: statements, points of focus, consistency -----------------------------

# How each check tests what it tests: inspection of configuration, reperformance of a query over records
# (logs, or the repository history scanned for secrets), or inspection of records (pull requests, alerts,
# commit signatures).
REPERFORMED = LOG_CHECKS | {"repo.secrets_in_history"}
RECORDS = {
    "github.pr_approved_before_merge",
    "repo.signed_commits",
    "github.dependabot_alerts_open",
    "github.code_scanning_alerts_open",
    "github.secret_scanning_alerts_open",
    "ai.changes.tier_rules",
    "ai.changes.direct_pushes",
    "ai.vendors.assurance_current",
    "ai.vendors.critical_fallback",
    "ai.training.customer_data_consent",
}


def test_the_procedure_of_each_tested_statement_fits_its_checks(library):
    for control in library.controls:
        for statement in control.statements:
            for check_id in statement.checks:
                expected = (
                    "reperformance" if check_id in REPERFORMED else "records" if check_id in RECORDS else "inspection"
                )
                assert statement.procedure == expected, (control.id, statement.text, check_id)


def test_every_control_but_the_inherited_physical_one_cites_points_of_focus(library):
    assert [c.id for c in library.controls if not c.points_of_focus] == ["PHY-01"]
    for control in library.controls:
        assert len(set(control.points_of_focus)) == len(control.points_of_focus), control.id


def pof_titles(control) -> list[str]:
    catalog = load_catalog()
    titles = []
    for pof in control.points_of_focus:
        criterion, _, index = pof.split("/")
        titles.append(catalog.get(criterion).points_of_focus[int(index) - 1].title)
    return titles


def test_points_of_focus_are_the_ones_the_control_addresses(library):
    # The auditor's findings on the word-overlap choice: MFA cited credential expiry; branch protection cited
    # personal and confidential information; secret scanning cited patch management.
    assert all("Authenticat" in title for title in pof_titles(library.get("IAM-01"))), pof_titles(library.get("IAM-01"))
    change_titles = pof_titles(library.get("CHG-01"))
    assert "Protects Personal Information" not in change_titles
    assert "Protects Confidential Information" not in change_titles
    assert "Approves System Changes" in change_titles
    assert "Manages Patch Changes" not in pof_titles(library.get("SEC-01"))
    assert "Manages Patch Changes" in pof_titles(library.get("VUL-01"))  # dependency updates are patches
    assert "Protects Confidential Information" in pof_titles(library.get("CHG-08"))  # no production data in dev
    assert "Uses Encryption to Protect Data" in pof_titles(library.get("ENC-01"))
    assert pof_titles(library.get("ENC-04")) == ["Protects Cryptographic Keys"]


def test_checks_that_test_less_than_the_description_leave_the_rest_to_people(library):
    def provided(control_id: str) -> str:
        return " ".join(s.text for s in library.get(control_id).statements if not s.tested).lower()

    assert "proof runs check the controls daily" in provided("MONC-01")
    assert library.get("MONC-01").kind == "hybrid"
    assert "matched to its approved ticket" in provided("MON-07")
    assert "code scanning runs on every pull request" in provided("VUL-02")
    assert "prompt templates" in provided("AI-13")
    assert "within one business day" in provided("IAM-10")
    [backstop] = [s for s in library.get("IAM-10").statements if s.tested]
    assert "never used" in backstop.text


# Words that say how often something happens, and the `frequency` they mean. "Twice a year" has no frequency
# of its own, so a control saying it always contradicts its `frequency`.
FREQUENCY_WORDS = {
    r"\bdaily\b|\bevery day\b|\beach day\b": "daily",
    r"\bweekly\b|\bevery week\b|\beach week\b": "weekly",
    r"\bmonthly\b|\bevery month\b|\beach month\b": "monthly",
    r"\bquarterly\b|\bevery quarter\b|\beach quarter\b": "quarterly",
    r"\byearly\b|\bannually\b|\bannual\b|\bevery year\b|\beach year\b|\bonce a year\b": "annually",
    r"\btwice a year\b|\bsemi-?annual(ly)?\b|\bevery six months\b": "twice a year",
}


def frequency_contradictions(control) -> list[str]:
    texts = [control.description, *(s.text for s in control.statements)]
    said = {meaning for text in texts for pattern, meaning in FREQUENCY_WORDS.items() if re.search(pattern, text, re.I)}
    return sorted(said - {control.frequency})


def test_frequency_words_agree_with_the_frequency(library):
    contradictions = {c.id: frequency_contradictions(c) for c in library.controls}
    assert {cid: words for cid, words in contradictions.items() if words} == {}


def test_the_frequency_check_catches_a_contradiction(library):
    board = library.get("GOV-02").model_copy(update={"description": "The board meets at least twice a year."})
    assert frequency_contradictions(board) == ["twice a year"]
    keys = library.get("ENC-04").model_copy(update={"description": "Keys rotate yearly."})
    assert frequency_contradictions(keys) == ["annually"]


def test_statements_state_the_thresholds_their_checks_apply(library):
    from tools.aws import checks

    thresholds = {
        "aws.iam.access_key_age": checks.MAX_ACCESS_KEY_AGE_DAYS,
        "aws.iam.unused_credentials": checks.MAX_UNUSED_CREDENTIAL_DAYS,
        "aws.iam.password_policy_length": checks.MIN_PASSWORD_LENGTH,
        "aws.iam.password_policy_reuse": checks.MIN_PASSWORD_REUSE_PREVENTION,
        "aws.iam.password_policy_expiry": checks.MAX_PASSWORD_AGE_DAYS,
        "aws.rds.backup_retention": checks.MIN_BACKUP_RETENTION_DAYS,
        "aws.backup.plan_retention": checks.MIN_BACKUP_RETENTION_DAYS,
    }
    stated = 0
    for control in library.controls:
        for statement in control.statements:
            for check_id in set(statement.checks) & set(thresholds):
                numbers = {int(n) for n in re.findall(r"\d+", statement.text)}
                assert numbers == {thresholds[check_id]}, (control.id, statement.text, thresholds[check_id])
                stated += 1
    assert stated >= 8


def test_every_number_in_a_description_is_in_its_statements(library):
    for control in library.controls:
        statements = " ".join(s.text for s in control.statements)
        for number in re.findall(r"\b\d+\b", control.description):
            assert re.search(rf"\b{number}\b", statements), (control.id, number)


def test_managed_policy_wording_matches_what_the_admin_check_reads(library):
    # aws.iam.admin_privileges judges customer-managed and inline policies allowing *:* and the AWS-managed
    # AdministratorAccess attached to users: the control must name each as what it is.
    control = library.get("IAM-07")
    text = " ".join([control.description, *(s.text for s in control.statements)])
    assert "AWS-managed AdministratorAccess" in text and "customer-managed AdministratorAccess" not in text
    assert "no customer-managed or inline policy allows all actions on all resources" in control.description
    assert "No inline policy of a user, role or group allows every action on every resource." in text
