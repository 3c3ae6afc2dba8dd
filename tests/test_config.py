import pytest
from typer.testing import CliRunner

from tools.config import ConfigError, load_config
from tools.findings import Severity
from tui.cli import app


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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # An empty workspace is refused, not read as the current folder.
        ('workspace = ""\n', "auditor.toml: key 'workspace': Value error, must not be empty"),
        ("company = \n", "auditor.toml: not valid TOML"),
        ('[audit]\nperiod = "2026"\n', r"auditor.toml: key 'audit.period': .*write two dates, first and last day"),
        ('[audit]\nperiod = "2026-12-31..2026-01-01"\n', "auditor.toml: key 'audit.period': .*ends before it starts"),
        ('[audit]\nperiod = "2026-02-30..2026-12-31"\n', "auditor.toml: key 'audit.period': .*write two dates"),
    ],
    ids=["empty-workspace", "invalid-toml", "audit-period-one-date", "audit-period-reversed", "audit-period-no-day"],
)
def test_a_bad_config_is_refused_naming_the_file(tmp_path, text, message):
    path = tmp_path / "auditor.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_the_audit_period_is_read_as_its_first_and_last_day(tmp_path):
    from datetime import date

    path = tmp_path / "auditor.toml"
    path.write_text('[audit]\nperiod = "2026-01-01..2026-06-30"\n')
    assert load_config(path).audit.bounds == (date(2026, 1, 1), date(2026, 6, 30))
    path.write_text("[audit]\n")
    assert load_config(path).audit.bounds is None  # unset: each run's quarter is under review


def test_remediation_due_days_by_severity(tmp_path):
    path = tmp_path / "auditor.toml"
    path.write_text("[remediation]\ndue_days = {critical = 3}\n")
    # A partial table keeps the defaults for the severities it leaves out.
    assert load_config(path).remediation.due_days == {
        Severity.CRITICAL: 3,
        Severity.HIGH: 30,
        Severity.MEDIUM: 90,
        Severity.LOW: 180,
    }
    path.write_text("[remediation]\ndue_days = {urgent = 3, low = -1}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "'remediation.due_days.urgent" in str(error.value) and "'remediation.due_days.low'" in str(error.value)


def test_an_evidence_ttl_of_zero_means_never_reuse_and_is_accepted(tmp_path):
    path = tmp_path / "auditor.toml"
    path.write_text("[run]\nevidence_ttl_hours = 0\n")
    assert load_config(path).run.evidence_ttl_hours == 0
    path.write_text("[run]\nevidence_ttl_hours = -1\n")
    with pytest.raises(ConfigError, match="key 'run.evidence_ttl_hours': Input should be greater than or equal to 0"):
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


@pytest.mark.parametrize(
    "text",
    [
        "[run]\nconcurrency = 0\n",
        "[run]\nconcurency = 4\n",
        '[audit]\nperiod = "2026-Q5"\n',
        "[run\n",
        '[aws]\nregions = "us-east-1"\n',
        None,  # no file at the path given
    ],
)
def test_a_bad_configuration_is_a_usage_error_exit_2_for_run_and_history(tmp_path, text):
    """README "Exit codes": 2 is a usage error, before anything runs; 1 is a run that failed."""
    path = tmp_path / "bad.toml"
    if text is not None:
        path.write_text(text)
    for command in (["run"], ["history"]):
        result = CliRunner().invoke(app, ["--config", str(path), *command])
        assert result.exit_code == 2 and str(path) in " ".join(result.output.split()), (command, result.output)
