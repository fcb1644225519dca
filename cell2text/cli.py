"""The ``cell2text`` command line.

Every command prints a readable summary by default and machine-readable JSON with ``--json``;
bad input ends with one ``error: ...`` line naming the problem and the fix, and exit code 2.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from cell2text import __version__
from cell2text.errors import InputError

app = typer.Typer(help="Verified natural-language descriptions of single-cell RNA-seq data.", no_args_is_help=True)
ontology_app = typer.Typer(help="Cell Ontology, UBERON and MONDO: look up terms, similarity, neighbours.", no_args_is_help=True)
app.add_typer(ontology_app, name="ontology")
kb_app = typer.Typer(help="The Chroma knowledge base of ontology terms and gene sets.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
MethodOption = Annotated[
    str, typer.Option("--method", "-m", help="'symmetric' (ours, in [0, 1]) or 'cell2text-paper' (log2 score, 1 to ~13).")
]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn bad input into one line on stderr and exit code 2, without a traceback."""
    try:
        yield
    except InputError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


def emit(payload: Any, as_json: bool, render: Any) -> None:
    """Print ``payload`` as JSON, or call ``render(payload)`` for the readable form."""
    if as_json:
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        render(payload)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cell2text {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = None,
) -> None:
    """Verified natural-language descriptions of single-cell RNA-seq data."""


# ---------------------------------------------------------------------------- inspect
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
        _check_source(path, demo)
        summary = summarise_dataset(path, groupby=groupby)
        if out is not None:
            from cell2text.data.io import write_text_atomic

            write_text_atomic(out, json.dumps(summary, indent=2, ensure_ascii=False) + "\n", inputs=[path] if path else [])
        emit(summary, as_json, _render_inspect)
        if out is not None and not as_json:
            console.print(f"Summary written to [bold]{out}[/]")


def _render_inspect(summary: dict[str, Any]) -> None:
    data = summary["dataset"]
    console.print(f"[bold]{data['name']}[/]: {data['n_cells']:,} cells x {data['n_genes']:,} genes "
                  f"(expression from {data['source']}, {data['detected']})")
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
DatasetArgument = Annotated[Optional[Path], typer.Argument(help="An .h5ad file, a 10x .h5 file or a 10x mtx folder.")]
DemoOption = Annotated[bool, typer.Option("--demo", help="Use the bundled pbmc68k_reduced demo dataset.")]


def _check_source(path: Optional[Path], demo: bool) -> None:
    """A command works on one dataset: a PATH or --demo."""
    if demo == (path is not None):
        raise InputError("pass either a dataset PATH or --demo, not both and not neither.")


def _raw_dataset(path: Optional[Path], demo: bool) -> tuple[Any, str]:
    """The dataset as read (the agent prepares its own copy), and its display name."""
    from cell2text.data.demo import DEMO_NAME, load_demo
    from cell2text.data.io import read_dataset

    _check_source(path, demo)
    return (load_demo(), DEMO_NAME) if demo else (read_dataset(path), path.name)


def _progress_printer(quiet: bool):
    """A describe progress callback printing each finished step to stderr."""
    def report(node: str, step: str) -> None:
        if not quiet:
            err_console.print(f"[dim]-[/] {step}", highlight=False)
    return report


@app.command()
def describe(
    path: DatasetArgument = None,
    demo: DemoOption = False,
    groupby: Annotated[Optional[str], typer.Option("--groupby", "-g", help="obs column with the groups; omitted: Leiden clusters are computed.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the report (report.json, report.html) into this folder.")] = None,
    formats: Annotated[str, typer.Option("--format", "-f", help="Report formats besides JSON, comma-separated: html, md.")] = "html",
    write: Annotated[Optional[Path], typer.Option("--write", "-w", help="Also write the annotated AnnData to this new .h5ad file.")] = None,
    max_rounds: Annotated[int, typer.Option("--max-rounds", help="Revise at most this many times.")] = 2,
    as_json: JsonOption = False,
) -> None:
    """Describe every group with the Cell2Text model, verify each claim with the tools, and revise until supported or marked."""
    from cell2text.agent.describe import describe as run_describe
    from cell2text.agent.describe import read_result
    from cell2text.data.io import check_output_path, write_h5ad_atomic

    with user_errors():
        adata, name = _raw_dataset(path, demo)
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
        run_describe(adata, groupby, max_rounds=max_rounds, progress=_progress_printer(as_json))
        result = read_result(adata)
        written = {}
        if out is not None:
            from cell2text.report import write_report

            written = {k: str(v) for k, v in write_report(adata, out, name=name, formats=chosen, inputs=inputs).items()}
        if write is not None:
            written["h5ad"] = str(write_h5ad_atomic(adata, write, inputs=inputs))
        emit(result | {"dataset": name, "written": written}, as_json, _render_describe)


