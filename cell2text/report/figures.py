"""Report figures as inline PNGs: the cells in 2-D, coloured by their verified cell type."""

from __future__ import annotations

import base64
import io

import anndata as ad
import matplotlib

matplotlib.use("Agg")  # no display: figures are files
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scanpy as sc  # noqa: E402

from cell2text.config import get_settings  # noqa: E402
from cell2text.data.io import prepare  # noqa: E402
from cell2text.data.large import read_rows  # noqa: E402
from cell2text.tools import embedding  # noqa: E402

EMBEDDINGS = ("X_umap", "X_tsne", "X_draw_graph_fa", "X_pca")


def embedding_key(adata: ad.AnnData) -> str | None:
    """The 2-D embedding the dataset already has (UMAP first), or None."""
    return next((key for key in EMBEDDINGS if key in adata.obsm and adata.obsm[key].shape[1] >= 2), None)


PLOT_CELLS = 20_000  # larger datasets are drawn (and, without an embedding, embedded) on a random sample of cells


def ensure_embedding(adata: ad.AnnData, seed: int = 0) -> str:
    """The obsm key to plot: the dataset's own embedding, else a UMAP computed now (stored as ``X_umap``)."""
    key = embedding_key(adata)
    if key is not None:
        return key
    adata.obsm["X_umap"] = embedding.umap(prepare(adata), seed=seed)
    return "X_umap"


def _plotted(adata: ad.AnnData, color: str, seed: int = 0) -> tuple[ad.AnnData, str, str]:
    """What to draw: the cells (all, or a seeded sample of ``PLOT_CELLS`` for large data), the obsm key, a title note."""
    if adata.n_obs <= PLOT_CELLS and not adata.isbacked:
        return adata, ensure_embedding(adata, seed), ""
    positions = np.sort(np.random.default_rng(seed).choice(adata.n_obs, min(PLOT_CELLS, adata.n_obs), replace=False))
    cells = ad.AnnData(obs=adata.obs.iloc[positions][[color]].copy())
    key = embedding_key(adata)
    if key is not None:
        cells.obsm[key] = np.asarray(adata.obsm[key])[positions]
    else:
        key = "X_umap"
        sample = read_rows(adata, positions, chunk_size=get_settings().chunk_size)
        cells.obsm[key] = embedding.umap(sample, seed=seed)
    return cells, key, f" ({len(positions):,} of {adata.n_obs:,} cells, random sample)"


def embedding_png(adata: ad.AnnData, color: str = "cell2text_cell_type") -> str:
    """Base64 PNG of the cells in the dataset's embedding (computed if absent), coloured by ``color``.

    Datasets of more than ``PLOT_CELLS`` cells are drawn on a seeded random sample (UMAP computed
    on that sample when the dataset has no embedding); the title says so.
    """
    cells, key, note = _plotted(adata, color)
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    sc.pl.embedding(cells, basis=key, color=color, ax=ax, show=False, frameon=False, title=f"{key[2:].upper()}: {color}{note}",
                    legend_fontsize=8, size=max(4, 120000 / max(cells.n_obs, 1) ** 1.2))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()
