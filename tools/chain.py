"""Hash chaining shared by the evidence locker and the review log.

Each record's hash covers its own canonical JSON and the previous record's hash, so editing,
removing or reordering any record breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64


def canonical_json(payload: Any) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chain_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    return sha256_hex(prev_hash.encode() + canonical_json(payload))
