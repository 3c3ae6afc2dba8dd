"""The demo company's code: a real git repository for "Acme AI", made with the git CLI.

Three engineers commit over a few weeks. The repository has CODEOWNERS and a CI workflow, but no
Dependabot or Renovate configuration, its commits are unsigned, and one commit added an AWS access key
(AWS's own documented example key, not a real one) that the next commit removed: it stays in history.
Dates, names and emails of that history are fixed, so its commit ids are the same on every machine.
Two recent changes to a prompt follow, dated relative to the day the repository is made (inside the 90 days
the AI change checks read), so their ids change from day to day: pull request #43 squash-merged, and a
follow-up pushed straight to main (tools/demo/github.py serves #43 with its merge commit).
What the repository checks find is written down in tools/demo/expected/repos.yaml and ai.yaml.
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

DEMO_REPO_NAME = "acme-ai/platform"
DEMO_REMOTE = "https://github.com/acme-ai/platform.git"

AUTHORS = {
    "maya": ("Maya Chen", "maya@acme-ai.example"),
    "leo": ("Leo Park", "leo@acme-ai.example"),
    "priya": ("Priya Raman", "priya@acme-ai.example"),
}

README = """\
# Acme AI platform

Model-serving API and batch inference jobs for Acme AI's document models.
"""

SERVER = """\
from fastapi import FastAPI

app = FastAPI(title="Acme AI inference")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
"""

REQUIREMENTS = "fastapi==0.110.0\nuvicorn==0.29.0\nboto3==1.34.0\n"

CI_WORKFLOW = """\
name: ci
on:
  pull_request:
  push:
    branches: [main]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: pip install -r requirements.txt pytest
      - run: pytest -q
"""

CODEOWNERS = """\
# Platform team reviews everything; ML owns the model code.
*              @acme-ai/platform
/app/models/   @acme-ai/ml
/.github/      @acme-ai/platform @maya-acme
"""

# AWS's documented example credentials (docs.aws.amazon.com, "Understanding and getting your security
# credentials"): the shape of a real key, valid nowhere.
SETTINGS_WITH_KEY = """\
MODEL_BUCKET=acme-ai-model-artifacts
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
"""

SETTINGS_WITHOUT_KEY = """\
MODEL_BUCKET=acme-ai-model-artifacts
AWS_REGION=us-east-1
# Credentials come from the instance role; never put keys here.
"""

BATCH = """\
import boto3


def run_batch(bucket: str, prefix: str) -> int:
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return len(listed.get("Contents", []))
"""

# Model providers in use (AI-04): Anthropic first, OpenAI as the fallback, Cohere for reranking.
LLM_CLIENT = """\
import anthropic
import openai

PRIMARY = anthropic.Anthropic(base_url="https://api.anthropic.com")
FALLBACK = openai.OpenAI()


def answer(question: str) -> str:
    prompt = open("prompts/support.prompt", encoding="utf-8").read()
    reply = PRIMARY.messages.create(model="claude-sonnet-4-5", max_tokens=512, system=prompt,
                                    messages=[{"role": "user", "content": question}])
    return reply.content[0].text
"""

RERANK = """\
import cohere


def rerank(query: str, passages: list[str]) -> list[str]:
    ranked = cohere.ClientV2().rerank(model="rerank-v3.5", query=query, documents=passages)
    return [passages[result.index] for result in ranked.results]
