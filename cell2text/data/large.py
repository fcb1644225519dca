"""Datasets larger than memory: read in chunks of cells, never a whole (let alone dense) matrix.

To describe a large dataset (more than ``Settings.in_memory_cells`` cells, or a file opened
backed), the agent needs from every cell only three things:

- its group: the ``groupby`` column, or without one the Leiden cluster of a random sample of
  ``Settings.cluster_cells`` cells, extended to every other cell by the nearest cluster centroid
  in the sample's PCA space;
- the model head's probabilities, for each cell's confidence;
- whether it belongs to the per-group sample (at most ``Settings.cells_per_group`` cells of each
  group, seeded) on which marker genes and pathway activity are tested and the report's UMAP is drawn.

:func:`scan` makes one pass over chunks of ``Settings.chunk_size`` cells for the first two;
:func:`read_rows` reads the sample. Each chunk is prepared exactly like a whole dataset
(:func:`cell2text.data.io.prepare` with ``rows=``), so both paths see the same expression.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc

from cell2text.config import get_settings
from cell2text.data.io import prepare
from cell2text.errors import InputError

Progress = Callable[[str, str], None]


class Eta:
    """Reports progress of a chunked stage with an ETA, at most every ``every`` seconds (and at the end)."""

    def __init__(self, node: str, what: str, total: int, progress: Progress | None, every: float = 5.0) -> None:
        self.node, self.what, self.total, self.progress, self.every = node, what, total, progress, every
        self.started = self.last = time.perf_counter()

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if self.progress is None or (now - self.last < self.every and done < self.total):
            return
        self.last = now
        elapsed = now - self.started
        eta = elapsed / done * (self.total - done) if done else float("nan")
        tail = "done" if done >= self.total else f"ETA {_duration(eta)}"
        self.progress(self.node, f"{self.what}: {done:,} of {self.total:,} cells ({done / self.total:.0%}), "
                                 f"{_duration(elapsed)} so far, {tail}")


def _duration(seconds: float) -> str:
    if seconds != seconds:  # nan
        return "?"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def chunks(n_obs: int, chunk_size: int) -> list[slice]:
    """Consecutive row ranges of at most ``chunk_size`` cells covering ``n_obs`` cells."""
    return [slice(start, min(start + chunk_size, n_obs)) for start in range(0, n_obs, chunk_size)]


def out_of_core(adata: ad.AnnData) -> bool:
    """Whether ``adata`` is worked on in chunks: opened backed, or more than ``Settings.in_memory_cells`` cells."""
    return bool(adata.isbacked or adata.n_obs > get_settings().in_memory_cells)


def group_sample(adata: ad.AnnData, groupby: str, progress: Progress | None = None) -> ad.AnnData:
    """The prepared cells describe tests on: at most ``Settings.cells_per_group`` cells of each group of ``obs[groupby]``,
    seeded (:func:`per_group_sample`), read chunk by chunk."""
    settings = get_settings()
    keep = per_group_sample(adata.obs[groupby].astype(str).to_numpy(), settings.cells_per_group)
    return read_rows(adata, keep, chunk_size=settings.chunk_size, progress=progress)


def per_group_sample(groups: np.ndarray, cap: int, *, seed: int = 0) -> np.ndarray:
    """Sorted positions of at most ``cap`` cells of each group (all cells of smaller groups), seeded."""
    rng = np.random.default_rng(seed)
    codes, uniques = pd.factorize(pd.Series(groups, dtype=str))
    keep = []
    for code in range(len(uniques)):
        members = np.flatnonzero(codes == code)
        keep.append(members if len(members) <= cap else rng.choice(members, cap, replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.array([], dtype=int)


def read_rows(adata: ad.AnnData, positions: np.ndarray, *, chunk_size: int, progress: Progress | None = None,
              what: str = "Read the sample", reading: dict | None = None) -> ad.AnnData:
    """The cells at sorted ``positions``, prepared (``reading``: :func:`prepare`'s layer and species), read chunk by
    chunk (only the chunks that hold some)."""
    eta = Eta("sample", what, adata.n_obs, progress)
    parts = []
    for rows in chunks(adata.n_obs, chunk_size):
        inside = positions[(positions >= rows.start) & (positions < rows.stop)]
        if len(inside):
            parts.append(prepare(adata, rows=inside, **(reading or {})))
        eta.update(rows.stop)
    if not parts:
        raise InputError("the sample of cells is empty. Check that the dataset has cells.")
    sample = ad.concat(parts, merge="first")
    sample.uns = parts[0].uns
    return sample


@dataclass
class Clusters:
    """Leiden clusters of a sample, extended to any cell by the nearest centroid in the sample's PCA space."""

    genes: pd.Index  # the sample's genes, in the order of the PCA loadings
    mean: np.ndarray  # (genes,) the sample mean the PCA centred on
    components: np.ndarray  # (genes, n_pcs) PCA loadings
    centroids: np.ndarray  # (clusters, n_pcs) each cluster's mean position
    labels: np.ndarray  # (clusters,) cluster names

    @classmethod
    def fit(cls, sample: ad.AnnData, key: str) -> Clusters:
        """From a prepared sample with PCA (``varm['PCs']``, ``obsm['X_pca']``) and clusters in ``obs[key]``."""
        labels = sample.obs[key].astype(str).to_numpy()
        names = np.array(sorted(set(labels), key=lambda x: (len(x), x)))
        pcs = sample.obsm["X_pca"]
        centroids = np.stack([pcs[labels == name].mean(0) for name in names])
        mean = np.asarray(sample.X.mean(0)).ravel()
        return cls(sample.var_names, mean, np.asarray(sample.varm["PCs"]), centroids, names)

    def assign(self, chunk: ad.AnnData) -> np.ndarray:
        """Cluster of every cell of a prepared chunk (same genes as the sample)."""
        projected = np.asarray(chunk.X @ self.components) - self.mean @ self.components  # (cells, n_pcs)
        # squared distances to each centroid, up to the per-cell constant |p|^2: -2 p.c + |c|^2
        distances = -2 * projected @ self.centroids.T + (self.centroids ** 2).sum(1)  # (cells, clusters)
        return self.labels[distances.argmin(1)]


def cluster_sample(adata: ad.AnnData, *, n_cells: int, chunk_size: int, key: str, max_clusters: int, seed: int = 0,
                   progress: Progress | None = None, reading: dict | None = None) -> tuple[ad.AnnData, Clusters]:
    """Leiden on a seeded random sample of ``n_cells`` cells (its UMAP too); the clusters extend to every cell.

    The resolution is chosen automatically (at most ``max_clusters`` clusters, see
    :func:`cell2text.tools.embedding.leiden`); it and the other parameters are in ``sample.uns[key]["params"]``.
    """
    from cell2text.tools import embedding

    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(adata.n_obs, min(n_cells, adata.n_obs), replace=False))
    sample = read_rows(adata, positions, chunk_size=chunk_size, progress=progress, what="Read the clustering sample", reading=reading)
    sc.pp.pca(sample, n_comps=min(50, sample.n_vars - 1, sample.n_obs - 1), random_state=seed)
    embedding.leiden(sample, seed=seed, key_added=key, max_clusters=max_clusters)
    sample.obs["cell2text_position"] = positions
    return sample, Clusters.fit(sample, key)


