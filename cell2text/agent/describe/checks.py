"""The agent's tools: plain functions over ``cell2text.tools``, ``kb`` and ``model``, usable without LangGraph.

Each ``verify_*`` takes a claim about one group and returns it with a status (supported |
contradicted | unverified), a one-line reason and the numbers behind it. Verification is hard
evidence only: the model head's probabilities, the ontology graph and PageRank similarity, marker
genes and pathway activity tested on the group's cells against the rest, and the dataset's own
metadata columns.
"""

from __future__ import annotations

from dataclasses import replace

import anndata as ad
import numpy as np
import pandas as pd

from cell2text.agent.describe.claims import Claim
from cell2text.data.schema import CELL_TYPE_ID, DONOR_COLUMNS, METADATA_COLUMNS, NORMAL
from cell2text.kb.store import KnowledgeBase
from cell2text.knowledge.genes import ORGANISM_COLUMNS, ORGANISM_NAMES
from cell2text.knowledge.ontology import Ontology
from cell2text.knowledge.pagerank import PageRankSimilarity, common_parent
from cell2text.tools.candidates import NEAR_TIE, Candidate, organs_named, own_defining
from cell2text.tools.evidence import Thresholds, is_active, is_up, marker_status, pathway_status
from cell2text.tools.groups import GroupEvidence, group_counts, group_metadata
from cell2text.tools.markers import MarkerEvidence

_PATHWAY_KEYS = {
    "HALLMARK_": ("hallmark", "cell2text_pathways"),
    "REACTOME_": ("reactome", "cell2text_pathways_reactome"),
    "WP_": ("wikipathways", "cell2text_pathways_wikipathways"),
}


#: Calibrated candidate confidence at which markers alone overrule a confident model head: more likely right than not.
MARKERS_SURE = 0.5


# --------------------------------------------------------------------------- the model head
def labels_under(term_id: str, labels: list[str], ontology: Ontology) -> list[int]:
    """Positions of the head's labels that are ``term_id`` or below it: the ones whose probability counts for it."""
    return [i for i, label in enumerate(labels) if label == term_id or term_id in ontology.ancestors(label)]


def head_mass(probabilities: dict[str, float], term_id: str, ontology: Ontology) -> float:
    """Probability the head gives to ``term_id``: the sum over its labels that are the term or below it."""
    values = list(probabilities.values())
    return float(sum(values[i] for i in labels_under(term_id, list(probabilities), ontology)))


