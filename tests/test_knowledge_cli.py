import re

import pytest
import typer
from typer.testing import CliRunner

from knowledge.control_library import load_controls
from knowledge.store import KnowledgeStore
from tui.cli import app


def flat(output: str) -> str:
    """Rich wraps long lines to the terminal width; compare text with whitespace collapsed."""
    return " ".join(output.split())


def compact(output: str) -> str:
    """Rich may even break a long path mid-word: compare paths with all whitespace removed."""
    return "".join(output.split())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("ws")


@pytest.fixture(scope="module")
def auditor(workspace):
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["--workspace", str(workspace), *args])

    return run


@pytest.mark.slow
def test_search_works_on_a_fresh_workspace_and_shows_scores_and_snippets(auditor, workspace):
    result = auditor("criteria", "search", "how do we prove offboarding?")
    assert result.exit_code == 0, result.output
    assert (workspace / "knowledge").is_dir()
    rows = [
        line
        for line in result.output.splitlines()
        if line.startswith("│ CC") or line.startswith("│ A") or line.startswith("│ P") or line.startswith("│ C")
    ]
    assert rows[0].split("│")[1].strip() in ("CC6.2", "CC6.3")
    assert "0." in rows[0]  # the score column
    assert "control:" in result.output or "/pof/" in result.output


@pytest.mark.slow
def test_criteria_show_lists_points_of_focus_and_covering_controls(auditor):
    result = auditor("criteria", "show", "cc6.1")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "CC6.1/pof/1" in text and "CC6.1/pof/13" in text
    for control in load_controls().for_criterion("CC6.1"):
        assert control.id in text
    unknown = auditor("criteria", "show", "ZZ1")
    assert unknown.exit_code == 2 and "unknown criterion" in flat(unknown.output)


@pytest.mark.slow
def test_controls_list_filters_by_criterion(auditor):
    everything = auditor("controls", "list")
    assert everything.exit_code == 0 and f"{len(load_controls().controls)} controls" in everything.output
    result = auditor("controls", "list", "--criterion", "CC8.1")
    expected = load_controls().for_criterion("CC8.1")
    assert result.exit_code == 0 and f"{len(expected)} controls" in result.output
    assert all(c.id in flat(result.output) for c in expected)
    assert auditor("controls", "list", "--criterion", "XX9.9").exit_code == 2


def test_coverage_passes_when_every_criterion_has_a_control(auditor):
    result = auditor("coverage")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "61 of 61 criteria covered" in text
    addressed = len(load_controls().points_of_focus_addressed())
    assert f"{addressed} of 330 points of focus addressed by a control." in text
    assert "Controls citing no point of focus: PHY-01" in text
    assert "/pof/" not in text  # the unaddressed points are listed only on request


def test_coverage_lists_the_points_of_focus_no_control_addresses(auditor):
    library = load_controls()
    result = auditor("coverage", "--points-of-focus")
    assert result.exit_code == 0, result.output
    listed = set(re.findall(r"│ ((?:CC|A|C|PI|P)\d+\.\d+/pof/\d+)", result.output))
    assert len(listed) == 330 - len(library.points_of_focus_addressed())
    assert not listed & library.points_of_focus_addressed()
    assert "CC1.1/pof/1" in listed and "CC6.1/pof/4" not in listed  # tone at the top; MFA (IAM-01)


def test_coverage_fails_on_evidence_no_tool_or_check_can_give(monkeypatch):
    from knowledge.models import EvidenceSpec
    from tui.cli import knowledge as knowledge_cli

    library = load_controls()
    control = library.get("IAM-01")
    broken = control.model_copy(
        update={
            "evidence": [
                EvidenceSpec(tool="aws.iam.nope", check="bogus_check"),
                EvidenceSpec(
                    tool="logs.cloudtrail_events", params={"max_events": "many"}, check=control.evidence[0].check
                ),
            ]
        }
    )
    patched = type(library)(tuple(broken if c.id == "IAM-01" else c for c in library.controls))
    monkeypatch.setattr(knowledge_cli, "load_library", lambda: patched)
    result = CliRunner().invoke(app, ["coverage"])
    assert result.exit_code == 1
    text = flat(result.output)
    assert "control IAM-01: unknown tool 'aws.iam.nope'" in text and "unknown check 'bogus_check'" in text
    assert "tool logs.cloudtrail_events params: max_events" in text


@pytest.mark.slow
def test_build_is_idempotent(auditor, workspace):
    first = auditor("knowledge", "build")
    second = auditor("knowledge", "build")
    assert first.exit_code == second.exit_code == 0
    assert flat(first.output).split(" into ")[0] == flat(second.output).split(" into ")[0]
    assert KnowledgeStore.open(workspace / "knowledge").count()["criteria"] == 391


