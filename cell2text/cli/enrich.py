"""``cell2text enrich``: pathway enrichment of a gene list or a group's markers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from cell2text.cli.common import JsonOption, app, console, emit, user_errors
from cell2text.errors import InputError


def _gene_list(value: str | None) -> list[str] | None:
    """Genes from a file (one per line) or a comma-separated list."""
    if value is None:
        return None
    path = Path(value).expanduser()
    if path.is_file():
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return [g.strip() for g in value.split(",") if g.strip()]


@app.command()
def enrich(
    genes: Annotated[Optional[list[str]], typer.Argument(help="Gene symbols to test (or use --data/--demo with --group).")] = None,
    library: Annotated[str, typer.Option("--library", "-l", help="hallmark, reactome, wikipathways or a .gmt path.")] = "hallmark",
    background: Annotated[Optional[str], typer.Option("--background", help="Background genes: a file (one per line) or a comma list.")] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="An .h5ad file whose group markers to test.")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Use the demo dataset.")] = False,
    groupby: Annotated[Optional[str], typer.Option("--groupby", "-g", help="obs column with the groups.")] = None,
    group: Annotated[Optional[str], typer.Option("--group", help="The group whose markers to test.")] = None,
    method: Annotated[str, typer.Option("--method", help="'ora' (over-representation of markers) or 'prerank' (GSEA on all genes).")] = "ora",
    top: Annotated[int, typer.Option("-n", min=1, help="How many pathways to show.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Pathway enrichment of a gene list, or of a group's markers in a dataset."""
    from cell2text.tools import enrichment

    with user_errors():
        if method not in ("ora", "prerank"):
            raise InputError(f"unknown method '{method}'. Use 'ora' or 'prerank'.")
        use_data = demo or data is not None
        if use_data == bool(genes):
            raise InputError("pass either GENES or a dataset (--data H5AD or --demo) with --group, not both and not neither.")
        if use_data:
            if group is None:
                raise InputError("--group is required with a dataset. Name one group of --groupby.")
            from cell2text.data.demo import load_dataset

            adata, name, groupby = load_dataset(data, groupby)
            if groupby is None:
                raise InputError("--groupby is required with --data. Pass the obs column holding the groups.")
            run = enrichment.prerank_group if method == "prerank" else enrichment.enrich_group
            table = run(adata, groupby, group, library)
            query = {"dataset": name, "groupby": groupby, "group": group}
        else:
            if method == "prerank":
                raise InputError("prerank needs a ranking of all genes: use it with --data/--demo and --group.")
            table = enrichment.enrich_genes(genes, library, background=_gene_list(background))
            query = {"genes": genes, "matched": table.attrs["n_matched"]}
        payload = {"query": query, "library": library, "method": method, "results": json.loads(table.head(top).to_json(orient="records"))}
        emit(payload, as_json, _render_enrich)


def _render_enrich(payload: dict[str, Any]) -> None:
    query = payload["query"]
    what = f"group '{query['group']}' of {query['dataset']}" if "group" in query else f"{query['matched']} of {len(query['genes'])} genes"
    table = Table(title=f"{payload['method'].upper()} enrichment ({payload['library']}) for {what}")
    columns = ("pathway", "overlap", "pval", "fdr") if payload["method"] == "ora" else ("pathway", "nes", "pval", "fdr")
    for column in columns:
        table.add_column(column)
    for row in payload["results"]:
        table.add_row(
            row["title"],
            str(row.get("overlap", "")) if payload["method"] == "ora" else f"{row['nes']:.2f}",
            f"{row['pval']:.2e}",
            f"{row['fdr']:.2e}",
        )
    console.print(table)
