"""The evidence package's manifest is signed with the workspace key (agent/package.py): a package whose files and
manifest were rewritten to match is caught by `auditor verify --package`, also on a copy with --public-key."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from agent.package import MANIFEST, MANIFEST_SIGNATURE, verify_package
from tools.config import AuditorConfig
from tools.signing import PublicKey, Signer, load_signer
from tui.cli import app
from tui.cli.state import console, err_console

runner = CliRunner()
REVIEW_FILE = "controls/CTL-001/review.json"  # covered by the manifest alone: no chain record holds its hash


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signed_report_workspace) -> Path:
    monkeypatch.chdir(tmp_path)  # no auditor.toml here: defaults, with --workspace below
    for stream in (console, err_console):  # messages naming a path stay on one line
        monkeypatch.setattr(stream, "_width", 300)
    workspace = signed_report_workspace(tmp_path / "ws")
    out = tmp_path / "package.zip"
    built = runner.invoke(app, ["--workspace", str(workspace.root), "export", "package", "--out", str(out)])
    assert built.exit_code == 0, built.output
    return out


def signing_key() -> Signer:
    return load_signer(AuditorConfig(workspace=Path("ws")))


def verify(package: Path, *args: str):
    result = runner.invoke(app, ["--workspace", "elsewhere", "verify", "--package", str(package), *args])
    return result.exit_code, " ".join(result.output.split())


def forged(package: Path, out: Path, *, sign_with: Signer | None = None, keep_signature: bool = True) -> Path:
    """The package with a review record rewritten and its manifest line updated to match; the manifest is
    re-signed with `sign_with` (the attacker's own key), else its signature file is kept or dropped."""
    with zipfile.ZipFile(package) as source:
        contents = {name: source.read(name) for name in source.namelist()}
    review = json.loads(contents[REVIEW_FILE]) or {}
    contents[REVIEW_FILE] = (json.dumps({**review, "state": "approved", "reviewer": "mallory"}) + "\n").encode()
    manifest = json.loads(contents[MANIFEST])
    for entry in manifest["files"]:
        if entry["path"] == REVIEW_FILE:
            entry.update(sha256=hashlib.sha256(contents[REVIEW_FILE]).hexdigest(), size=len(contents[REVIEW_FILE]))
    contents[MANIFEST] = json.dumps(manifest, indent=2).encode()
    if sign_with is not None:
        signature = {"format": "agentic-auditor/package-manifest/1", "key_id": sign_with.public.key_id}
        contents[MANIFEST_SIGNATURE] = json.dumps({**signature, "signature": sign_with.sign(manifest)}).encode()
    elif not keep_signature:
        del contents[MANIFEST_SIGNATURE]
    with zipfile.ZipFile(out, "w") as target:
        for name, data in contents.items():
            target.writestr(name, data)
    return out


def test_a_signed_package_verifies_with_the_key_and_with_only_its_public_half(package: Path, tmp_path: Path) -> None:
    code, output = verify(package)
    assert code == 0 and f"manifest signed by key {signing_key().public.key_id}" in output, output

    public = tmp_path / "signing.pub"
    public.write_text(signing_key().public.text() + "\n")
    assert verify(package, "--public-key", str(public))[0] == 0

    other = tmp_path / "other.pub"
    other.write_text(PublicKey(Ed25519PrivateKey.generate().public_key()).text() + "\n")
    code, output = verify(package, "--public-key", str(other))
    assert code == 1 and f"{MANIFEST}: its signature names key {signing_key().public.key_id}" in output, output


def test_a_manifest_rewritten_to_match_a_changed_file_is_caught_only_by_its_signature(
    package: Path, tmp_path: Path
) -> None:
    rewritten = forged(package, tmp_path / "rewritten.zip")
    # Every other check passes: the files match the manifest, and the review record is in no hash chain.
    assert verify_package(rewritten, signing_key().public).problems == [
        f"{MANIFEST}: its signature does not verify with key {signing_key().public.key_id}: the manifest was rewritten"
    ]
    code, output = verify(rewritten)
    assert code == 1 and "the manifest was rewritten" in output, output


def test_a_manifest_re_signed_with_another_key_or_unsigned_is_caught(package: Path, tmp_path: Path) -> None:
    mallory = Signer(Ed25519PrivateKey.generate(), "mallory")
    code, output = verify(forged(package, tmp_path / "resigned.zip", sign_with=mallory))
    assert code == 1 and f"its signature names key {mallory.public.key_id}, and does not verify" in output, output

    code, output = verify(forged(package, tmp_path / "unsigned.zip", keep_signature=False))
    assert code == 1 and f"{MANIFEST_SIGNATURE}: missing: the manifest is not signed" in output, output


def test_the_package_counts_evidence_items_once_and_says_how_many_copies_the_control_folders_hold(
    tmp_path: Path, signed_report_workspace
) -> None:
    from agent.package import build_package
    from agent.render.inputs import ReportInputs
    from agent.report import latest_run_id, read_report
    from knowledge.catalog import load_catalog

    workspace = signed_report_workspace(tmp_path / "ws")
    report = read_report(workspace, latest_run_id(workspace))
    # The first control's item is cited by the second control too: one item, two copies.
    shared = report.controls[0].findings[0].evidence_ids
    second = report.controls[1]
    second = second.model_copy(
        update={"findings": [f.model_copy(update={"evidence_ids": shared}) for f in second.findings]}
    )
    report = report.model_copy(update={"controls": [report.controls[0], second, *report.controls[2:]]})
    out = tmp_path / "package.zip"
    built = build_package(workspace, ReportInputs(report, load_catalog()), out, signing_key())
    assert (len(built.evidence_ids), built.evidence_copies) == (2, 3)
    assert built.evidence_summary() == "2 evidence items (3 copies, one in each control folder that cites the item)"
    checked = verify_package(out, signing_key().public)
    assert (checked.ok, len(checked.evidence_ids), checked.evidence_copies) == (True, 2, 3)


def test_a_package_re_zipped_with_folder_entries_verifies_and_an_extra_file_is_still_caught(
    package: Path, tmp_path: Path
) -> None:
    """`unzip` then `zip -r` adds an entry for every folder: they carry no content and are no problem."""
    with zipfile.ZipFile(package) as source:
        contents = {name: source.read(name) for name in source.namelist()}
    folders = sorted({str(parent) + "/" for name in contents for parent in Path(name).parents if str(parent) != "."})
    assert "controls/" in folders

    def rezipped(out: Path, extra: dict[str, bytes]) -> Path:
        with zipfile.ZipFile(out, "w") as target:
            for folder in folders:
                target.writestr(zipfile.ZipInfo(folder), b"")
            for name, data in {**contents, **extra}.items():
                target.writestr(name, data)
        return out

    assert verify(rezipped(tmp_path / "re.zip", {}))[0] == 0
    code, output = verify(rezipped(tmp_path / "extra.zip", {"controls/notes.txt": b"added"}))
    assert code == 1 and "1 problem" in output, output
    assert "controls/notes.txt: in the package but not in the manifest" in output
