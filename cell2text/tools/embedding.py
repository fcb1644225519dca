"""PCA, neighbours, Leiden and UMAP on a prepared AnnData: scanpy's, with one compatibility fix.

Neighbours are exact (scanpy's brute-force sklearn path) up to ``EXACT_UP_TO`` cells: on 50
principal components that takes ~10 s for 50,000 cells on 2 cores, while pynndescent spends
most of a minute compiling. Beyond, pynndescent, as scanpy would use from 8,192 cells on.
pynndescent 0.7 returns a ``scipy.sparse.csr_array``, on which scanpy 1.11 calls ``getnnz``, a
method scipy 1.17 removed from sparse arrays: every real-size dataset crashed there, while the
demo and small tests never reached that path. :func:`neighbors` passes scanpy a pynndescent
transformer (with the same settings scanpy would choose) whose output is a ``csr_matrix``, which
works with every scipy.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import scanpy as sc
import scipy.sparse as sp
from pynndescent import PyNNDescentTransformer

N_TOP_GENES = 2000  # PCA on this many highly variable genes when a dataset has more (scanpy's usual workflow)
EXACT_UP_TO = 50_000  # exact neighbours up to this many cells, approximate (pynndescent) beyond
NEIGHBORS_KEY = "cell2text_neighbors"  # our own key: a file's stale uns['neighbors'] (without obsp) is never reused


class _MatrixNNDescent(PyNNDescentTransformer):
    """pynndescent's transformer, returning a ``csr_matrix`` (what scanpy's neighbour code expects)."""

    def transform(self, X, y=None):  # noqa: N803 (sklearn's signature)
        return sp.csr_matrix(super().transform(X, y))


def _transformer(n_obs: int, n_neighbors: int, seed: int, exact_up_to: int) -> str | PyNNDescentTransformer:
    """Exact neighbours (scanpy's ``"sklearn"``) up to ``exact_up_to`` cells; beyond, pynndescent with UMAP's defaults, as scanpy sets them."""
    if n_obs <= exact_up_to:
        return "sklearn"
    return _MatrixNNDescent(n_neighbors=n_neighbors, metric="euclidean", random_state=seed, n_jobs=sc.settings.n_jobs,
                            n_trees=min(64, 5 + round(n_obs ** 0.5 / 20.0)), n_iters=max(5, round(np.log2(n_obs))))


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
    if "X_pca" not in adata.obsm:
        pca(adata, seed=seed)
    sc.pp.neighbors(adata, n_neighbors=n_neighbors, use_rep="X_pca", random_state=seed, key_added=NEIGHBORS_KEY,
                    transformer=_transformer(adata.n_obs, n_neighbors, seed, exact_up_to))


def leiden(adata: ad.AnnData, *, resolution: float = 1.0, seed: int = 0, key_added: str = "leiden") -> None:
    """Leiden clusters (igraph) in ``adata.obs[key_added]``, on the neighbours of :func:`neighbors`."""
    neighbors(adata, seed=seed)
    sc.tl.leiden(adata, resolution=resolution, random_state=seed, key_added=key_added, neighbors_key=NEIGHBORS_KEY,
                 flavor="igraph", n_iterations=2, directed=False)


def umap(adata: ad.AnnData, *, seed: int = 0) -> np.ndarray:
    """A 2-D UMAP of the cells (``obsm['X_umap']``), on the neighbours of :func:`neighbors`."""
    neighbors(adata, seed=seed)
    sc.tl.umap(adata, random_state=seed, neighbors_key=NEIGHBORS_KEY)
    return adata.obsm["X_umap"]
