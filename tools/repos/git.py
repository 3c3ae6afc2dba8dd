"""Read a local git repository through the git CLI, without ever changing it.

Only read commands are used (rev-parse, ls-tree, cat-file, log, config --get, for-each-ref).
GIT_OPTIONAL_LOCKS=0 stops git from refreshing the index as a side effect, and external diff drivers
and textconv filters are switched off so a repository's own config cannot make git run programs while
we read it. Settings that change what git prints (output encoding, signature display, diff prefixes)
are fixed on the command line, system and user config files are not read, and replace refs are
ignored. A history git cannot show whole (shallow clone, grafts, replace refs) is reported.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.locker import MAX_BLOB_BYTES
from tools.redact import redact

# Options put in front of every git command: no programs named by the repository's config. `-c` beats
# the repository's own config, so a hostile repo cannot make %G? run its own "gpg" (or ssh/x509 verifier).
_SAFE_OPTIONS = (
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.quotePath=false",
    "-c",
    "gpg.program=gpg",
    "-c",
    "gpg.openpgp.program=gpg",
    "-c",
    "gpg.ssh.program=ssh-keygen",
    "-c",
    "gpg.x509.program=gpgsm",
    "-c",
    "i18n.logOutputEncoding=UTF-8",  # a repository's UTF-16 would put NULs in every line we split
)
_READ_ENV = {
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
    "GIT_PAGER": "cat",
    # Only the repository's own config, which the options above override where it matters.
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    # The commits as stored, not the ones refs/replace/ substitutes for them.
    "GIT_NO_REPLACE_OBJECTS": "1",
}
# `git log` options against settings that add to or reshape its output (log.showSignature, diff.noprefix).
_LOG_OPTIONS = ("--no-show-signature",)
_PATCH_OPTIONS = ("--src-prefix=a/", "--dst-prefix=b/")

# "owner/name" from https://host/owner/name(.git), git@host:owner/name(.git) or ssh://git@host/owner/name.
_REMOTE_NAME = re.compile(r"[:/](?P<owner>[^/:]+)/(?P<name>[^/]+?)(?:\.git)?/?$")

# %G? is git's signature verdict: G good, U good/unknown validity, X/Y expired, R revoked, B bad,
# E cannot be checked (e.g. key missing), N no signature.
_COMMIT_FORMAT = "%H%x00%G?%x00%an%x00%ae%x00%aI%x00%s"
# Starts each commit in `git log -p` output: a line no patch line can be (those start with ' ', '+', '-',
# '@', 'diff', 'index', ...). The format spells it with git's %x escapes, the output has the bytes.
_HISTORY_HEADER = "\x1ecommit\x00"
_HISTORY_FORMAT = "%x1ecommit%x00%H%x00%an%x00%aI%x00%s"


class GitError(Exception):
    """A git command failed; the message names the repository and git's own error."""


@dataclass(frozen=True)
class Commit:
    sha: str
    signature: str  # git's %G? letter
    author: str
    author_email: str
    date: str  # ISO 8601, author date
    subject: str


@dataclass(frozen=True)
class FileText:
    text: str
    truncated: bool  # cut at the size asked for
    redactions: dict[str, int]  # secrets replaced before the cut, per kind (redact's counts)


@dataclass
class FilePatch:
    path: str
    patch: str


@dataclass
class CommitPatch:
    sha: str
    author: str
    date: str
    subject: str
    files: list[FilePatch]


