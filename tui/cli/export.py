"""Listing checks and exporting for auditors: `auditor checks list`, `auditor export oscal|package`."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tools.workspace import Workspace
from tui.cli.knowledge import load_library
from tui.cli.state import CliState, cli_state, console, fail

if TYPE_CHECKING:
    from agent.report_schema import ReadinessReport
    from knowledge.catalog import Catalog
    from tools.signing import PublicKey, Signer

checks_app = typer.Typer(help="The rule-based checks that judge evidence.", no_args_is_help=True)
export_app = typer.Typer(help="Exports for auditors: OSCAL documents, the evidence package.", no_args_is_help=True)


class ListFormat(str, Enum):
    table = "table"
    json = "json"


def check_rows() -> list[dict[str, object]]:
    """Every registered check: id, source (of the evidence it reads), severity, title, and the controls it backs."""
    from tools.catalog import CHECKS, TOOLS, load_all

    load_all()
    library = load_library()
    rows = []
    for spec in sorted(CHECKS.values(), key=lambda s: s.id):
        sources = sorted({str(TOOLS[tool].source) for tool in spec.needs if tool in TOOLS})
        rows.append(
            {
                "id": spec.id,
                "source": ", ".join(sources),
                "severity": str(spec.severity),
                "title": spec.title,
                "controls": [control.id for control in library.by_check(spec.id)],
            }
        )
    return rows


@checks_app.command("list")
def list_checks(
    format: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table for people, json for tools.")
    ] = ListFormat.table,
) -> None:
    """Every check: what it tests, the evidence source it reads, its severity and the controls it backs."""
    rows = check_rows()
    if format is ListFormat.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(rows)} checks")
    # An id is what people copy into --checks: never cut. What the check tests wraps under it.
    table.add_column("Check: what it tests", min_width=max((len(str(row["id"])) for row in rows), default=5))
    # Narrow columns (their lists wrap a word a line), so that the ids fit in 80 columns.
    for name in ("Source", "Severity", "Controls"):
        table.add_column(name, max_width=10)
    for row in rows:
        table.add_row(
            f"[bold]{escape(str(row['id']))}[/]\n{escape(str(row['title']))}",
            str(row["source"]),
            str(row["severity"]),
            ", ".join(row["controls"]) or "-",
        )  # type: ignore[arg-type]
    console.print(table)


def emit_report(
    workspace: Workspace,
    readiness: ReadinessReport,
    public: PublicKey,
    signer: Signer | None,
    format: str,
    *,
    out: Path | None,
    to_stdout: bool,
    output_dir: Path | None,
) -> None:
    """`auditor report`'s output: every format into `output_dir`; or one format to `out` ("-": the terminal), to
    the terminal with `to_stdout`, or by default to reports/<run>/rendered/report.<format> (its path printed).
    Its readiness trend reads the runs whose report is the one they signed with `public` (`signer`: see
    tui/cli/evidence.py cache_signer)."""
    from agent.render.formats import RENDERED_DIR, render, write_all
    from agent.render.inputs import gather
    from knowledge.catalog import load_catalog

    inputs = gather(workspace, readiness, load_catalog(), public, signer)
    try:
        if output_dir is not None:
            for path in write_all(inputs, output_dir):
                console.print(f"Wrote {path}", highlight=False)
            return
        text = render(inputs, format)
        if to_stdout or out == Path("-"):
            typer.echo(text, nl=False)
            return
        target = out or workspace.reports_dir / readiness.run.id / RENDERED_DIR / f"report.{format}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {exc.filename}: {exc.strerror}")
    console.print(f"Wrote {target}", highlight=False)


def emit_text(text: str, out: Path | None, *, what: str = "") -> None:
    """Print the text (no `out`, or "-"), or write it to `out` and say so (`what`: said after the path)."""
    if out is None or out == Path("-"):
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    console.print(f"Wrote {out}{what}", highlight=False)


class OscalKind(str, Enum):
    assessment_results = "assessment-results"
    ssp = "ssp"


def reviewed_report(
    state: CliState, run_id: str | None, catalog: Catalog, public_key: Path | None = None
) -> ReadinessReport:
    """The run's report (default: the latest) with the review decisions recorded since; fails the command when
    there is no such report, when its report.json is not the one the run signed (exit 1, as `auditor verify`),
    or when the review log cannot be read."""
    from agent.integrity import ReportNotSigned, read_signed_report
    from agent.report import latest_run_id, reassess
    from agent.review_log import ReviewLog, ReviewLogError, apply_review, manual_attachments
    from tui.cli.evidence import verifying_key

    workspace = state.workspace
    run_id = run_id or latest_run_id(workspace)
    if run_id is None:
        fail(f"no report in {workspace.reports_dir} yet: run `auditor run` (or `auditor demo`) first")
    try:
        readiness = read_signed_report(workspace, verifying_key(state, public_key), run_id)
    except FileNotFoundError:
        fail(f"no report for run {run_id} in {workspace.reports_dir}")
    except ReportNotSigned as exc:
        fail(f"{exc}: refusing to use it; `auditor verify` names everything that changed", code=1)
    try:
        with ReviewLog(workspace.review_db) as review_log:
            # Manual evidence attached and approved since the run counts now, for the run's period.
            return apply_review(reassess(readiness, catalog, manual_attachments(review_log)), review_log)
    except ReviewLogError as exc:
        fail(str(exc))


def _reviewed_inputs(ctx: typer.Context, run_id: str | None):  # -> ReportInputs
    """The run's reviewed report and what renders it."""
    from agent.render.inputs import gather
    from knowledge.catalog import load_catalog
    from tui.cli.evidence import cache_signer, verifying_key

    state = cli_state(ctx)
    catalog = load_catalog()
    readiness = reviewed_report(state, run_id, catalog)
    return gather(state.workspace, readiness, catalog, verifying_key(state, None), cache_signer(state, None))


