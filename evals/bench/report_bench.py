"""How long rendering the report takes, and how big it is: `python -m evals.bench.report_bench [--workspace WS]`.

Synthetic: 120 controls citing 20,000 evidence items (evals/bench/synthetic_report.py), every format (target:
HTML < 3 s). With --workspace (e.g. after `auditor -w WS demo`): its latest report, gathered from the workspace
as `auditor report` does (target: HTML < 2 MB, written < 1 s). Wall time and CPU time are both printed: on a
shared machine the wall time includes waiting for a core.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from agent.render.formats import FORMATS, render
from agent.render.inputs import ReportInputs, gather
from evals.bench.synthetic_report import synthetic_inputs


def measure(label: str, inputs: ReportInputs, gathered_s: float = 0.0) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for format in FORMATS:
            wall, cpu = time.perf_counter(), time.process_time()
            path = Path(folder) / f"report.{format}"
            path.write_text(render(inputs, format), encoding="utf-8")
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            size = path.stat().st_size
            print(f"{label:<34} {format:<5} {size / 1e6:8.2f} MB  wall {wall + gathered_s:6.2f} s  cpu {cpu:6.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", type=Path, help="a workspace with a report (e.g. after `auditor demo`)")
    parser.add_argument("--controls", type=int, default=120)
    parser.add_argument("--evidence", type=int, default=20_000)
    args = parser.parse_args(argv)
    if args.workspace:
        from agent.report import latest_run_id, read_report
        from knowledge.catalog import load_catalog
        from tools.config import AuditorConfig
        from tools.signing import load_signer
        from tools.workspace import Workspace

        workspace = Workspace.at(args.workspace)
        started = time.perf_counter()
        report = read_report(workspace, latest_run_id(workspace) or "")
        signer = load_signer(AuditorConfig(workspace=args.workspace))
        inputs = gather(workspace, report, load_catalog(), signer.public, signer)
        gathered = time.perf_counter() - started
        print(f"workspace report read and gathered in {gathered:.2f} s ({len(inputs.evidence)} evidence items)")
        measure(f"{report.company} ({len(report.controls)} controls)", inputs, gathered)
    inputs = synthetic_inputs(args.controls, args.evidence, runs=10)
    measure(f"synthetic ({args.controls} controls, {args.evidence} ev)", inputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
