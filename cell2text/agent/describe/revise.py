"""Deterministic revision: rewrite a description from its verified claims.

Supported claims are kept, or refined to the more specific cell type verification found;
contradicted ones are replaced by the alternative verification found (the head's label, the
metadata's tissue, a common parent term, the best supported candidate the markers propose) or
removed; unverified ones are hedged in the text ("may", "possibly ... (unverified)"); names that
match no id are removed, and so are tissue and disease claims the data has no metadata to check
(the final text says so, :func:`no_metadata_note`).
When nothing supported is said about pathways or markers, the group's strongest ones from the
data are added. The revised text writes every id inline, so it can be extracted and verified
again exactly as written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from cell2text.agent.describe.claims import Claim
from cell2text.data.schema import NORMAL
from cell2text.knowledge.genesets import pathway_title
from cell2text.knowledge.ontology import Ontology

MAX_PATHWAYS = 3


def _article(label: str) -> str:
    return "an" if label[:1].lower() in "aeiou" else "a"


def _term_claim(kind: str, term_id: str, ontology: Ontology, action: str) -> Claim:
    label = NORMAL[1] if term_id == NORMAL[0] else ontology.term(term_id).label
    return Claim(kind, label, term_id, label, action=action)


def _decide(claim: Claim, ontology: Ontology) -> Claim | None:
    """What to keep of one verified ontology claim: itself, its alternative (pending) or nothing."""
    if claim.id is None and claim.alternative is None:
        claim.action = "removed: matches no ontology term"
        return None
    if _unchecked_metadata(claim):
        claim.action = "removed: the data has no metadata to check it"
        return None
    if claim.status == "supported" and claim.kind == "cell_type" and claim.alternative is not None:
        claim.action = f"refined to {claim.alternative}"
        return _term_claim(claim.kind, claim.alternative, ontology, f"from {claim.id}")
    if claim.status == "supported":
        claim.action = "kept"
        return claim
    if claim.alternative is not None and (claim.status == "contradicted" or claim.kind == "cell_type" or claim.id is None):
        verb = "generalised to" if claim.status == "unverified" and claim.id is not None else "replaced by"
        claim.action = f"{verb} {claim.alternative}"
        return _term_claim(claim.kind, claim.alternative, ontology, f"from {claim.id or claim.text}")
    if claim.status == "contradicted":
        claim.action = "removed"
        return None
    claim.action = "hedged"
    return claim


def _unchecked_metadata(claim: Claim) -> bool:
    """A tissue or disease claim the data has no column to check (``verify_metadata`` records the missing columns)."""
    return claim.kind in ("tissue", "disease") and bool(claim.evidence) and claim.evidence[0].get("found") is False


def no_metadata_note(claims: list[Claim]) -> str:
    """A sentence for the final text when the draft named a tissue or disease the data has no metadata for, else ""."""
    kinds = sorted({c.kind for c in claims if _unchecked_metadata(c)}, reverse=True)
    if not kinds:
        return ""
    return f"The data has no {' or '.join(kinds)} metadata, so the model's guess about {'them' if len(kinds) > 1 else 'it'} is not stated."


def revise(
    claims: list[Claim], *, ontology: Ontology, fallback_cell_type: str | None, pathways: list[str], markers_for: Callable[[str], list[str]]
) -> tuple[str, list[Claim]]:
    """The revised text and the claims it makes (new ones pending verification).

    ``claims`` are verified claims; their ``action`` is filled in. ``fallback_cell_type`` (the
    head's top label; None where the model does not count) is stated when the draft names no cell type. ``pathways`` (the group's
    strongest, from the data) and ``markers_for(cell type)`` (its markers, for the cell type the
    revision states, else the fallback) are added when no claim of that kind is supported.
    """
    kept: list[Claim] = []
    for kind in ("cell_type", "tissue", "disease"):
        decided = [c for c in (_decide(c, ontology) for c in claims if c.kind == kind) if c is not None]
        if kind == "cell_type" and not decided and fallback_cell_type is not None and not any(c.kind == kind for c in claims):
            decided = [_term_claim(kind, fallback_cell_type, ontology, "added: the draft named no cell type")]
        kept += decided[:1]
    stated = next((c.id for c in kept if c.kind == "cell_type"), fallback_cell_type)
    for kind, extra, make in (
        ("pathway", lambda: pathways, lambda n: Claim("pathway", pathway_title(n), n, pathway_title(n))),
        ("marker", lambda: markers_for(stated), lambda g: Claim("marker", g, g, g)),
    ):
        ours = [c for c in claims if c.kind == kind]
        for claim in ours:
            unchecked = claim.status == "contradicted" or claim.id is None or not claim.evidence  # e.g. a gene the data lacks
            claim.action = "removed" if unchecked else "kept" if claim.status == "supported" else "hedged"
        chosen = [c for c in ours if c.action in ("kept", "hedged")]
        if not any(c.status == "supported" for c in chosen):
            present = {c.id for c in chosen}
            chosen += [replace(make(x), action="added from the data") for x in extra() if x not in present]
        kept += chosen[:MAX_PATHWAYS] if kind == "pathway" else chosen
    return render(kept), kept


def render(claims: list[Claim]) -> str:
    """Text for a list of claims, ids inline; unverified ones hedged."""

    def hedged(claim: Claim) -> bool:
        return claim.status == "unverified"

    sentences = []
    for claim in (c for c in claims if c.kind == "cell_type"):
        verb = "may consist" if hedged(claim) else "consists"
        sentences.append(f"This group {verb} of {_article(claim.label)} {claim.label} ({claim.id})" + (", unverified." if hedged(claim) else "."))
    context = []
    for claim in (c for c in claims if c.kind in ("tissue", "disease")):
        lead = "it was sampled from" if claim.kind == "tissue" else "disease status"
        context.append(f"{lead}{'' if claim.kind == 'tissue' else ':'} {claim.label} ({claim.id})" + (" (unverified)" if hedged(claim) else ""))
    if context:
        joined = "; ".join(context)
        sentences.append(joined[0].upper() + joined[1:] + ".")
    for status, lead in ((False, "Pathways more active here than in the other cells: "), (True, "Possibly active pathways (unverified): ")):
        named = [f"{c.label.lower()} ({c.id})" for c in claims if c.kind == "pathway" and hedged(c) == status]
        if named:
            sentences.append(lead + ", ".join(named) + ".")
    for status, lead in ((False, "Marker genes up in this group: "), (True, "Possible marker genes (unverified): ")):
        named = [c.id for c in claims if c.kind == "marker" and hedged(c) == status]
        if named:
            sentences.append(lead + ", ".join(named) + ".")
    return " ".join(sentences)