"""

SUPPORT_PROMPT = "You answer questions about Acme AI's document models. Cite the help centre; never guess.\n"

ROUTING = "default: anthropic/claude-sonnet-4-5\nfallback: openai/gpt-4o\n"

# (author date, author, subject, {path: new content})
HISTORY: list[tuple[str, str, str, dict[str, str]]] = [
    (
        "2025-01-06T09:12:00+00:00",
        "maya",
        "Initial model-serving service",
        {"README.md": README, "app/server.py": SERVER, "requirements.txt": REQUIREMENTS},
    ),
    ("2025-01-09T14:30:00+00:00", "leo", "Add CI workflow", {".github/workflows/ci.yml": CI_WORKFLOW}),
    ("2025-01-15T10:05:00+00:00", "priya", "Add CODEOWNERS", {".github/CODEOWNERS": CODEOWNERS}),
    (
        "2025-02-03T17:48:00+00:00",
        "leo",
        "Configure S3 access for model artifacts",
        {"config/settings.env": SETTINGS_WITH_KEY},
    ),
    (
        "2025-02-04T08:20:00+00:00",
        "leo",
        "Remove hard-coded credentials, use the instance role",
        {"config/settings.env": SETTINGS_WITHOUT_KEY},
    ),
    ("2025-03-10T11:00:00+00:00", "maya", "Add batch inference job", {"app/batch.py": BATCH}),
    (
        "2025-04-02T10:30:00+00:00",
        "priya",
        "Answer support questions with an LLM",
        {"app/llm.py": LLM_CLIENT, "prompts/support.prompt": SUPPORT_PROMPT, "routing.yaml": ROUTING},
    ),
    ("2025-04-09T15:10:00+00:00", "leo", "Rerank retrieved passages", {"app/rerank.py": RERANK}),
]

SUMMARIZE_PROMPT = "Summarise the document in three sentences. Keep figures exact; never add facts.\n"
SUMMARIZE_PROMPT_PUSHED = "Summarise the document in two sentences. Keep figures exact.\n"
# (days before the day the repository is made, author, subject, {path: new content}). A squash merge names its
# pull request as "(#N)" at the end of the subject, as GitHub writes it.
RECENT: list[tuple[int, str, str, dict[str, str]]] = [
    (20, "maya", "Shorter summaries in the summarize prompt (#43)", {"prompts/summarize.prompt": SUMMARIZE_PROMPT}),
    (6, "leo", "Summaries: two sentences, not three", {"prompts/summarize.prompt": SUMMARIZE_PROMPT_PUSHED}),
]
SQUASH_MERGE = re.compile(r"\(#(\d+)\)$")


def _git(path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    # The user's own git config (signing, hooks, templates) must not change the demo's commits.
    base = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
    result = subprocess.run(
        ["git", "-C", str(path), *args], env={**base, **(env or {})}, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"demo repository {path}: git {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


def create_demo_repo(path: Path, today: date | None = None) -> Path:
    """Create the Acme AI repository at path (an empty or new folder); returns path. The recent commits are
    dated relative to `today` (default: today, UTC).

    A folder that already holds the demo repository is left as it is.
    """
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        if (path / ".git").exists() and _git(path, "config", "--get", "remote.origin.url").strip() == DEMO_REMOTE:
            return path
        raise FileExistsError(f"{path}: folder is not empty; the demo repository needs an empty folder")
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "--quiet", "--initial-branch=main")
    _git(path, "remote", "add", "origin", DEMO_REMOTE)
    today = today or datetime.now(UTC).date()
    recent = [
        (datetime.combine(today - timedelta(days=days), time(10, 0), UTC).isoformat(), author, subject, files)
        for days, author, subject, files in RECENT
    ]
    for stamp, author, subject, files in HISTORY + recent:
        for relative, content in files.items():
            target = path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            _git(path, "add", "--", relative)
        name, email = AUTHORS[author]
        identity = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": stamp,
        }
        _git(path, "commit", "--quiet", "--no-gpg-sign", "--no-verify", "-m", subject, env=identity)
    return path


def squash_merges(path: Path) -> dict[int, str]:
    """Pull request number -> the commit that squash-merged it on the checked-out branch: what GitHub reports as
    the pull request's merge_commit_sha."""
    merges = {}
    for line in _git(path, "log", "--first-parent", "--format=%H %s").splitlines():
        sha, _, subject = line.partition(" ")
        found = SQUASH_MERGE.search(subject)
        if found:
            merges[int(found.group(1))] = sha
    return merges
