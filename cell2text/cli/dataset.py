"""Commands on one dataset: ``inspect`` and ``describe``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from cell2text.cli.common import (
    DatasetArgument,
    DemoOption,
    JsonOption,
    SchedulerOption,
    app,
    check_source,
    console,
    emit,
    finished_parts,
    progress_printer,
    raw_dataset,
    use_scheduler,
    user_errors,
)
from cell2text.errors import InputError


@app.command()
def inspect(
    path: Annotated[Optional[Path], typer.Argument(help="An .h5ad file, a 10x .h5 file or a 10x mtx folder.")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Use the bundled pbmc68k_reduced demo dataset.")] = False,
    groupby: Annotated[Optional[str], typer.Option("--groupby", "-g", help="obs column holding groups (clusters, cell types).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Also write the JSON summary to this file.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Summarise a dataset: what was read and normalised, its groups, and each group name mapped to Cell Ontology."""
    from cell2text.summary import summarise_dataset

    with user_errors():
        check_source(path, demo)
        summary = summarise_dataset(path, groupby=groupby)
        if out is not None:
            from cell2text.data.io import write_text_atomic

            write_text_atomic(out, json.dumps(summary, indent=2, ensure_ascii=False) + "\n", inputs=[path] if path else [])
        emit(summary, as_json, _render_inspect)
        if out is not None and not as_json:
            console.print(f"Summary written to [bold]{out}[/]")


def _render_inspect(summary: dict[str, Any]) -> None:
    data = summary["dataset"]
    console.print(
        f"[bold]{data['name']}[/]: {data['n_cells']:,} cells x {data['n_genes']:,} genes (expression from {data['source']}, {data['detected']})"
    )
    for note in data["notes"]:
        console.print(f"  - {note}")
    console.print(f"obs keys: {', '.join(summary['obs_keys'])}")
    if not summary.get("groups"):
        console.print("Pass --groupby KEY to list the groups and map them to Cell Ontology terms.")
        return
    table = Table(title=f"Groups in obs['{summary['groupby']}'] mapped to Cell Ontology")
    for column in ("group", "cells", "best CL term", "id", "score", "sim. to annotation"):
        table.add_column(column)
    unsure = []
    for group in summary["groups"]:
        best = group["standardised"]
        annotated = group.get("annotated") or {}
        if best["unsure"]:
            unsure.append(f"{group['name']}: {best['reason']}")
        table.add_row(
            group["name"],
            str(group["n_cells"]),
            (best["label"] or "-") + (" (unsure)" if best["unsure"] else ""),
            best["id"] or "-",
            f"{best['score']:.2f}" if best["id"] else "-",
            f"{annotated['similarity']:.2f} ({annotated['id']})" if "similarity" in annotated else "",
        )
    console.print(table)
    for line in unsure:
        console.print(f"  unsure - {line}", highlight=False)


# ---------------------------------------------------------------------------- describe


