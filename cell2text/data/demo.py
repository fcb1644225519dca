"""The demo dataset: scanpy's bundled ``pbmc68k_reduced`` with its ``bulk_labels`` mapped to Cell Ontology ids.

700 PBMCs x 765 genes (``.raw`` is log-normalised), 10 sorted populations. The mapping table
``pbmc68k_bulk_labels.csv`` beside this file gives each label's CL id with the marker genes of
this dataset that justify it.
"""

from __future__ import annotations

from importlib.resources import files

import anndata as ad
import pandas as pd
import scanpy as sc

from cell2text.data.io import prepare

DEMO_GROUPBY = "bulk_labels"


def demo_labels() -> pd.DataFrame:
    """The curated table: bulk_label -> cell_type_ontology_term_id, cell_type, markers, justification."""
    with files("cell2text.data").joinpath("pbmc68k_bulk_labels.csv").open() as handle:
        return pd.read_csv(handle).set_index("bulk_label")


def load_demo() -> ad.AnnData:
    """``pbmc68k_reduced``, prepared (log-normalised ``.raw`` as X), with CELLxGENE-style label columns.

    Adds ``obs["cell_type_ontology_term_id"]`` and ``obs["cell_type"]`` from the curated table.
    """
    adata = prepare(sc.datasets.pbmc68k_reduced(), groupby=DEMO_GROUPBY)
    table = demo_labels()
    labels = adata.obs[DEMO_GROUPBY].astype(str)
    adata.obs["cell_type_ontology_term_id"] = labels.map(table["cell_type_ontology_term_id"]).astype("category")
    adata.obs["cell_type"] = labels.map(table["cell_type"]).astype("category")
    return adata
