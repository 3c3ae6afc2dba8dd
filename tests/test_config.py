import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.config import ConfigError, load_config


def test_defaults_when_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.llm.provider == "offline" and config.aws.regions == ["us-east-1"]


def test_errors_name_the_file_and_key(tmp_path):
    path = tmp_path / "auditor.toml"
    path.write_text('[aws]\nregions = "us-east-1"\n[llm]\nprovider = "gpt"\n[typo]\nx = 1\n')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message
    assert "'aws.regions'" in message and "'llm.provider'" in message and "'typo'" in message


def test_an_empty_workspace_is_refused_not_read_as_the_current_folder(tmp_path):
    path = tmp_path / "auditor.toml"
    path.write_text('workspace = ""\n')
    with pytest.raises(ConfigError, match="auditor.toml: key 'workspace': Value error, must not be empty"):
        load_config(path)


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "auditor.toml"
    path.write_text("company = \n")
    with pytest.raises(ConfigError, match="auditor.toml: not valid TOML"):
        load_config(path)


def test_init_writes_a_config_that_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert load_config(tmp_path / "auditor.toml").company == "My Company"
    assert runner.invoke(app, ["init"]).exit_code == 2  # refuses to overwrite


def test_cli_reports_config_errors_with_file(tmp_path):
    bad = tmp_path / "auditor.toml"
    bad.write_text("[run]\nconcurrency = 0\n")
    for command in (["coverage"], ["controls", "list"], ["knowledge", "build"]):
        # Every command reports a broken file up front, even one that needs none of it.
        result = CliRunner().invoke(app, ["--config", str(bad), *command])
        assert result.exit_code == 2, command
        assert f"{bad}: key 'run.concurrency'" in " ".join(result.output.split()), command


def test_help_works_with_a_broken_config(tmp_path):
    bad = tmp_path / "auditor.toml"
    bad.write_text("[run]\nconcurrency = 0\n")
    result = CliRunner().invoke(app, ["--config", str(bad), "coverage", "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_unreadable_config_files_are_named_not_tracebacks(tmp_path):
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('company = "Caf\xe9"\n'.encode("latin-1"))
    for path, message in ((tmp_path, "is a directory"), (latin1, "not UTF-8 text")):
        result = CliRunner().invoke(app, ["--config", str(path), "coverage"])
        assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    result = CliRunner().invoke(app, ["--config", str(tmp_path / "nodir" / "auditor.toml"), "init"])
    assert result.exit_code == 2 and "does not exist" in " ".join(result.output.split())
