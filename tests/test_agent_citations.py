"""The citation syntax: parsing, formatting and splitting narratives into cited sentences."""

from __future__ import annotations

import pytest

from agent.citations import citation_ids, cite, malformed, parse, sentences, strip
from knowledge.citations import claimed_kind, kind_of


def test_parse_every_kind_in_order() -> None:
    text = "MFA is required [CC6.1] [CC6.1/pof/3] [ev:0a1b2c3d4e5f] [policy:access-control.md#mfa] [control:IAM-01]."
    assert [(c.id, c.kind) for c in parse(text)] == [
        ("CC6.1", "criterion"),
        ("CC6.1/pof/3", "point_of_focus"),
        ("ev:0a1b2c3d4e5f", "evidence"),
        ("policy:access-control.md#mfa", "policy"),
        ("control:IAM-01", "control"),
    ]
    assert kind_of("PI1.5") == "criterion" and kind_of("A1.2/pof/1") == "point_of_focus"


@pytest.mark.parametrize(
    ("citation_id", "claimed"),
    [
        ("ev:123", "evidence"),
        ("policy:Access Policy.md#mfa", "policy"),
        ("control:iam", "control"),
        ("CC6.1/pof/x", "point_of_focus"),
        ("XYZ", "criterion"),
    ],
)
def test_a_malformed_id_has_no_kind_but_still_claims_one_for_lookups(citation_id: str, claimed: str) -> None:
    assert kind_of(citation_id) is None
    assert claimed_kind(citation_id) == claimed


@pytest.mark.parametrize("bad", ["[ev:123]", "[ev:0A1B2C3D4E5F]", "[CC6]", "[policy:access.md]"])
def test_malformed_citations_are_reported_not_parsed(bad: str) -> None:
    text = f"Something is true {bad}."
    assert parse(text) == []
    assert malformed(text) == [bad]


def test_cite_formats_dedupes_and_refuses_invalid_ids() -> None:
    assert cite("CC6.1", ["ev:0a1b2c3d4e5f", "CC6.1"]) == "[CC6.1] [ev:0a1b2c3d4e5f]"
    with pytest.raises(ValueError, match="not a valid citation id"):
        cite("ev:xyz")


def test_sentences_keep_their_citations_and_ignore_dots_inside_ids_and_names() -> None:
    text = (
        "Under CC6.1, access is restricted [CC6.1]. The file .github/CODEOWNERS names owners, e.g. for `ci.yml` "
        "[ev:0a1b2c3d4e5f].\n\n- A list item without a citation\nA trailing full stop comes first. [CC6.2]"
    )
    parts = sentences(text)
    assert [s.citations for s in parts] == [("CC6.1",), ("ev:0a1b2c3d4e5f",), (), ("CC6.2",)]
    assert parts[1].plain.startswith("The file .github/CODEOWNERS names owners")
    assert citation_ids(text) == ["CC6.1", "ev:0a1b2c3d4e5f", "CC6.2"]


def test_citations_alone_on_a_line_support_the_sentence_before() -> None:
    parts = sentences("Root has MFA.\n[ev:0a1b2c3d4e5f]")
    assert len(parts) == 1 and parts[0].citations == ("ev:0a1b2c3d4e5f",)


def test_strip_removes_citations_only() -> None:
    assert strip("Root has MFA [CC6.1] [ev:0a1b2c3d4e5f]. Next.") == "Root has MFA. Next."
