"""Short descriptions of evidence data for prompts and the run's reasoning record.

A summary states the shape and size of the data and a few names from it, capped in length. It never
copies values wholesale: the model sees enough to write from, and nothing that does not need to leave
the machine.
"""

from __future__ import annotations

from typing import Any

MAX_SUMMARY_CHARS = 300
_NAME_KEYS = (
    "name",
    "Name",
    "UserName",
    "user",
    "BucketName",
    "TrailARN",
    "GroupId",
    "VpcId",
    "VolumeId",
    "DBInstanceIdentifier",
    "repo",
    "login",
    "KeyId",
    "arn",
    "Arn",
)
_MAX_NAMES = 5


def summarize(data: Any) -> str:
    text = _describe(data, depth=0)
    return text if len(text) <= MAX_SUMMARY_CHARS else text[: MAX_SUMMARY_CHARS - 3] + "..."


def _describe(data: Any, depth: int) -> str:
    if isinstance(data, list):
        names = _names(data)
        suffix = f" (e.g. {', '.join(names)})" if names else ""
        return f"{len(data)} item{'s' if len(data) != 1 else ''}{suffix}"
    if isinstance(data, dict):
        if "error" in data and len(data) <= 2:
            return f"error {data['error']}"
        if depth >= 1:
            return f"{len(data)} fields"
        parts = []
        for key, value in list(data.items())[:6]:
            if isinstance(value, list | dict):
                parts.append(f"{key}: {_describe(value, depth + 1)}")
            elif isinstance(value, bool | int | float) or value is None:
                parts.append(f"{key}: {value}")
            else:
                parts.append(f"{key}: {str(value)[:40]}")
        more = f"; {len(data) - 6} more fields" if len(data) > 6 else ""
        return "; ".join(parts) + more
    if isinstance(data, str):
        lines = data.count("\n") + 1
        return f"text, {lines} line{'s' if lines != 1 else ''}"
    return str(data)[:60]


def _names(items: list[Any]) -> list[str]:
    names = []
    for item in items:
        if isinstance(item, dict):
            for key in _NAME_KEYS:
                if isinstance(item.get(key), str):
                    names.append(item[key])
                    break
        if len(names) == _MAX_NAMES:
            break
    return names
