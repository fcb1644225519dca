"""The describe graph: (write | test | embed) -> draft -> extract -> verify -> retrieve -> revise -> extract -> verify ... -> finalise.

Nodes are small functions returning partial state updates; each works on every group at once.
"""

from __future__ import annotations

import copy
from typing import Literal

import numpy as np
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from cell2text.agent.describe import checks
from cell2text.agent.describe.claims import Claim, extract_claims
from cell2text.agent.describe.context import DescribeContext
from cell2text.agent.describe.revise import no_metadata_note, render, revise
from cell2text.agent.describe.state import DescribeInput, DescribeState
from cell2text.data.io import check_groupby
from cell2text.data.schema import METADATA_COLUMNS
from cell2text.model.fit import group_fit, weigh
from cell2text.tools import scan
from cell2text.tools.candidates import consensus
from cell2text.tools.groups import GroupEvidence


def write(state: DescribeState, runtime: Runtime[DescribeContext]) -> dict:
    """The model's part, where its genes are measured (:func:`cell2text.model.fit.gene_fit`): every cell's head
    probabilities, each group's mean, and the model's description of each group without a given draft (its mean
    expression). Runs beside :func:`test`: whether the head counts is decided by :func:`draft` once both are done."""
    ctx = runtime.context
    if not ctx.fit.used:
        return {}
    evidence = ctx.evidence
    groups = check_groupby(evidence.adata, evidence.groupby).astype(str).to_numpy()
    names = sorted(set(groups))
    probabilities = ctx.model.probabilities(*ctx.model.cell_inputs(evidence.adata))  # (cells, labels)
    head = {g: dict(zip(ctx.model.config.labels, probabilities[groups == g].mean(0).round(4).tolist())) for g in names}
    missing = [g for g in names if g not in state.drafts]
    written = ctx.model.describe(evidence.adata[np.isin(groups, missing)], evidence.groupby)["text"].to_dict() if missing else {}
    return {"head": head, "probabilities": probabilities, "written": written}


def test(state: DescribeState, runtime: Runtime[DescribeContext]) -> dict:
    """The data's part, while the model writes: each group's markers against the rest, the cell types they point to and
    its Hallmark pathway activity, computed once into the run's :class:`GroupEvidence` that every later check reads.

    Where neither the user nor obs names the tissue, it is inferred from the groups' clearest cell types first
    (:func:`checks.infer_tissue`) and becomes the tissue prior of every later check (``state.tissue``).
    """
    evidence = runtime.context.evidence
    for group in evidence.groups:  # first what runs in numpy and scipy, beside the model's generation, then the Python of the ranking
        checks.active_pathways(evidence, group)
        evidence.markers(group)
    update = {}
    if evidence.tissue is None and not any(c in evidence.adata.obs.columns for c in METADATA_COLUMNS["tissue"]):
        inferred = checks.infer_tissue(evidence)
        if inferred is not None:
            evidence, update = evidence.with_tissue(inferred["id"]), {"tissue": inferred}
    for group in evidence.groups:
        evidence.candidates(group)
    return update


def embed(state: DescribeState, runtime: Runtime[DescribeContext]) -> dict:
    """The report's picture, beside the model and the tests: a UMAP of the tested cells (:func:`scan.tested_umap`,
    on the context's own copy of them), where the data has no 2-D embedding of its own."""
    cells = runtime.context.umap_cells
    return {"umap": scan.tested_umap(cells)} if cells is not None else {}


def draft(state: DescribeState, runtime: Runtime[DescribeContext]) -> dict:
    """Each group's draft, from the model where it fits the data, else from the evidence path.

    Where the model ran (:func:`write`), its head's mean per-cell probabilities per group are weighed against the
    markers (:func:`cell2text.model.fit.weigh`); where the head keeps a weight, the model's descriptions are the
    drafts. Otherwise each draft names the cell type the group's markers support best
    (:func:`checks.propose_cell_types`), and the model is not used.
    """
    evidence = runtime.context.evidence_under(state.tissue)
    names = evidence.groups
    fit = copy.deepcopy(runtime.context.fit)
    if fit.used:
        fit = weigh(fit, {g: group_fit(state.head[g], evidence, g) for g in names})
    missing = [g for g in names if g not in state.drafts]
    written = state.written if fit.used else {g: _evidence_draft(evidence, g) for g in missing}
    drafts = {g: state.drafts.get(g) or written[g] for g in names}
    source = {g: "given" if state.drafts.get(g) else "model" if fit.used else "evidence" for g in names}
    head = state.head or {g: {} for g in names}
    return {"drafts": drafts, "head": head, "texts": dict(drafts), "model_fit": fit, "draft_source": source}


def _evidence_draft(evidence: GroupEvidence, group: str) -> str:
    """A draft from the evidence path, as a claim to verify: the cell type the group's markers support best; where
    none is supported, the most specific term most of the weak candidates share (:func:`consensus`), hedged."""
    _, proposed = checks.propose_cell_types(evidence, group, k=10)
    best = next((c for c in proposed if c.status == "supported"), None)
    term = best.id if best is not None else consensus(proposed, evidence.ontology)
    if term is None:
        return ""
    label = evidence.ontology.term(term).label
    return render([Claim("cell_type", label, term, label, status="supported" if best is not None else "unverified")])


def extract(state: DescribeState, runtime: Runtime[DescribeContext]) -> dict:
    """Claims of each group's current text, mapped to ids."""
    evidence = runtime.context.evidence
    genes = set(evidence.adata.var_names)
    return {"claims": {g: extract_claims(text, evidence.ontology, genes) for g, text in state.texts.items()}}


