"""Review TUI speed: time to first paint, time to an interactive review screen, keypress-to-render latency.

The data is synthetic but made with the real parts: evidence items go through the real evidence locker
(redaction, blobs, hash chain) and the report is built from the report models, saved where the agent
saves reports. Defaults: 120 controls over the 61 criteria, 20,000 evidence items.

    python -m evals.tui_bench [--controls 120] [--evidence 20000] [--moves 200] [--workspace DIR]

Start-up is measured in fresh processes (imports included, as a user launching `auditor review` pays
them), headless at 160x48, with each screen update rendered to terminal bytes as a real terminal would.
"""

from __future__ import annotations

import time

_PROCESS_T0 = time.perf_counter()  # before any heavy import: start-up figures include them

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

TARGET_INTERACTIVE_S = 1.5
BENCH_SIZE = (160, 48)
KEY_INTERVAL_S = 0.05  # between keypresses: a fast typist, slower than key repeat
FIXED_START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

# Real collector names, so the synthetic evidence looks like what the agent stores.
_TOOLS = (
    "aws.iam.users",
    "aws.iam.credential_report",
    "aws.s3.buckets",
    "aws.ec2.security_groups",
    "aws.cloudtrail.trails",
    "aws.kms.keys",
    "github.branch_protection",
    "logs.cloudtrail_events",
)
_STATUSES = ("pass", "pass", "fail", "partial", "awaiting_evidence", "pass", "fail", "pass")


def _evidence_data(index: int) -> dict[str, Any]:
    return {
        "UserName": f"user-{index:05d}",
        "Arn": f"arn:aws:iam::123456789012:user/user-{index:05d}",
        "CreateDate": (FIXED_START - timedelta(days=index % 900)).isoformat(),
        "PasswordEnabled": index % 3 != 0,
        "MfaActive": index % 5 != 0,
        "AccessKeys": [{"Id": f"AKIA{index:016d}"[:20], "Status": "Active", "AgeDays": index % 400}],
        "Tags": {"team": ("platform", "ml", "data", "security")[index % 4]},
    }


