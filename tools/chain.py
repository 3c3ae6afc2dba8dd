"""Hash chaining shared by the evidence locker and the review log.

Each record's hash covers its own canonical JSON and the previous record's hash, so editing,
removing or reordering any record breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import fields
from typing import Any

GENESIS = "0" * 64


def canonical_json(payload: Any) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chain_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    return sha256_hex(prev_hash.encode() + canonical_json(payload))


def fields_except(record: Any, *left_out: str) -> dict[str, Any]:
    """A dataclass record's fields, in their order, but those named: what a record's hash covers."""
    return {field.name: getattr(record, field.name) for field in fields(record) if field.name not in left_out}


@contextmanager
def append_transaction(
    connection: sqlite3.Connection, lock: AbstractContextManager[Any]
) -> Iterator[sqlite3.Connection]:
    """A transaction that appends to a chain stored in SQLite: committed if the block ends, rolled back if it raises.
    `lock` keeps this process's writers in order; BEGIN IMMEDIATE takes SQLite's write lock before the chain head
    is read, so writers in other processes cannot chain onto the same previous record either."""
    with lock:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
