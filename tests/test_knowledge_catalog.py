import json
from pathlib import Path

import pytest

from knowledge.catalog import EXPECTED_IDS, CatalogError, load_catalog
from knowledge.control_library import load_controls

AI_THEMES = {
    "AI-01": "registry",
    "AI-02": "lineage",
    "AI-03": "change management",
    "AI-04": "vendor",
    "AI-05": "incident",
    "AI-06": "training",
}


def test_catalog_has_all_61_criteria_and_330_points_of_focus():
    catalog = load_catalog()
    assert len(catalog.criteria) == 61
    assert sum(len(c.points_of_focus) for c in catalog.criteria) == 330
    assert catalog.get("cc6.1").series == "CC6"
    assert catalog.get("CC6.1").points_of_focus[2].citation_id("CC6.1") == "CC6.1/pof/3"


def test_catalog_series_and_tags():
    catalog = load_catalog()
    assert list(catalog.series())[:3] == ["CC1", "CC2", "CC3"] and len(catalog.series()) == 20
    assert catalog.series()["CC6"] == "Logical and Physical Access Controls"
    assert catalog.ids() == list(EXPECTED_IDS)
    tags = [t for c in catalog.criteria for p in c.points_of_focus for t in p.tags]
    assert tags.count("COSO") == 85 and tags.count("TSC") == 245


def test_a_catalog_missing_criteria_is_refused_naming_the_file_and_ids(tmp_path):
    shipped = json.loads((Path(load_catalog.__code__.co_filename).parent / "data" / "tsc.json").read_text())
    shipped["criteria"] = [c for c in shipped["criteria"] if c["id"] not in ("CC6.1", "P8.1")]
    broken = tmp_path / "tsc.json"
    broken.write_text(json.dumps(shipped))
    with pytest.raises(CatalogError, match=r"tsc\.json: .*missing \['CC6\.1', 'P8\.1'\]"):
        load_catalog(broken)
    broken.write_text("{not json")
    with pytest.raises(CatalogError, match="not a valid TSC catalog"):
        load_catalog(broken)


def test_shipped_catalog_matches_reference_statements_and_omits_full_text(shared_data):
    reference = json.loads((shared_data / "tsc" / "tsc-2017-rev2022.json").read_text())
    catalog = load_catalog()
    for ref in reference["criteria"]:
        shipped = catalog.get(ref["id"])
        assert shipped.text == ref["text"]
        assert [p.title for p in shipped.points_of_focus] == [p["title"] for p in ref["points_of_focus"]]
        assert all(p.text is None for p in shipped.points_of_focus)


def test_control_library_covers_every_criterion_with_at_least_90_controls():
    library = load_controls()
    assert len(library.controls) >= 90
    assert library.criteria_covered() == set(load_catalog().ids())
    for control in library.controls:
        if control.kind != "manual":
            assert control.evidence, control.id
        if control.kind != "automated":
            assert control.manual_evidence, control.id


def test_ai_specific_controls_are_present():
    library = load_controls()
    for control_id, theme in AI_THEMES.items():
        control = library.get(control_id)
        assert control is not None and "ai" in control.tags
        assert theme in (control.title + " " + control.description).lower(), control_id


def test_every_evidence_spec_names_a_registered_tool_and_check_that_reads_it():
    from tools.catalog import CHECKS, TOOLS, load_all

    load_all()
    library = load_controls()
    used_checks = set()
    for control in library.controls:
        for spec in control.evidence:
            assert spec.tool in TOOLS, (control.id, spec.tool)
            assert spec.check in CHECKS, (control.id, spec.check)
            assert spec.tool in CHECKS[spec.check].needs, (control.id, spec.check, spec.tool)
            used_checks.add(spec.check)
    assert used_checks == set(CHECKS), f"checks no control uses: {set(CHECKS) - used_checks}"
