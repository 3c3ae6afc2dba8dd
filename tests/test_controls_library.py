"""The shipped control library (knowledge/controls/*.yaml) and its loader's validation."""

import json
import re
from collections import Counter

import pytest

from knowledge.catalog import load_catalog
from knowledge.control_library import ControlLibraryError, load_controls

# The naming contract from the project brief: collectors ("tools") and checks, by source.
AWS_TOOLS = {
    "aws.iam.credential_report", "aws.iam.account_summary", "aws.iam.password_policy", "aws.iam.users",
    "aws.iam.policies", "aws.iam.roles", "aws.cloudtrail.trails", "aws.s3.account_public_access_block",
    "aws.s3.buckets", "aws.kms.keys", "aws.ec2.security_groups", "aws.ec2.ebs_encryption_by_default",
    "aws.ec2.volumes", "aws.ec2.vpcs", "aws.rds.instances", "aws.cloudwatch.alarms", "aws.logs.metric_filters",
    "aws.config.recorders", "aws.guardduty.detectors", "aws.backup.plans",
}
AWS_CHECKS = {
    "aws.iam.root_mfa", "aws.iam.root_access_keys", "aws.iam.console_user_mfa", "aws.iam.password_policy_length",
    "aws.iam.password_policy_complexity", "aws.iam.password_policy_reuse", "aws.iam.password_policy_expiry",
    "aws.iam.access_key_age", "aws.iam.unused_credentials", "aws.iam.user_direct_policies",
    "aws.iam.admin_privileges", "aws.iam.support_role", "aws.cloudtrail.multi_region",
    "aws.cloudtrail.log_file_validation", "aws.cloudtrail.logging_on", "aws.cloudtrail.kms_encryption",
    "aws.s3.account_public_access_block", "aws.s3.bucket_public_access_block", "aws.s3.bucket_encryption",
    "aws.s3.bucket_versioning", "aws.s3.bucket_access_logging", "aws.s3.bucket_tls_only", "aws.kms.key_rotation",
    "aws.ec2.sg_admin_ports_open", "aws.ec2.ebs_default_encryption", "aws.ec2.default_sg_restricts_all",
    "aws.ec2.vpc_flow_logs", "aws.ec2.ebs_volume_encrypted", "aws.rds.storage_encrypted", "aws.rds.backup_retention",
    "aws.rds.not_public", "aws.rds.deletion_protection", "aws.rds.multi_az", "aws.cloudwatch.root_usage_alarm",
    "aws.cloudwatch.iam_change_alarm", "aws.cloudwatch.cloudtrail_change_alarm", "aws.config.recorder_on",
    "aws.guardduty.enabled", "aws.backup.plan_exists", "aws.backup.plan_retention",
}
REPO_TOOLS = {
    "git.repository_files", "git.commits", "git.history", "github.repository", "github.branch_protection",
    "github.rulesets", "github.pulls", "github.dependabot_alerts", "github.code_scanning_alerts",
    "github.secret_scanning_alerts", "github.org_members",
}
REPO_CHECKS = {
    "repo.codeowners", "repo.ci_workflows", "repo.dependency_updates", "repo.signed_commits",
    "repo.secrets_in_history", "github.branch_protection", "github.required_reviews",
    "github.pr_approved_before_merge", "github.dependabot_alerts_open", "github.code_scanning_alerts_open",
    "github.secret_scanning_alerts_open", "github.org_members_2fa",
}
LOG_TOOLS = {"logs.cloudtrail_events", "logs.auth_events", "logs.cloudwatch_events"}
LOG_CHECKS = {
    "logs.console_login_without_mfa", "logs.root_account_use", "logs.repeated_failed_logins", "logs.iam_changes",
    "logs.audit_logging_tampered", "logs.sg_opened_to_world", "logs.new_users_and_keys",
}
ALL_CHECKS = AWS_CHECKS | REPO_CHECKS | LOG_CHECKS
ALL_TOOLS = AWS_TOOLS | REPO_TOOLS | LOG_TOOLS
# A check may only read collectors of its own source family.
TOOLS_FOR_CHECKS = [(AWS_CHECKS, AWS_TOOLS), (REPO_CHECKS, REPO_TOOLS), (LOG_CHECKS, LOG_TOOLS)]

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
    assert len(ALL_CHECKS) == 59


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
    "id": "T-01", "title": "t", "description": "d", "criteria": ["CC1.1"], "kind": "manual",
    "frequency": "annually", "owner_role": "CEO", "manual_evidence": ["x"],
}


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
    spec = {"tool": "aws.iam.credential_report", "check": "aws.iam.console_user_mfa"}
    write(tmp_path / "a.yaml", [
        {**GOOD, "id": "T-01", "kind": "automated", "manual_evidence": []},
        {**GOOD, "id": "T-02", "manual_evidence": []},
        {**GOOD, "id": "T-03", "evidence": [spec]},
        {**GOOD, "id": "T-04", "kind": "hybrid"},
    ])
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


def test_missing_directory_is_an_error(tmp_path):
    [problem] = problems_for(tmp_path / "absent")
    assert "absent" in problem and "no such directory" in problem
