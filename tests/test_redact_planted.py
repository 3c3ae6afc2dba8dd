"""Planted secrets: each form a security review planted (and more) is absent from what is stored.

Data-driven: every form is a secret plus the evidence a collector returns around it (git patches and
files, commits, auth and CloudTrail logs, CloudWatch Logs, AWS and GitHub API shapes), a policy document,
run reasoning or a chat tool result. Evidence goes through the real locker (SQLite and blob files), log and
git forms through their real collectors first, policies through chunking and a Chroma store, reasoning
through the run store, tool results through the chat agent; then the stored bytes are searched for the
secret and for any 10-character piece of it (a cut secret leaks too). Secrets are random on every run.
"""

from __future__ import annotations

import json
import os
import sqlite3
import string
import subprocess
from pathlib import Path
from typing import Any

import chromadb
import pytest
from fakes import FakeChatModel
from langchain_core.messages import AIMessage

from agent.runs import RunStore
from evals.redaction.planted import (
    ALNUM,
    EVIDENCE_FORMS,
    GIT_FILE_FORMS,
    LOG_LINE_FORMS,
    POLICY_FORMS,
    Form,
    assert_not_stored,
    aws_secret_key,
    leaked,
    password,
    rand,
)
from knowledge.documents import chunk_file
from knowledge.store import KnowledgeStore
from tools.catalog import TOOLS
from tools.config import AuditorConfig
from tools.context import CollectContext
from tools.locker import EvidenceLocker
from tools.logs import collectors as _log_collectors  # noqa: F401  (registers the collectors)
from tools.repos import collectors as _repo_collectors  # noqa: F401  (registers the collectors)
from tui.chat import ChatAgent


def test_the_planted_suite_covers_at_least_sixty_forms() -> None:
    assert len(EVIDENCE_FORMS) + len(LOG_LINE_FORMS) + len(POLICY_FORMS) >= 60
    assert len({form.id for form in EVIDENCE_FORMS + LOG_LINE_FORMS + POLICY_FORMS}) == len(
        EVIDENCE_FORMS + LOG_LINE_FORMS + POLICY_FORMS
    )


@pytest.fixture
def locker(tmp_path: Path) -> EvidenceLocker:
    with EvidenceLocker(tmp_path / "locker.sqlite", tmp_path / "blobs") as opened:
        yield opened


def stored_bytes(locker: EvidenceLocker, tmp_path: Path) -> str:
    """Everything the locker wrote: every blob file and every SQLite row."""
    blobs = "".join(path.read_text(errors="replace") for path in sorted(locker.blobs_dir.rglob("*")) if path.is_file())
    with sqlite3.connect(tmp_path / "locker.sqlite") as db:
        rows = [repr(row) for table in ("evidence",) for row in db.execute(f"SELECT * FROM {table}")]  # noqa: S608
    return blobs + "\n".join(rows)


@pytest.mark.parametrize("form", EVIDENCE_FORMS, ids=lambda form: form.id)
def test_planted_secret_in_evidence_is_not_stored(form: Form, locker: EvidenceLocker, tmp_path: Path) -> None:
    data = form.build(form.secret)
    record = locker.put(run_id="run-1", source="test", tool="test.planted", operation="read", params={}, data=data)
    assert_not_stored(form, stored_bytes(locker, tmp_path))
    assert record.redaction_count >= 1


