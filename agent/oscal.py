"""The report as NIST OSCAL 1.1.3 JSON: assessment results, and a system security plan (SSP) skeleton.

Plain dictionaries (compliance-trestle's models would add a large dependency for two documents; README
"Reports and exports"); the tests validate both against NIST's JSON schemas. The Trust Services Criteria are
the catalog: control ids are the criteria ids in lower case ("cc6.1"), as OSCAL catalogs spell control ids.

Assessment results: one result for the run. Observations: one per evidence item the report cites (method TEST:
a tool collected it). Findings: one per control of the library, targeting it as an objective, satisfied when its
status is pass or evidenced, with its status reason and the observations it rests on. Risks: one per fix-list
item (a resource whose check failed or could not be judged), open, with its due date as the deadline.

SSP: the system is the company; components are "this system" and every evidence source the run read or tried;
each criterion with controls mapped is an implemented requirement whose by-components give each control's
narrative as reviewed (a rejected draft is left out, and says so).

UUIDs are version 5, derived from the run id and what each element describes: exporting one run twice gives the
same document.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from agent.render.inputs import ReportInputs, cited_evidence_ids, reviewed_text
from agent.report_schema import ControlResult, ReadinessReport
from tools.findings import Status

OSCAL_VERSION = "1.1.3"
_NAMESPACE = uuid.UUID("5b0e64ad-6f3e-4d2a-9d59-1b9a3c0d2f71")  # this tool's, for uuid5
_SATISFIED = ("pass", "evidenced")
_NS = "urn:agentic-auditor"  # the namespace of this tool's own props


def _uuid(report: ReadinessReport, *parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join((report.run.id, *parts))))


def _time(moment: datetime | None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat()


def _metadata(report: ReadinessReport, title: str) -> dict[str, Any]:
    return {
        "title": title,
        "last-modified": _time(report.run.finished_at or report.run.started_at),
        "version": report.run.id,
        "oscal-version": OSCAL_VERSION,
        "props": [{"name": "marking", "value": "confidential"}],
    }


def _control_id(criterion_id: str) -> str:
    return criterion_id.lower()


# -- assessment results ------------------------------------------------------------------------------------


def assessment_results(inputs: ReportInputs) -> dict[str, Any]:
    report = inputs.report
    run = report.run
    observations = _observations(inputs)
    observed = {o["props"][0]["value"]: o["uuid"] for o in observations}  # evidence id -> observation uuid
    risks = _risks(report, observed)
    result: dict[str, Any] = {
        "uuid": _uuid(report, "result"),
        "title": f"SOC 2 readiness run {run.id}",
        "description": f"Automated SOC 2 readiness assessment of {report.company}: rule-based checks of collected "
        f"evidence, readiness {report.summary.readiness_pct:.1f}% ({report.summary.ready} of "
        f"{report.summary.criteria_total} criteria ready).",
        "start": _time(run.started_at),
        "end": _time(run.finished_at or run.started_at),
        "reviewed-controls": {
            "control-selections": [{"include-controls": [{"control-id": _control_id(c.id)} for c in report.criteria]}]
        },
        "findings": [_finding(report, control, observed, risks) for control in report.controls],
    }
    if observations:
        result["observations"] = observations
    if risks:
        result["risks"] = [risk for risk, _ in risks.values()]
    return {
        "assessment-results": {
            "uuid": _uuid(report, "assessment-results"),
            "metadata": _metadata(report, f"SOC 2 readiness assessment results: {report.company}"),
            # No OSCAL assessment plan exists: the plan is the control library and auditor.toml.
            "import-ap": {
                "href": "#",
                "remarks": "The assessment plan is the agentic-auditor control library and "
                "the configuration of this run; no OSCAL plan was written.",
            },
            "results": [result],
        }
    }


def _observations(inputs: ReportInputs) -> list[dict[str, Any]]:
    report = inputs.report
    observations = []
    for evidence_id in sorted(cited_evidence_ids(report)):
        record = inputs.evidence.get(evidence_id)
        collected = record.collected_at if record else _time(report.run.started_at)
        described = (
            f"Evidence ev:{evidence_id} collected by {record.tool} ({record.operation}) from {record.source}"
            if record
            else f"Evidence ev:{evidence_id} (not in this workspace's locker)"
        )
        observation: dict[str, Any] = {
            "uuid": _uuid(report, "observation", evidence_id),
            "title": f"ev:{evidence_id}",
            "description": described + ".",
            "props": [{"name": "evidence-id", "ns": _NS, "value": evidence_id}],
            "methods": ["TEST"],
            "types": ["control-objective"],
            "collected": collected,
            "relevant-evidence": [
                {
                    "href": f"evidence/{evidence_id}.json",
                    "description": "The redacted item in the auditor's evidence package.",
                }
            ],
        }
        if record:
            observation["expires"] = record.expires_at
            observation["remarks"] = f"sha256 {record.sha256}; record hash {record.record_hash}"
        observations.append(observation)
    return observations


Risks = dict[tuple[str, str], tuple[dict[str, Any], list[str]]]  # (resource, check) -> (risk, controls)


def _risks(report: ReadinessReport, observed: dict[str, str]) -> Risks:
    """(resource, check) -> (the risk, the controls it affects)."""
    risks = {}
    for item in report.fix_list:
        risk: dict[str, Any] = {
            "uuid": _uuid(report, "risk", item.check, item.resource),
            "title": f"{item.check} on {item.resource}",
            "description": item.reason,
            "statement": (
                f"{item.check} {'failed' if item.status == 'fail' else 'could not be judged'} for "
                f"{item.resource} (severity {item.severity or 'unrated'}); affects "
                f"{', '.join(item.controls)}; owner: {item.owner_role or 'not set'}."
            ),
            "props": [{"name": "priority", "value": str(item.severity or "high")}],
            "status": "open",
            "deadline": datetime.combine(item.due, datetime.min.time(), UTC).isoformat(),
        }
        related = [{"observation-uuid": observed[e]} for e in item.evidence_ids if e in observed]
        if related:
            risk["related-observations"] = related
        risks[(item.resource, item.check)] = (risk, item.controls)
    return risks


def _finding(report: ReadinessReport, control: ControlResult, observed: dict[str, str], risks: Risks) -> dict[str, Any]:
    satisfied = control.status in _SATISFIED
    finding: dict[str, Any] = {
        "uuid": _uuid(report, "finding", control.id),
        "title": f"{control.id} {control.title}",
        "description": control.status_reason or f"Status: {control.status}.",
        "props": [
            {"name": "control-status", "ns": _NS, "value": control.status},
            *({"name": "criterion", "ns": _NS, "value": c} for c in control.criteria),
        ],
        "target": {
            "type": "objective-id",
            "target-id": control.id,
            "status": {
                "state": "satisfied" if satisfied else "not-satisfied",
                **({} if satisfied else {"reason": "fail" if control.status in ("fail", "partial") else "other"}),
            },
        },
    }
    evidence = sorted({e for f in control.findings for e in f.evidence_ids if e in observed})
    if evidence:
        finding["related-observations"] = [{"observation-uuid": observed[e]} for e in evidence]
    related = sorted(
        {
            risks[(f.resource, f.check)][0]["uuid"]
            for f in control.findings
            if f.status in (Status.FAIL, Status.ERROR) and (f.resource, f.check) in risks
        }
    )
    if related:
        finding["related-risks"] = [{"risk-uuid": risk_uuid} for risk_uuid in related]
    return finding


# -- system security plan ------------------------------------------------------------------------------------


def system_security_plan(inputs: ReportInputs) -> dict[str, Any]:
    report = inputs.report
    this_system = _uuid(report, "component", "this-system")
    components = [
        {
            "uuid": this_system,
            "type": "this-system",
            "title": report.company,
            "description": f"The system of {report.company} in the scope of the SOC 2 examination.",
            "status": {"state": "operational"},
        }
    ]
    for source in report.run.sources:
        if source.state == "not_configured":
            continue
        components.append(
            {
                "uuid": _uuid(report, "component", source.source),
                "type": "service",
                "title": f"Evidence source: {source.source}",
                "description": f"{source.source}, read by agentic-auditor with read-only access.",
                "status": {
                    "state": "operational" if source.state == "ok" else "other",
                    **({"remarks": source.cause} if source.state != "ok" and source.cause else {}),
                },
            }
        )
    controls = {c.id: c for c in report.controls}
    requirements = []
    for criterion in report.criteria:
        if not criterion.control_ids:
            continue
        requirements.append(
            {
                "uuid": _uuid(report, "requirement", criterion.id),
                "control-id": _control_id(criterion.id),
                "by-components": [
                    _by_component(report, controls[c], this_system, criterion.id) for c in criterion.control_ids
                ],
            }
        )
    return {
        "system-security-plan": {
            "uuid": _uuid(report, "ssp"),
            "metadata": _metadata(report, f"System security plan (skeleton): {report.company}"),
            # No OSCAL profile of the Trust Services Criteria is published: the href points nowhere, and says so.
            "import-profile": {
                "href": "#",
                "remarks": "AICPA 2017 Trust Services Criteria (revised points of "
                "focus, 2022); control ids are the criteria in lower case.",
            },
            "system-characteristics": {
                "system-ids": [{"identifier-type": "https://ietf.org/rfc/rfc4122", "id": _uuid(report, "system")}],
                "system-name": report.company,
                "description": f"{report.company}: skeleton written by agentic-auditor from run {report.run.id}; "
                "complete the system description, boundary and information types.",
                "system-information": {
                    "information-types": [
                        {
                            "uuid": _uuid(report, "information-type", "customer-data"),
                            "title": "Customer data",
                            "description": "Data the system processes for its customers (to be completed).",
                        }
                    ]
                },
                "status": {"state": "operational"},
                "authorization-boundary": {
                    "description": "The components listed under system-implementation (to be completed)."
                },
            },
            "system-implementation": {
                "users": [
                    {
                        "uuid": _uuid(report, "user", "reviewer"),
                        "title": "Control reviewer",
                        "description": "Approves or rejects the control narratives in `auditor review`.",
                    }
                ],
                "components": components,
            },
            "control-implementation": {
                "description": "How each Trust Services criterion is met: the narratives of the controls mapped to "
                "it, as reviewed.",
                "implemented-requirements": requirements,
            },
        }
    }


def _by_component(report: ReadinessReport, control: ControlResult, component: str, criterion: str) -> dict[str, Any]:
    reviewed = reviewed_text(control)
    text = f"{control.id} {control.title}: " + (reviewed or "the draft was rejected in review; none is given.")
    state = "implemented" if control.status in _SATISFIED else "partial" if control.status == "partial" else "planned"
    return {
        "component-uuid": component,
        "uuid": _uuid(report, "by-component", criterion, control.id),
        "description": text,
        "props": [{"name": "control", "ns": _NS, "value": control.id}],
        "implementation-status": {"state": state, "remarks": control.status_reason or control.status},
    }
