"""Knowledge commands: build and search the store, show criteria and controls, check coverage.

chromadb and the store are imported inside the commands so `auditor --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.table import Table

from tui.cli.state import cli_state, console, err_console, fail

if TYPE_CHECKING:
    from knowledge.catalog import Catalog
    from knowledge.control_library import ControlLibrary, ControlLibraryError
    from knowledge.store import KnowledgeStore

knowledge_app = typer.Typer(help="Build the knowledge store and load documents into it.", no_args_is_help=True)
criteria_app = typer.Typer(help="Read and search the Trust Services Criteria.", no_args_is_help=True)
controls_app = typer.Typer(help="The control library.", no_args_is_help=True)

SNIPPET_CHARS = 160


def open_store(ctx: typer.Context) -> KnowledgeStore:
    """The workspace's store, built on first use so a new user can search straight away."""
    from knowledge.store import KnowledgeStore

    try:
        with console.status("Opening the knowledge store (built on first use)..."):
            return KnowledgeStore.open(cli_state(ctx).new_workspace.chroma_dir)
    except Exception as exc:
        # Only a build reads the control library: its module (and YAML) is loaded when opening failed, not before.
        from knowledge.control_library import ControlLibraryError

        if isinstance(exc, ControlLibraryError):  # a broken library is reported plainly when a build needs it
            _fail_on_library(exc)
        raise


def load_library():
    """The control library, or a clear exit listing every problem in it."""
    from knowledge.control_library import ControlLibraryError, load_controls

    try:
        return load_controls()
    except ControlLibraryError as exc:
        _fail_on_library(exc)


def _fail_on_library(exc: ControlLibraryError) -> NoReturn:
    fail(f"the control library has problems:\n{exc}")


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1].rstrip() + "…"


@knowledge_app.command("build")
def build(ctx: typer.Context) -> None:
    """Build or refresh the store from the shipped criteria and the control library."""
    from knowledge.store import KnowledgeStore

    library = load_library()
    store = KnowledgeStore.open(cli_state(ctx).new_workspace.chroma_dir, build_if_empty=False)
    written = store.build(controls=library)
    counts = ", ".join(f"{name} {count}" for name, count in store.count().items())
    console.print(f"Indexed {written} chunks into {cli_state(ctx).new_workspace.chroma_dir} ({counts}).")


@knowledge_app.command("import-tsc")
def import_tsc(
    ctx: typer.Context,
    pdf: Annotated[Path, typer.Argument(help="Your copy of the AICPA Trust Services Criteria publication (PDF).")],
) -> None:
    """Load the full point-of-focus text from your copy of the AICPA publication."""
    from knowledge.catalog import load_catalog
    from knowledge.importer import TscImportError, extract_points_of_focus

    if not pdf.is_file():
        fail(f"{pdf}: file not found")
    try:
        texts = extract_points_of_focus(pdf)
    except TscImportError as exc:
        fail(str(exc))
    total = sum(len(c.points_of_focus) for c in load_catalog().criteria)
    updated = open_store(ctx).set_point_of_focus_text(texts)
    console.print(f"Loaded the full text of {updated} of {total} points of focus from {pdf}.")


@knowledge_app.command("add")
def add(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Policy files or folders (Markdown, text, PDF).")],
) -> None:
    """Ingest company policies and procedures so narratives can cite them (exit 1 if any file failed)."""
    from knowledge.documents import DocumentError, chunk_file, find_documents

    found = find_documents(paths)
    failed = 0
    for path in found.unsupported:
        err_console.print(
            f"[yellow]skipped[/] {path}: unsupported file type (use Markdown, text or PDF)", highlight=False
        )
    store = open_store(ctx)
    sources = store.document_sources()  # citation name -> file
    names = {source: name for name, source in sources.items()}
    for path, name in found.documents:
        source = str(path.resolve())
        name = names.get(source, name)  # a file keeps the citation name it was first added under
        if sources.get(name, source) != source:
            err_console.print(
                f"[red]failed[/] {path}: its citations would be policy:{name}#..., which already "
                f"name {sources[name]}; add both from one folder (their paths tell them apart) "
                "or rename one",
                highlight=False,
            )
            failed += 1
            continue
        try:
            chunks = chunk_file(path, name)
        except DocumentError as exc:
            err_console.print(f"[red]failed[/] {exc}", highlight=False)
            failed += 1
            continue
        store.add_documents(chunks)
        sources[name], names[source] = source, name
        shown = ", ".join(c.citation_id for c in chunks[:3]) + (", ..." if len(chunks) > 3 else "")
        console.print(f"{path}: {len(chunks)} sections ({shown})", highlight=False)
    console.print(
        f"Added {len(found.documents) - failed} documents; {failed} failed; {len(found.unsupported)} skipped."
    )
    if failed:
        raise typer.Exit(1)


@criteria_app.command("show")
def show(ctx: typer.Context, criterion_id: Annotated[str, typer.Argument(help="e.g. CC6.1")]) -> None:
    """A criterion's statement, its points of focus and the controls that cover it."""
    from knowledge.catalog import load_catalog

    criterion = load_catalog().get(criterion_id)
    if criterion is None:
        fail(f"unknown criterion {criterion_id!r} (ids look like CC6.1, A1.2, PI1.3, P4.3)")
    console.print(f"[bold]{criterion.id}[/] · {criterion.series} {criterion.series_title}\n{criterion.text}\n")
    store = open_store(ctx)
    points = Table("Citation", "Point of focus", "Tags", title="Points of focus")
    for pof in criterion.points_of_focus:
        chunk = store.get(pof.citation_id(criterion.id))
        full_text = chunk.metadata.get("full_text") if chunk else None
        points.add_row(
            pof.citation_id(criterion.id),
            pof.title + (f"\n[dim]{full_text}[/]" if full_text else ""),
            ", ".join(pof.tags),
        )
    console.print(points)
    controls = load_library().for_criterion(criterion.id)
    table = Table("Control", "Title", "Kind", "Frequency", title=f"Controls covering {criterion.id}")
    for control in controls:
        table.add_row(control.id, control.title, control.kind, control.frequency)
    console.print(table if controls else f"[yellow]No control covers {criterion.id}.[/]")