def scan(adata: ad.AnnData, *, probabilities: Callable[[ad.AnnData], np.ndarray] | None,
         assign: Callable[[ad.AnnData, slice], np.ndarray], chunk_size: int, keep: np.ndarray | None = None,
         progress: Progress | None = None, reading: dict | None = None) -> tuple[np.ndarray, np.ndarray | None, ad.AnnData | None]:
    """One pass over all cells in chunks: each cell's group (``assign``), head probabilities (if given), kept rows.

    Each chunk is prepared with ``reading`` (:func:`prepare`'s layer and species).

    Returns ``(groups, probabilities, kept)``: (cells,) group names; (cells, labels) float32 or None;
    the prepared cells at the sorted positions ``keep`` (None without ``keep``).
    """
    groups = np.empty(adata.n_obs, dtype=object)
    result, parts = None, []
    eta = Eta("scan", "Read every cell (groups, model head)", adata.n_obs, progress)
    for rows in chunks(adata.n_obs, chunk_size):
        chunk = prepare(adata, rows=rows, **(reading or {}))
        groups[rows] = assign(chunk, rows)
        if probabilities is not None:
            values = probabilities(chunk)
            if result is None:
                result = np.zeros((adata.n_obs, values.shape[1]), dtype=np.float32)
            result[rows] = values
        if keep is not None:
            inside = keep[(keep >= rows.start) & (keep < rows.stop)] - rows.start
            if len(inside):
                parts.append(chunk[inside].copy())
        eta.update(rows.stop)
    kept = None
    if parts:
        kept = ad.concat(parts, merge="first")
        kept.uns = parts[0].uns
    return groups.astype(str), result, kept
