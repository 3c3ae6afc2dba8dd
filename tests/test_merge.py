"""`auditor merge`: one report from one run per account, each part verified first; the README's examples."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agent.integrity import verify_workspace
from agent.merge import MANIFEST, MANIFEST_SIGNATURE, PartRefused, merge_parts, verify_merged
from agent.report_schema import ReadinessReport
from knowledge.catalog import load_catalog
from tools.aws.accounts import role_arn
from tools.config import DEFAULT_DUE_DAYS, AuditorConfig, AwsConfig
from tools.findings import Status
from tools.signing import load_signer
from tools.workspace import Workspace
from tui.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"
LENGTH_CHECK = "aws.iam.password_policy_length"  # passes in the first member account, fails in the second
ROOT_MFA = "aws.iam.root_mfa"  # reads aws.iam.account_summary: the part's own account id


@pytest.fixture(scope="module")
def parts(
    moto_server: str,
    aws_organization: Callable[[int], list[str]],
    tmp_path_factory: pytest.TempPathFactory,
    knowledge_template: Path,
) -> Iterator[tuple[list[Path], dict[Path, str]]]:
    """Two real signed runs, each as a CI matrix job runs: its own workspace, signed in to one member account
    through an AWS profile with role_arn. Yields the workspaces and each one's signed head line."""
    import shutil

    from agent.api import run_proof

    members = aws_organization(2)
    root = tmp_path_factory.mktemp("parts")
    profiles = root / "aws-config"
    profiles.write_text(
        "[profile source]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
        + "".join(
            f"[profile {account}]\nrole_arn = {role_arn(account, 'AuditorReadOnly')}\nsource_profile = source\n"
            for account in members
        )
    )
    folders, heads = [], {}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_CONFIG_FILE", str(profiles))
        env.setenv("AWS_ENDPOINT_URL", moto_server)  # the sign-in client's endpoint too
        for account in members:
            workspace = Workspace.at(root / f"part-{account}")
            shutil.copytree(knowledge_template, workspace.chroma_dir)
            config = AuditorConfig(
                company="Org Co", workspace=workspace.root, aws=AwsConfig(profile=account, endpoint_url=moto_server)
            )
            outcome = run_proof(config, workspace, check_ids=[LENGTH_CHECK, ROOT_MFA], model=None)
            folders.append(workspace.root)
            heads[workspace.root] = outcome.signed_head
    yield folders, heads


def _signer():
    return load_signer(AuditorConfig())


def _public():
    return _signer().public


@pytest.mark.slow
def test_merge_keeps_every_part_and_adds_the_account_column(parts, tmp_path: Path) -> None:
    folders, heads = parts
    out = tmp_path / "merged"
    report, merged = merge_parts(folders, out, _public(), _signer(), load_catalog(), DEFAULT_DUE_DAYS)

    accounts = [part.account for part in merged]
    assert all(account and re.fullmatch(r"\d{12}", account) for account in accounts) and len(set(accounts)) == 2
    length = [f for c in report.controls for f in c.findings if f.check == LENGTH_CHECK]
    assert sorted((f.account, f.status) for f in length) == sorted(
        zip(accounts, [Status.PASS, Status.FAIL], strict=True)
    )
    assert [item.account for item in report.fix_list if item.check == LENGTH_CHECK] == [accounts[1]]
    # A control passes only if it passed in every account.
    control = next(c for c in report.controls if any(f.check == LENGTH_CHECK for f in c.findings))
    assert control.status != "pass"

    written = ReadinessReport.model_validate_json((out / "report.json").read_text())
    assert written == report
    assert f"account {accounts[1]}, `aws-account`" in (out / "report.md").read_text()
    assert (out / "report.csv").read_text().splitlines()[0].split(",")[5] == "account"
    assert "<th>Account</th>" in (out / "report.html").read_text()

    manifest = json.loads((out / MANIFEST).read_text())
    for entry, part in zip(manifest["parts"], merged, strict=True):
        assert entry["signed_head"] == heads[part.folder] and entry["signed_head"].startswith("auditor-head:")
        assert entry["evidence_head"] == part.report.run.evidence_head.model_dump()
        copy = Workspace.at(out / entry["copy"])
        assert not copy.chroma_dir.exists()
        assert verify_workspace(copy, _public(), [entry["signed_head"]]).ok  # each part checks again on its own


