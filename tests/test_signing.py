"""The signing key: where it lives, how it is created, and the head lines it signs."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tools.config import AuditorConfig, IntegrityConfig
from tools.signing import KEY_ENV, SigningError, load_signer, make_anchor, read_anchor
from tui.cli import app


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "config"


def test_keys_init_creates_a_private_key_in_the_config_folder_once(config_home: Path) -> None:
    first = CliRunner().invoke(app, ["--workspace", "ws", "keys", "init"])
    key = config_home / "agentic-auditor" / "signing.key"
    assert first.exit_code == 0, first.output
    assert key.stat().st_mode & 0o777 == 0o600 and "created signing key" in first.output
    again = CliRunner().invoke(app, ["--workspace", "ws", "keys", "init"])
    assert again.exit_code == 0 and "created" not in again.output and str(key) in again.output
    exported = CliRunner().invoke(app, ["--workspace", "ws", "keys", "export"])
    assert exported.output.strip() == load_signer(AuditorConfig()).public.text()


def test_a_key_inside_the_workspace_is_refused(config_home: Path, tmp_path: Path) -> None:
    config = AuditorConfig(workspace=tmp_path / "ws", integrity=IntegrityConfig(key_file=tmp_path / "ws" / "k.key"))
    with pytest.raises(SigningError, match="inside the workspace"):
        load_signer(config, create=True)
    assert not (tmp_path / "ws" / "k.key").exists()


def test_a_key_from_the_environment_wins_and_no_file_is_written(
    config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, base64.b64encode(bytes(range(32))).decode())
    signer = load_signer(AuditorConfig(), create=True)
    assert signer.source == f"${KEY_ENV}" and not config_home.exists()
    monkeypatch.setenv(KEY_ENV, "not base64!")
    with pytest.raises(SigningError, match=KEY_ENV):
        load_signer(AuditorConfig())


def test_a_head_line_reads_back_only_with_its_key(config_home: Path) -> None:
    signer = load_signer(AuditorConfig(), create=True)
    line = make_anchor(signer, {"review": [3, "ab" * 32]})
    assert read_anchor(line, signer.public)["review"] == [3, "ab" * 32]
    other = load_signer(AuditorConfig(integrity=IntegrityConfig(key_file=config_home / "other.key")), create=True)
    with pytest.raises(SigningError, match="not signed by this key"):
        read_anchor(line, other.public)
