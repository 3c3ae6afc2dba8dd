"""Narrative quality over the demo: citations, support for every figure and name, and cost.

    python -m evals.narratives.run [--workspace DIR]

Runs `auditor demo` in a fresh workspace (or reads the latest run of DIR) and prints:
- the share of sentences with at least one citation (target 100%);
- the share of citations that resolve to a chunk retrieved for that control and present in the
  knowledge store, or to evidence collected for that control and present in the locker (target 100%);
- numbers and identifiers not found in what their sentence cites, re-checked by the verifier from the
  stored sources (target 0);
- narratives that fell back to the offline writer, the wall time of `auditor demo`, and the AWS calls
  made against the distinct reads needed (target: equal);
- the share of sentences that say a design statement was tested which also state a period (an ISO date)
  and a population (a count) (target 100%);
- the most repeated sentence skeletons (a sentence with its quotations, dates, numbers, ids and citations
  blanked): the share of narratives each occurs in, the opening paragraph aside (target: none above 15%).
The labelled sentences (labelled.yaml, rubric in its header) are checked by tests/test_narrative_labels.py.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

from agent.api import latest_report, verify_narrative
from agent.citations import Sentence, sentences
from knowledge.store import KnowledgeStore
from tools.locker import EvidenceLocker
from tools.workspace import Workspace

AWS_CALLS = re.compile(r"AWS calls: (\d+) made for (\d+) distinct reads")
SKELETON_TARGET_PCT = 15.0
# A sentence saying a design statement was tested (not "was not tested", "could not be tested").
TESTED = re.compile(r"\b(?:tested|reperformed)\b(?<!not tested)", re.IGNORECASE)
UNTESTED = re.compile(r"\b(?:not|could not|cannot)\s+(?:be\s+)?tested\b|does not test", re.IGNORECASE)
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
COUNT = re.compile(r"(?<![\w.-])\d+(?![\w-])")
_BLANKS = (
    (re.compile(r"“[^”]*”|`[^`]*`|\[[^\]]*\]"), "Q"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "D"),
    (re.compile(r"\b[A-Z]{2,5}-\d{2}\b|\b[A-Z]{1,2}\d+\.\d+\b"), "ID"),
    (re.compile(r"\b\d[\d,.]*\b"), "N"),
)


LABELLED = Path(__file__).with_name("labelled.yaml")


def label_shares() -> dict[str, Counter[str]]:
    """Labels of the labelled sentences per source ("before", "after")."""
    rows = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))["sentences"]
    shares: dict[str, Counter[str]] = {}
    for row in rows:
        shares.setdefault(row["source"].split()[0], Counter())[row["label"]] += 1
    return shares


def skeleton(sentence: Sentence) -> str:
    """A sentence with what differs between controls blanked: its shape, to find repeated boilerplate."""
    text = sentence.text
    for pattern, blank in _BLANKS:
        text = pattern.sub(blank, text)
    return " ".join(text.split())


def states_period_and_population(sentence: Sentence) -> bool | None:
    """None for a sentence that says no statement was tested; else whether it gives a date and a count."""
    plain = sentence.plain
    if not TESTED.search(plain) or UNTESTED.search(plain):
        return None
    without_dates = DATE.sub(" ", plain)
    return bool(DATE.search(plain)) and bool(COUNT.search(without_dates))


def shape(texts: list[str]) -> dict[str, object]:
    """Period and population share of tested-statement sentences, and skeletons by share of narratives."""
    tested = stated = 0
    per_narrative: Counter[str] = Counter()
    for text in texts:
        parts = sentences(text)
        for part in parts:
            said = states_period_and_population(part)
            if said is not None:
                tested += 1
                stated += said
        # The opening paragraph (the control, its criterion quoted, its points of focus) has one shape by design.
        body = [part for paragraph in text.split("\n\n")[1:] for part in sentences(paragraph)]
        per_narrative.update({skeleton(part) for part in body})
    shares = [(100.0 * n / len(texts), shape_) for shape_, n in per_narrative.most_common(5)] if texts else []
    return {"tested": tested, "period_population_pct": 100.0 * stated / tested if tested else 0.0, "skeletons": shares}


def run_demo(workspace: Path) -> tuple[float, int | None, int | None]:
    auditor = Path(sys.executable).parent / "auditor"
    env = {**os.environ, "COLUMNS": "200"}
    started = time.perf_counter()
    result = subprocess.run([str(auditor), "-w", str(workspace), "demo"], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(
            f"auditor demo failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    calls = AWS_CALLS.search(result.stdout)
    return wall, int(calls.group(1)) if calls else None, int(calls.group(2)) if calls else None


def measure(workspace: Workspace) -> dict[str, float | int]:
    report = latest_report(workspace)
    if report is None:
        raise SystemExit(f"no run in {workspace.root}")
    store = KnowledgeStore.open(workspace.chroma_dir)
    shaped = shape([control.narrative.text for control in report.controls])
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
        **shaped,
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
    for source, labels in label_shares().items():
        total = sum(labels.values())
        kinds = ("correct", "wrong", "boilerplate")
        shares = ", ".join(f"{label} {100.0 * labels[label] / total:.0f}%" for label in kinds)
        print(f"labelled sentences, {source:<7}  {total}: {shares}")
    m = measure(workspace)
    print(f"controls                         {m['controls']}")
    print(f"sentences with a citation        {m['cited_pct']:.1f}% of {m['sentences']}   (target 100%)")
    print(f"citations that resolve           {m['valid_pct']:.1f}% of {m['citations']}   (target 100%)")
    print(f"unsupported numbers/identifiers  {m['unsupported']}   (target 0)")
    print(f"narratives on offline fallback   {m['fallbacks']}")
    print(
        f"tested statements with period and population  {m['period_population_pct']:.1f}% of {m['tested']}"
        "   (target 100%)"
    )
    print(
        f"most repeated skeletons (share of narratives, opening paragraph aside; target <= {SKELETON_TARGET_PCT:.0f}%):"
    )
    for share, text in m["skeletons"]:  # type: ignore[union-attr]
        print(f"  {share:5.1f}%  {text[:150]}")
    if wall is not None:
        print(f"auditor demo wall time           {wall:.1f} s")
        print(f"AWS calls made / distinct needed {made} / {distinct}   (target equal)")


if __name__ == "__main__":
    main()
