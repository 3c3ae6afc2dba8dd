"""One run at a time per workspace: an exclusive lock on a file in the workspace.

`fcntl.flock` is released by the operating system when the holder exits, however it exits (kill -9 included),
so a crashed run never leaves a stale lock behind. The file keeps who holds it (pid, start time) for the message
the second run prints.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from tools.workspace import Workspace

LOCK_FILENAME = "run.lock"


class WorkspaceLocked(Exception):
    """Another run holds the workspace; the message names it."""

    def __init__(self, workspace: Workspace, holder: dict[str, object]) -> None:
        pid = holder.get("pid", "unknown")
        since = holder.get("started_at", "an unknown time")
        command = holder.get("command", "a run")
        super().__init__(
            f"another run holds the workspace {workspace.root}: {command} (pid {pid}, started {since}); "
            "wait for it to finish, or stop it"
        )
        self.holder = holder


@contextmanager
def workspace_lock(workspace: Workspace, command: str = "auditor run") -> Iterator[None]:
    """Hold the workspace's run lock for the block; WorkspaceLocked at once (no waiting) when another run has it."""
    path = workspace.root / LOCK_FILENAME
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkspaceLocked(workspace, _holder(handle)) from None
        try:
            handle.truncate(0)
            holder = {
                "pid": os.getpid(),
                "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": command,
            }
            handle.write(json.dumps(holder) + "\n")
            handle.flush()
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _holder(handle) -> dict[str, object]:  # handle: the open lock file
    handle.seek(0)
    try:
        return json.loads(handle.read() or "{}")
    except json.JSONDecodeError:  # caught between the holder's truncate and write
        return {}
