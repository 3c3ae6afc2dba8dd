import pytest
from pdf_files import write_pdf

from knowledge.documents import DocumentError, chunk_file, find_documents


def test_markdown_is_chunked_by_heading_with_unique_stable_ids(tmp_path):
    policy = tmp_path / "access-control.md"
    policy.write_text(
        "Owner: CISO\n\n# Access Control\nIntro.\n\n## MFA\nAll staff use MFA.\n\n```sh\n# not a heading\n```\n\n"
        "## MFA\nAgain.\n\n## Off-boarding & Leavers\nRevoke within a day.\n"
    )
    chunks = chunk_file(policy)
    assert [c.citation_id for c in chunks] == [
        "policy:access-control.md#introduction",
        "policy:access-control.md#access-control",
        "policy:access-control.md#mfa",
        "policy:access-control.md#mfa-2",
        "policy:access-control.md#off-boarding-leavers",
    ]
    assert "# not a heading" in chunks[2].text
    assert [c.citation_id for c in chunk_file(policy)] == [c.citation_id for c in chunks]


def test_text_is_chunked_by_paragraph_groups(tmp_path):
    handbook = tmp_path / "handbook.txt"
    handbook.write_text("\n\n".join(f"Paragraph {n}." for n in range(1, 10)))
    chunks = chunk_file(handbook)
    assert [c.citation_id for c in chunks] == [
        "policy:handbook.txt#part-1",
        "policy:handbook.txt#part-2",
        "policy:handbook.txt#part-3",
    ]
    assert chunks[1].text.startswith("Paragraph 5.") and chunks[2].text == "Paragraph 9."


def test_pdf_is_chunked_by_page(tmp_path):
    pdf = write_pdf(tmp_path / "bcp.pdf", ["Backups run nightly.", "", "Restores are tested quarterly."])
    chunks = chunk_file(pdf)
    # The empty page 2 has nothing to cite, and page numbers stay those of the document.
    assert [c.citation_id for c in chunks] == ["policy:bcp.pdf#page-1", "policy:bcp.pdf#page-3"]
    assert "Restores are tested quarterly." in chunks[1].text


def test_bad_documents_raise_errors_naming_the_file(tmp_path):
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    for name, reason in [
        ("broken.pdf", "PDF"),
        ("latin1.txt", "UTF-8"),
        ("logo.png", "unsupported"),
        ("gone.md", "not found"),
    ]:
        with pytest.raises(DocumentError, match=reason) as error:
            chunk_file(tmp_path / name)
        assert name in str(error.value)


def test_folders_are_walked_with_paths_inside_them_as_names(tmp_path):
    root = tmp_path / "policies"
    (root / "hr").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "hr" / "onboarding.md").write_text("# Day one\nBadge.\n")
    (root / "security.md").write_text("# MFA\nOn.\n")
    (root / ".git" / "config.txt").write_text("x")
    (root / "diagram.png").write_bytes(b"\x89PNG")
    found = find_documents([root])
    assert [name for _, name in found.documents] == ["hr/onboarding.md", "security.md"]
    assert found.unsupported == [root / "diagram.png"]
    path, name = found.documents[0]
    assert chunk_file(path, name)[0].citation_id == "policy:hr/onboarding.md#day-one"
