"""Regenerate knowledge/data/tsc.json from the reference catalog.

Only the criterion statements and point-of-focus titles ship (licensing: the full point-of-focus text
is loaded from the user's own copy of the AICPA publication by `auditor knowledge import-tsc`).

    python -m evals.retrieval.make_tsc_data ../shared/data/tsc/tsc-2017-rev2022.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parents[2] / "knowledge" / "data" / "tsc.json"


def main(source: str) -> None:
    catalog = json.loads(Path(source).read_text(encoding="utf-8"))
    shipped = {
        "framework": catalog["framework"],
        "criteria": [
            {
                "id": c["id"],
                "category": c["category"],
                "series": c["series"],
                "series_title": c["series_title"],
                "text": c["text"],
                "points_of_focus": [
                    {"index": i, "title": p["title"], "tags": p["tags"]}
                    for i, p in enumerate(c["points_of_focus"], start=1)
                ],
            }
            for c in catalog["criteria"]
        ],
    }
    TARGET.write_text(json.dumps(shipped, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {TARGET}: {len(shipped['criteria'])} criteria")


if __name__ == "__main__":
    main(sys.argv[1])