@pytest.mark.slow
def test_a_part_that_does_not_verify_is_refused_and_nothing_is_written(parts, tmp_path: Path) -> None:
    folders, _ = parts
    tampered = tmp_path / "tampered"
    import shutil

    shutil.copytree(folders[1], tampered)
    report_json = next((tampered / "reports").glob("*/report.json"))
    report_json.write_text(report_json.read_text().replace('"fail"', '"pass"'))
    out = tmp_path / "merged"
    with pytest.raises(PartRefused, match=rf"{re.escape(str(tampered))}: does not verify"):
        merge_parts([folders[0], tampered], out, _public(), _signer(), load_catalog(), DEFAULT_DUE_DAYS)
    assert not out.exists()

    result = CliRunner().invoke(app, ["merge", str(folders[0]), str(tampered), "-o", str(out)])
    assert result.exit_code == 1 and "does not verify" in result.output and not out.exists()
    result = CliRunner().invoke(app, ["merge", str(folders[0]), str(folders[0]), "-o", str(out)])
    assert result.exit_code == 1 and "more than one part read" in result.output
    # What the command cannot use is not a part that fails to verify: exit 2, as for any usage error.
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["merge", str(folders[0]), str(empty), "-o", str(out)])
    assert result.exit_code == 2 and "no report to merge" in " ".join(result.output.split()) and not out.exists()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "report.json").write_text("{}")
    result = CliRunner().invoke(app, ["merge", str(folders[0]), "-o", str(tmp_path / "used")])
    assert result.exit_code == 2 and "not empty;" in " ".join(result.output.split())


@pytest.mark.slow
def test_an_account_in_two_parts_is_refused_and_an_organization_part_is_named_by_its_run(
    parts, moto_server: str, tmp_path: Path, knowledge_template: Path
) -> None:
    """An organization run that read the first member account, and that account's own run: merged, each of its
    findings would count twice. Refused, naming the account and both folders."""
    import shutil

    from agent.api import run_proof
    from tools.config import AwsOrganizationConfig

    folders, _ = parts
    member = folders[0].name.removeprefix("part-")  # the parts fixture names each folder by its account
    workspace = Workspace.at(tmp_path / "organization")
    shutil.copytree(knowledge_template, workspace.chroma_dir)
    organization = AwsOrganizationConfig(role_name="AuditorReadOnly", accounts=[member])
    config = AuditorConfig(
        company="Org Co", workspace=workspace.root, aws=AwsConfig(endpoint_url=moto_server, organization=organization)
    )
    outcome = run_proof(config, workspace, check_ids=[LENGTH_CHECK], model=None)
    out = tmp_path / "merged"
    with pytest.raises(PartRefused, match=rf"more than one part read {member} \(.*organization.*part-{member}"):
        merge_parts([workspace.root, folders[0]], out, _public(), _signer(), load_catalog(), DEFAULT_DUE_DAYS)
    assert not out.exists()
    # Merged alone, the organization part is named by its run, never by its folder's name.
    _, merged = merge_parts([workspace.root], out, _public(), _signer(), load_catalog(), DEFAULT_DUE_DAYS)
    assert [part.label for part in merged] == [f"run-{outcome.report.run.id}"]
    assert (out / "parts" / f"run-{outcome.report.run.id}" / "runs.sqlite").is_file()


@pytest.mark.slow
def test_a_merge_of_a_part_that_could_not_read_a_source_exits_4_naming_it(
    moto_server: str, tmp_path: Path, knowledge_template: Path
) -> None:
    """As `auditor run` does: the merged report is written, signed and incomplete; CI sees exit 4."""
    import shutil

    from agent.api import run_proof
    from tools.config import AwsOrganizationConfig

    workspace = Workspace.at(tmp_path / "organization")
    shutil.copytree(knowledge_template, workspace.chroma_dir)
    organization = AwsOrganizationConfig(role_name="AuditorReadOnly", accounts=["999999999999"])  # not a member
    config = AuditorConfig(
        company="Org Co", workspace=workspace.root, aws=AwsConfig(endpoint_url=moto_server, organization=organization)
    )
    run_proof(config, workspace, check_ids=[LENGTH_CHECK], model=None)
    out = tmp_path / "merged"
    result = CliRunner().invoke(app, ["merge", str(workspace.root), "-o", str(out)], terminal_width=300)
    assert result.exit_code == 4, result.output
    said = " ".join(result.output.split())  # as the console wrapped it
    assert "account 999999999999 was not read" in said and "merged report is incomplete" in said
    assert (out / "report.json").is_file() and verify_merged(out, _public()) == []


