"""`git.repository_files` cuts long files only after redacting them whole: a secret straddling the cut leaves
no fragment in the stored evidence (a real repository, the real collector, the real evidence locker)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tools.catalog import TOOLS
from tools.config import AuditorConfig
from tools.context import CollectContext
from tools.locker import EvidenceLocker
from tools.redact import redact
from tools.repos import collectors  # noqa: F401  (registers the collectors)

WORKFLOW = ".github/workflows/deploy.yml"
# A GitHub token on a line with no hint word: only its full 40-character form is recognised.
TOKEN = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
PREFIX = "on: push\njobs:\n  deploy:\n    steps:\n      - run: ./deploy.sh --quiet "
CUT = len(PREFIX) + 20  # the cut falls in the middle of the token


def test_a_secret_straddling_the_cut_is_redacted_whole(tmp_path: Path) -> None:
    content = PREFIX + TOKEN + " now\n" + "      - run: echo done\n" * 10
    # Cut first, then redacted, the token's first half would be stored: too short to be recognised.
    assert TOKEN[:20] in redact(content[:CUT]).data

    repo = tmp_path / "repo"
    (repo / WORKFLOW).parent.mkdir(parents=True)
    (repo / WORKFLOW).write_text(content)
    identity = {"GIT_AUTHOR_NAME": "Dana", "GIT_AUTHOR_EMAIL": "d@example.com", "GIT_CONFIG_GLOBAL": os.devnull}
    identity |= {"GIT_COMMITTER_NAME": "Dana", "GIT_COMMITTER_EMAIL": "d@example.com"}
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-q", "--no-gpg-sign", "-m", "ci")):
        subprocess.run(["git", "-C", str(repo), *args], env={**os.environ, **identity}, check=True)

    spec = TOOLS["git.repository_files"]
    config = AuditorConfig.model_validate({"repos": {"local": [str(repo)]}})
    params = {"max_file_bytes": CUT}
    data = spec.func(CollectContext(config), spec.args_model(**params))
    entry = data["repos"][0]
    assert entry["contents_truncated"] == [WORKFLOW]
    assert entry["contents"][WORKFLOW] == PREFIX + "[REDACTED:github_token] now\n"[: CUT - len(PREFIX)]
    assert entry["redacted_before_cut"] == {WORKFLOW: {"github_token": 1}}

    with EvidenceLocker(tmp_path / "locker.sqlite", tmp_path / "blobs") as locker:
        locker.put("run-1", "git", spec.name, "git cat-file", params, data)
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("blobs/**/*") if path.is_file())
    stored += (tmp_path / "locker.sqlite").read_bytes()
    assert not [TOKEN[i : i + 10] for i in range(len(TOKEN) - 9) if TOKEN[i : i + 10].encode() in stored]

    # A file within the size asked for is returned whole, for the locker to redact as it stores it.
    whole = spec.func(CollectContext(config), spec.args_model())["repos"][0]
    assert whole["contents"][WORKFLOW] == content and whole["redacted_before_cut"] == {}
