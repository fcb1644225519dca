"""``cell2text ontology``: look up terms, PageRank similarity and neighbours."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from cell2text.cli.common import JsonOption, app, console, emit, user_errors

ontology_app = typer.Typer(help="Cell Ontology, UBERON and MONDO: look up terms, similarity, neighbours.", no_args_is_help=True)
app.add_typer(ontology_app, name="ontology")
MethodOption = Annotated[str, typer.Option("--method", "-m", help="'symmetric' (ours, in [0, 1]) or 'cell2text-paper' (log2 score, 1 to ~13).")]


def _term_payload(term_id: str) -> dict[str, Any]:
    from cell2text.knowledge.ontology import load_ontology

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
    from cell2text.knowledge.ontology import load_ontology

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
    from cell2text.knowledge.ontology import load_ontology

    return load_ontology().lookup(text).id


@ontology_app.command("similarity")
def ontology_similarity(
    a: Annotated[str, typer.Argument(help="First term: CURIE or free text (for cell2text-paper: the predicted term).")],
    b: Annotated[str, typer.Argument(help="Second term: CURIE or free text (for cell2text-paper: the true term).")],
    method: MethodOption = "symmetric",
    as_json: JsonOption = False,
) -> None:
    """Personalized-PageRank similarity of two Cell Ontology terms."""
    from cell2text.knowledge.ontology import load_ontology
    from cell2text.knowledge.pagerank import pagerank_similarity

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
        emit(
            payload,
            as_json,
            lambda p: console.print(
                f"{p['a']['label']} ({p['a']['id']}) ~ {p['b']['label']} ({p['b']['id']}): "
                f"[bold]{p['similarity']:.4f}[/] ({p['method']}, alpha {p['alpha']})",
                highlight=False,
            ),
        )


@ontology_app.command("neighbours")
def ontology_neighbours(
    term: Annotated[str, typer.Argument(help="A CURIE or free text.")],
    k: Annotated[int, typer.Option("-k", min=1, max=500, help="How many neighbours.")] = 10,
    method: MethodOption = "symmetric",
    as_json: JsonOption = False,
) -> None:
    """The terms closest to a Cell Ontology term by Personalized PageRank."""
    from cell2text.knowledge.ontology import load_ontology
    from cell2text.knowledge.pagerank import pagerank_similarity

    with user_errors():
        ontology = load_ontology()
        term_id = _resolve(term)
        ppr = pagerank_similarity(ontology, method=method)  # type: ignore[arg-type]
        payload = {
            "term": {"id": term_id, "label": ontology.term(term_id).label},
            "method": method,
            "alpha": ppr.alpha,
            "neighbours": [{"id": n, "label": ontology.term(n).label, "score": s} for n, s in ppr.neighbours(term_id, k)],
        }
        emit(payload, as_json, _render_neighbours)


def _render_neighbours(payload: dict[str, Any]) -> None:
    table = Table(title=f"PPR neighbours of {payload['term']['label']} ({payload['term']['id']}), {payload['method']}")
    for column in ("rank", "id", "label", "score"):
        table.add_column(column)
    for rank, n in enumerate(payload["neighbours"], 1):
        table.add_row(str(rank), n["id"], n["label"], f"{n['score']:.4f}")
    console.print(table)
