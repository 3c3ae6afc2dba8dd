"""A readiness report of any size, with hostile text in every field a collector or check fills, for the
rendering benchmark (evals/bench/report_bench.py) and the rendering tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

from agent.render.inputs import ReadinessPoint, ReportInputs
from agent.report import aggregate
from agent.report_schema import (
    Attachment,
    ControlResult,
    Narrative,
    Provenance,
    ReviewState,
    RunInfo,
    VerifierResult,
    WriterInfo,
)
from knowledge.catalog import load_catalog
from tools.findings import Finding, Severity, Status
from tools.locker import EvidenceRecord

STARTED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# Evidence is hostile input: markup, a script, an external URL, a formula, quotes.
HOSTILE = '<script>alert(1)</script><img src="https://evil.example/x.png"> =cmd|"/c calc"!A1 \'"&amp;'
_STATUSES = (Status.PASS, Status.PASS, Status.FAIL, Status.ERROR, Status.NOT_APPLICABLE, Status.OUT_OF_SCOPE)
_SEVERITIES = tuple(Severity)


def evidence_id(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()[:12]


def synthetic_inputs(controls: int = 8, evidence: int = 40, runs: int = 3) -> ReportInputs:
    """`controls` controls over the catalog's criteria, citing `evidence` items between them, `runs` runs of
    history. Every third control is reviewed (approved, edited, rejected in turn)."""
    catalog = load_catalog()
    criteria = catalog.ids()
    per_control = max(evidence // controls, 1)
    results = []
    for index in range(controls):
        ids = [evidence_id(index * per_control + k) for k in range(per_control)]
        findings = [
            Finding(
                check=f"demo.check_{k % 7}",
                status=_STATUSES[(index + k) % len(_STATUSES)],
                resource=f"arn:aws:s3:::bucket-{index}-{k}{HOSTILE if k == 0 else ''}",
                reason=f"{'=SUM(A1) ' if k == 1 else ''}Finding {k} of control {index}. {HOSTILE}",
                evidence_ids=[evidence_id],
                severity=_SEVERITIES[k % len(_SEVERITIES)],
            )
            for k, evidence_id in enumerate(ids)
        ]
        mapped = [criteria[(index * 3 + j) % len(criteria)] for j in range(3)]
        text = (
            f"Control {index} is operating {HOSTILE} [{mapped[0]}] [ev:{ids[0]}].\n\n"
            f"It is checked every day [{mapped[1]}/pof/1] [control:CTL-{(index + 1) % controls:03d}]."
        )
        results.append(
            ControlResult(
                id=f"CTL-{index:03d}",
                title=f"Synthetic control {index} {HOSTILE}",
                criteria=mapped,
                kind="automated",
                status="pass",
                findings=findings,
                owner_role="Security Engineer",
                run_id="synthetic",
                assessed_at=STARTED,
                narrative=Narrative(
                    status="verified",
                    text=text,
                    citations=[mapped[0], f"ev:{ids[0]}"],
                    verifier=VerifierResult(passed=True),
                    provenance=Provenance(
                        writer="offline", provider="offline", model="deterministic-v1", evidence_ids=ids
                    ),
                ),
                review=_review(index, ids[0]),
            )
        )
    report = aggregate(f"Synthetic {HOSTILE}", offline_run("synthetic", STARTED, STARTED), results, catalog)
    records = {evidence_id(n): _record(n) for n in range(per_control * controls)}
    history = [ReadinessPoint(f"run-{n}", STARTED.replace(day=1 + n), min(100.0, 10.0 + 15 * n)) for n in range(runs)]
    return ReportInputs(report, catalog, records, history, {})


def offline_run(run_id: str, started_at: datetime, finished_at: datetime, trigger: str = "manual") -> RunInfo:
    """The run record of a fixture report, written by the offline writer."""
    writer = WriterInfo(provider="offline", model="deterministic-v1")
    return RunInfo(id=run_id, started_at=started_at, finished_at=finished_at, trigger=trigger, writer=writer)


def _review(index: int, attached: str) -> ReviewState | None:
    at = datetime(2026, 1, 6, tzinfo=UTC)
    attachment = Attachment(
        control_id=f"CTL-{index:03d}",
        evidence_id=attached,
        file=f"policy{HOSTILE}.pdf",
        attached_by="ana",
        attached_at=at,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 3, 31),
        approved_by="bo",
        approved_at=at,
    )
    states = [
        ReviewState(state="approved", reviewer="bo", at=at, attachments=[attachment]),
        ReviewState(state="edited", reviewer="ana", at=at, text=f"Edited text {HOSTILE} [ev:{attached}]."),
        ReviewState(state="rejected", reviewer="bo", at=at, note=f"Wrong {HOSTILE}"),
        None,
    ]
    return states[index % len(states)]


def _record(n: int) -> EvidenceRecord:
    digest = hashlib.sha256(f"blob {n}".encode()).hexdigest()
    return EvidenceRecord(
        id=evidence_id(n),
        seq=n,
        run_id="synthetic",
        source="aws",
        tool="aws.s3.list_buckets",
        operation="s3:ListBuckets",
        params={"region": f"eu-west-1{HOSTILE}"},
        collected_at=STARTED.isoformat(),
        expires_at=STARTED.isoformat(),
        sha256=digest,
        size=100,
        content_type="application/json",
        redactions={"aws_key": n % 2},
        prev_hash="0" * 64,
        record_hash=evidence_id(n) + "0" * 52,
    )
