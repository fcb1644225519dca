"""PCA, neighbours, Leiden and UMAP on a prepared AnnData: scanpy's, with one compatibility fix.

Neighbours are exact (scanpy's brute-force sklearn path) up to ``EXACT_UP_TO`` cells: on 50
principal components that takes ~10 s for 50,000 cells on 2 cores, while pynndescent spends
most of a minute compiling. Beyond, pynndescent, as scanpy would use from 8,192 cells on.
pynndescent 0.7 returns a ``scipy.sparse.csr_array``, on which scanpy 1.11 calls ``getnnz``, a
method scipy 1.17 removed from sparse arrays: every real-size dataset crashed there, while the
demo and small tests never reached that path. :func:`neighbors` passes scanpy a pynndescent
transformer (with the same settings scanpy would choose) whose output is a ``csr_matrix``, which
works with every scipy.

:func:`leiden` without a resolution chooses one so that its clusters are usable groups: at most
``max_clusters`` of them, each of at least ``min_cluster_cells`` cells. Lowering the resolution
fixes a connected graph split too finely; it cannot join separate components (duplicated or
resampled cells form cliques of their own), so clusters still too small or too many are then
merged, smallest first, into the nearest cluster by centroid in PCA space.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp
from pynndescent import PyNNDescentTransformer

from cell2text.tools import numba_cache
from cell2text.tools.markers import MIN_GROUP_CELLS

N_TOP_GENES = 2000  # PCA on this many highly variable genes when a dataset has more (scanpy's usual workflow)
EXACT_UP_TO = 50_000  # exact neighbours up to this many cells, approximate (pynndescent) beyond
EMBEDDINGS = ("X_umap", "X_tsne", "X_draw_graph_fa", "X_pca")  # a dataset's own 2-D embeddings, in order of preference
NEIGHBORS_KEY = "cell2text_neighbors"  # our own key: a file's stale uns['neighbors'] (without obsp) is never reused
MAX_CLUSTERS = 200  # the automatic resolution's default cap (describe passes its own MAX_GROUPS)
MAX_RESOLUTION = 1.0  # the automatic resolution: scanpy's default, lowered only when the clusters do not fit
MIN_RESOLUTION = 0.01  # ... and lowered no further (a connected graph is one or a few clusters by then)
#: UMAP's optimisation epochs: umap-learn's own count above 10,000 cells; below, it runs 500, which redraws the same
#: picture (the figures show at most a few thousand cells) at 2.5x the cost (5.3 vs 2.9 s for 5,000 cells).
UMAP_EPOCHS = 200
SEARCH_STEPS = 5  # bisection steps on a log scale between the two: the last step is a factor of 1.15


class _MatrixNNDescent(PyNNDescentTransformer):
    """pynndescent's transformer, returning a ``csr_matrix`` (what scanpy's neighbour code expects)."""

    def transform(self, X, y=None):  # X: sklearn's signature
        return sp.csr_matrix(super().transform(X, y))


def _transformer(n_obs: int, n_neighbors: int, seed: int, exact_up_to: int) -> str | PyNNDescentTransformer:
    """Exact neighbours (scanpy's ``"sklearn"``) up to ``exact_up_to`` cells; beyond, pynndescent with UMAP's defaults, as scanpy sets them."""
    if n_obs <= exact_up_to:
        return "sklearn"
    return _MatrixNNDescent(
        n_neighbors=n_neighbors,
        metric="euclidean",
        random_state=seed,
        n_jobs=sc.settings.n_jobs,
        n_trees=min(64, 5 + round(n_obs**0.5 / 20.0)),
        n_iters=max(5, round(np.log2(n_obs))),
    )


def pca(adata: ad.AnnData, *, seed: int = 0) -> None:
    """``scanpy.pp.pca`` (up to 50 components) into ``obsm['X_pca']`` / ``varm['PCs']`` (zero outside the genes used).

    With more than ``N_TOP_GENES`` genes, on the most variable ones (``flavor="seurat"``, on the
    log-normalised ``X``): on a 32,786-gene file this is 30x faster than PCA on every gene, and
    it is what scanpy's tutorials do; the selection itself is not written into ``adata.var``.
    """
    mask = None
    if adata.n_vars > N_TOP_GENES:
        mask = sc.pp.highly_variable_genes(adata, n_top_genes=N_TOP_GENES, flavor="seurat", inplace=False)["highly_variable"].to_numpy()
    sc.pp.pca(adata, n_comps=min(50, adata.n_vars - 1, adata.n_obs - 1), mask_var=mask, random_state=seed)


def neighbors(adata: ad.AnnData, *, n_neighbors: int = 15, seed: int = 0, exact_up_to: int = EXACT_UP_TO) -> None:
    """``scanpy.pp.neighbors`` on ``obsm['X_pca']`` into ``uns['cell2text_neighbors']``, once; exact up to ``exact_up_to`` cells.

    PCA is computed first when ``obsm['X_pca']`` is absent (:func:`pca`).
    """
    if f"{NEIGHBORS_KEY}_connectivities" in adata.obsp:
        return
    numba_cache.enable()  # umap's and pynndescent's compiled functions, from disk after a machine's first run
    if "X_pca" not in adata.obsm:
        pca(adata, seed=seed)
    sc.pp.neighbors(
        adata,
        n_neighbors=n_neighbors,
        use_rep="X_pca",
        random_state=seed,
        key_added=NEIGHBORS_KEY,
        transformer=_transformer(adata.n_obs, n_neighbors, seed, exact_up_to),
    )


def leiden(
    adata: ad.AnnData,
    *,
    resolution: float | None = None,
    seed: int = 0,
    key_added: str = "leiden",
    max_clusters: int = MAX_CLUSTERS,
    min_cluster_cells: int = MIN_GROUP_CELLS,
) -> float:
    """Leiden clusters (igraph) on the neighbours of :func:`neighbors`, at a given resolution or at one chosen to fit.

    Parameters
    ----------
    adata
        Prepared (log-normalised) expression; PCA and neighbours are computed if absent.
    resolution
        Used as given. None: automatic, so that there are at most ``max_clusters`` clusters (and at
        most one per ``min_cluster_cells`` cells), each of at least ``min_cluster_cells`` cells:
        the largest resolution up to ``MAX_RESOLUTION`` found by :func:`_search` whose clusters of
        ``min_cluster_cells`` cells or more fit, then :func:`_merge` of what is still too small or too many.
    seed
        Random state of PCA, neighbours and Leiden: one seed, the same clusters.
    key_added
        ``adata.obs`` and ``adata.uns`` key of the result.
    max_clusters, min_cluster_cells
        The bounds of the automatic choice (unused with a given resolution).

    Returns
    -------
    The resolution used. Writes ``adata.obs[key_added]`` (categories ``'0'``, ``'1'``, ..., scanpy's
    labels where nothing was merged) and ``adata.uns[key_added]["params"]``: ``resolution``, ``random_state``,
    ``n_iterations`` (as scanpy), ``auto``, ``n_clusters``, ``merged`` (Leiden clusters merged into
    others), ``max_clusters`` and ``min_cluster_cells`` (the bounds applied; None with a given resolution).
    """
    neighbors(adata, seed=seed)
    auto = resolution is None
    if auto:
        cap = max(1, min(max_clusters, adata.n_obs // min_cluster_cells))
        resolution, labels = _search(adata, cap, min_cluster_cells, seed, key_added)
        labels, merged = _merge(labels, adata.obsm["X_pca"], min_cluster_cells, cap)
    else:
        labels, merged = _run(adata, resolution, seed, key_added), 0
    names = [str(code) for code in range(labels.max() + 1)]
    adata.obs[key_added] = pd.Categorical.from_codes(labels, categories=names)
    adata.uns[key_added] = {
        "params": {
            "resolution": resolution,
            "random_state": seed,
            "n_iterations": 2,
            "auto": auto,
            "n_clusters": len(names),
            "merged": merged,
            "max_clusters": cap if auto else None,
            "min_cluster_cells": min_cluster_cells if auto else None,
        }
    }
    return resolution


def leiden_summary(params: dict) -> str:
    """How :func:`leiden` clustered, in words for a report's notes, from its ``uns[key_added]["params"]``."""
    text = f"resolution {params['resolution']:.3g}"
    if params["auto"] and params["resolution"] < MAX_RESOLUTION:
        text += f", lowered from {MAX_RESOLUTION:g} so that at most {params['max_clusters']} clusters remain"
    text += f": {params['n_clusters']} clusters"
    if params["merged"]:
        text += (
            f", after merging {params['merged']} smaller ones (under {params['min_cluster_cells']} cells, or beyond"
            f" {params['max_clusters']} clusters) into the cluster with the nearest centroid in PCA space"
        )
    return text


def _run(adata: ad.AnnData, resolution: float, seed: int, key_added: str) -> np.ndarray:
    """One scanpy Leiden run (igraph); its cluster codes 0, 1, ...."""
    sc.tl.leiden(
        adata,
        resolution=resolution,
        random_state=seed,
        key_added=key_added,
        neighbors_key=NEIGHBORS_KEY,
        flavor="igraph",
        n_iterations=2,
        directed=False,
    )
    return adata.obs[key_added].cat.codes.to_numpy().astype(np.int64)


def _search(adata: ad.AnnData, cap: int, min_cells: int, seed: int, key_added: str) -> tuple[float, np.ndarray]:
    """The largest resolution tried whose clusters of at least ``min_cells`` cells number at most ``cap``, with its codes.

    ``MAX_RESOLUTION`` first (usually it fits: one run); else ``MIN_RESOLUTION``, which is kept when it
    does not fit either (separate components: only merging helps); else ``SEARCH_STEPS`` bisections on
    a log scale between the two. Smaller clusters do not count, as :func:`_merge` joins them to others.
    At most ``SEARCH_STEPS + 2`` Leiden runs on the same neighbours.
    """

    def fits(labels: np.ndarray) -> bool:
        return int((np.bincount(labels) >= min_cells).sum()) <= cap

    labels = _run(adata, MAX_RESOLUTION, seed, key_added)
    if fits(labels):
        return MAX_RESOLUTION, labels
    low, high = MIN_RESOLUTION, MAX_RESOLUTION
    best = _run(adata, low, seed, key_added)
    if not fits(best):
        return low, best
    for _ in range(SEARCH_STEPS):
        middle = float(np.sqrt(low * high))
        labels = _run(adata, middle, seed, key_added)
        if fits(labels):
            low, best = middle, labels
        else:
            high = middle
    return low, best


def _merge(labels: np.ndarray, pcs: np.ndarray, min_cells: int, cap: int) -> tuple[np.ndarray, int]:
    """Cluster codes with every cluster of at least ``min_cells`` cells and at most ``cap`` clusters, and how many merged.

    While a cluster is too small or there are too many, the smallest (the lowest code among equals)
    joins the cluster whose centroid in PCA space (``pcs``, cells x components) is nearest, among
    those of at least ``min_cells`` cells (among all when there are none); the joined centroid is the
    cells' mean. The clusters kept are renumbered 0, 1, ... in their Leiden order.
    """
    sizes = np.bincount(labels)
    centroids = np.stack([pcs[labels == code].mean(0) for code in range(len(sizes))])
    into = np.arange(len(sizes))  # where each Leiden cluster has gone
    alive = np.ones(len(sizes), dtype=bool)
    while alive.sum() > 1:
        codes = np.flatnonzero(alive)
        smallest = codes[np.argmin(sizes[codes])]
        if sizes[smallest] >= min_cells and len(codes) <= cap:
            break
        others = codes[codes != smallest]
        targets = others[sizes[others] >= min_cells] if (sizes[others] >= min_cells).any() else others
        nearest = targets[np.argmin(((centroids[targets] - centroids[smallest]) ** 2).sum(1))]
        total = sizes[nearest] + sizes[smallest]
        centroids[nearest] = (centroids[nearest] * sizes[nearest] + centroids[smallest] * sizes[smallest]) / total
        sizes[nearest], alive[smallest] = total, False
        into[into == smallest] = nearest
    kept = np.flatnonzero(alive)
    renumber = np.full(len(sizes), -1)  # merged clusters have no number of their own
    renumber[kept] = np.arange(len(kept))
    return renumber[into[labels]], len(sizes) - len(kept)


def umap(adata: ad.AnnData, *, seed: int = 0) -> np.ndarray:
    """A 2-D UMAP of the cells (``obsm['X_umap']``), on the neighbours of :func:`neighbors`, ``UMAP_EPOCHS`` epochs."""
    neighbors(adata, seed=seed)
    sc.tl.umap(adata, random_state=seed, neighbors_key=NEIGHBORS_KEY, maxiter=UMAP_EPOCHS)
    return adata.obsm["X_umap"]


def embedding_key(adata: ad.AnnData) -> str | None:
    """The 2-D embedding the dataset already has (``EMBEDDINGS``, UMAP first), or None."""
    return next((key for key in EMBEDDINGS if key in adata.obsm and adata.obsm[key].shape[1] >= 2), None)
