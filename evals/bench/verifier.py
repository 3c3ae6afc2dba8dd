"""The narrative verifier's CPU time over every draft of a demo run: `python -m evals.bench.verifier [--repeat 3]`.

Starts the demo company and runs the proof once in this process, in a fresh workspace (so no verdict is reused),
with `verify` timed and recorded for each draft it is given: "in the run" is the CPU time of those calls (each
timed on its own thread, as controls run side by side), what a fresh `auditor run` pays. Then every recorded
draft is verified again, --repeat times, in one thread: the best pass ("again") is the rules' own cost, with
patterns compiled and caches filled. Baselines: the same figures before the verifier's speed work (issue 16), the
median of five runs on this shared 2-core machine (after it: 0.74 s and 0.47 s).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BASELINE_IN_RUN_S = 1.9
BASELINE_AGAIN_S = 1.35


def record_demo_run(root: Path) -> tuple[list[tuple[str, Any]], float]:
    """Every (draft, context) the demo's proof run verifies, and the CPU time those verify calls took."""
    import agent.nodes
    from agent.api import run_proof
    from tools.config import load_config
    from tools.demo import DemoCompany
    from tools.workspace import Workspace

    os.environ.update({name: "testing" for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")})
    os.environ.pop("AWS_PROFILE", None)
    recorded: list[tuple[str, Any]] = []
    spent = [0.0]
    lock = threading.Lock()
    verify = agent.nodes.verify

    def timed_verify(text: str, context: Any) -> Any:
        started = time.thread_time()
        try:
            return verify(text, context)
        finally:
            with lock:
                spent[0] += time.thread_time() - started
                recorded.append((text, context))

    agent.nodes.verify = timed_verify
    try:
        with DemoCompany(root / "demo") as demo:
            run_proof(load_config(demo.config_path), Workspace.at(root / "workspace"))
    finally:
        agent.nodes.verify = verify
    return recorded, spent[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the recorded drafts (default 3)")
    args = parser.parse_args(argv)
    from agent.citations import sentences
    from agent.verifier import verify

    with tempfile.TemporaryDirectory(prefix="verifier-bench-") as folder:
        drafts, in_run = record_demo_run(Path(folder))
    passes = []
    for _ in range(args.repeat):
        started = time.process_time()
        verdicts = [verify(text, context) for text, context in drafts]
        passes.append(time.process_time() - started)
    again = min(passes)
    count = sum(len(sentences(text)) for text, _ in drafts)
    refused = sum(not verdict.passed for verdict in verdicts)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (CPU times: load matters less)")
    print(f"drafts verified                  {len(drafts)} ({count} sentences, {refused} refused)")
    for name, seconds, baseline in (("in the run", in_run, BASELINE_IN_RUN_S), ("again", again, BASELINE_AGAIN_S)):
        print(
            f"verify, {name:<24} cpu {seconds:5.2f} s  {1000 * seconds / len(drafts):5.2f} ms/draft  "
            f"{1e6 * seconds / count:5.0f} us/sentence  baseline {baseline} s ({baseline / seconds:.1f}x)"
        )


if __name__ == "__main__":
    main()