def _render_describe(result: dict[str, Any]) -> None:
    table = Table(title=f"{result['dataset']}: groups of obs['{result['groupby']}']")
    for column in ("group", "cells", "cell type", "id", "status", "confidence"):
        table.add_column(column)
    for name, group in result["groups"].items():
        table.add_row(name, str(group["n_cells"]), group["cell_type"] or "-", group["cell_type_ontology_term_id"] or "-",
                      group["status"] or "-", f"{group['confidence']:.2f}" if group["confidence"] is not None else "-")
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


# ---------------------------------------------------------------------------- ask / chat
ThreadOption = Annotated[str, typer.Option("--thread", "-t", help="Conversation id: questions in one thread remember each other.")]


def _chat_for(path: Optional[Path], demo: bool, groupby: Optional[str], quiet: bool):
    from cell2text.agent.answers import DatasetSession
    from cell2text.agent.chat import Chat

    _check_source(path, demo)
    session = DatasetSession.open(path, groupby)
    session.result(progress=_progress_printer(quiet))  # describes the dataset once; later questions read the cache
    return Chat(session)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, e.g. 'what cell types are here?'.")],
    path: DatasetArgument = None,
    demo: DemoOption = False,
    groupby: Annotated[Optional[str], typer.Option("--groupby", "-g", help="obs column with the groups; omitted: Leiden clusters.")] = None,
    thread: ThreadOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Answer one question about a dataset from the tools (cell types, evidence, markers, pathways, ontology)."""
    with user_errors():
        chat = _chat_for(path, demo, groupby, as_json)
        answer = chat.ask(question, thread)
        emit(answer.to_dict(), as_json, lambda a: console.print(a["text"], highlight=False, markup=False))


@app.command()
def chat(
    path: DatasetArgument = None,
    demo: DemoOption = False,
    groupby: Annotated[Optional[str], typer.Option("--groupby", "-g", help="obs column with the groups; omitted: Leiden clusters.")] = None,
    thread: ThreadOption = "default",
) -> None:
    """An interactive conversation about a dataset in the terminal (empty line, 'exit' or Ctrl-D to stop)."""
    with user_errors():
        session_chat = _chat_for(path, demo, groupby, False)
        console.print(f"Chatting about [bold]{session_chat.session.name}[/] (thread '{thread}'). Try: what cell types are here?")
        while True:
            try:
                question = console.input("[bold cyan]you>[/] ").strip()
            except (EOFError, KeyboardInterrupt):
                break
            if question.lower() in ("", "exit", "quit"):
                break
            try:
                console.print(session_chat.ask(question, thread).text, highlight=False, markup=False)
            except InputError as exc:
                err_console.print(f"[bold red]error:[/] {exc}", highlight=False)


# ---------------------------------------------------------------------------- ui
@app.command()
def ui(
    path: DatasetArgument = None,
    demo: DemoOption = False,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on; the default serves this machine only.")] = "127.0.0.1",
    port: Annotated[Optional[int], typer.Option("--port", "-p", help="Port (default: 7860 or the next free one).")] = None,
    share: Annotated[bool, typer.Option("--share", help="Also open a public gradio.live link (off unless asked).")] = False,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest .h5ad a user may upload.")] = 500,
) -> None:
    """Open the Gradio chat UI: describe a dataset step by step, browse the groups, chat, download the report."""
    from cell2text.ui.app import launch

    with user_errors():
        if demo and path is not None:
            raise InputError("pass either a dataset PATH or --demo, not both.")
        if path is not None and not path.exists():
            raise InputError(f"'{path}' does not exist. Pass an .h5ad file, a 10x .h5 file or a 10x mtx folder.")
        if max_upload_mb <= 0:
            raise InputError(f"--max-upload-mb must be positive, got {max_upload_mb}.")
        console.print(f"cell2text UI on http://{host}:{port or 7860} (Ctrl-C stops it){' with a public share link' if share else ''}")
        launch(path, demo, host=host, port=port, share=share, max_upload_mb=max_upload_mb)


# ---------------------------------------------------------------------------- ontology
def _term_payload(term_id: str) -> dict[str, Any]:
    from cell2text.tools.ontology import load_ontology

    ontology = load_ontology()
    term = ontology.term(term_id)
    replacement = ontology.replacement(term.id)
    return {
        "id": term.id,
        "label": term.label,
        "definition": term.definition,
        "synonyms": list(term.synonyms),
        "obsolete": term.obsolete,
        "replaced_by": replacement.id if replacement else None,
        "consider": list(term.consider),
        "parents": [{"id": p, "label": ontology.term(p).label} for p in ontology.parents(term.id)],
        "children": [{"id": c, "label": ontology.term(c).label} for c in ontology.children(term.id)],
        "n_ancestors": len(ontology.ancestors(term.id)),
        "n_descendants": len(ontology.descendants(term.id)),
        "url": term.url,
        "ontology_version": ontology.version,
    }


@ontology_app.command("lookup")
def ontology_lookup(
    text: Annotated[str, typer.Argument(help="A CURIE (CL:0000236) or free text ('CD14+ Monocyte', 'Tregs').")],
    ontology_name: Annotated[str, typer.Option("--ontology", "-O", help="CL, UBERON or MONDO (for free text).")] = "CL",
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="How many candidates to list for free text.")] = 5,
    semantic: Annotated[bool, typer.Option("--semantic", help="When string matching is unsure, also search the knowledge base by meaning.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show a term, or the ranked candidate terms for a piece of free text."""
    from cell2text.tools.ontology import load_ontology

    with user_errors():
        if semantic:
            from cell2text.kb import KnowledgeBase

            result = KnowledgeBase().standardise(text, prefix=ontology_name.upper(), k=k)
        else:
            result = load_ontology().standardise(text, prefix=ontology_name.upper(), k=k)
        payload: dict[str, Any] = {
            "query": text,
            "unsure": result.unsure,
            "reason": result.reason,
            "candidates": [vars(c) for c in result.candidates],
            "term": _term_payload(result.best.id) if result.best else None,
        }
        emit(payload, as_json, _render_lookup)


