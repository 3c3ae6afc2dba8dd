"""Prompt-injection scanning's CPU time over a demo run: `python -m evals.bench.injection [--repeat 3]`.

Runs the demo proof once in this process (evals/bench/verifier.py's `record_demo_run`) with every text given to
`instructions_in` recorded: evidence strings and keys, retrieved chunks, draft sentences. "in the run" is the CPU
time of those calls (each timed on its own thread). Then every recorded text is scanned again in one thread,
--repeat times, the best pass counting: "cold" with the per-text cache emptied before each pass, and "whole
pattern", the full pattern run on every text as scanning did before the needed-word check (the baseline's way).
Both must find the same phrases. Baseline: the run's scanning CPU before issue 16's scanning work, measured on
this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

BASELINE_IN_RUN_S = 0.61


def record_scans() -> tuple[list[str], float]:
    """Every text the demo's proof run scans for instructions, and the CPU time those scans took."""
    import agent.verifier
    import tools.injection
    from evals.bench.verifier import record_demo_run

    recorded: list[str] = []
    spent = [0.0]
    lock = threading.Lock()
    instructions_in = tools.injection.instructions_in

    def timed(text: str) -> list[str]:
        started = time.thread_time()
        try:
            return instructions_in(text)
        finally:
            with lock:
                spent[0] += time.thread_time() - started
                recorded.append(text)

    # scan() calls it through its module; the verifier imported the name.
    tools.injection.instructions_in = agent.verifier.instructions_in = timed
    try:
        with tempfile.TemporaryDirectory(prefix="injection-bench-") as folder:
            record_demo_run(Path(folder))
    finally:
        tools.injection.instructions_in = agent.verifier.instructions_in = instructions_in
    return recorded, spent[0]


def best_pass(texts: list[str], scan: Callable[[str], object], repeat: int, before: Callable[[], object]) -> float:
    passes = []
    for _ in range(repeat):
        before()
        started = time.process_time()
        for text in texts:
            scan(text)
        passes.append(time.process_time() - started)
    return min(passes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the recorded texts (default 3)")
    args = parser.parse_args(argv)
    from tools import injection

    texts, in_run = record_scans()

    def whole_pattern(text: str) -> tuple[str, ...]:
        return injection._matched_phrases(injection.normalise(text))

    same = all(injection.instructions_in(text) == list(whole_pattern(text)) for text in texts)
    cold = best_pass(texts, injection.instructions_in, args.repeat, injection._phrases_in_cached.cache_clear)
    whole = best_pass(texts, whole_pattern, args.repeat, lambda: None)
    flagged = sum(bool(whole_pattern(text)) for text in set(texts))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (CPU times: load matters less)")
    print(
        f"texts scanned                    {len(texts)} ({len(set(texts))} distinct, "
        f"{sum(map(len, texts))} characters, {flagged} reading as instructions)"
    )
    print(f"same phrases as the whole pattern: {'yes' if same else 'NO'}")
    print(
        f"scan, in the run                 cpu {in_run:5.2f} s  baseline {BASELINE_IN_RUN_S} s "
        f"({BASELINE_IN_RUN_S / in_run:.1f}x)"
    )
    print(f"scan, again (cache emptied)      cpu {cold:5.2f} s  whole pattern {whole:5.2f} s ({whole / cold:.1f}x)")


if __name__ == "__main__":
    main()