# -- log files and git repositories, through their collectors ------------------------------------------------
@pytest.mark.parametrize("form", LOG_LINE_FORMS, ids=lambda form: form.id)
def test_planted_secret_in_auth_log_is_not_stored(form: Form, locker: EvidenceLocker, tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(
        "Feb  3 14:09:00 web-1 sshd[400]: Accepted publickey for dana from 203.0.113.5 port 50000 ssh2\n"
        + form.build(form.secret)
        + "\n"
    )
    spec = TOOLS["logs.auth_events"]
    config = AuditorConfig.model_validate({"logs": {"paths": [str(log)]}})
    data = spec.func(CollectContext(config), spec.args_model())
    locker.put(run_id="run-1", source="logs", tool=spec.name, operation="read files", params={}, data=data)
    assert_not_stored(form, stored_bytes(locker, tmp_path))


def test_planted_secrets_in_a_cloudtrail_file_are_not_stored(locker: EvidenceLocker, tmp_path: Path) -> None:
    tag_value, access_secret = password(), aws_secret_key()
    records = [
        {
            "eventName": "CreateUser",
            "eventTime": "2025-01-02T10:00:00Z",
            "userIdentity": {"type": "Root"},
            "requestParameters": {"userName": "svc", "tags": [{"key": "db-password", "value": tag_value}]},
        },
        {
            "eventName": "CreateAccessKey",
            "eventTime": "2025-01-02T10:01:00Z",
            "userIdentity": {"type": "Root"},
            "responseElements": {
                "accessKey": {
                    "accessKeyId": "AKIA" + rand(string.ascii_uppercase, 16),
                    "secretAccessKey": access_secret,
                }
            },
        },
    ]
    trail = tmp_path / "trail.json"
    trail.write_text(json.dumps({"Records": records}))
    spec = TOOLS["logs.cloudtrail_events"]
    data = spec.func(CollectContext(AuditorConfig.model_validate({"logs": {"paths": [str(trail)]}})), spec.args_model())
    assert len(data["events"]) == 2
    locker.put(run_id="run-1", source="logs", tool=spec.name, operation="read files", params={}, data=data)
    stored = stored_bytes(locker, tmp_path)
    for secret in (tag_value, access_secret):
        assert not leaked(secret, stored)


def git(path: Path, *args: str) -> None:
    identity = {
        "GIT_AUTHOR_NAME": "Dana",
        "GIT_AUTHOR_EMAIL": "dana@example.com",
        "GIT_COMMITTER_NAME": "Dana",
        "GIT_COMMITTER_EMAIL": "dana@example.com",
    }
    subprocess.run(["git", "-C", str(path), *args], env={**os.environ, **identity}, check=True, capture_output=True)


@pytest.mark.parametrize("form", GIT_FILE_FORMS, ids=lambda form: form.id)
def test_planted_secret_in_git_history_is_not_stored(form: Form, locker: EvidenceLocker, tmp_path: Path) -> None:
    """The same forms, committed to a real repository and collected by git.history and git.repository_files."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    file = form.build(form.secret)["repos"][0]["commits"][0]["files"][0]
    added = [line for line in file["patch"].splitlines() if line.startswith("+") and not line.startswith("+++")]
    content = "".join(line[1:] + "\n" for line in added)
    (repo / file["path"]).parent.mkdir(parents=True, exist_ok=True)
    (repo / file["path"]).write_text(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-gpg-sign", "-m", "add config")
    config = AuditorConfig.model_validate({"repos": {"local": [str(repo)]}})
    for name in ("git.history", "git.repository_files"):
        spec = TOOLS[name]
        data = spec.func(CollectContext(config), spec.args_model())
        assert "error" not in data["repos"][0], data
        locker.put(run_id="run-1", source="git", tool=name, operation="git", params={}, data=data)
    assert_not_stored(form, stored_bytes(locker, tmp_path))


# -- policies, run reasoning, chat --------------------------------------------------------------------------


@pytest.mark.parametrize("form", POLICY_FORMS, ids=lambda form: form.id)
def test_planted_secret_in_a_policy_is_not_chunked_or_embedded(form: Form, tmp_path: Path) -> None:
    policy = tmp_path / ("policy.md" if form.build("x").startswith("#") else "policy.txt")
    policy.write_text(form.build(form.secret))
    chunks = chunk_file(policy)
    store = KnowledgeStore(chromadb.EphemeralClient())
    store.add_documents(chunks)
    stored = store._collection("documents").get(include=["documents", "metadatas", "embeddings"])
    searched = store.search("password token key", k=10, collections=("documents",))
    assert_not_stored(form, repr(chunks) + repr(stored["documents"]) + repr(stored["metadatas"]) + repr(searched))


def test_planted_secret_in_run_reasoning_is_not_stored(tmp_path: Path) -> None:
    secret = "ghp_" + rand(ALNUM, 36)
    runs = RunStore(tmp_path / "runs.sqlite")

    class Result:  # what save_result reads of a control result; the report's schema is beside the point here
        id = "IAM-01"

        def model_dump_json(self, by_alias: bool) -> str:
            return "{}"

    runs.save_result("run-1", Result(), {"prompt": f"evidence says token {secret}", "notes": [f"saw {secret}"]})
    stored = (tmp_path / "runs.sqlite").read_bytes().decode("utf-8", errors="replace")
    assert not leaked(secret, stored + json.dumps(runs.reasoning("run-1", "IAM-01")))


def test_chat_tool_results_reach_the_model_redacted() -> None:
    secret = aws_secret_key()
    body = "x" * 5990 + f" AWS_SECRET_ACCESS_KEY={secret}"  # across read_source's 6000-character cut

    class Sources:
        def resolve(self, citation: str) -> Any:
            return type("Target", (), {"title": citation, "facts": [], "body": body})()

    report = type("Report", (), {"company": "Acme"})()
    session = type("Session", (), {"sources": Sources(), "report": report, "reviews": {}})()
    seen: list[str] = []

    def respond(messages: list[Any], tools: Any) -> AIMessage:
        seen.extend(str(message.content) for message in messages if message.type == "tool")
        if not seen:
            return AIMessage(
                content="",
                tool_calls=[
                    {"name": "read_source", "args": {"citation": "policy:x.md#a"}, "id": "c1", "type": "tool_call"}
                ],
            )
        return AIMessage(content="done")

    ChatAgent(session, FakeChatModel(respond=respond)).answer("what does the policy say?", on_token=lambda _: None)
    assert seen and not leaked(secret, "\n".join(seen))