def _ranked(probabilities: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(probabilities.items(), key=lambda item: -item[1])


def propose_cell_types(evidence: GroupEvidence, group: str, k: int = 5) -> tuple[pd.DataFrame, list[Candidate]]:
    """The group's DE table and the ``k`` cell types its markers point to (:meth:`GroupEvidence.candidates`), best first.

    The tissue prior is the run's (e.g. the user's ``--tissue``), else the group's tissue metadata, when present.
    """
    return evidence.markers(group), evidence.candidates(group)[:k]


def _own_marker_not_up(table: pd.DataFrame, own: dict[str, tuple[str, ...]], thresholds: Thresholds) -> str | None:
    """One of the term's own defining markers ("CD14" of CD14-positive monocyte; not its ancestors') measured but not up in the group."""
    up = set(table.loc[is_up(table["logfc"], table["pval_adj"], thresholds), "gene"])
    measured = set(table["gene"])
    for concept, genes in own.items():
        present = [g for g in genes if g in measured]
        if present and not up & set(present):
            return f"{concept.split(': ')[-1]} ({', '.join(present)})"
    return None


def verify_cell_type(claim: Claim, evidence: GroupEvidence, group: str, *, head: dict[str, float], head_weight: float = 1.0) -> Claim:
    """Check "group is cell type X" with the ontology, the head's probabilities, PPR, known markers and the candidate search.

    ``head`` holds the group's mean per-cell probability of each label the model knows, and
    ``head_weight`` how much the head counts here (:mod:`cell2text.model.fit`: 1 where the model
    fits the data, 0 where it does not). The claim is scored like every candidate the group's
    markers propose (:meth:`GroupEvidence.check`, with the run's knowledge and tissue prior): it is
    contradicted when its defining markers are absent from the group's
    cells or a defining negative marker is up, whatever the head says. With the head counting
    (its probability times its weight is what the thresholds see): a head-supported claim one of
    whose own defining markers is not up is refined to the descendant the markers clearly prefer
    (``alternative``); a claim the head cannot judge (a term it was not trained on) is supported
    when it is the markers' best candidate and the head's own label is not supported by the markers.
    Without the head (weight 0): the markers' best candidates, and their ancestors, are supported.
    """
    ontology, ppr = evidence.ontology, evidence.ppr
    adata, groupby = evidence.adata, evidence.groupby
    if claim.id is None:
        return replace(claim, status="unverified", reason=f"'{claim.text}' matches no Cell Ontology term")
    term = ontology.term(claim.id)
    if term.obsolete:
        new = ontology.replacement(term.id)
        return replace(claim, status="contradicted", reason=f"{term.id} is obsolete", alternative=new.id if new else None)
    markers = evidence.known_markers(group, term.id)
    _, candidates = propose_cell_types(evidence, group)
    check = evidence.check(group, term.id)
    best = next((c for c in candidates if c.status == "supported"), None)
    top = max(head, key=head.get) if head_weight > 0 else None
    pagerank = {"source": "PageRank"} | ({"similarity_to_top": round(ppr.similarity(term.id, top), 3)} if top else {})
    records = [
        pagerank | {"neighbours": [{"id": t, "label": ontology.term(t).label, "similarity": round(s, 3)} for t, s in ppr.neighbours(term.id, 5)]},
        {
            "source": "markers",
            "score": markers.score,
            "relation": markers.relation,
            "up": [m["gene"] for m in markers.up],
            "not_up": [m["gene"] for m in markers.not_up],
            "negative_violated": [m["gene"] for m in markers.negative_violated],
            "not_measured": len(markers.not_measured),
        },
        {
            "source": "candidates",
            "claim": {
                "status": check.status,
                "score": check.score,
                "reason": check.reason,
                "negative_hits": check.negative_hits,
                "detection": check.detection,
            },
            "proposed": [{"id": c.id, "label": c.label, "score": c.score, "status": c.status} for c in candidates[:3]],
        },
    ]
    records += dataset_evidence(adata, groupby, group, term.id, ppr)
    if top is not None:
        (_, p1), (second, p2) = _ranked(head)[0], (_ranked(head) + [(top, 0.0)])[1]
        records.insert(
            0,
            {
                "source": "model head",
                "probability": round(head_mass(head, term.id, ontology), 3),
                "weight": round(head_weight, 3),
                "top_label": top,
                "top_probability": round(p1, 3),
                "second_label": second,
                "second_probability": round(p2, 3),
                "margin": round(p1 - p2, 3),
            },
        )
    claim = replace(claim, evidence=records, label=term.label)
    organism = group_organism(adata, groupby, group)
    species = _term_species(term.label)
    if organism is not None and species is not None and species != organism["species"]:
        reason = f"the term is specific to {species} cells, but {organism['source']} says {organism['value']}"
        instead = top if top is not None else best.id if best is not None else None  # the head's label, else the markers' best
        return replace(claim, status="contradicted", reason=reason, alternative=instead if instead != term.id else None)
    if head_weight <= 0:
        return _judge_by_markers(claim, term.id, check, best, ontology)
    return _judge_with_head(claim, evidence, group, term.id, head, head_weight, check, best, candidates, markers)


def _judge_by_markers(claim: Claim, term_id: str, check: Candidate, best: Candidate | None, ontology: Ontology) -> Claim:
    """The evidence path alone (the model does not fit the data): the markers' best candidates and their ancestors hold."""
    if check.status == "contradicted":
        alternative = best.id if best is not None and best.id != term_id else None
        return replace(claim, status="contradicted", reason=f"markers: {check.reason}", alternative=alternative)
    if best is not None and best.id == term_id:  # the best candidate itself, perhaps the common parent of near-tied ones
        return replace(claim, status="supported", reason=f"markers: the best candidate ({best.score:.1f}): {best.reason}")
    if best is not None and check.status == "supported" and check.score >= best.score - NEAR_TIE:
        return replace(
            claim, status="supported", reason=f"markers: {check.reason} (score {check.score:.1f}, the best candidate scores {best.score:.1f})"
        )
    if best is not None and term_id in ontology.ancestors(best.id):
        return replace(
            claim, status="supported", reason=f"a more general term for the markers' best candidate, {best.label} ({best.score:.1f}: {best.reason})"
        )
    if best is None:
        return replace(claim, status="unverified", reason=f"markers: {check.reason}; no cell type is clearly supported by the group's markers")
    return replace(
        claim,
        status="unverified",
        alternative=best.id,
        reason=f"markers: {check.reason}; the markers support {best.label} better ({best.score:.1f} vs {check.score:.1f})",
    )


def _judge_with_head(
    claim: Claim,
    evidence: GroupEvidence,
    group: str,
    term_id: str,
    head: dict[str, float],
    weight: float,
    check: Candidate,
    best: Candidate | None,
    candidates: list[Candidate],
    markers: MarkerEvidence,
) -> Claim:
    """The head's probabilities (times ``weight``) with the markers: see :func:`verify_cell_type`."""
    ontology, ppr, thresholds = evidence.ontology, evidence.ppr, evidence.thresholds
    ranked = _ranked(head)
    (top, p1), (second, p2) = ranked[0], ranked[1] if len(ranked) > 1 else (ranked[0][0], 0.0)
    mass = weight * head_mass(head, term_id, ontology)
    top_check = evidence.check(group, top)
    head_fits = top_check.status == "supported"  # the markers support the head's own label: the model is in its domain
    if check.status == "contradicted":  # the head's label replaces it unless the markers contradict that too (then: candidates)
        return replace(
            claim,
            status="contradicted",
            reason=f"markers: {check.reason}",
            alternative=top if top != term_id and top_check.status != "contradicted" else None,
        )
    measured = len(markers.up) + len(markers.not_up) + len(markers.negative_ok) + len(markers.negative_violated)
    markers_disagree = markers.score is not None and measured >= 3 and markers.score < thresholds.min_marker_score
    weighted = "" if weight >= 1 else f" (weight {weight:.2f})"

    ambiguous = p1 - p2 < thresholds.ambiguity_margin and ppr.similarity(top, second) >= thresholds.ppr_close
    if ambiguous and mass < weight * (p1 + p2) - 1e-9:
        parent = common_parent(ontology, top, second, ppr)
        reason = (
            f"the model cannot separate {ontology.term(top).label} ({p1:.2f}) from {ontology.term(second).label} ({p2:.2f}),"
            f" which are close in the ontology (PPR {ppr.similarity(top, second):.3f}); their common parent"
            f" {ontology.term(parent).label} ({parent}) holds {head_mass(head, parent, ontology):.2f}"
        )
        return replace(claim, status="unverified", reason=reason, alternative=parent)
    if mass >= thresholds.min_probability:
        if markers_disagree:
            return replace(
                claim, status="unverified", reason=f"head probability {mass:.2f}{weighted}, but only {markers.score:.0%} of the known markers agree"
            )
        support = f"head probability {mass:.2f}{weighted}" + (f"; marker agreement {markers.score:.0%}" if markers.score is not None else "")
        missing = _own_marker_not_up(evidence.markers(group), own_defining(evidence.knowledge, ontology, term_id), thresholds)
        finer = [c for c in candidates if c.status == "supported" and term_id in ontology.ancestors(c.id) and c.score >= check.score + NEAR_TIE]
        if missing and finer:
            reason = (
                f"{support}; but its own defining marker {missing} is not up, and the markers support the more specific"
                f" {finer[0].label} ({finer[0].score:.1f} vs {check.score:.1f}: {finer[0].reason})"
            )
            return replace(claim, status="supported", reason=reason, alternative=finer[0].id)
        return replace(claim, status="supported", reason=support)
    # A confident head whose label the markers do not contradict is overruled by markers alone only when the candidate
    # search is more likely right than not (its calibrated confidence); otherwise the question stays open (unverified).
    head_sure = weight * p1 >= thresholds.min_probability and top_check.status != "contradicted"
    if (
        best is not None
        and check.status == "supported"
        and check.score >= best.score - NEAR_TIE
        and (top in ontology.ancestors(term_id) or not (head_fits or (head_sure and best.confidence < MARKERS_SURE)))
    ):
        reason = (
            f"markers: {check.reason} (score {check.score:.1f}, the best candidate scores {best.score:.1f}); the model's head"
            f" does not know this term (its label {ontology.term(top).label} gets {p1:.2f}"
            + (", and the markers do not support it)" if not head_fits else ", an ancestor)")
        )
        return replace(claim, status="supported", reason=reason)
    if term_id in ontology.ancestors(top) or top in ontology.ancestors(term_id) | {term_id}:
        return replace(claim, status="unverified", reason=f"more specific than the model can tell; it supports {ontology.term(top).label} ({p1:.2f})")
    if mass < thresholds.max_contradicted and weight * p1 >= thresholds.min_probability:
        reason = f"the model gives it {mass:.2f} and {ontology.term(top).label} {p1:.2f} (PPR similarity {ppr.similarity(term_id, top):.3f})"
        return replace(claim, status="contradicted", reason=reason, alternative=top)
    return replace(
        claim, status="unverified", reason=f"head probability {mass:.2f}{weighted}; the model is unsure (top {ontology.term(top).label} {p1:.2f})"
    )


# --------------------------------------------------------------------------- metadata


def _term_species(label: str) -> str | None:
    """The species a CL label is specific to ("..., mouse", "human ..."), if any."""
    words = set(label.lower().replace(",", " ").split())
    found = [species for species in ORGANISM_NAMES if species in words]
    return found[0] if len(found) == 1 else None


def group_organism(adata: ad.AnnData, groupby: str, group: str) -> dict | None:
    """The group's organism from its organism column (:data:`ORGANISM_COLUMNS`), when it is human or mouse."""
    for column in ORGANISM_COLUMNS:
        if column in adata.obs.columns:
            value = group_counts(adata, groupby, group, column).index[0]
            species = next((name for name, spellings in ORGANISM_NAMES.items() if value.lower() in spellings), None)
            return {"source": f"obs['{column}']", "value": value, "species": species} if species else None
    return None


def dataset_evidence(adata: ad.AnnData, groupby: str, group: str, term_id: str, ppr: PageRankSimilarity) -> list[dict]:
    """What the dataset's own columns say about a group, as evidence only (it never decides a status).

    The authors' annotation (``cell_type_ontology_term_id``) with its PageRank similarity to the
    claim, and how many donors the group's cells come from (a group from one donor may be a batch).
    """
    records = []
    if CELL_TYPE_ID in adata.obs.columns:
        counts = group_counts(adata, groupby, group, CELL_TYPE_ID)
        annotated = counts.index[0]
        similarity = ppr.similarity(term_id, annotated) if annotated in ppr.index else None
        records.append(
            {
                "source": f"obs['{CELL_TYPE_ID}']",
                "annotated": annotated,
                "share": round(float(counts.iloc[0] / counts.sum()), 3),
                "similarity_to_claim": round(similarity, 3) if similarity is not None else None,
            }
        )
    column = next((c for c in DONOR_COLUMNS if c in adata.obs.columns), None)
    if column is not None:
        donors = group_counts(adata, groupby, group, column)
        records.append(
            {
                "source": f"obs['{column}']",
                "donors_in_group": int(len(donors)),
                "donors_in_dataset": int(adata.obs[column].nunique()),
                "largest_donor_share": round(float(donors.iloc[0] / donors.sum()), 3),
            }
        )
    return records


MIN_TISSUE_GROUPS = 2  # groups whose best-supported cell type names one organ before it is taken as the dataset's tissue


def infer_tissue(evidence: GroupEvidence) -> dict | None:
    """The dataset's tissue from the cell types its groups' markers support, for when neither the user nor obs says it.

    Each group's best supported candidate (no tissue prior) votes for the organs its label or
    definition names (:func:`organs_named`: "type B pancreatic cell" -> pancreas; immune and other
    travelling types name none). An organ named by at least ``MIN_TISSUE_GROUPS`` groups, by at least
    half of the groups whose type names any organ, and by more groups than any other organ, is the
    tissue prior for every group: an islet dataset whose alpha and beta cells are clear moves its
    SST+ cells to pancreatic D cell rather than a gut type. Returns its id, label and the voting
    groups, or None.
    """
    ontology = evidence.ontology
    votes: dict[str, list[str]] = {}
    naming = 0
    for group in evidence.groups:
        _, proposed = propose_cell_types(evidence.with_tissue(None), group, k=3)
        best = next((c for c in proposed if c.status == "supported"), None)
        organs = organs_named(best.id, ontology) if best is not None else frozenset()
        naming += bool(organs)
        for organ in organs:
            votes.setdefault(organ, []).append(f"{group}: {best.label}")
    ranked = sorted(votes.items(), key=lambda kv: -len(kv[1]))
    if (
        not ranked
        or len(ranked[0][1]) < MIN_TISSUE_GROUPS
        or 2 * len(ranked[0][1]) < naming
        or (len(ranked) > 1 and len(ranked[1][1]) == len(ranked[0][1]))
    ):
        return None
    organ, groups = ranked[0]
    return {"id": organ, "label": ontology.term(organ).label, "groups": groups}


def verify_metadata(claim: Claim, evidence: GroupEvidence, group: str) -> Claim:
    """Check a tissue or disease claim against the dataset's own obs columns, or a tissue claim against the run's tissue."""
    ontology, tissue = evidence.ontology, evidence.tissue
    meta = group_metadata(evidence.adata, evidence.groupby, group, claim.kind, ontology)
    if meta is None and claim.kind == "tissue" and tissue is not None:
        meta = {"source": "the tissue given (--tissue)", "value": ontology.term(tissue).label, "id": tissue, "share": 1.0, "values": 1}
    if claim.id is None:
        return replace(
            claim,
            status="unverified",
            reason=f"'{claim.text}' matches no ontology term",
            alternative=meta["id"] if meta else None,
            evidence=[meta] if meta else [],
        )
    if meta is None:
        columns = " or ".join(METADATA_COLUMNS[claim.kind])
        return replace(
            claim,
            status="unverified",
            reason=f"the data has no {columns} column to check it against",
            evidence=[{"source": "metadata", "columns": list(METADATA_COLUMNS[claim.kind]), "found": False}],
        )
    records = [meta]
    if meta["id"] is None:
        return replace(claim, status="unverified", reason=f"{meta['source']} says '{meta['value']}', which maps to no term", evidence=records)
    if claim.id == meta["id"] or claim.id in _lineage(ontology, meta["id"]):
        return replace(
            claim, status="supported", evidence=records, reason=f"{meta['source']} is '{meta['value']}' for {meta['share']:.0%} of the group's cells"
        )
    if meta["id"] in _lineage(ontology, claim.id):
        return replace(claim, status="unverified", evidence=records, reason=f"more specific than {meta['source']} ('{meta['value']}')")
    return replace(
        claim,
        status="contradicted",
        evidence=records,
        alternative=meta["id"],
        reason=f"{meta['source']} is '{meta['value']}' ({meta['id']}) for {meta['share']:.0%} of the group's cells",
    )


def _lineage(ontology: Ontology, term_id: str) -> set[str]:
    """Ancestors of an ontology term (empty for ids outside the loaded ontologies, e.g. PATO)."""
    try:
        return ontology.ancestors(term_id)
    except Exception:
        return set()


# --------------------------------------------------------------------------- pathways and markers
def _library(name: str) -> tuple[str, str]:
    """The gene-set library of a pathway id and the obsm key its per-cell scores live in."""
    return next((v for prefix, v in _PATHWAY_KEYS.items() if name.startswith(prefix)), _PATHWAY_KEYS["HALLMARK_"])


def active_pathways(evidence: GroupEvidence, group: str, n: int = 5, max_fdr: float | None = None) -> pd.DataFrame:
    """The ``n`` Hallmark pathways most active in ``group`` against the rest, significant ones only (``max_fdr``: the
    run's by default; see :func:`cell2text.tools.enrichment.pathway_activity`)."""
    table = evidence.pathways(group, *_library("HALLMARK_"))
    rules = evidence.thresholds if max_fdr is None else replace(evidence.thresholds, max_fdr=max_fdr)
    return table[is_active(table["auroc"], table["fdr"], rules)].head(n)


def verify_pathway(claim: Claim, evidence: GroupEvidence, group: str) -> Claim:
    """Check "pathway P is active in the group": per-cell scores in the group vs the rest (AUROC, BH FDR)."""
    if claim.id is None:
        return replace(claim, status="unverified", reason=f"'{claim.text}' matches no gene set")
    library, key = _library(claim.id)
    if claim.id not in evidence.pathway_scores(library, key).columns:
        return replace(claim, status="unverified", reason="too few of its genes are measured to score it")
    table = evidence.pathways(group, library, key)
    rank = int(np.flatnonzero(table["pathway"] == claim.id)[0])  # the table is sorted, most active first
    row = table.iloc[rank]
    fdr = float(row["fdr"])
    records = [
        {
            "source": "pathway activity",
            "auroc": round(float(row["auroc"]), 3),
            "fdr": float(f"{fdr:.3g}"),
            "mean_in": round(float(row["mean_in"]), 4),
            "mean_out": round(float(row["mean_out"]), 4),
            "rank": rank + 1,
            "of": len(table),
        }
    ]
    numbers = f"AUROC {row['auroc']:.2f}, FDR {fdr:.2g}"
    status = pathway_status(float(row["auroc"]), fdr, evidence.thresholds)
    reason = {
        "supported": "more active in the group than in the rest",
        "contradicted": "less active in the group than in the rest",
        "unverified": "not significantly more active in the group",
    }[status]
    return replace(claim, status=status, evidence=records, reason=f"{reason} ({numbers})")


#: How a marker claim's status reads: the gene is up, down or not clearly up in the group (the rulebook's :func:`marker_status`).
MARKER_WORDS = {"supported": "up", "contradicted": "down", "unverified": "not clearly up"}


def verify_marker(claim: Claim, evidence: GroupEvidence, group: str) -> Claim:
    """Check "gene G marks the group": Wilcoxon test of the group against the rest."""
    table = evidence.by_gene(group)
    if claim.id not in table.index:
        return replace(claim, status="unverified", reason=f"{claim.id} is not measured in this dataset")
    row = table.loc[claim.id]
    records = [
        {
            "source": "Wilcoxon",
            "gene": claim.id,
            "logfc": round(float(row["logfc"]), 3),
            "pval_adj": float(f"{row['pval_adj']:.3g}"),
            "pct_in": round(float(row["pct_in"]), 3),
            "pct_out": round(float(row["pct_out"]), 3),
        }
    ]
    numbers = f"log2FC {row['logfc']:.2f}, adj. p {row['pval_adj']:.2g}, in {row['pct_in']:.0%} vs {row['pct_out']:.0%} of cells"
    status = marker_status(float(row["logfc"]), float(row["pval_adj"]), evidence.thresholds)
    return replace(claim, status=status, evidence=records, reason=f"{MARKER_WORDS[status]} in the group ({numbers})")


def top_markers(evidence: GroupEvidence, group: str, cell_type_id: str | None, n: int = 4) -> list[str]:
    """Genes to name as markers: known markers of the cell type that are up, else the group's top-ranked genes."""
    if cell_type_id is not None:
        up = sorted(evidence.known_markers(group, cell_type_id).up, key=lambda m: -m["logfc"])
        if up:
            return list(dict.fromkeys(m["gene"] for m in up))[:n]
    table = evidence.markers(group)
    return table.loc[is_up(table["logfc"], table["pval_adj"], evidence.thresholds), "gene"].head(n).tolist()


# --------------------------------------------------------------------------- dispatch and retrieval
def verify(claim: Claim, evidence: GroupEvidence, group: str, *, head: dict[str, float], head_weight: float = 1.0) -> Claim:
    """Verify one claim about a group with the tool for its kind (``head``, ``head_weight``: see :func:`verify_cell_type`)."""
    if claim.kind == "cell_type":
        return verify_cell_type(claim, evidence, group, head=head, head_weight=head_weight)
    if claim.kind in METADATA_COLUMNS:
        return verify_metadata(claim, evidence, group)
    if claim.kind == "pathway":
        return verify_pathway(claim, evidence, group)
    return verify_marker(claim, evidence, group)


def definition(kb: KnowledgeBase | None, term_id: str) -> dict | None:
    """The knowledge-base document for an ontology term or gene set: label, text, source, url."""
    if term_id == NORMAL[0]:
        return {
            "id": NORMAL[0],
            "label": "normal",
            "text": "normal: no disease (PATO:0000461, as CELLxGENE records healthy donors).",
            "source": "PATO",
            "url": "https://www.ebi.ac.uk/ols4/ontologies/pato/classes?obo_id=PATO:0000461",
        }
    hit = kb.get(term_id) if kb is not None else None
    if hit is None:
        return None
    return {"id": hit.curie, "label": hit.label, "text": hit.text, "source": hit.source, "url": hit.url}