def _findings(control: int, status: str, evidence_ids: list[str]) -> list[Any]:
    """One finding per eight users, each citing its eight evidence items; the first fails in failing controls."""
    from tools.findings import Finding, Status

    findings = []
    for n in range((len(evidence_ids) + 7) // 8):
        failing = status == "fail" and n == 0
        user = f"user-{control:03d}-{n:02d}"
        findings.append(
            Finding(
                check="aws.iam.console_user_mfa",
                status=Status.FAIL if failing else Status.PASS,
                resource=f"user/{user}",
                reason=f"{user} has a console password and {'no' if failing else 'an'} MFA device.",
                evidence_ids=evidence_ids[n * 8 : (n + 1) * 8],
            )
        )
    return findings


def build_workspace(root: Path, *, controls: int, evidence: int) -> Path:
    """Fill a workspace with `evidence` locker items and a report of `controls` controls citing them."""
    from agent.api import save_report
    from agent.report import summarize
    from agent.report_schema import (
        ControlResult,
        CriterionResult,
        Narrative,
        Provenance,
        ReadinessReport,
        VerifierResult,
    )
    from evals.bench.synthetic_report import offline_run
    from knowledge.catalog import load_catalog
    from tools.locker import EvidenceLocker
    from tools.workspace import Workspace

    workspace = Workspace.at(root)
    run_id = "bench-run-0001"
    locker = EvidenceLocker(workspace.locker_db, workspace.blobs_dir)
    evidence_ids = [
        locker.put(run_id, "aws", _TOOLS[n % len(_TOOLS)], "bench:Synthetic", {"index": n}, _evidence_data(n)).id
        for n in range(evidence)
    ]
    criteria = [criterion.id for criterion in load_catalog().criteria]
    per_control = max(1, evidence // controls)
    results = []
    for c in range(controls):
        ids = evidence_ids[c * per_control : (c + 1) * per_control]
        primary, secondary = criteria[c % len(criteria)], criteria[(c * 7 + 3) % len(criteria)]
        status = _STATUSES[c % len(_STATUSES)]
        findings = [] if status == "awaiting_evidence" else _findings(c, status, ids)
        text = " ".join(
            [
                f"Console access to production requires multi-factor authentication [{primary}] [{primary}/pof/1].",
                f"The credential report shows {len(ids)} users reviewed [ev:{ids[0]}] [{secondary}].",
                f"Findings were judged by rule aws.iam.console_user_mfa [ev:{ids[-1]}].",
            ]
        )
        results.append(
            ControlResult(
                id=f"SYN-{c:03d}",
                title=f"Synthetic control {c:03d}: console MFA and access review",
                criteria=[primary, secondary],
                kind="manual" if status == "awaiting_evidence" else "automated",
                status=status,
                findings=findings,
                narrative=Narrative(
                    status="verified",
                    text=text,
                    citations=[primary, f"{primary}/pof/1", secondary, f"ev:{ids[0]}", f"ev:{ids[-1]}"],
                    verifier=VerifierResult(passed=True, sentences=3, cited_sentences=3),
                    provenance=Provenance(
                        writer="offline", provider="offline", model="deterministic-v1", evidence_ids=list(ids)
                    ),
                ),
            )
        )
    criteria_results = [CriterionResult(id=criterion, status="not_assessed", control_ids=[]) for criterion in criteria]
    report = ReadinessReport(
        company="Bench Corp",
        run=offline_run(run_id, FIXED_START, FIXED_START + timedelta(minutes=3)),
        summary=summarize(criteria_results, results),
        criteria=criteria_results,
        controls=results,
    )
    save_report(workspace, report)
    return workspace.root


def _timed_app_class() -> type:
    from textual._compositor import CompositorUpdate

    from tui.app import ReviewApp
    from tui.screens.review import ReviewScreen

    class TimedReviewApp(ReviewApp):
        """Records when each screen update is painted, and which control the review screen shows."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.paints: list[tuple[float, str | None]] = []

        def _display(self, screen: Any, renderable: Any) -> None:
            super()._display(screen, renderable)
            if renderable is None:
                return
            if isinstance(renderable, CompositorUpdate):
                # Headless skips the terminal write; do the work a terminal write costs.
                renderable.render_segments(self.console)
            selected = screen.selected if isinstance(screen, ReviewScreen) else None
            self.paints.append((time.perf_counter(), selected))

    return TimedReviewApp


async def _wait_for_paint(app: Any, since: float, selected: str | None = None, timeout: float = 10.0) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for painted_at, shown in app.paints:
            if painted_at >= since and (selected is None or shown == selected):
                return painted_at
        await asyncio.sleep(0.0005)
    raise TimeoutError(f"no paint showing {selected!r} within {timeout}s")


async def _startup_probe(workspace_dir: Path) -> dict[str, float]:
    from tools.config import AuditorConfig
    from tools.workspace import Workspace
    from tui.session import ReviewSession

    timed_app = _timed_app_class()  # imports textual and the whole TUI
    imported = time.perf_counter()
    workspace = Workspace.at(workspace_dir)
    session = ReviewSession.open(AuditorConfig(workspace=workspace_dir), workspace)
    app = timed_app(session)
    async with app.run_test(size=BENCH_SIZE, headless=True) as pilot:
        first_paint = await _wait_for_paint(app, 0.0)
        # Interactive: the review screen painted with the list filled and a control's detail shown.
        first_control = session.groups()[0].reviews[0].id
        interactive = await _wait_for_paint(app, 0.0, selected=first_control)
        await pilot.pause()
    return {
        "imports_s": imported - _PROCESS_T0,
        "first_paint_s": first_paint - _PROCESS_T0,
        "interactive_s": interactive - _PROCESS_T0,
        "controls": len(session.reviews),
    }


async def _keypress_latency(workspace_dir: Path, moves: int) -> tuple[list[float], list[float]]:
    """Per keypress: time to the first paint (the list cursor moved) and to the paint showing the new control."""
    from textual import events

    from tools.config import AuditorConfig
    from tools.workspace import Workspace
    from tui.session import ReviewSession

    workspace = Workspace.at(workspace_dir)
    session = ReviewSession.open(AuditorConfig(workspace=workspace_dir), workspace)
    order = [review.id for group in session.groups() for review in group.reviews]
    app = _timed_app_class()(session)
    first_paints: list[float] = []
    complete_paints: list[float] = []
    async with app.run_test(size=BENCH_SIZE, headless=True):
        await _wait_for_paint(app, 0.0, selected=order[0])
        position, step = 0, 1
        for _ in range(moves):
            if not 0 <= position + step < len(order):
                step = -step  # walk down the list, then back up
            position += step
            await asyncio.sleep(KEY_INTERVAL_S)
            pressed = time.perf_counter()
            app.post_message(events.Key("down" if step > 0 else "up", None))  # as the terminal driver does
            first_paints.append(await _wait_for_paint(app, pressed) - pressed)
            complete_paints.append(await _wait_for_paint(app, pressed, selected=order[position]) - pressed)
    return first_paints, complete_paints


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controls", type=int, default=120)
    parser.add_argument("--evidence", type=int, default=20_000)
    parser.add_argument("--moves", type=int, default=200, help="keypresses to time moving through the list")
    parser.add_argument("--startups", type=int, default=5, help="fresh processes to time start-up in")
    parser.add_argument("--workspace", type=Path, help="reuse (or create) this workspace instead of a temporary one")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)  # internal: one start-up measurement
    args = parser.parse_args(argv)

    if args.probe:
        print(json.dumps(asyncio.run(_startup_probe(args.probe))))
        return 0

    with tempfile.TemporaryDirectory(prefix="tui-bench-") as scratch:
        root = args.workspace or Path(scratch) / "workspace"
        if not (root / "reports").exists():
            started = time.perf_counter()
            build_workspace(root, controls=args.controls, evidence=args.evidence)
            elapsed = time.perf_counter() - started
            print(f"generated {args.controls} controls, {args.evidence} evidence items in {elapsed:.1f} s")

        startups = []
        for _ in range(args.startups):
            output = subprocess.run(
                [sys.executable, "-m", "evals.tui_bench", "--probe", str(root)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            startups.append(json.loads(output.strip().splitlines()[-1]))
        first_paints, complete_paints = asyncio.run(_keypress_latency(root, args.moves))

    def median_of(key: str) -> float:
        return statistics.median(run[key] for run in startups)

    def latency(values: list[float]) -> str:
        return f"median {statistics.median(values) * 1000:.1f} ms, p95 {_percentile(values, 0.95) * 1000:.1f} ms"

    interactive = median_of("interactive_s")
    verdict = "within" if interactive < TARGET_INTERACTIVE_S else "OVER"
    size = f"{BENCH_SIZE[0]}x{BENCH_SIZE[1]}"
    print(f"review TUI: {startups[0]['controls']} controls, {args.evidence} evidence items, {size}")
    print(f"  start-up, median of {len(startups)} fresh processes (from the first line of Python):")
    print(f"    imports                        {median_of('imports_s'):.3f} s")
    print(f"    first paint                    {median_of('first_paint_s'):.3f} s")
    print(f"    interactive review screen      {interactive:.3f} s ({verdict} the {TARGET_INTERACTIVE_S} s target)")
    print(f"  keypress to render, {len(complete_paints)} moves through the list:")
    print(f"    cursor moved                   {latency(first_paints)}")
    print(f"    new control shown              {latency(complete_paints)}")
    return 0 if interactive < TARGET_INTERACTIVE_S else 1


if __name__ == "__main__":
    sys.exit(main())
