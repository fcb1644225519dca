"""The demo dataset: scanpy's bundled ``pbmc68k_reduced`` with its ``bulk_labels`` mapped to Cell Ontology ids.

700 PBMCs x 765 genes (``.raw`` is log-normalised), 10 sorted populations. The mapping table
``pbmc68k_bulk_labels.csv`` beside this file gives each label's CL id with the marker genes of
this dataset that justify it.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import anndata as ad
import pandas as pd
import scanpy as sc

from cell2text.data.io import check_groupby, prepare, read_dataset

DEMO_GROUPBY = "bulk_labels"
DEMO_NAME = "pbmc68k_reduced (demo)"  # how outputs name the demo dataset


def demo_labels() -> pd.DataFrame:
    """The curated table: bulk_label -> cell_type_ontology_term_id, cell_type, markers, justification."""
    with files("cell2text.data").joinpath("pbmc68k_bulk_labels.csv").open() as handle:
        return pd.read_csv(handle).set_index("bulk_label")


def load_demo() -> ad.AnnData:
    """``pbmc68k_reduced``, prepared (log-normalised ``.raw`` as X), with CELLxGENE-style label columns.

    Adds ``obs["cell_type_ontology_term_id"]`` and ``obs["cell_type"]`` from the curated table, and the
    CELLxGENE-style tissue (blood, UBERON:0000178) and disease (normal, PATO:0000461) of these donors.
    """
    adata = prepare(sc.datasets.pbmc68k_reduced(), groupby=DEMO_GROUPBY)
    table = demo_labels()
    labels = adata.obs[DEMO_GROUPBY].astype(str)
    adata.obs["cell_type_ontology_term_id"] = labels.map(table["cell_type_ontology_term_id"]).astype("category")
    adata.obs["cell_type"] = labels.map(table["cell_type"]).astype("category")
    # healthy donors' peripheral blood mononuclear cells (10x Genomics' 68k PBMC data)
    adata.obs["tissue"] = pd.Categorical(["blood"] * adata.n_obs)
    adata.obs["tissue_ontology_term_id"] = pd.Categorical(["UBERON:0000178"] * adata.n_obs)
    adata.obs["disease"] = pd.Categorical(["normal"] * adata.n_obs)
    adata.obs["disease_ontology_term_id"] = pd.Categorical(["PATO:0000461"] * adata.n_obs)
    return adata


def load_dataset(path: str | Path | None, groupby: str | None = None) -> tuple[ad.AnnData, str, str | None]:
    """The dataset a command works on, prepared: the file at ``path``, or the demo when ``path`` is None.

    Returns the AnnData, a display name, and the groupby key (the demo defaults to ``bulk_labels``).
    """
    if path is None:
        adata = load_demo()
        groupby = groupby or DEMO_GROUPBY
        check_groupby(adata, groupby)
        return adata, DEMO_NAME, groupby
    return prepare(read_dataset(path), groupby=groupby), Path(path).name, groupby
