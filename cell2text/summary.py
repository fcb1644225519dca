"""A first look at a dataset: what was read and normalised, its groups, and each group's name on the Cell Ontology.

This is what ``cell2text inspect`` (and ``make demo``) prints. It shows the foundation at work:
data loading, the standardiser and PageRank similarity, before any model runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anndata as ad

from cell2text.data.demo import load_dataset
from cell2text.data.io import check_groupby
from cell2text.data.schema import CELL_TYPE_ID
from cell2text.knowledge.ontology import load_ontology
from cell2text.knowledge.pagerank import pagerank_similarity

#: CELLxGENE's obs column for the cell type CURIE.


def summarise_dataset(path: str | Path | None, groupby: str | None = None) -> dict[str, Any]:
    """Summarise the dataset at ``path`` (the demo when ``None``) as a JSON-ready dict.

    With ``groupby``, each group name is standardised to Cell Ontology candidates; where the
    data already carries ``obs["cell_type_ontology_term_id"]`` (CELLxGENE files, the demo),
    the group's annotated id is shown with its PageRank similarity to the best candidate.
    """
    adata, name, groupby = load_dataset(path, groupby)
    info = adata.uns["cell2text"]["preprocessing"]
    summary: dict[str, Any] = {
        "dataset": {
            "name": name,
            "n_cells": int(adata.n_obs),
            "n_genes": int(adata.n_vars),
            "source": info["source"],
            "detected": info["detected"],
            "normalised": info["normalised"],
            "notes": info["notes"],
        },
        "obs_keys": [str(c) for c in adata.obs.columns],
        "groupby": groupby,
        "groups": _groups(adata, groupby) if groupby else [],
    }
    return summary


def _groups(adata: ad.AnnData, groupby: str) -> list[dict[str, Any]]:
    ontology = load_ontology()
    ppr = pagerank_similarity(ontology)
    labels = check_groupby(adata, groupby).astype(str)
    annotated = adata.obs[CELL_TYPE_ID].astype(str) if CELL_TYPE_ID in adata.obs else None
    groups = []
    for group, n_cells in labels.value_counts().items():
        result = ontology.standardise(group, prefix="CL", k=3)
        best = result.best
        entry: dict[str, Any] = {
            "name": group,
            "n_cells": int(n_cells),
            "standardised": {
                "id": best.id if best else None,
                "label": best.label if best else None,
                "score": best.score if best else 0.0,
                "unsure": result.unsure,
                "reason": result.reason,
                "url": ontology.term(best.id).url if best else None,
                "candidates": [{"id": c.id, "label": c.label, "score": c.score} for c in result.candidates],
            },
        }
        ids = annotated[labels == group].unique() if annotated is not None else []
        if len(ids) == 1 and ids[0] in ppr.index:
            entry["annotated"] = {"id": ids[0], "label": ontology.term(ids[0]).label}
            if best is not None and best.id in ppr.index:
                entry["annotated"]["similarity"] = ppr.similarity(best.id, ids[0])
        groups.append(entry)
    return groups
