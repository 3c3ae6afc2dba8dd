"""The labelled status suite (evals/status): every seeded situation gives its expected finding and control
statuses through the real collectors, runner, locker, scope and status rules, and nothing passes that should not."""

from __future__ import annotations

import pytest

from evals.status.run import confusion_matrix, load_cases, run_suite

pytestmark = pytest.mark.slow  # ~15 s: a moto server and 23 seeded cases


def test_every_case_matches_and_nothing_falsely_passes() -> None:
    results = run_suite()

    assert len(results) == len(load_cases()) >= 15
    false_passes = [r.name for r in results if r.false_pass]
    assert false_passes == [], confusion_matrix(results)
    mismatched = {r.name: (r.actual_control, r.actual_findings, r.finding_reasons) for r in results if not r.matches}
    assert mismatched == {}


def test_a_mislabelled_case_is_reported_as_a_miss_and_a_false_pass() -> None:
    # The suite can fail: a case expecting `fail` where the control really passes counts as a false pass.
    (strong,) = [case for case in load_cases() if case["name"] == "aws_strong_password_policy"]
    wrong = {**strong, "expected": {"findings": ["pass", "pass"], "control": "fail"}}

    (result,) = run_suite([wrong])

    assert not result.matches and result.false_pass
    header, pass_row, fail_row = confusion_matrix([result]).splitlines()
    assert header.split()[-2:] == ["pass", "fail"] and fail_row.split() == ["fail", "1", "0"]
