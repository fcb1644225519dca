"""Report figures as inline PNGs: the cells in 2-D, coloured by their verified cell type."""

from __future__ import annotations

import base64
import io

import anndata as ad
import matplotlib

matplotlib.use("Agg")  # no display: figures are files
import matplotlib.pyplot as plt  # noqa: E402
import scanpy as sc  # noqa: E402

from cell2text.data.io import prepare  # noqa: E402
from cell2text.tools import embedding  # noqa: E402

EMBEDDINGS = ("X_umap", "X_tsne", "X_draw_graph_fa", "X_pca")


def embedding_key(adata: ad.AnnData) -> str | None:
    """The 2-D embedding the dataset already has (UMAP first), or None."""
    return next((key for key in EMBEDDINGS if key in adata.obsm and adata.obsm[key].shape[1] >= 2), None)


def ensure_embedding(adata: ad.AnnData, seed: int = 0) -> str:
    """The obsm key to plot: the dataset's own embedding, else a UMAP computed now (stored as ``X_umap``)."""
    key = embedding_key(adata)
    if key is not None:
        return key
    adata.obsm["X_umap"] = embedding.umap(prepare(adata), seed=seed)
    return "X_umap"


def embedding_png(adata: ad.AnnData, color: str = "cell2text_cell_type") -> str:
    """Base64 PNG of the cells in the dataset's embedding (computed if absent), coloured by ``color``."""
    key = ensure_embedding(adata)
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    sc.pl.embedding(adata, basis=key, color=color, ax=ax, show=False, frameon=False, title=f"{key[2:].upper()}: {color}",
                    legend_fontsize=8, size=max(4, 120000 / max(adata.n_obs, 1) ** 1.2))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()