@criteria_app.command("search")
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="A question in plain words.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=61, help="How many criteria to show.")] = 5,
) -> None:
    """Find the criteria that answer a question in plain words."""
    from knowledge.catalog import load_catalog

    if not query.strip():
        fail(
            'criteria search: the question is empty; ask in plain words, e.g. `auditor criteria search "who can '
            'change production"`'
        )
    catalog = load_catalog()
    table = Table("Criterion", "Score", "Statement", "Best match", title=f"Criteria for: {query}")
    for hit in open_store(ctx).search_criteria(query, k=limit):
        statement = _snippet(catalog.get(hit.criterion_id).text)
        table.add_row(
            hit.criterion_id,
            f"{hit.score:.3f}",
            statement,
            f"[bold]{hit.best_chunk.id}[/]\n{_snippet(hit.best_chunk.text)}",
        )
    console.print(table)


@controls_app.command("list")
def list_controls(
    criterion: Annotated[
        str | None, typer.Option("--criterion", help="Only controls mapped to this criterion.")
    ] = None,
) -> None:
    """List the control library."""
    from knowledge.catalog import load_catalog

    library = load_library()
    if criterion and load_catalog().get(criterion) is None:
        fail(f"unknown criterion {criterion!r} (ids look like CC6.1, A1.2, PI1.3, P4.3)")
    controls = library.for_criterion(criterion) if criterion else list(library.controls)
    table = Table("Id", "Title", "Kind", "Frequency", "Criteria", title=f"{len(controls)} controls")
    for control in controls:
        table.add_row(control.id, control.title, control.kind, control.frequency, ", ".join(control.criteria))
    console.print(table)


def coverage(
    points_of_focus: Annotated[
        bool, typer.Option("--points-of-focus", help="Also list each point of focus no control addresses.")
    ] = False,
) -> None:
    """Criteria that no control covers (exit 1 if any); points of focus no control addresses (information only)."""
    from knowledge.catalog import load_catalog

    catalog, library = load_catalog(), load_library()
    table = Table("Series", "Criteria", "Covered", "Not covered", title="Control coverage of the criteria")
    missing: list[str] = []
    for series, title in catalog.series().items():
        ids = [c.id for c in catalog.criteria if c.series == series]
        uncovered = [cid for cid in ids if not library.for_criterion(cid)]
        missing.extend(uncovered)
        table.add_row(f"{series} {title}", str(len(ids)), str(len(ids) - len(uncovered)), ", ".join(uncovered) or "-")
    console.print(table)
    total = len(catalog.criteria)
    console.print(f"{total - len(missing)} of {total} criteria covered by {len(library.controls)} controls.")
    _points_of_focus_coverage(catalog, library, listed=points_of_focus)
    unusable = _unusable_evidence(library)
    for problem in unusable:
        console.print(f"[red]Evidence problem:[/] {problem}", highlight=False)
    if missing:
        console.print(f"[red]Not covered:[/] {', '.join(missing)}")
    if missing or unusable:
        raise typer.Exit(1)


def _points_of_focus_coverage(catalog: Catalog, library: ControlLibrary, listed: bool) -> None:
    """How many points of focus the controls address, which controls cite none, and (when `listed`) each point
    no control addresses. Information only: a point of focus is guidance, not a requirement."""
    addressed = library.points_of_focus_addressed()
    unaddressed = [
        (criterion.id, pof)
        for criterion in catalog.criteria
        for pof in criterion.points_of_focus
        if pof.citation_id(criterion.id) not in addressed
    ]
    total = sum(len(criterion.points_of_focus) for criterion in catalog.criteria)
    console.print(f"{total - len(unaddressed)} of {total} points of focus addressed by a control.")
    without = [control.id for control in library.controls if not control.points_of_focus]
    if without:
        console.print(f"Controls citing no point of focus: {', '.join(without)}", highlight=False)
    if not listed:
        console.print("List the points of focus no control addresses with --points-of-focus.")
        return
    points = Table("Point of focus", "Title", title="Points of focus no control addresses")
    for criterion_id, pof in unaddressed:
        points.add_row(pof.citation_id(criterion_id), pof.title)
    console.print(points)


def _unusable_evidence(library) -> list[str]:
    """Evidence entries naming a tool or check that does not exist, or params the tool does not take:
    a control that cites them would never be assessed, so its criteria are not really covered."""
    from pydantic import ValidationError

    from tools.catalog import CHECKS, TOOLS, load_all

    load_all()
    problems = []
    for control in library.controls:
        for evidence in control.evidence:
            tool = TOOLS.get(evidence.tool)
            if tool is None:
                problems.append(f"control {control.id}: unknown tool {evidence.tool!r}")
            else:
                try:
                    tool.args_model(**evidence.params)
                except ValidationError as exc:
                    first = exc.errors()[0]
                    problems.append(
                        f"control {control.id}: tool {evidence.tool} params: "
                        f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
                    )
            if evidence.check not in CHECKS:
                problems.append(f"control {control.id}: unknown check {evidence.check!r}")
    return problems