@pytest.mark.slow
def test_the_merge_command_prints_each_verified_part(parts, tmp_path: Path) -> None:
    folders, _ = parts
    out = tmp_path / "merged"
    result = CliRunner().invoke(app, ["merge", *map(str, folders), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.count("verified") == 2 and f"Merged 2 part(s) into {out}" in result.output.replace("\n", "")
    result = CliRunner().invoke(app, ["verify", "--merged", str(out)])
    assert result.exit_code == 0 and f"{out}: OK" in result.output.replace("\n", ""), result.output


@pytest.mark.slow
def test_a_merged_report_changed_after_the_merge_is_caught(parts, tmp_path: Path) -> None:
    """The merged report is signed (parts.signature.json over parts.json, which lists each report file's sha256),
    and each part's copy checks again: a status turned to pass anywhere, or a rewritten manifest, is named."""
    import shutil

    folders, _ = parts
    out = tmp_path / "merged"
    merge_parts(folders, out, _public(), _signer(), load_catalog(), DEFAULT_DUE_DAYS)
    assert verify_merged(out, _public()) == []

    def tampered(change: Callable[[Path], None]) -> list[str]:
        copy = tmp_path / f"copy-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(out, copy)
        change(copy)
        return verify_merged(copy, _public())

    def to_pass(path: Path) -> None:
        path.write_text(path.read_text().replace('"fail"', '"pass"'))

    assert tampered(lambda copy: to_pass(copy / "report.json")) == [
        "report.json: changed since the merge (its sha256 differs from parts.json's)"
    ]

    def rewrite_manifest(copy: Path) -> None:  # the report changed and its new sha256 written into parts.json
        to_pass(copy / "report.json")
        manifest = json.loads((copy / MANIFEST).read_text())
        manifest["files"]["report.json"] = hashlib.sha256((copy / "report.json").read_bytes()).hexdigest()
        (copy / MANIFEST).write_text(json.dumps(manifest))

    assert tampered(rewrite_manifest) == [
        f"{MANIFEST}: its signature does not verify with key {_public().key_id}: the manifest was rewritten"
    ]
    assert tampered(lambda copy: (copy / MANIFEST_SIGNATURE).unlink()) == [
        f"{MANIFEST_SIGNATURE}: missing: the manifest is not signed"
    ]
    part_problems = tampered(lambda copy: to_pass(next((copy / "parts").glob("*/reports/*/report.json"))))
    assert len(part_problems) == 1 and "does not verify" in part_problems[0], part_problems
    gone = tampered(lambda copy: shutil.rmtree(next((copy / "parts").glob("*/reports"))))
    assert len(gone) == 1 and "no report to merge" in gone[0], gone

    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    to_pass(broken / "report.json")
    result = CliRunner().invoke(app, ["verify", "--merged", str(broken)])
    assert result.exit_code == 1 and "report.json: changed since the merge" in result.output, result.output


def _readme_yaml(title: str) -> list[dict]:
    """The YAML documents of the README's fenced block that follows the line `title`."""
    text = README.read_text(encoding="utf-8")
    block = re.search(rf"{re.escape(title)}\n+```yaml\n(.*?)```", text, re.S)
    assert block, f"README has no yaml block after {title!r}"
    return [document for document in yaml.safe_load_all(block.group(1)) if document]


def _auditor_commands(script: str) -> list[list[str]]:
    return [shlex.split(line.strip())[1:] for line in script.splitlines() if line.strip().startswith("auditor ")]


def test_the_readme_ci_matrix_runs_one_account_per_job_then_merges_them() -> None:
    (workflow,) = _readme_yaml("CI matrix (GitHub Actions):")
    audit, merge = workflow["jobs"]["audit"], workflow["jobs"]["merge"]
    accounts = audit["strategy"]["matrix"]["account"]
    assert len(accounts) >= 2 and all(re.fullmatch(r"\d{12}", str(a)) for a in accounts)
    steps = audit["steps"]
    aws = next(s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials"))
    assert "${{ matrix.account }}" in aws["with"]["role-to-assume"]
    assert any(["--workspace", "part", "run"] == cmd[:3] for s in steps for cmd in _auditor_commands(s.get("run", "")))
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert "${{ matrix.account }}" in upload["with"]["name"]
    assert merge["needs"] == "audit"
    # An incomplete account (exit 4) still uploads its signed part, and the merge still runs: it says what is missing.
    assert (audit["strategy"]["fail-fast"], upload["if"], merge["if"]) == (False, "always()", "always()")
    merge_commands = [cmd for s in merge["steps"] for cmd in _auditor_commands(s.get("run", ""))]
    assert any(cmd[0] == "merge" and "-o" in cmd for cmd in merge_commands)
    assert workflow["permissions"]["id-token"] == "write"


def test_the_readme_indexed_job_runs_one_account_per_index_then_merges_them() -> None:
    job, merge = _readme_yaml("Kubernetes Indexed Job:")
    spec = job["spec"]
    assert job["kind"] == merge["kind"] == "Job" and spec["completionMode"] == "Indexed"
    container = spec["template"]["spec"]["containers"][0]
    script = container["command"][-1]
    accounts = re.search(r"ACCOUNTS=\(([\d ]+)\)", script).group(1).split()
    assert len(accounts) == spec["completions"] and spec["parallelism"] <= spec["completions"]
    assert "${ACCOUNTS[$JOB_COMPLETION_INDEX]}" in script
    assert "--workspace /parts/$ACCOUNT run" in script
    merge_script = merge["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "auditor merge /parts/*/ -o /merged" in merge_script
    claims = set()
    for document in (job, merge):
        pod = document["spec"]["template"]["spec"]
        volumes = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
        mounts = {m["mountPath"]: (volumes[m["name"]], m.get("subPath")) for m in pod["containers"][0]["volumeMounts"]}
        assert mounts["/parts"][1] == "parts"  # the parts the job wrote are the ones the merge reads
        claims.add(mounts["/parts"][0])
    assert len(claims) == 1
    assert mounts["/merged"][0] in claims and mounts["/merged"][1] != "parts"  # the merged folder is kept, apart
    assert "source_profile = pod" in script and "$AWS_WEB_IDENTITY_TOKEN_FILE" in script