@app.command()
def describe(
    path: DatasetArgument = None,
    demo: DemoOption = False,
    groupby: Annotated[
        Optional[str], typer.Option("--groupby", "-g", help="obs column with the groups; omitted: Leiden clusters are computed.")
    ] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the report (report.json, report.html) into this folder.")] = None,
    formats: Annotated[str, typer.Option("--format", "-f", help="Report formats besides JSON, comma-separated: html, md.")] = "html",
    write: Annotated[Optional[Path], typer.Option("--write", "-w", help="Also write the annotated AnnData to this new .h5ad file.")] = None,
    species: Annotated[Optional[str], typer.Option("--species", help="human or mouse (default: from obs['organism'] or the gene names).")] = None,
    tissue: Annotated[
        Optional[str],
        typer.Option(
            "--tissue", help="Tissue as UBERON id or name (e.g. pancreas): a prior for the cell types (default: obs['tissue'] when present)."
        ),
    ] = None,
    markers: Annotated[
        Optional[Path], typer.Option("--markers", help="Your own marker table (TSV cell_type/gene/sign, GMT or JSON), added to the marker knowledge.")
    ] = None,
    layer: Annotated[Optional[str], typer.Option("--layer", help="Read expression from adata.layers[LAYER] (e.g. counts) instead of X.")] = None,
    model: Annotated[
        Optional[Path],
        typer.Option(
            "--model",
            help="A Cell2Text checkpoint folder from 'cell2text train' (default:"
            " CELL2TEXT_MODEL, else the shipped one); weighted by how well it fits.",
        ),
    ] = None,
    no_model: Annotated[bool, typer.Option("--no-model", help="Use the evidence path alone, without the Cell2Text model.")] = False,
    max_rounds: Annotated[int, typer.Option("--max-rounds", help="Revise at most this many times.")] = 2,
    scheduler: SchedulerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Describe every group, verify each claim with the tools, and revise until supported or marked.

    Any tissue, species (human, mouse), gene panel or units (counts, CPM/TPM, log1p, log2): the
    Cell2Text model drafts and its head counts as much as it fits the data; where it does not fit,
    the cell types come from marker evidence alone, and the report says so. Outputs are written in
    order (report.json, the .h5ad, then the HTML/Markdown report): if a late step fails, what was
    finished stays on disk. A large .h5ad file or .zarr store is read in chunks with Dask, in this
    process or on a dask.distributed cluster (--scheduler).
    """
    from cell2text.agent.describe import describe as run_describe
    from cell2text.agent.describe import read_result
    from cell2text.data.io import check_output_path, write_h5ad_atomic

    with user_errors():
        use_scheduler(scheduler)
        adata, name = raw_dataset(path, demo)
        if demo and groupby is None:
            from cell2text.data.demo import DEMO_GROUPBY

            groupby = DEMO_GROUPBY
        chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
        inputs = [path] if path else []
        if write is not None:
            check_output_path(write, inputs, suffix=".h5ad")
        if out is not None:
            from cell2text.report.writer import check_formats

            check_formats(chosen)
            check_output_path(out / "report.json", inputs) if out.is_dir() else check_output_path(out, inputs)
        if markers is not None and not markers.is_file():
            raise InputError(f"marker file '{markers}' not found. Pass a TSV (cell_type, gene, sign), GMT or JSON file.")
        run_describe(
            adata,
            groupby,
            max_rounds=max_rounds,
            species=species,
            tissue=tissue,
            markers=markers,
            layer=layer,
            model=model,
            use_model=not no_model,
            progress=progress_printer(as_json),
        )
        result = read_result(adata)
        written: dict[str, str] = {}
        if out is not None:
            from cell2text.report import write_report

            with finished_parts(written, "the JSON report"):
                written |= {k: str(v) for k, v in write_report(adata, out, name=name, formats=(), inputs=inputs).items()}
        if write is not None:
            with finished_parts(written, "the annotated .h5ad file"):
                written["h5ad"] = str(write_h5ad_atomic(adata, write, inputs=inputs))
        if out is not None and chosen:
            with finished_parts(written, f"the {'/'.join(chosen)} report"):
                written |= {k: str(v) for k, v in write_report(adata, out, name=name, formats=chosen, inputs=inputs).items()}
        emit(result | {"dataset": name, "written": written}, as_json, _render_describe)


def _render_describe(result: dict[str, Any]) -> None:
    table = Table(title=f"{result['dataset']}: groups of obs['{result['groupby']}']")
    for column in ("group", "cells", "cell type", "id", "status", "confidence"):
        table.add_column(column)
    for name, group in result["groups"].items():
        table.add_row(
            name,
            str(group["n_cells"]),
            group["cell_type"] or "-",
            group["cell_type_ontology_term_id"] or "-",
            group["status"] or "-",
            f"{group['confidence']:.2f}" if group["confidence"] is not None else "-",
        )
    console.print(table)
    for note in result["notes"]:
        console.print(f"note: {note}", highlight=False)
    for name, group in result["groups"].items():
        console.print(f"\n[bold]{name}[/]: {group['text']}", highlight=False)
        changed = [c for r in group["rounds"] for c in r if c["action"].startswith(("removed", "replaced", "generalised"))]
        for claim in changed:
            console.print(f"  [yellow]{claim['action']}[/]: {claim['kind']} '{claim['text']}' ({claim['reason']})", highlight=False)
    for kind, where in result["written"].items():
        console.print(f"{kind}: [bold]{where}[/]")
