"""The demo company's code: a real git repository for "Acme AI", made with the git CLI.

Three engineers commit over a few weeks. The repository has CODEOWNERS and a CI workflow, but no
Dependabot or Renovate configuration, its commits are unsigned, and one commit added an AWS access key
(AWS's own documented example key, not a real one) that the next commit removed: it stays in history.
Dates, names and emails are fixed, so the commit ids are the same on every machine.
What the repository checks find is written down in tools/demo/expected/repos.yaml.
"""

from __future__ import annotations

import os
import subprocess
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
    ("2025-01-06T09:12:00+00:00", "maya", "Initial model-serving service",
     {"README.md": README, "app/server.py": SERVER, "requirements.txt": REQUIREMENTS}),
    ("2025-01-09T14:30:00+00:00", "leo", "Add CI workflow", {".github/workflows/ci.yml": CI_WORKFLOW}),
    ("2025-01-15T10:05:00+00:00", "priya", "Add CODEOWNERS", {".github/CODEOWNERS": CODEOWNERS}),
    ("2025-02-03T17:48:00+00:00", "leo", "Configure S3 access for model artifacts",
     {"config/settings.env": SETTINGS_WITH_KEY}),
    ("2025-02-04T08:20:00+00:00", "leo", "Remove hard-coded credentials, use the instance role",
     {"config/settings.env": SETTINGS_WITHOUT_KEY}),
    ("2025-03-10T11:00:00+00:00", "maya", "Add batch inference job", {"app/batch.py": BATCH}),
    ("2025-04-02T10:30:00+00:00", "priya", "Answer support questions with an LLM",
     {"app/llm.py": LLM_CLIENT, "prompts/support.prompt": SUPPORT_PROMPT, "routing.yaml": ROUTING}),
    ("2025-04-09T15:10:00+00:00", "leo", "Rerank retrieved passages", {"app/rerank.py": RERANK}),
]  # fmt: skip


def _git(path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    # The user's own git config (signing, hooks, templates) must not change the demo's commits.
    base = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
    result = subprocess.run(
        ["git", "-C", str(path), *args], env={**base, **(env or {})}, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"demo repository {path}: git {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


def create_demo_repo(path: Path) -> Path:
    """Create the Acme AI repository at path (an empty or new folder); returns path.

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
    for date, author, subject, files in HISTORY:
        for relative, content in files.items():
            target = path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            _git(path, "add", "--", relative)
        name, email = AUTHORS[author]
        identity = {
            "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": date,
        }  # fmt: skip
        _git(path, "commit", "--quiet", "--no-gpg-sign", "--no-verify", "-m", subject, env=identity)
    return path