def _render_lookup(payload: dict[str, Any]) -> None:
    term = payload["term"]
    if term:
        console.print(f"[bold]{term['label']}[/] ({term['id']})  {term['url']}", highlight=False)
        if term["definition"]:
            console.print(f"  {term['definition']}", highlight=False)
        if term["synonyms"]:
            console.print(f"  synonyms: {'; '.join(term['synonyms'])}", highlight=False)
        console.print("  parents: " + ("; ".join(f"{p['label']} ({p['id']})" for p in term["parents"]) or "none"), highlight=False)
        console.print(f"  children: {len(term['children'])}, ancestors: {term['n_ancestors']}, descendants: {term['n_descendants']}")
    if payload["reason"]:
        console.print(f"[yellow]{'unsure: ' if payload['unsure'] else ''}{payload['reason']}[/]", highlight=False)
    if len(payload["candidates"]) > 1 or payload["unsure"]:
        table = Table(title=f"Candidates for '{payload['query']}'")
        for column in ("id", "label", "score", "method", "matched name"):
            table.add_column(column)
        for c in payload["candidates"]:
            table.add_row(c["id"], c["label"], f"{c['score']:.3f}", c["method"], c["matched"])
        console.print(table)


def _resolve(text: str) -> str:
    from cell2text.tools.ontology import load_ontology

    return load_ontology().lookup(text).id