class GitRepo:
    """One local repository, read-only."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise GitError(f"{self.path}: not a directory")
        inside = self._git("rev-parse", "--is-inside-work-tree", check=False)
        bare = self._git("rev-parse", "--is-bare-repository", check=False)
        if inside.strip() != "true" and bare.strip() != "true":
            raise GitError(f"{self.path}: not a git repository")

    # -- running git -------------------------------------------------------------------------

    def _command(self, *args: str) -> list[str]:
        return ["git", *_SAFE_OPTIONS, "-C", str(self.path), *args]

    @staticmethod
    def _env() -> dict[str, str]:
        # No inherited GIT_* variable (GIT_DIR from a hook, GIT_CONFIG_PARAMETERS, ...) changes what is read.
        inherited = {name: value for name, value in os.environ.items() if not name.startswith("GIT_")}
        return {**inherited, **_READ_ENV}

    def _git(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(self._command(*args), capture_output=True, env=self._env(), check=False)
        if check and result.returncode != 0:
            message = result.stderr.decode("utf-8", errors="replace").strip()
            raise GitError(f"{self.path}: git {args[0]} failed: {message}")
        return result.stdout.decode("utf-8", errors="replace")

    # -- identity ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """'owner/name' from the origin remote when there is one, else the folder name."""
        url = self._git("config", "--get", "remote.origin.url", check=False).strip()
        match = _REMOTE_NAME.search(url) if url else None
        if match:
            return f"{match['owner']}/{match['name']}"
        return self.path.resolve().name

    def head(self) -> str | None:
        """The commit HEAD points at, or None in a repository without commits."""
        sha = self._git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).strip()
        return sha or None

    def branch(self) -> str | None:
        """The checked-out branch name, or None when HEAD is detached."""
        name = self._git("symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
        return name or None

    # -- the HEAD tree -----------------------------------------------------------------------

    def tree_files(self) -> list[tuple[str, int]]:
        """(path, size in bytes) of every file in the HEAD tree; submodules have size 0."""
        if self.head() is None:
            return []
        output = self._git("ls-tree", "-r", "-l", "-z", "--full-tree", "HEAD")
        files = []
        for entry in output.split("\0"):
            if not entry:
                continue
            meta, path = entry.split("\t", 1)
            size = meta.split()[3]
            files.append((path, int(size) if size.isdigit() else 0))
        return files

    def read_file(self, path: str, max_bytes: int) -> FileText:
        """A file's text at HEAD, cut at max_bytes.

        A longer file is redacted whole before the cut: cut first, a secret straddling the cut would keep a
        fragment too short to be recognised. Only its first MAX_BLOB_BYTES are redacted (the locker stores no
        larger item); a shorter file is returned as is, and the locker redacts it when it stores the evidence.
        """
        output = self._git("cat-file", "blob", f"HEAD:{path}")
        data = output.encode("utf-8")
        if len(data) <= max_bytes:
            return FileText(output, truncated=False, redactions={})
        whole, redactions = redact(data[:MAX_BLOB_BYTES].decode("utf-8", errors="ignore"))
        return FileText(whole.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore"), True, redactions)

    def grep(self, patterns: list[str]) -> list[tuple[str, int, str]]:
        """(path, line number, line) of every line in the HEAD tree matching any extended regex (text files)."""
        if self.head() is None:
            return []
        expressions = [part for pattern in patterns for part in ("-e", pattern)]
        command = self._command("grep", "-n", "-I", "-E", "--full-name", "--null", *expressions, "HEAD", "--")
        result = subprocess.run(command, capture_output=True, env=self._env(), check=False)
        if result.returncode not in (0, 1):  # 1: nothing matched
            message = result.stderr.decode("utf-8", errors="replace").strip()
            raise GitError(f"{self.path}: git grep failed: {message}")
        found = []
        for line in result.stdout.decode("utf-8", errors="replace").splitlines():
            # "HEAD:<path>\0<line number>\0<text>"
            path, number, text = line.split("\0", 2)
            found.append((path.removeprefix("HEAD:"), int(number), text))
        return found

    # -- history -----------------------------------------------------------------------------

    def commits(self, limit: int) -> list[Commit]:
        """The latest `limit` commits reachable from HEAD, newest first, with signature verdicts."""
        if self.head() is None:
            return []
        output = self._git("log", *_LOG_OPTIONS, f"--max-count={limit}", f"--format={_COMMIT_FORMAT}", "HEAD")
        commits = []
        for line in output.splitlines():
            sha, signature, author, email, date, subject = line.split("\0", 5)
            commits.append(Commit(sha, signature, author, email, date, subject))
        return commits

    def first_parent_changes(self, since: str, limit: int) -> list[dict[str, Any]]:
        """Commits that landed on the checked-out branch since an ISO time (its first-parent line: a merge is one
        commit, its changes against the branch before it), newest first, each with the files it changed."""
        if self.head() is None:
            return []
        output = self._git(
            "log",
            *_LOG_OPTIONS,
            "--first-parent",
            "-m",
            "--name-only",
            f"--since={since}",
            f"--max-count={limit}",
            "--format=%x1e%H%x00%cI%x00%an%x00%s",
            "HEAD",
        )
        changes = []
        for block in output.split("\x1e")[1:]:
            header, _, names = block.partition("\n")
            sha, date, author, subject = header.split("\0", 3)
            files = [name for name in names.splitlines() if name.strip()]
            changes.append({"sha": sha, "date": date, "author": author, "subject": subject, "files": files})
        return changes

    def history_problem(self) -> str | None:
        """Why the history git shows here is not the whole history, or None when it is."""
        if self._git("rev-parse", "--is-shallow-repository").strip() == "true":
            return "shallow clone: the commits before its depth were never fetched"
        grafts = self.path / self._git("rev-parse", "--git-path", "info/grafts").strip()
        if grafts.is_file() and grafts.read_text(encoding="utf-8", errors="replace").strip():
            return "grafted history: info/grafts rewrites the parents of commits"
        if self._git("for-each-ref", "--count=1", "--format=%(refname)", "refs/replace/").strip():
            return "replace refs: refs/replace/ substitutes commits (read here as stored, not as substituted)"
        return None

    def history(self, max_bytes: int, max_commits: int | None = None) -> tuple[list[CommitPatch], int, bool]:
        """Patches of every commit on every branch, newest first, read up to max_bytes of git output.

        Returns (commits, bytes read, truncated). Output is streamed, so memory stays near max_bytes.
        """
        if self.head() is None:
            return [], 0, False
        args = [
            "log",
            *_LOG_OPTIONS,
            "--all",
            "-p",
            *_PATCH_OPTIONS,
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--no-renames",
            f"--format={_HISTORY_FORMAT}",
        ]
        if max_commits is not None:
            args.append(f"--max-count={max_commits}")
        process = subprocess.Popen(
            self._command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self._env()
        )
        assert process.stdout is not None
        bytes_read = 0
        truncated = False
        lines: list[str] = []
        try:
            # Read in pieces of at most 64 KiB, so one huge line (minified code, data) cannot blow the bound.
            for raw in iter(lambda: process.stdout.readline(65_536), b""):
                bytes_read += len(raw)
                if bytes_read > max_bytes:
                    truncated = True
                    break
                lines.append(raw.decode("utf-8", errors="replace"))
        finally:
            if truncated:
                process.kill()
            process.stdout.close()
            stderr = process.stderr.read().decode("utf-8", errors="replace") if process.stderr else ""
            if process.stderr:
                process.stderr.close()
            returncode = process.wait()
        if not truncated and returncode != 0:
            raise GitError(f"{self.path}: git log failed: {stderr.strip()}")
        commits = list(_parse_history(lines))
        if truncated and commits:
            commits.pop()  # the last commit was cut mid-patch: leave it out rather than half-read
        return commits, min(bytes_read, max_bytes), truncated


def _parse_history(lines: list[str]) -> Iterator[CommitPatch]:
    current: CommitPatch | None = None
    patch_lines: list[str] = []
    path: str | None = None

    def close_file() -> None:
        if current is not None and path is not None:
            current.files.append(FilePatch(path, "".join(patch_lines)))

    for line in lines:
        if line.startswith(_HISTORY_HEADER):
            close_file()
            if current is not None:
                yield current
            sha, author, date, subject = line[len(_HISTORY_HEADER) :].rstrip("\n").split("\0", 3)
            current, path, patch_lines = CommitPatch(sha, author, date, subject, []), None, []
        elif line.startswith("diff --git "):
            close_file()
            path, patch_lines = _path_from_diff_header(line), []
        elif path is not None:
            patch_lines.append(line)
    close_file()
    if current is not None:
        yield current


def _path_from_diff_header(line: str) -> str:
    # "diff --git a/<path> b/<path>": with --no-renames both halves name the same path.
    header = line[len("diff --git ") :].rstrip("\n")
    length = (len(header) - len("a/ b/")) // 2
    return header[2 : 2 + length]
