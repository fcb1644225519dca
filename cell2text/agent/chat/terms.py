"""Chat answers about ontology terms rather than the data: how close two cell types are, and what a term means."""

from __future__ import annotations

from cell2text.agent.chat.prompts import CANNOT_TELL, REFUSED
from cell2text.agent.chat.session import Answer, DatasetSession
from cell2text.knowledge.ontology import Ontology
from cell2text.knowledge.pagerank import common_parent


def term_name(ontology: Ontology, term_id: str) -> str:
    """A term as answers write it: "label (id)"."""
    return f"{ontology.term(term_id).label} ({term_id})"


def answer_similarity(session: DatasetSession, first: str, second: str) -> Answer:
    """How close two cell types are in the Cell Ontology: PageRank similarity and their common parent."""
    terms = [session.ontology.read_term(t, "CL") for t in (first, second)]
    missing = [t for t, r in zip((first, second), terms) if r is None]
    if missing:
        return Answer(f"'{missing[0]}' matches no Cell Ontology term. {CANNOT_TELL} Try the full name or a CL id.", "similarity", {}, [])
    a, b = (r.best.id for r in terms)
    score = session.ppr.similarity(a, b)
    parent = common_parent(session.ontology, a, b, session.ppr)
    text = (
        f"{term_name(session.ontology, a)} and {term_name(session.ontology, b)}: PageRank similarity {score:.3f} on the Cell Ontology"
        f" (1 = same term; a parent and child score about 0.2, unrelated types about 0). Their closest common parent is"
        f" {term_name(session.ontology, parent)}."
    )
    return Answer(text, "similarity", {"a": a, "b": b, "similarity": round(score, 4), "common_parent": parent}, [a, b, parent])


def answer_define(session: DatasetSession, term: str) -> Answer:
    """The definition of a cell type, tissue, disease or pathway, from the knowledge base."""
    for prefix in ("CL", "UBERON", "MONDO"):
        found = session.ontology.read_term(term, prefix, min_score=0.85)
        if found is not None and not found.unsure:
            hit = session.kb.get(found.best.id)
            if hit is not None:
                text = f"{hit.label} ({hit.curie}): {hit.text}\nSource: {hit.source}, {hit.url}"
                return Answer(text, "define", {"id": hit.curie, "label": hit.label, "definition": hit.text, "url": hit.url}, [hit.curie])
    hits = session.kb.query(term, k=1)
    if hits and hits[0].score >= 0.55:
        hit = hits[0]
        text = f"Closest match in the knowledge base (similarity {hit.score:.2f}): {hit.label} ({hit.curie}): {hit.text}\nSource: {hit.source}"
        return Answer(text, "define", {"id": hit.curie, "label": hit.label, "definition": hit.text, "score": hit.score}, [hit.curie])
    return Answer(f"Nothing in the knowledge base (Cell Ontology, UBERON, MONDO, gene sets) matches '{term}'.", REFUSED, {"question": term}, [])
