"""Knowledge commands: build and search the store, show criteria and controls, check coverage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from agent.cli_state import cli_state, console, err_console, fail

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

knowledge_app = typer.Typer(help="Build the knowledge store and load documents into it.", no_args_is_help=True)
criteria_app = typer.Typer(help="Read and search the Trust Services Criteria.", no_args_is_help=True)
controls_app = typer.Typer(help="The control library.", no_args_is_help=True)


def open_store(ctx: typer.Context) -> "KnowledgeStore":
    """The workspace's store, built on first use so a new user can search straight away."""
    from knowledge.store import KnowledgeStore

    store = KnowledgeStore.open(cli_state(ctx).workspace.chroma_dir)
    if not store.is_built():
        with console.status("Building the knowledge store (first use)..."):
            store.build()
    return store


@knowledge_app.command("build")
def build(ctx: typer.Context) -> None:
    """Build or refresh the store from the shipped criteria and the control library."""
    from knowledge.store import KnowledgeStore

    store = KnowledgeStore.open(cli_state(ctx).workspace.chroma_dir)
    written = store.build()
    console.print(f"Indexed {written} chunks. Collections: {store.count()}")


@knowledge_app.command("import-tsc")
def import_tsc(ctx: typer.Context, pdf: Annotated[Path, typer.Argument(help="Your copy of the AICPA TSC publication.")]) -> None:
    """Load the full point-of-focus text from the AICPA publication (PDF)."""
    from knowledge.importer import ImportError_, extract_points_of_focus

    if not pdf.is_file():
        fail(f"{pdf}: file not found")
    try:
        texts = extract_points_of_focus(pdf)
    except ImportError_ as exc:
        fail(str(exc))
    updated = open_store(ctx).set_point_of_focus_text(texts)
    console.print(f"Loaded full text for {updated} points of focus from {pdf}.")


@knowledge_app.command("add")
def add(ctx: typer.Context, paths: Annotated[list[Path], typer.Argument(help="Policy files or folders (Markdown, text, PDF).")]) -> None:
    """Ingest company policies and procedures so narratives can cite them."""
    from knowledge.documents import chunk_file, collect_files

    store = open_store(ctx)
    problems = 0
    for path in collect_files(paths):
        try:
            chunks = chunk_file(path)
        except (ValueError, OSError) as exc:
            err_console.print(f"[yellow]skipped[/] {exc}", highlight=False)
            problems += 1
            continue
        store.add_document_chunks(
            [(c.citation_id, f"{c.section}\n{c.text}", {"kind": "policy", "criteria": "", "title": c.section, "source": c.source}) for c in chunks]
        )
        console.print(f"{path}: {len(chunks)} sections ({', '.join(c.citation_id for c in chunks[:3])}{'...' if len(chunks) > 3 else ''})")
    if problems:
        raise typer.Exit(1)


@criteria_app.command("show")
def show(ctx: typer.Context, criterion_id: str) -> None:
    """A criterion's statement, its points of focus and the controls that cover it."""
    from knowledge.catalog import load_catalog
    from knowledge.control_library import load_controls

    criterion = load_catalog().get(criterion_id)
    if criterion is None:
        fail(f"unknown criterion {criterion_id!r} (e.g. CC6.1, A1.2, P4.3)")
    console.print(f"[bold]{criterion.id}[/] ({criterion.series_title})\n{criterion.text}\n")
    store = open_store(ctx)
    table = Table("Citation", "Point of focus", title="Points of focus")
    for pof in criterion.points_of_focus:
        chunk = store.get(pof.citation_id(criterion.id))
        detail = chunk.metadata.get("full_text") if chunk else None
        table.add_row(pof.citation_id(criterion.id), pof.title + (f"\n[dim]{detail}[/]" if detail else ""))
    console.print(table)
    controls = Table("Control", "Title", "Kind", title="Controls covering it")
    for control in load_controls().for_criterion(criterion.id):
        controls.add_row(control.id, control.title, control.kind)
    console.print(controls)


@criteria_app.command("search")
def search(ctx: typer.Context, query: str, limit: Annotated[int, typer.Option("--limit", "-n")] = 5) -> None:
    """Find the criteria that answer a question in plain words."""
    from knowledge.catalog import load_catalog

    catalog = load_catalog()
    table = Table("Criterion", "Score", "Statement", "Best match", title=f"Criteria for: {query}")
    for hit in open_store(ctx).search_criteria(query, k=limit):
        table.add_row(hit.criterion_id, f"{hit.score:.3f}", catalog.get(hit.criterion_id).text[:90] + "...", f"{hit.best_chunk.id}")
    console.print(table)


@controls_app.command("list")
def list_controls(criterion: Annotated[Optional[str], typer.Option("--criterion", help="Only controls mapped to this criterion.")] = None) -> None:
    """List the control library."""
    from knowledge.control_library import load_controls

    library = load_controls()
    controls = library.for_criterion(criterion) if criterion else list(library.controls)
    table = Table("Id", "Title", "Kind", "Frequency", "Criteria", title=f"{len(controls)} controls")
    for control in controls:
        table.add_row(control.id, control.title, control.kind, control.frequency, ", ".join(control.criteria))
    console.print(table)


def coverage() -> None:
    """Criteria that no control covers (exit 1 if any)."""
    from knowledge.catalog import load_catalog
    from knowledge.control_library import load_controls

    catalog, library = load_catalog(), load_controls()
    missing = [cid for cid in catalog.ids() if not library.for_criterion(cid)]
    console.print(f"{len(catalog.ids()) - len(missing)} of {len(catalog.ids())} criteria covered by {len(library.controls)} controls.")
    if missing:
        console.print("Not covered: " + ", ".join(missing))
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(knowledge_app, name="knowledge")
    app.add_typer(criteria_app, name="criteria")
    app.add_typer(controls_app, name="controls")
    app.command("coverage")(coverage)