@export_app.command("oscal")
def export_oscal(
    ctx: typer.Context,
    kind: Annotated[
        OscalKind,
        typer.Option(
            "--kind",
            help="assessment-results (findings, observations, risks) or ssp (a system security plan skeleton).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="The JSON file to write (- for the terminal).")],
    run_id: Annotated[str | None, typer.Option("--run", help="A run id (default: the latest run).")] = None,
) -> None:
    """The report as NIST OSCAL 1.1.3 JSON."""
    from agent.oscal import assessment_results, system_security_plan

    inputs = _reviewed_inputs(ctx, run_id)
    document = assessment_results(inputs) if kind is OscalKind.assessment_results else system_security_plan(inputs)
    emit_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", out, what=f" (OSCAL {kind.value})")


@export_app.command("package")
def export_package(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The zip file to write.")],
    run_id: Annotated[str | None, typer.Option("--run", help="A run id (default: the latest run).")] = None,
) -> None:
    """The auditor's evidence package: per control its narrative, findings, review record and evidence items;
    index.html; the review log; manifest.json with every file's sha256 and the evidence chain head, signed with
    the workspace key (manifest.signature.json)."""
    from agent.package import build_package
    from tools.signing import SigningError, load_signer

    state = cli_state(ctx)
    inputs = _reviewed_inputs(ctx, run_id)
    try:
        signer = load_signer(state.config)
    except SigningError as exc:
        fail(f"the manifest is signed with the workspace key: {exc}")
    try:
        built = build_package(state.workspace, inputs, out, signer)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    for problem in built.problems:
        console.print(f"[yellow]warning[/] {escape(problem)}", highlight=False)
    console.print(
        f"Wrote {out}: {built.files} files, {built.evidence_summary()}. "
        f"Check it with `auditor verify --package {out}`.",
        highlight=False,
    )


def verify_package_command(path: Path, public: PublicKey) -> None:
    """`auditor verify --package FILE`: the manifest's signature, the files it lists, the evidence chain and the
    review log, without a workspace."""
    from agent.package import verify_package

    checked = verify_package(path, public)
    for problem in checked.problems:
        console.print(f"[bold red]problem[/] {escape(problem)}", highlight=False)
    if not checked.ok:
        fail(f"{path}: {len(checked.problems)} problem(s)", code=1)
    console.print(
        f"{path}: OK ({checked.files} files, {checked.evidence_summary()}; manifest signed by key "
        f"{public.key_id}, evidence chain and review log check out).",
        highlight=False,
    )