@ontology_app.command("similarity")
def ontology_similarity(
    a: Annotated[str, typer.Argument(help="First term: CURIE or free text (for cell2text-paper: the predicted term).")],
    b: Annotated[str, typer.Argument(help="Second term: CURIE or free text (for cell2text-paper: the true term).")],
    method: MethodOption = "symmetric",
    as_json: JsonOption = False,
) -> None:
    """Personalized-PageRank similarity of two Cell Ontology terms."""
    from cell2text.tools.ontology import load_ontology
    from cell2text.tools.pagerank import pagerank_similarity

    with user_errors():
        ontology = load_ontology()
        id_a, id_b = _resolve(a), _resolve(b)
        ppr = pagerank_similarity(ontology, method=method)  # type: ignore[arg-type]
        payload = {
            "a": {"id": id_a, "label": ontology.term(id_a).label},
            "b": {"id": id_b, "label": ontology.term(id_b).label},
            "method": method,
            "alpha": ppr.alpha,
            "similarity": ppr.similarity(id_a, id_b),
            "ontology_version": ppr.version,
        }
        emit(payload, as_json, lambda p: console.print(
            f"{p['a']['label']} ({p['a']['id']}) ~ {p['b']['label']} ({p['b']['id']}): "
            f"[bold]{p['similarity']:.4f}[/] ({p['method']}, alpha {p['alpha']})", highlight=False))


@ontology_app.command("neighbours")
def ontology_neighbours(
    term: Annotated[str, typer.Argument(help="A CURIE or free text.")],
    k: Annotated[int, typer.Option("-k", min=1, max=500, help="How many neighbours.")] = 10,
    method: MethodOption = "symmetric",
    as_json: JsonOption = False,
) -> None:
    """The terms closest to a Cell Ontology term by Personalized PageRank."""
    from cell2text.tools.ontology import load_ontology
    from cell2text.tools.pagerank import pagerank_similarity

    with user_errors():
        ontology = load_ontology()
        term_id = _resolve(term)
        ppr = pagerank_similarity(ontology, method=method)  # type: ignore[arg-type]
        payload = {
            "term": {"id": term_id, "label": ontology.term(term_id).label},
            "method": method,
            "alpha": ppr.alpha,
            "neighbours": [
                {"id": n, "label": ontology.term(n).label, "score": s} for n, s in ppr.neighbours(term_id, k)
            ],
        }
        emit(payload, as_json, _render_neighbours)


def _render_neighbours(payload: dict[str, Any]) -> None:
    table = Table(title=f"PPR neighbours of {payload['term']['label']} ({payload['term']['id']}), {payload['method']}")
    for column in ("rank", "id", "label", "score"):
        table.add_column(column)
    for rank, n in enumerate(payload["neighbours"], 1):
        table.add_row(str(rank), n["id"], n["label"], f"{n['score']:.4f}")
    console.print(table)


# ---------------------------------------------------------------------------- enrich
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
        payload = {"query": query, "library": library, "method": method,
                   "results": json.loads(table.head(top).to_json(orient="records"))}
        emit(payload, as_json, _render_enrich)


def _render_enrich(payload: dict[str, Any]) -> None:
    query = payload["query"]
    what = f"group '{query['group']}' of {query['dataset']}" if "group" in query else f"{query['matched']} of {len(query['genes'])} genes"
    table = Table(title=f"{payload['method'].upper()} enrichment ({payload['library']}) for {what}")
    columns = ("pathway", "overlap", "pval", "fdr") if payload["method"] == "ora" else ("pathway", "nes", "pval", "fdr")
    for column in columns:
        table.add_column(column)
    for row in payload["results"]:
        table.add_row(row["title"], str(row.get("overlap", "")) if payload["method"] == "ora" else f"{row['nes']:.2f}",
                      f"{row['pval']:.2e}", f"{row['fdr']:.2e}")
    console.print(table)


