"""``cell2text annotate-markers``: Cell Ontology terms for marker gene lists, from knowledge alone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from cell2text.cli.common import JsonOption, app, console, emit, user_errors
from cell2text.errors import InputError


@app.command("annotate-markers")
def annotate_markers(
    genes: Annotated[list[str] | None, typer.Argument(help="Marker genes, best first: 'MS4A1, CD79A, CD19' or MS4A1 CD79A CD19.")] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", "-f", help="CSV/TSV: one row per cluster (cluster,genes), or a scanpy rank_genes_groups / Seurat FindAllMarkers table."
        ),
    ] = None,
    tissue: Annotated[str | None, typer.Option("--tissue", help="Tissue as UBERON id or name (e.g. lung): a prior.")] = None,
    species: Annotated[str | None, typer.Option("--species", help="human or mouse (default: from the symbols' case).")] = None,
    k: Annotated[int, typer.Option("-k", min=1, help="How many candidates per list.")] = 5,
    markers: Annotated[
        Path | None, typer.Option("--markers", help="Your own marker table (TSV cell_type/gene/sign, GMT or JSON), added to the knowledge.")
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="With --file: the first N genes of each cluster (either layout).")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Rank Cell Ontology terms for marker genes: specificity-weighted overlap with known markers, negative
    markers, the tissue prior and the ontology, each candidate with its evidence and its confidence (the
    share of the likelihood it and its subtypes hold). No model, no network."""
    from cell2text.knowledge import detect_species, load_markers
    from cell2text.knowledge.ontology import load_ontology
    from cell2text.tools.candidates import rank_cell_types, read_marker_table, tissue_id

    with user_errors():
        if bool(genes) == (file is not None):
            raise InputError("pass either GENES or --file FILE, not both and not neither.")
        if file is not None:
            lists = read_marker_table(file, top=top)
        else:
            lists = {None: [g for g in re.split(r"[,;\s]+", " ".join(genes or [])) if g]}
        every = [g for value in lists.values() for g in _genes(value)]
        species = species or detect_species(every, default="human")
        ontology = load_ontology()
        if tissue is not None:
            tissue = tissue_id(tissue, ontology)
        knowledge = load_markers(species, extra=markers, ontology=ontology)
        results, errors = [], []
        for cluster, value in lists.items():
            entry: dict[str, Any] = {"cluster": cluster, "genes": _genes(value)}
            try:
                candidates = rank_cell_types(
                    value, species=species, tissue=tissue, k=k, knowledge=knowledge, ontology=ontology, min_logfc=0.0, n_top=top
                )
                entry["candidates"] = [c.to_dict() for c in candidates]
            except InputError as exc:  # one cluster without known markers does not stop the others
                if file is None:
                    raise
                entry["error"] = str(exc)
                errors.append(str(exc))
            results.append(entry)
        if errors and len(errors) == len(results):
            raise InputError(f"no cluster has a known marker: {errors[0]}")
        payload = {
            "species": species,
            "tissue": tissue,
            "markers_file": str(markers) if markers else None,
            "knowledge": knowledge.version,
            "results": results,
        }
        emit(payload, as_json, _render)


def _genes(value) -> list[str]:
    """The genes of a list or of a DE table."""
    return list(value["gene"]) if isinstance(value, pd.DataFrame) else list(value)


def _render(payload: dict[str, Any]) -> None:
    context = f"{payload['species']}" + (f", tissue {payload['tissue']}" if payload["tissue"] else "")
    for entry in payload["results"]:
        head = f"[bold]{entry['cluster']}[/]: " if entry["cluster"] is not None else ""
        console.print(f"{head}{', '.join(entry['genes'][:12])}{' ...' if len(entry['genes']) > 12 else ''} ({context})", highlight=False)
        if "error" in entry:
            console.print(f"   [yellow]{entry['error']}[/]", highlight=False)
            continue
        for rank, c in enumerate(entry["candidates"], 1):
            style = {"supported": "green", "weak": "yellow", "contradicted": "red"}[c["status"]]
            console.print(
                f"  {rank}. [bold]{c['label']}[/] ({c['id']})  score {c['score']:.1f}  confidence {c['confidence']:.2f}  [{style}]{c['status']}[/]",
                highlight=False,
            )
            console.print(f"     {c['reason']}", highlight=False)
            if c["negative_hits"]:
                console.print(f"     negative markers among the genes: {', '.join(c['negative_hits'])}", highlight=False)
