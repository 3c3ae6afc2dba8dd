"""Log checks say what the events mean: failed root calls are attempts, federated sign-ins are not judged for
MFA, events belong to their own accounts, records without a time still count, only narrowing event selectors
are tampering, and refused sudo and PAM lockouts are failed attempts. Each rule runs on real log files, written
here or from the shared samples (../shared/data), through the real collectors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.catalog import CHECKS, TOOLS, EvidenceView, StoredEvidence
from tools.config import AuditorConfig
from tools.context import CollectContext
from tools.findings import Finding, Status
from tools.logs import checks as _checks  # noqa: F401  (registers the checks)
from tools.logs import collectors as _collectors  # noqa: F401  (registers the collectors)

HOME, OTHER = "111111111111", "222222222222"
ROOT = {"type": "Root", "principalId": HOME, "arn": f"arn:aws:iam::{HOME}:root", "accountId": HOME}


def event(
    name: str, identity: dict[str, Any], at: str | None = "2025-03-03T10:00:00Z", **fields: Any
) -> dict[str, Any]:
    record = {
        "eventName": name,
        "eventSource": "iam.amazonaws.com",
        "awsRegion": "us-east-1",
        "recipientAccountId": HOME,
        "userIdentity": identity,
        "eventID": f"{name}-{at}-{len(fields)}",
        **fields,
    }
    if at is not None:
        record["eventTime"] = at
    return record


def judge(tmp_path: Path, check_id: str, records: list[dict[str, Any]], *, threshold: int = 5) -> list[Finding]:
    """Write the records as a CloudTrail file, collect it with the real collectors, run the check."""
    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"Records": records}), encoding="utf-8")
    return judge_files(check_id, path, threshold=threshold)


def judge_files(check_id: str, *paths: Path, threshold: int = 5) -> list[Finding]:
    config = AuditorConfig.model_validate(
        {"logs": {"paths": [str(p) for p in paths], "failed_login_threshold": threshold}}
    )
    ctx = CollectContext(config)
    items = [
        StoredEvidence(f"{number:012x}", tool, {}, TOOLS[tool].func(ctx, TOOLS[tool].args_model()))
        for number, tool in enumerate(("logs.cloudtrail_events", "logs.auth_events"))
    ]
    return CHECKS[check_id].func(EvidenceView([item for item in items if item.tool in CHECKS[check_id].needs]))


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def test_failed_root_calls_are_failed_attempts_not_root_use(tmp_path: Path) -> None:
    failed_sign_in = event("ConsoleLogin", ROOT, responseElements={"ConsoleLogin": "Failure"})
    refused = event("DeleteTrail", ROOT, errorCode="AccessDenied")
    attempts = only(judge(tmp_path, "logs.root_account_use", [failed_sign_in, refused]))
    assert (attempts.status, attempts.facts["failed_attempts"]) == (Status.PASS, 2)
    assert attempts.reason.startswith("No successful call by the root user was found (2 failed attempt(s);")

    used = event("GetAccountSummary", ROOT, at="2025-03-03T10:05:00Z")
    root = only(judge(tmp_path, "logs.root_account_use", [failed_sign_in, refused, used]))
    assert (root.status, root.facts["events"], root.facts["failed_attempts"]) == (Status.FAIL, 1, 2)
    assert (
        root.reason
        == f"The root user arn:aws:iam::{HOME}:root made 1 call(s) (GetAccountSummary x1) at 2025-03-03T10:05:00Z."
    )


def test_root_creating_a_service_linked_role_is_not_root_use(tmp_path: Path) -> None:
    linked = event("CreateServiceLinkedRole", ROOT, requestParameters={"aWSServiceName": "guardduty.amazonaws.com"})
    assert only(judge(tmp_path, "logs.root_account_use", [linked])).status == Status.PASS
    other = event("CreateRole", ROOT, requestParameters={"roleName": "r"})
    assert only(judge(tmp_path, "logs.root_account_use", [linked, other])).facts["event_names"] == "CreateRole"


def test_saml_federated_sign_ins_are_not_judged_for_mfa(tmp_path: Path) -> None:
    saml_role = {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE:ana@example.com",
        "accountId": HOME,
        "arn": f"arn:aws:sts::{HOME}:assumed-role/okta-admin/ana@example.com",
    }
    saml = event(
        "ConsoleLogin",
        saml_role,
        responseElements={"ConsoleLogin": "Success"},
        additionalEventData={"MFAUsed": "No", "SamlProviderArn": f"arn:aws:iam::{HOME}:saml-provider/okta"},
    )
    iam_user = {"type": "IAMUser", "userName": "bo", "accountId": HOME, "arn": f"arn:aws:iam::{HOME}:user/bo"}
    with_mfa = event(
        "ConsoleLogin",
        iam_user,
        at="2025-03-03T11:00:00Z",
        responseElements={"ConsoleLogin": "Success"},
        additionalEventData={"MFAUsed": "Yes"},
    )

    passed = only(judge(tmp_path, "logs.console_login_without_mfa", [saml, with_mfa]))
    assert (passed.status, passed.facts["console_logins"], passed.facts["federated_logins"]) == (Status.PASS, 1, 1)
    assert "1 federated sign-in(s) left to the identity provider's MFA" in passed.reason

    without = {**with_mfa, "eventID": "no-mfa", "additionalEventData": {"MFAUsed": "No"}}
    failed = only(judge(tmp_path, "logs.console_login_without_mfa", [saml, without]))
    assert (failed.status, failed.resource) == (Status.FAIL, f"arn:aws:iam::{HOME}:user/bo")


def test_events_of_other_accounts_are_attributed_to_their_account(tmp_path: Path) -> None:
    # An organisation trail: a member account's root (no arn recorded) and a caller from another account.
    other_root = event("GetAccountSummary", {"type": "Root", "principalId": OTHER, "accountId": OTHER})
    own_key = event(
        "CreateAccessKey", {"type": "IAMUser", "userName": "alice", "accountId": OTHER}, at="2025-03-03T10:01:00Z"
    )
    other_account = {"type": "AWSAccount", "principalId": "AIDAOTHER", "accountId": OTHER}
    stopped = event("StopLogging", other_account, at="2025-03-03T10:02:00Z", requestParameters={"name": "org-trail"})

    root = only(judge(tmp_path, "logs.root_account_use", [other_root]))
    assert (root.status, root.resource) == (Status.FAIL, f"arn:aws:iam::{OTHER}:root")
    key = only(judge(tmp_path, "logs.new_users_and_keys", [own_key]))
    assert (key.resource, key.facts["principal"]) == (
        f"arn:aws:iam::{OTHER}:user/alice",
        f"arn:aws:iam::{OTHER}:user/alice",
    )
    assert f"by alice (account {OTHER})" in key.reason
    tampered = only(judge(tmp_path, "logs.audit_logging_tampered", [stopped]))
    assert tampered.resource == f"arn:aws:cloudtrail:us-east-1:{HOME}:trail/org-trail"  # the trail is in HOME
    assert tampered.facts["principal"] == f"account:{OTHER}"
    assert f"StopLogging by AIDAOTHER (account {OTHER}) at 2025-03-03T10:02:00Z" in tampered.reason


def test_records_without_an_event_time_are_read_and_counted(tmp_path: Path) -> None:
    created = event("CreateUser", ROOT, at=None, requestParameters={"userName": "ghost"})
    key = event("CreateAccessKey", ROOT, at=None, requestParameters={"userName": "ghost"})

    new = only(judge(tmp_path, "logs.new_users_and_keys", [created, key]))
    assert (new.status, new.resource, new.facts["events"]) == (Status.FAIL, f"arn:aws:iam::{HOME}:user/ghost", 2)
    assert (new.facts["first"], new.facts["events_without_time"]) == (None, 2)
    assert "by root at an unknown time" in new.reason
    root = only(judge(tmp_path, "logs.root_account_use", [created, key]))
    assert (root.status, root.reason) == (
        Status.FAIL,
        f"The root user arn:aws:iam::{HOME}:root made 2 call(s) (CreateAccessKey x1, CreateUser x1) "
        "at an unknown time.",
    )
    iam_user = {"type": "IAMUser", "userName": "bo", "accountId": HOME, "arn": f"arn:aws:iam::{HOME}:user/bo"}
    counted = only(judge(tmp_path, "logs.root_account_use", [event("ListUsers", iam_user, at=None)] * 3))
    assert (counted.status, counted.facts["records_scanned"]) == (Status.PASS, 3)


def test_a_log_with_no_readable_record_is_an_error_for_every_check(tmp_path: Path) -> None:
    trail, auth = tmp_path / "trail.json", tmp_path / "auth.log"
    trail.write_text(json.dumps({"Records": [{"eventSource": "iam.amazonaws.com", "userIdentity": ROOT}]}))
    auth.write_text("this is not a syslog line\nneither is this\n")
    for check_id in ("logs.new_users_and_keys", "logs.repeated_failed_logins", "logs.root_account_use"):
        findings = judge_files(check_id, trail, auth)
        assert {f.status for f in findings} == {Status.ERROR}, check_id
        assert str(trail) in {f.resource for f in findings}, check_id


def _selectors(**params: Any) -> dict[str, Any]:
    return event(
        "PutEventSelectors",
        ROOT | {"type": "IAMUser", "userName": "ops", "arn": f"arn:aws:iam::{HOME}:user/ops"},
        requestParameters={"trailName": "org-trail", **params},
        at=f"2025-03-03T10:{len(params):02d}:00Z",
    )


@pytest.mark.parametrize(
    ("params", "narrowed"),
    [
        (
            {
                "eventSelectors": [
                    {
                        "readWriteType": "All",
                        "includeManagementEvents": True,
                        "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}],
                    }
                ]
            },
            False,
        ),
        (
            {
                "advancedEventSelectors": [
                    {"fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]},
                    {"fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}]},
                ]
            },
            False,
        ),
        ({"eventSelectors": [{"readWriteType": "WriteOnly", "includeManagementEvents": True}]}, True),
        ({"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": False}]}, True),
        ({"eventSelectors": [{"readWriteType": "All", "excludeManagementEventSources": ["kms.amazonaws.com"]}]}, True),
        (
            {
                "advancedEventSelectors": [
                    {
                        "fieldSelectors": [
                            {"field": "eventCategory", "equals": ["Management"]},
                            {"field": "readOnly", "equals": ["false"]},
                        ]
                    }
                ]
            },
            True,
        ),
        ({}, True),  # selectors not recorded: not taken to be harmless
    ],
)
def test_put_event_selectors_is_tampering_only_when_management_events_are_dropped_or_narrowed(
    tmp_path: Path, params: dict[str, Any], narrowed: bool
) -> None:
    found = only(judge(tmp_path, "logs.audit_logging_tampered", [_selectors(**params)]))
    assert found.status == (Status.FAIL if narrowed else Status.PASS)
    if not narrowed:
        assert found.facts["selector_changes_kept"] == 1


def test_put_event_selectors_on_the_stratus_sample_drops_management_events(shared_data: Path) -> None:
    sample = (
        shared_data
        / "cloudtrail"
        / "stratus-red-team-detonation-logs"
        / "aws.defense-evasion.cloudtrail-event-selectors.json"
    )
    found = only(judge_files("logs.audit_logging_tampered", sample))
    assert (found.status, found.facts["event_names"]) == (Status.FAIL, "PutEventSelectors")


def test_refused_sudo_and_pam_lockouts_are_failed_attempts(shared_data: Path) -> None:
    linux = shared_data / "linux-logs"
    findings = {f.resource: f for f in judge_files("logs.repeated_failed_logins", linux, threshold=1)}
    refused = findings["user:tsg@precise32"]  # "user NOT in sudoers" in Elastic's test.log
    assert (refused.status, refused.facts["sudo_denied"], refused.facts["principal"]) == (
        Status.FAIL,
        1,
        "tsg@precise32",
    )
    assert "failed login or privilege attempts for tsg@precise32" in refused.reason

    # pam_tally2 "tally 6, deny 5": PAM locked zbadguy out, which fails the account below the threshold too.
    locked = {f.resource: f for f in judge_files("logs.repeated_failed_logins", linux, threshold=50)}
    zbadguy = locked["user:zbadguy@vskub1master01p"]
    assert (zbadguy.status, zbadguy.facts["account_locked"], zbadguy.facts["auth_failure"]) == (Status.FAIL, 1, 1)
    assert zbadguy.reason.endswith(": PAM locked the account.")
    assert "user:tsg@precise32" not in locked  # one refused sudo stays under a threshold of 50


def test_failed_console_logins_name_the_account_tried_for_incident_correlation(tmp_path: Path) -> None:
    user = {"type": "IAMUser", "userName": "bo", "accountId": HOME, "principalId": "AIDABO"}
    failures = [
        event(
            "ConsoleLogin",
            user,
            at=f"2025-03-03T10:0{n}:00Z",
            sourceIPAddress="198.51.100.7",
            responseElements={"ConsoleLogin": "Failure"},
            errorMessage="Failed authentication",
        )
        for n in range(3)
    ]
    findings = {f.resource: f for f in judge(tmp_path, "logs.repeated_failed_logins", failures, threshold=3)}
    tried = findings[f"user:bo@aws:{HOME}"]
    assert (tried.facts["principal"], tried.facts["first"], tried.facts["last"]) == (
        f"arn:aws:iam::{HOME}:user/bo",
        "2025-03-03T10:00:00Z",
        "2025-03-03T10:02:00Z",
    )
    assert "principal" not in findings["ip:198.51.100.7"].facts  # an address is not a principal
