"""``describe``: verified descriptions of every group of a dataset, written back scverse-style."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from cell2text import __version__
from cell2text.agent.claims import Claim
from cell2text.agent.context import DescribeContext
from cell2text.agent.graph import graph
from cell2text.agent.state import DescribeState
from cell2text.agent.tools import Thresholds, head_mass, labels_under
from cell2text.data.genesets import LIBRARIES
from cell2text.data.io import check_groupby, prepare
from cell2text.errors import InputError
from cell2text.kb.store import KnowledgeBase
from cell2text.model.model import Cell2Text, load_model
from cell2text.tools import embedding
from cell2text.tools.ontology import Ontology, load_ontology
from cell2text.tools.pagerank import pagerank_similarity

CLUSTER_KEY = "cell2text_leiden"
STEPS = {
    "draft": "Drafted a description of each group with the Cell2Text model",
    "extract": "Extracted the claims and mapped them to ontology ids",
    "verify": "Verified each claim (model head, PageRank, markers, pathways, metadata)",
    "retrieve": "Retrieved definitions from the knowledge base",
    "revise": "Revised: replaced contradicted claims, hedged unverified ones",
    "finalise": "Finalised: removed what is still contradicted",
}
Progress = Callable[[str, str], None]


def cluster(adata: ad.AnnData, *, resolution: float = 1.0, seed: int = 0, key_added: str = CLUSTER_KEY) -> None:
    """Leiden clusters of a prepared AnnData in ``adata.obs[key_added]`` (PCA and neighbours computed if absent)."""
    embedding.leiden(adata, resolution=resolution, seed=seed, key_added=key_added)


def _model_version(path: Path) -> str:
    weights = path / "weights.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12] if weights.is_file() else "unknown"
    return f"{path.name}@{digest}"


def describe(
    adata: ad.AnnData,
    groupby: str | None = None,
    *,
    model: Cell2Text | None = None,
    ontology: Ontology | None = None,
    kb: KnowledgeBase | None = None,
    drafts: dict[str, str] | None = None,
    max_rounds: int = 2,
    thresholds: Thresholds | None = None,
    progress: Progress | None = None,
    copy: bool = False,
) -> ad.AnnData | None:
    """Describe each group of ``adata`` with the Cell2Text model, verify every claim, revise, and annotate.

    Parameters
    ----------
    adata
        Counts, log-normalised or scaled-with-.raw expression; gene symbols as var_names or in
        ``var['feature_name']``. Not modified beyond the keys below (and never on disk).
    groupby
        obs column with the groups. None: Leiden clusters are computed first (``obs['cell2text_leiden']``).
    model, ontology, kb
        Loaded resources; default the shipped model (or ``CELL2TEXT_MODEL``), the shipped
        ontologies and the local knowledge base.
    drafts
        group -> a draft to verify instead of the model's (another LM's text, or a test's).
    max_rounds
        Revise at most this many times.
    progress
        Called with (node name, readable step) as each step finishes: "load", "cluster", then
        the graph's nodes.

    Returns
    -------
    ``adata.obs``: ``cell2text_cell_type`` (CL label), ``cell2text_cell_type_ontology_term_id``,
    ``cell2text_confidence`` (each cell's head probability for its group's final type) and
    ``cell2text_status`` (that claim's status); ``adata.uns['cell2text']``: ``groups`` (DataFrame,
    one row per group), ``result`` (JSON: per group the draft, final text, definition, claims
    before and after revision with status and evidence; model, ontology and parameters).
    Returns the AnnData when ``copy``.
    """
    if max_rounds < 1:
        raise InputError(f"max_rounds must be at least 1, got {max_rounds}.")
    adata = adata.copy() if copy else adata
    report = progress or (lambda node, step: None)
    started = time.perf_counter()
    work = prepare(adata)
    notes = list(work.uns["cell2text"]["preprocessing"]["notes"])
    if groupby is None:
        cluster(work)
        report("cluster", "No groupby key given: clustered the cells with Leiden (scanpy)")
        adata.obs[CLUSTER_KEY] = work.obs[CLUSTER_KEY].to_numpy()
        groupby = CLUSTER_KEY
        notes.append(f"No groupby key was given, so the cells were clustered with Leiden (resolution 1.0) into obs['{CLUSTER_KEY}'].")
    check_groupby(work, groupby)
    work.obs[groupby] = work.obs[groupby].astype(str).astype("category")
    ontology = ontology or load_ontology()
    model_path = None
    if model is None:
        model, model_path = load_model()
        report("load", "Loaded the Cell2Text model")
    context = DescribeContext(adata=work, groupby=groupby, ontology=ontology, ppr=pagerank_similarity(ontology, "CL"),
                              model=model, kb=kb if kb is not None else KnowledgeBase(ontology=ontology), max_rounds=max_rounds,
                              thresholds=thresholds or Thresholds())
    state = DescribeState(drafts=dict(drafts or {}))
    final: dict = {}
    for update in graph.stream(state, context=context, stream_mode="updates"):
        for node, values in update.items():
            final.update(values or {})
            report(node, STEPS.get(node, node))
    result = _result(DescribeState(**final), context, groupby, notes, model_path, time.perf_counter() - started)
    _write_back(adata, work, groupby, result, ontology)
    return adata if copy else None


def _claims(claims: list[Claim]) -> list[dict]:
    return [c.to_dict() for c in claims]


def _result(state: DescribeState, ctx: DescribeContext, groupby: str, notes: list[str], model_path: Path | None, seconds: float) -> dict:
    groups = {}
    sizes = ctx.adata.obs[groupby].astype(str).value_counts()
    for g, text in state.texts.items():
        cell_type = next((c for c in state.claims[g] if c.kind == "cell_type"), None)
        groups[g] = {
            "n_cells": int(sizes[g]),
            "draft": state.drafts[g],
            "text": text,
            "cell_type": cell_type.label if cell_type else None,
            "cell_type_ontology_term_id": cell_type.id if cell_type else None,
            "status": cell_type.status if cell_type else None,
            "confidence": round(head_mass(state.head[g], cell_type.id, ctx.ontology), 3) if cell_type else None,
            "definition": state.definitions.get(cell_type.id) if cell_type else None,
            "claims": _claims(state.claims[g]),
            "draft_claims": _claims(state.first_claims[g]),
            "candidates": _claims(state.candidates.get(g, [])),  # cell types the group's markers proposed, each verified
            "rounds": [_claims(r[g]) for r in state.revisions],
            "head": dict(sorted(state.head[g].items(), key=lambda kv: -kv[1])),
        }
    return {
        "groupby": groupby,
        "groups": groups,
        "definitions": state.definitions,
        "rounds": state.round,
        "notes": notes,
        "model": {"path": str(model_path) if model_path else "given", "version": _model_version(model_path) if model_path else "given",
                  "labels": list(ctx.model.config.labels)},
        "ontology": ctx.ontology.version,
        "gene_sets": dict(LIBRARIES),
        "params": {"max_rounds": ctx.max_rounds, **vars(ctx.thresholds)},
        "cell2text_version": __version__,
        "runtime_s": round(seconds, 1),
    }


def _write_back(adata: ad.AnnData, work: ad.AnnData, groupby: str, result: dict, ontology: Ontology) -> None:
    groups = work.obs[groupby].astype(str).to_numpy()
    table = pd.DataFrame.from_dict(result["groups"], orient="index")
    cell_ids = table["cell_type_ontology_term_id"].reindex(groups).to_numpy()
    adata.obs["cell2text_cell_type"] = pd.Categorical(table["cell_type"].reindex(groups).to_numpy())
    adata.obs["cell2text_cell_type_ontology_term_id"] = pd.Categorical(cell_ids)
    adata.obs["cell2text_status"] = pd.Categorical(table["status"].reindex(groups).to_numpy())
    confidence = np.full(adata.n_obs, np.nan)
    per_cell = work.obsm["cell2text_probabilities"]  # written by the draft node
    for term_id in set(cell_ids) - {None}:
        mask = cell_ids == term_id
        confidence[mask] = per_cell[mask][:, labels_under(term_id, result["model"]["labels"], ontology)].sum(1)
    adata.obs["cell2text_confidence"] = confidence
    flat = table[["n_cells", "cell_type", "cell_type_ontology_term_id", "status", "confidence", "text", "draft"]].copy()
    flat.index.name = "group"
    adata.uns["cell2text"] = {
        "preprocessing": work.uns["cell2text"]["preprocessing"],
        "groupby": groupby,
        "groups": flat.fillna("").astype({"n_cells": int}),
        "result": json.dumps(result, ensure_ascii=False),
    }


def read_result(adata: ad.AnnData) -> dict:
    """The full result :func:`describe` stored in ``adata.uns['cell2text']['result']``."""
    try:
        return json.loads(adata.uns["cell2text"]["result"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError("this AnnData holds no cell2text result. Run 'cell2text describe' on it first.") from exc