# ---------------------------------------------------------------------------- model
@app.command("train")
def train_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint folder to write.")],
    data: Annotated[Optional[Path], typer.Option("--data", help="An .h5ad file to train on (default: the demo dataset).")] = None,
    label_key: Annotated[str, typer.Option("--label-key", help="obs column of cell types (CL labels, CURIEs or names).")] = "cell_type",
    tissue_key: Annotated[Optional[str], typer.Option("--tissue-key", help="obs column of tissues.")] = "tissue",
    disease_key: Annotated[Optional[str], typer.Option("--disease-key", help="obs column of diseases.")] = "disease",
    donor_key: Annotated[Optional[str], typer.Option("--donor-key", help="obs column of donors (donor-disjoint split).")] = None,
    encoder: Annotated[str, typer.Option("--encoder", help="'mlp' or 'transformer'.")] = "mlp",
    projector: Annotated[str, typer.Option("--projector", help="'mlp2x_gelu' or 'resampler'.")] = "mlp2x_gelu",
    lm_path: Annotated[Optional[str], typer.Option("--lm-path", help="Causal LM folder or cached hub id (default: bundled SmolLM2-135M).")] = None,
    stage1_steps: Annotated[int, typer.Option("--stage1-steps", min=0)] = 600,
    stage2_steps: Annotated[int, typer.Option("--stage2-steps", min=0)] = 150,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Train a Cell2Text model (encoder + head, then projector + LoRA) and save a checkpoint."""
    from cell2text.model.config import Cell2TextConfig
    from cell2text.model.train import TrainConfig, train

    with user_errors():
        if encoder not in ("mlp", "transformer") or projector not in ("mlp2x_gelu", "resampler"):
            raise InputError("unknown --encoder or --projector. Use mlp|transformer and mlp2x_gelu|resampler.")
        if data is not None and out.resolve() == data.resolve():
            raise InputError("refusing to write the checkpoint over the input file. Pass another --out.")
        config = TrainConfig(out=str(out), data=str(data) if data else None, label_key=label_key, tissue_key=tissue_key,
                             disease_key=disease_key, donor_key=donor_key, seed=seed, stage1_steps=stage1_steps,
                             stage2_steps=stage2_steps,
                             model=Cell2TextConfig(encoder=encoder, projector=projector, lm_path=lm_path))
        path = train(config, progress=not as_json)
        if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
            return
        payload = {"checkpoint": str(path), "size_mb": round(sum(f.stat().st_size for f in path.iterdir()) / 1e6, 1)}
        emit(payload, as_json, lambda p: console.print(f"Checkpoint written to [bold]{p['checkpoint']}[/] ({p['size_mb']} MB)"))


@app.command("evaluate")
def evaluate_command(
    model_path: Annotated[Optional[Path], typer.Option("--model", help="Checkpoint folder (default: the shipped one).")] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="An .h5ad file (default: the demo dataset).")] = None,
    label_key: Annotated[str, typer.Option("--label-key", help="obs column of the true cell types.")] = "cell_type",
    split: Annotated[str, typer.Option("--split", help="'test' (the checkpoint's held-out cells, when they are in the data) or 'all'.")] = "test",
    as_json: JsonOption = False,
) -> None:
    """Generate descriptions and grade them: cell-type accuracy / macro-F1, PPR similarity, grades, pathways, head."""
    from cell2text.model.evaluate import evaluate_model
    from cell2text.model.model import load_model
    from cell2text.model.train import _label_ids

    with user_errors():
        from cell2text.data.demo import load_dataset

        if split not in ("test", "all"):
            raise InputError(f"unknown --split '{split}'. Use 'test' or 'all'.")
        model, path = load_model(model_path)
        adata, name, _ = load_dataset(data, label_key)
        if split == "test" and (path / "split.json").is_file():
            held_out = json.loads((path / "split.json").read_text())["test"]
            present = adata.obs_names.intersection(held_out)
            if len(present) == 0:
                raise InputError("none of the checkpoint's held-out cells are in this data. Pass --split all.")
            adata = adata[present].copy()
        true_ids, _ = _label_ids(adata, label_key)
        recipe_file = path / "train.json"
        recipe = json.loads(recipe_file.read_text()) if recipe_file.is_file() else None
        result = evaluate_model(model, adata, list(true_ids), recipe)
        payload = {"model": str(path), "data": name, "split": split} | {k: v for k, v in result.items()
                                                                       if k not in ("texts", "predicted", "head_predicted")}
        payload["examples"] = [{"true": t, "text": x} for t, x in list(zip(true_ids, result["texts"]))[:5]]
        emit(payload, as_json, _render_evaluation)


def _render_evaluation(p: dict[str, Any]) -> None:
    console.print(f"[bold]{p['model']}[/] on {p['data']} ({p['split']}, {p['n']} cells)")
    console.print(f"  text: accuracy {p['accuracy']:.3f}, macro-F1 {p['macro_f1']:.3f}, mean PPR similarity "
                  f"{p['mean_ppr_similarity']:.3f}, paper PPR score {p['mean_paper_ppr_score']:.2f}, grades {p['grades']}")
    if "bleu" in p:
        console.print(f"  vs reference text: BLEU {p['bleu']:.1f}, ROUGE-L {p['rouge_l']:.3f}, MiniLM cosine "
                      f"{p['embedding_similarity']:.3f}, pathway Jaccard {p['pathway_jaccard']:.3f}")
    console.print(f"  head: accuracy {p['head_accuracy']:.3f}, macro-F1 {p['head_macro_f1']:.3f}, "
                  f"calibration error {p['head_ece']:.3f} (temperature {p['head_temperature']:.2f})")
    console.print(f"  speed: {p['generate_cells_per_s']:.1f} cells/s, {p['generate_tokens_per_s']:.0f} new tokens/s")
    for example in p["examples"][:3]:
        console.print(f"  e.g. [{example['true']}] {example['text']}", highlight=False)


# ---------------------------------------------------------------------------- kb
ScopeOption = Annotated[str, typer.Option("--scope", help="'cellxgene' (CL, CELLxGENE tissues/diseases, gene sets) or 'full'.")]


@kb_app.command("build")
def kb_build(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if the knowledge base is current.")] = False,
    scope: ScopeOption = "cellxgene",
    as_json: JsonOption = False,
) -> None:
    """Build the knowledge base (once; reused until the ontology or gene sets change)."""
    from cell2text.kb import KnowledgeBase

    with user_errors():
        kb = KnowledgeBase(scope=scope)
        count = kb.build(force=force, progress=not as_json)
        payload = {"documents": count, "location": kb.url or str(kb.path), "fingerprint": kb.fingerprint,
                   "ontology": kb.ontology.version, "messages": kb.messages or ["The knowledge base is current."]}
        emit(payload, as_json, lambda p: console.print(
            "\n".join(p["messages"]) + f"\n{p['documents']:,} documents in {p['location']}", highlight=False))


@kb_app.command("query")
def kb_query(
    text: Annotated[str, typer.Argument(help="What to look for, in words.")],
    kind: Annotated[Optional[str], typer.Option("--kind", help="cell_type, tissue, disease or pathway.")] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many hits.")] = 5,
    scope: ScopeOption = "cellxgene",
    as_json: JsonOption = False,
) -> None:
    """Retrieve the terms and gene sets closest in meaning to TEXT, with their definitions and links."""
    from cell2text.kb import KnowledgeBase

    with user_errors():
        kb = KnowledgeBase(scope=scope)
        hits = kb.query(text, kind=kind, k=k)
        payload = {"query": text, "kind": kind, "hits": [vars(h) for h in hits]}
        emit(payload, as_json, _render_hits)


def _render_hits(payload: dict[str, Any]) -> None:
    for rank, hit in enumerate(payload["hits"], 1):
        console.print(f"{rank}. [bold]{hit['label']}[/] ({hit['curie']}, {hit['kind']}, score {hit['score']:.3f})  {hit['url']}", highlight=False)
        console.print(f"   {hit['text'][:300]}", highlight=False)


if __name__ == "__main__":
    app()