def _check(claim: Claim, group: str, state: DescribeState, ctx: DescribeContext) -> Claim:
    """One claim of a group through the hard checks, with the run's head and its weight for the group."""
    return checks.verify(claim, ctx.evidence_under(state.tissue), group, head=state.head[group], head_weight=state.model_fit.group_weight(group))


def verify(state: DescribeState, runtime: Runtime[DescribeContext]) -> dict:
    """Every claim checked with the hard tools."""
    ctx = runtime.context
    checked = {g: [_check(c, g, state, ctx) for c in claims] for g, claims in state.claims.items()}
    return {"claims": checked} | ({"first_claims": copy.deepcopy(checked)} if state.round == 0 else {})


def retrieve(state: DescribeState, runtime: Runtime[DescribeContext]) -> dict:
    """Candidate cell types where the draft's is not settled, and knowledge-base documents for the terms that may stay.

    A group whose cell-type claim is contradicted or unverified without an alternative, or whose
    model is out of its domain (the head's best label below ``min_probability``), gets the cell
    types its markers propose (:func:`checks.propose_cell_types`), each verified by the same tools;
    the best supported one becomes the claim's alternative, which revision states.
    """
    ctx = runtime.context
    claims, candidates = {}, dict(state.candidates)
    for g, group_claims in state.claims.items():
        group_claims = copy.deepcopy(group_claims)
        cell_type = next((c for c in group_claims if c.kind == "cell_type"), None)
        weight = state.model_fit.group_weight(g)
        out_of_domain = weight <= 0 or weight * max(state.head[g].values()) < ctx.evidence.thresholds.min_probability
        unsettled = cell_type is None or (cell_type.status != "supported" and cell_type.alternative is None)
        if (unsettled or out_of_domain) and g not in candidates:
            _, proposed = checks.propose_cell_types(ctx.evidence_under(state.tissue), g, k=3)
            candidates[g] = [_check(Claim("cell_type", c.label, c.id, c.label), g, state, ctx) for c in proposed]
        best = next((c for c in candidates.get(g, []) if c.status == "supported"), None)
        if cell_type is not None and unsettled and best is not None and best.id != cell_type.id:
            cell_type.alternative = best.id
        claims[g] = group_claims
    wanted = {
        i
        for group_claims in claims.values()
        for c in group_claims
        for i in (c.id, c.alternative)
        if i and c.kind != "marker" and i not in state.definitions
    }
    found = {i: checks.definition(ctx.kb, i) for i in sorted(wanted)}
    return {"claims": claims, "candidates": candidates, "definitions": state.definitions | {i: d for i, d in found.items() if d is not None}}


def revise_texts(state: DescribeState, runtime: Runtime[DescribeContext]) -> dict:
    """Each text rewritten from its verified claims (replace, hedge, remove, add from the data)."""
    evidence = runtime.context.evidence_under(state.tissue)
    texts, acted = {}, {}
    for g, claims in state.claims.items():
        claims = copy.deepcopy(claims)
        top = max(state.head[g], key=state.head[g].get) if state.model_fit.group_weight(g) > 0 else None  # stated if the draft names none
        texts[g], _ = revise(
            claims,
            ontology=evidence.ontology,
            fallback_cell_type=top,
            pathways=checks.active_pathways(evidence, g, n=2)["pathway"].tolist(),
            markers_for=lambda cell_type, g=g: checks.top_markers(evidence, g, cell_type),
        )
        acted[g] = claims
    return {"texts": texts, "revisions": [*state.revisions, acted], "round": state.round + 1}


def finalise(state: DescribeState) -> dict:
    """Drop what is still contradicted or unnamed, hedge what is unverified, and say which metadata the data lacks."""
    texts, claims = {}, {}
    for g, group_claims in state.claims.items():
        claims[g] = [c for c in group_claims if c.status != "contradicted" and c.id is not None]
        texts[g] = " ".join(filter(None, [render(claims[g]), no_metadata_note(state.first_claims.get(g, []))]))
    return {"texts": texts, "claims": claims}


def after_verify(state: DescribeState, runtime: Runtime[DescribeContext]) -> Literal["retrieve", "finalise"]:
    """Revise the draft always; revise again while something is contradicted, has a better alternative or an unheard candidate."""
    if state.round == 0:
        return "retrieve"
    pending = any(
        c.status == "contradicted"
        or c.id is None
        or c.alternative is not None
        or (c.kind == "cell_type" and c.status == "unverified" and g not in state.candidates)
        for g, claims in state.claims.items()
        for c in claims
    )
    return "retrieve" if pending and state.round < runtime.context.max_rounds else "finalise"


builder = StateGraph(DescribeState, context_schema=DescribeContext, input_schema=DescribeInput)
builder.add_node("write", write)
builder.add_node("test", test)
builder.add_node("embed", embed)
builder.add_node("draft", draft)
builder.add_node("extract", extract)
builder.add_node("verify", verify)
builder.add_node("retrieve", retrieve)
builder.add_node("revise", revise_texts)
builder.add_node("finalise", finalise)
builder.add_edge(START, "write")  # the model writes ...
builder.add_edge(START, "test")  # ... while the groups are tested
builder.add_edge(START, "embed")  # ... and the report's UMAP computed
builder.add_edge(["write", "test", "embed"], "draft")  # the head weighed against the markers: whose drafts
builder.add_edge("draft", "extract")  # claims of the draft ...
builder.add_edge("extract", "verify")  # ... checked with the tools
builder.add_conditional_edges("verify", after_verify)  # revise, or stop after max_rounds / when all is settled
builder.add_edge("retrieve", "revise")  # definitions first, so revision can cite them
builder.add_edge("revise", "extract")  # the revised text is read and verified again as written
builder.add_edge("finalise", END)
graph = builder.compile(name="describe")
