"""Narrative quality over the demo: citations, support for every figure and name, and cost.

    python -m evals.narratives.run [--workspace DIR]

Runs `auditor demo` in a fresh workspace (or reads the latest run of DIR) and prints:
- the share of sentences with at least one citation (target 100%);
- the share of citations that resolve to a chunk retrieved for that control and present in the
  knowledge store, or to evidence collected for that control and present in the locker (target 100%);
- numbers and identifiers not found in what their sentence cites, re-checked by the verifier from the
  stored sources (target 0);
- narratives that fell back to the offline writer, the wall time of `auditor demo`, and the AWS calls
  made against the distinct reads needed (target: equal).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.api import latest_report, verify_narrative
from agent.citations import sentences
from agent.workspace import Workspace
from knowledge.store import KnowledgeStore
from tools.locker import EvidenceLocker

AWS_CALLS = re.compile(r"AWS calls: (\d+) made for (\d+) distinct reads")


def run_demo(workspace: Path) -> tuple[float, int | None, int | None]:
    auditor = Path(sys.executable).parent / "auditor"
    env = {**os.environ, "COLUMNS": "200"}
    started = time.perf_counter()
    result = subprocess.run([str(auditor), "-w", str(workspace), "demo"], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"auditor demo failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    calls = AWS_CALLS.search(result.stdout)
    return wall, int(calls.group(1)) if calls else None, int(calls.group(2)) if calls else None


def measure(workspace: Workspace) -> dict[str, float | int]:
    report = latest_report(workspace)
    if report is None:
        raise SystemExit(f"no run in {workspace.root}")
    store = KnowledgeStore.open(workspace.chroma_dir)
    total_sentences = cited_sentences = citations = valid = unsupported = 0
    with EvidenceLocker(workspace.locker_db, workspace.blobs_dir) as locker:
        for control in report.controls:
            narrative = control.narrative
            parts = sentences(narrative.text)
            total_sentences += len(parts)
            cited_sentences += sum(1 for part in parts if part.citations)
            retrieved = set(narrative.provenance.retrieved_chunk_ids)
            collected = set(narrative.provenance.evidence_ids)
            for part in parts:
                for citation in part.citations:
                    citations += 1
                    if citation.startswith("ev:"):
                        valid += citation[3:] in collected and locker.get(citation[3:]) is not None
                    else:
                        valid += citation in retrieved and store.get(citation) is not None
            problems = verify_narrative(workspace, control, narrative.text).problems
            unsupported += sum(1 for p in problems if "identifier `" in p or "the number " in p)
    return {
        "controls": len(report.controls),
        "sentences": total_sentences,
        "cited_pct": 100.0 * cited_sentences / total_sentences if total_sentences else 0.0,
        "citations": citations,
        "valid_pct": 100.0 * valid / citations if citations else 0.0,
        "unsupported": unsupported,
        "fallbacks": sum(1 for c in report.controls if c.narrative.status == "fallback"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, help="Evaluate the latest run here instead of running the demo.")
    options = parser.parse_args()
    wall = made = distinct = None
    if options.workspace:
        workspace = Workspace.at(options.workspace)
    else:
        workspace = Workspace.at(Path(tempfile.mkdtemp(prefix="narratives-eval-")))
        wall, made, distinct = run_demo(workspace.root)
    m = measure(workspace)
    print(f"controls                         {m['controls']}")
    print(f"sentences with a citation        {m['cited_pct']:.1f}% of {m['sentences']}   (target 100%)")
    print(f"citations that resolve           {m['valid_pct']:.1f}% of {m['citations']}   (target 100%)")
    print(f"unsupported numbers/identifiers  {m['unsupported']}   (target 0)")
    print(f"narratives on offline fallback   {m['fallbacks']}")
    if wall is not None:
        print(f"auditor demo wall time           {wall:.1f} s")
        print(f"AWS calls made / distinct needed {made} / {distinct}   (target equal)")


if __name__ == "__main__":
    main()