@pytest.mark.slow
def test_add_ingests_policies_skips_unsupported_and_reports_failures(auditor, workspace, tmp_path):
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "backup.md").write_text("# Backups\nDaily backups; restores tested quarterly.\n")
    (policies / "logo.png").write_bytes(b"\x89PNG")
    result = auditor("knowledge", "add", str(policies))
    assert result.exit_code == 0, result.output
    assert "policy:backup.md#backups" in result.output and "logo.png" in compact(result.output)
    found = KnowledgeStore.open(workspace / "knowledge").search(
        "restores tested quarterly", k=3, collections=("documents",)
    )
    assert found[0].id == "policy:backup.md#backups"

    (policies / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    result = auditor("knowledge", "add", str(policies / "broken.pdf"), str(policies / "backup.md"))
    assert result.exit_code == 1
    assert "broken.pdf:cannotreadasPDF" in compact(result.output) and "policy:backup.md#backups" in result.output


@pytest.mark.slow
def test_add_never_lets_two_files_share_a_citation_name(auditor, workspace, tmp_path):
    for team in ("security", "hr"):
        (tmp_path / team).mkdir()
        (tmp_path / team / "handbook-policy.md").write_text(f"# Scope\nThe {team} handbook.\n")
    first, second = tmp_path / "security" / "handbook-policy.md", tmp_path / "hr" / "handbook-policy.md"
    result = auditor("knowledge", "add", str(first), str(second))
    assert result.exit_code == 1
    assert "policy:handbook-policy.md#..., which already name" in flat(result.output)
    store = KnowledgeStore.open(workspace / "knowledge")
    assert "security handbook" in store.get("policy:handbook-policy.md#scope").text  # the first one is kept

    # Added again, alone or from its folder, a file keeps the name it was first cited by.
    result = auditor("knowledge", "add", str(first))
    assert result.exit_code == 0 and "policy:handbook-policy.md#scope" in result.output
    result = auditor("knowledge", "add", str(tmp_path / "security"))
    assert result.exit_code == 0 and "policy:handbook-policy.md#scope" in result.output
    assert store.get("policy:security/handbook-policy.md#scope") is None


@pytest.mark.slow
def test_add_names_a_missing_path_as_not_found(auditor, tmp_path):
    result = auditor("knowledge", "add", str(tmp_path / "nodir"))
    assert result.exit_code == 1 and "file not found" in flat(result.output)


def test_importing_the_command_line_loads_no_heavy_library():
    # `auditor --help` must stay quick: each command imports what it needs when it runs.
    import subprocess
    import sys

    heavy = ["chromadb", "langgraph", "detect_secrets", "boto3", "textual", "pydantic", "cryptography"]
    code = f"import sys; from tui.cli import app; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_the_command_line_collects_garbage_less_often():
    # CPython's default thresholds walk a run's millions of long-lived objects again and again (tools/process.py).
    import subprocess
    import sys

    code = "import gc; import tui.cli; print(gc.get_threshold())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "(10000, 20, 100)"


def test_a_search_in_a_workspace_that_searched_before_starts_no_chroma_client(tmp_path):
    # Its saved search index (postings and vectors) answers: a question costs no Chroma import, no BM25 fit and
    # no read of the control library.
    import subprocess
    import sys

    KnowledgeStore.open(tmp_path / "knowledge").search("offboarding", k=1)
    unneeded = ["chromadb", "rank_bm25", "knowledge.control_library"]
    code = (
        "import sys; from tui.cli import app\n"
        "try:\n    app(['-w', sys.argv[1], 'criteria', 'search', 'offboarding'])\n"
        f"except SystemExit as done:\n    print('loaded:', [m for m in {unneeded!r} if m in sys.modules], done.code)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert "CC6.2" in out.stdout or "CC6.3" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "loaded: [] 0"


def test_a_broken_control_library_met_while_building_the_store_is_reported_plainly(tmp_path, monkeypatch):
    from knowledge.control_library import ControlLibraryError

    def broken_library():
        raise ControlLibraryError(["knowledge/controls/iam.yaml:3: control IAM-01: unknown criterion CC9.9"])

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no store built on this machine yet
    monkeypatch.setattr("knowledge.control_library.load_controls", broken_library)
    result = CliRunner().invoke(app, ["-w", str(tmp_path / "ws"), "criteria", "search", "offboarding"])
    assert result.exit_code == 2
    assert "the control library has problems" in flat(result.output) and "unknown criterion CC9.9" in result.output


def test_help_lists_every_command_from_source_as_its_loaded_help_reads():
    # `auditor --help` reads each command's help from its module's source instead of importing it: the text
    # must be what the imported command says, and no command module may be imported to list them.
    import inspect
    import subprocess
    import sys

    from tui.cli import COMMANDS, _summary

    group = typer.main.get_command(app)
    for name, (module, attribute) in COMMANDS.items():
        loaded = group.get_command(None, name)
        # The listing shows the help's first paragraph as one line.
        first_paragraph = inspect.cleandoc(loaded.help or "").split("\n\n")[0]
        assert _summary(module, attribute) == " ".join(first_paragraph.split()), name
    code = "import sys; from tui.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
    code += "print(sorted(m for m in sys.modules if m.startswith('tui.cli.')), file=sys.stderr)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert all(name in done.stdout for name in COMMANDS) and done.stderr.strip() == "['tui.cli.state']"
