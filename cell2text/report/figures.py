"""Report figures as inline PNGs: the cells in 2-D, coloured by their verified cell type."""

from __future__ import annotations

import base64
import io

import anndata as ad
import matplotlib

matplotlib.use("Agg")  # no display: figures are files
import matplotlib.pyplot as plt
import numpy as np
import scanpy as sc

from cell2text.data.io import prepare
from cell2text.tools import embedding
from cell2text.tools.embedding import embedding_key

PLOT_CELLS = 20_000  # a dataset's own embedding of more cells is drawn on a seeded random sample of this many


def _plotted(adata: ad.AnnData, color: str, seed: int = 0) -> tuple[ad.AnnData, str, str]:
    """What to draw: the cells, the obsm key, a title note.

    In order: the dataset's own embedding (on a seeded sample of ``PLOT_CELLS`` cells for large data); the UMAP
    describe computed once on the cells it tested (``uns['cell2text']['umap']``, :func:`cell2text.tools.scan.tested_umap`);
    else a UMAP computed now (on such a sample), for data annotated before describe kept one.
    """
    key = embedding_key(adata)
    tested = adata.uns.get("cell2text", {}).get("umap") if key is None else None
    if tested is not None:
        positions = np.asarray(tested["positions"])
        cells = ad.AnnData(obs=adata.obs.iloc[positions][[color]].copy())
        cells.obsm["X_umap"] = np.asarray(tested["coordinates"])
        note = "" if len(positions) == adata.n_obs else f" ({len(positions):,} of {adata.n_obs:,} cells: a seeded sample of those describe tested)"
        return cells, "X_umap", note
    if adata.n_obs <= PLOT_CELLS and not adata.isbacked and key is not None:
        return adata, key, ""
    positions = np.sort(np.random.default_rng(seed).choice(adata.n_obs, min(PLOT_CELLS, adata.n_obs), replace=False))
    cells = ad.AnnData(obs=adata.obs.iloc[positions][[color]].copy())
    if key is not None:
        cells.obsm[key] = np.asarray(adata.obsm[key])[positions]
    else:
        key = "X_umap"
        cells.obsm[key] = embedding.umap(prepare(adata, rows=positions), seed=seed)
    note = "" if len(positions) == adata.n_obs else f" ({len(positions):,} of {adata.n_obs:,} cells, random sample)"
    return cells, key, note


def embedding_png(adata: ad.AnnData, color: str = "cell2text_cell_type") -> str:
    """Base64 PNG of the cells in the dataset's embedding (computed if absent), coloured by ``color``.

    Without an embedding of its own, the dataset is drawn in the UMAP describe computed on the cells it tested; a
    dataset's own embedding of more than ``PLOT_CELLS`` cells is drawn on a seeded random sample; the title says so.
    """
    cells, key, note = _plotted(adata, color)
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    sc.pl.embedding(
        cells,
        basis=key,
        color=color,
        ax=ax,
        show=False,
        frameon=False,
        title=f"{key[2:].upper()}: {color}{note}",
        legend_fontsize=8,
        size=max(4, 120000 / max(cells.n_obs, 1) ** 1.2),
    )
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()
