"""``cell2text kb``: build and query the Chroma knowledge base."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from cell2text.cli.common import JsonOption, app, console, emit, user_errors

kb_app = typer.Typer(help="The Chroma knowledge base of ontology terms and gene sets.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
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
        payload = {
            "documents": count,
            "location": kb.url or str(kb.path),
            "fingerprint": kb.fingerprint,
            "ontology": kb.ontology.version,
            "messages": kb.messages or ["The knowledge base is current."],
        }
        emit(
            payload,
            as_json,
            lambda p: console.print("\n".join(p["messages"]) + f"\n{p['documents']:,} documents in {p['location']}", highlight=False),
        )


@kb_app.command("query")
def kb_query(
    text: Annotated[str, typer.Argument(help="What to look for, in words.")],
    kind: Annotated[Optional[str], typer.Option("--kind", help="cell_type, tissue, disease, pathway or markers.")] = None,
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
