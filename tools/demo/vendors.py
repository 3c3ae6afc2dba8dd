"""The demo company's register of model providers (vendors.yaml), read by the ai.vendor_register collector.

Report dates are relative to today, so the findings are the same on any day (tools/demo/expected/ai.yaml):
Anthropic is registered in full; OpenAI's SOC 2 report is over a year old and, though critical, it has no
fallback; Cohere, used in app/rerank.py, is missing from the register.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml


def vendor_register(today: date | None = None) -> list[dict[str, object]]:
    today = today or datetime.now(UTC).date()
    return [
        {
            "provider": "anthropic",
            "soc2_report_date": (today - timedelta(days=95)).isoformat(),
            "dpa": True,
            "data_retention": "30 days, no training on inputs",
            "fallback": "openai",
            "critical": True,
        },
        {
            "provider": "openai",
            "soc2_report_date": (today - timedelta(days=480)).isoformat(),
            "dpa": True,
            "data_retention": "30 days (zero retention requested)",
            "fallback": "",
            "critical": True,
        },
    ]


def write_vendor_register(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(vendor_register(), sort_keys=False), encoding="utf-8")
    return path
