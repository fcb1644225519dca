"""One pass over every cell of a dataset, as a Dask computation: each cell's group, its head probabilities, and the
per-group sample the rest of describe tests on.

To describe a large dataset (more than ``Settings.in_memory_cells`` cells, opened backed, a lazily read ``.zarr``
store, or whenever a Dask scheduler is set), describe needs from every cell only three things:

- its group: the ``groupby`` column, or without one the Leiden cluster of a random sample of
  ``Settings.cluster_cells`` cells, extended to every other cell by the nearest cluster centroid in the
  sample's PCA space (:class:`Clusters`);
- the model head's probabilities, for each cell's confidence;
- whether it belongs to the per-group sample (at most ``Settings.cells_per_group`` cells of each group,
  seeded, :func:`per_group_sample`) on which marker genes and pathways are tested and the report's UMAP is drawn.

:func:`scan` maps one function, :func:`_block`, over the row blocks of the expression matrix read lazily
(:func:`cell2text.data.io.lazy_matrix`: anndata's own Dask readers for ``.h5ad`` and ``.zarr``; an in-memory
matrix is split into blocks the same way). Each block is prepared exactly like a whole dataset
(:func:`cell2text.data.io.prepare_matrix` with the dataset's :class:`~cell2text.data.io.Reading`), so the result
does not depend on the block size or on where the blocks run: Dask's threaded scheduler in this process by
default, or a ``dask.distributed`` cluster at ``Settings.scheduler`` (``--scheduler``, ``CELL2TEXT_SCHEDULER``),
which also retries the blocks of a worker lost mid-run. Memory per worker is bounded by the block size.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import anndata as ad
import dask
import dask.array as da
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp
from dask.callbacks import Callback
from dask.utils import key_split

from cell2text.config import get_settings
from cell2text.data.io import Reading, lazy_matrix, plan_matrix, prepare_matrix, reading
from cell2text.errors import InputError
from cell2text.tools import embedding

Progress = Callable[[str, str], None]
Head = Callable[[ad.AnnData], np.ndarray]  # prepared cells -> (cells, labels) probabilities; picklable for a cluster
CONNECT_TIMEOUT = "10s"  # how long to wait for a scheduler before telling the user it is unreachable
POSITION = "cell2text_position"  # obs column of a sample: each cell's row in the dataset
UMAP_CELLS = 5_000  # the report's UMAP is computed on at most this many of the tested cells (a seeded random subset)


def out_of_core(adata: ad.AnnData) -> bool:
    """Whether describe works on ``adata`` with :func:`scan`: opened backed, lazily read (Dask), more than
    ``Settings.in_memory_cells`` cells, or a scheduler is set (the per-cell work then runs on it)."""
    settings = get_settings()
    lazy = isinstance(adata.X, da.Array)
    return bool(adata.isbacked or lazy or adata.n_obs > settings.in_memory_cells or settings.scheduler)


def per_group_sample(groups: np.ndarray, cap: int, *, seed: int = 0) -> np.ndarray:
    """Sorted positions of at most ``cap`` cells of each group (all cells of smaller groups), seeded."""
    rng = np.random.default_rng(seed)
    codes, uniques = pd.factorize(pd.Series(groups, dtype=str))
    keep = []
    for code in range(len(uniques)):
        members = np.flatnonzero(codes == code)
        keep.append(members if len(members) <= cap else rng.choice(members, cap, replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.array([], dtype=int)


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
        distances = -2 * projected @ self.centroids.T + (self.centroids**2).sum(1)  # (cells, clusters)
        return self.labels[distances.argmin(1)]


@dataclass
class Scan:
    """What :func:`scan` returns."""

    groups: np.ndarray | None  # (cells,) each cell's cluster (None when no Clusters were given)
    probabilities: np.ndarray | None  # (cells, labels) float32 head probabilities (None without a head)
    sample: ad.AnnData | None  # the prepared cells at the kept positions, with their obs and obsm (None without keep)


@dataclass
class _Shared:
    """What every block task needs (in the graph once: pickle sends one copy however many tasks name it)."""

    plan: Reading
    clusters: Clusters | None
    head: Head | None


def _block(block, shared: _Shared, keep: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None, ad.AnnData | None]:
    """The function Dask maps over the row blocks: prepare the block's cells, then their clusters, head probabilities
    and the prepared rows at the block-local positions ``keep`` (None when there are none)."""
    prepared = prepare_matrix(shared.plan, block)
    groups = shared.clusters.assign(prepared) if shared.clusters is not None else None
    probabilities = shared.head(prepared).astype(np.float32) if shared.head is not None else None
    return groups, probabilities, prepared[keep].copy() if len(keep) else None


def _mapped(block, shared: _Shared, keep: np.ndarray, block_info: dict | None = None) -> np.ndarray:
    """:func:`_block` as ``map_blocks`` calls it: ``keep`` holds the dataset's positions, the result is a 1-element
    object array."""
    start, stop = block_info[0]["array-location"][0]
    out = np.empty(1, dtype=object)
    out[0] = _block(block, shared, keep[(keep >= start) & (keep < stop)] - start)
    return out


def scan(
    adata: ad.AnnData,
    plan: Reading | None = None,
    *,
    clusters: Clusters | None = None,
    head: Head | None = None,
    keep: np.ndarray | None = None,
    chunk_size: int | None = None,
    progress: Progress | None = None,
    what: str = "Read every cell (groups, model head)",
) -> Scan:
    """One Dask computation over every cell of ``adata`` in blocks of ``chunk_size`` cells (``Settings.chunk_size``).

    Parameters
    ----------
    adata
        In memory, backed, or with Dask matrices (:func:`cell2text.data.io.read_zarr_lazy`); never modified.
    plan
        How cells are prepared (default :func:`cell2text.data.io.reading` of ``adata``).
    clusters
        Assign every cell to its nearest cluster.
    head
        Head probabilities of prepared cells; it is sent to every worker, so keep it small (no language model).
    keep
        Sorted positions of the cells to return prepared (``Scan.sample``).
    progress
        Called with ``("scan", text)`` every few seconds and at the end, with the share done and an ETA, from Dask's
        own task reporting (a local-scheduler callback, or the cluster's futures as they complete).

    Runs on the scheduler at ``Settings.scheduler`` when set, else on Dask's threaded scheduler in this process.
    """
    plan = plan or reading(adata)
    chunk_size = chunk_size or get_settings().chunk_size
    matrix = lazy_matrix(plan_matrix(adata, plan), chunk_size)
    keep = np.asarray(keep if keep is not None else [], dtype=np.int64)
    # read and work fused into one task per block (blockwise fusion): a worker never holds blocks it has read but not
    # yet worked on, so its memory is one block however fast the file reads
    mapped = matrix.map_blocks(
        _mapped,
        _Shared(plan, clusters, head),
        keep,
        dtype=object,
        drop_axis=1,
        chunks=((1,) * matrix.numblocks[0],),
        meta=np.empty(0, dtype=object),
        name=f"cell2text-scan-{uuid.uuid4().hex}",
    )
    tasks = list(mapped.to_delayed(optimize_graph=True).ravel())
    parts = [part[0] for part in _compute(tasks, what=what, n_obs=adata.n_obs, sizes=matrix.chunks[0], progress=progress)]
    groups = np.concatenate([p[0] for p in parts]).astype(str) if clusters is not None else None
    probabilities = np.concatenate([p[1] for p in parts]) if head is not None else None
    return Scan(groups, probabilities, _sample(adata, [p[2] for p in parts if p[2] is not None], keep) if len(keep) else None)


def _sample(adata: ad.AnnData, parts: list[ad.AnnData], keep: np.ndarray) -> ad.AnnData:
    """The kept prepared rows of every block as one AnnData, with the cells' own obs and obsm and the dataset's uns."""
    X = sp.vstack([p.X for p in parts], format="csr") if sp.issparse(parts[0].X) else np.vstack([p.X for p in parts])
    sample = ad.AnnData(
        X=X,
        obs=adata.obs.iloc[keep].copy(),
        var=parts[0].var,
        obsm={k: np.asarray(v)[keep] for k, v in adata.obsm.items()},
        uns={**adata.uns, "cell2text": parts[0].uns["cell2text"]},
    )
    sample.obs[POSITION] = keep
    return sample


def read_rows(
    adata: ad.AnnData, positions: np.ndarray, *, plan: Reading | None = None, progress: Progress | None = None, what: str = "Read the sample"
) -> ad.AnnData:
    """The cells at sorted ``positions``, prepared, read in one :func:`scan`."""
    if len(positions) == 0:
        raise InputError("the sample of cells is empty. Check that the dataset has cells.")
    return scan(adata, plan, keep=positions, progress=progress, what=what).sample


def group_sample(adata: ad.AnnData, groupby: str, progress: Progress | None = None) -> ad.AnnData:
    """The prepared cells describe tests on: at most ``Settings.cells_per_group`` cells of each group of ``obs[groupby]``,
    seeded (:func:`per_group_sample`), read in one :func:`scan`."""
    keep = per_group_sample(adata.obs[groupby].astype(str).to_numpy(), get_settings().cells_per_group)
    return read_rows(adata, keep, progress=progress)


def cluster_sample(
    adata: ad.AnnData, plan: Reading, *, n_cells: int, key: str, max_clusters: int, seed: int = 0, progress: Progress | None = None
) -> tuple[ad.AnnData, Clusters]:
    """Leiden on a seeded random sample of ``n_cells`` cells; the clusters extend to every cell (:class:`Clusters`).

    The resolution is chosen automatically (at most ``max_clusters`` clusters, see
    :func:`cell2text.tools.embedding.leiden`); it and the other parameters are in ``sample.uns[key]["params"]``.
    """
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(adata.n_obs, min(n_cells, adata.n_obs), replace=False))
    sample = read_rows(adata, positions, plan=plan, progress=progress, what="Read the clustering sample")
    sc.pp.pca(sample, n_comps=min(50, sample.n_vars - 1, sample.n_obs - 1), random_state=seed)
    embedding.leiden(sample, seed=seed, key_added=key, max_clusters=max_clusters)
    return sample, Clusters.fit(sample, key)


def umap_cells(work: ad.AnnData, *, max_cells: int = UMAP_CELLS, seed: int = 0) -> ad.AnnData:
    """The tested cells the report's UMAP draws: at most ``max_cells`` of ``work`` (seeded), as a copy with their rows
    in the dataset in ``obs[POSITION]``. ``work`` is the whole prepared dataset, or the per-group sample of :func:`scan`
    (rows in ``obs[POSITION]`` already); its neighbours are kept where Leiden computed them."""
    chosen = np.arange(work.n_obs)
    if work.n_obs > max_cells:
        chosen = np.sort(np.random.default_rng(seed).choice(work.n_obs, max_cells, replace=False))
    cells = work[chosen].copy()
    if POSITION not in cells.obs:
        cells.obs[POSITION] = chosen
    return cells


def tested_umap(cells: ad.AnnData, *, seed: int = 0) -> dict[str, np.ndarray]:
    """A 2-D UMAP of :func:`umap_cells`' cells, computed once for the report: ``{"positions": (cells,) their rows in
    the dataset, "coordinates": (cells, 2)}``."""
    coordinates = embedding.umap(cells, seed=seed)
    return {"positions": cells.obs[POSITION].to_numpy(dtype=np.int64), "coordinates": np.asarray(coordinates, dtype=np.float32)}


# ----------------------------------------------------------------------------------------- scheduling and progress
def check_scheduler(address: str) -> None:
    """Connect to the Dask scheduler at ``address`` once; an unreachable one is an InputError naming the fix."""
    with _client(address):
        pass


@contextmanager
def _client(address: str) -> Iterator:
    """A ``dask.distributed`` client of the scheduler at ``address``, closed afterwards."""
    from distributed import Client

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        msg = f"could not reach the Dask scheduler at '{address}' ({reason})."
        raise InputError(
            msg + " Start it (dask scheduler; dask worker ADDRESS) or pass no --scheduler (unset CELL2TEXT_SCHEDULER) to run in this process."
        ) from exc
    try:
        yield client
    finally:
        client.close()


def _compute(tasks: list, *, what: str, n_obs: int, sizes: tuple[int, ...], progress: Progress | None) -> list:
    """The tasks' results in order, on the scheduler of the settings, reporting progress as blocks finish."""
    eta = _Eta(what, n_obs, progress)
    address = get_settings().scheduler
    if not address:
        with _BlockCallback(eta, sizes, key_split(tasks[0].key)):
            return list(dask.compute(*tasks, scheduler="threads"))
    from distributed import as_completed

    with _client(address) as client:
        futures = client.compute(tasks)
        size = {future.key: n for future, n in zip(futures, sizes)}
        done = 0
        for future in as_completed(futures, loop=client.loop):
            done += size[future.key]
            eta.update(done)
        return client.gather(futures)


class _BlockCallback(Callback):
    """Dask's local-scheduler callback, counting the cells of the :func:`_block` tasks as they finish."""

    def __init__(self, eta: _Eta, sizes: tuple[int, ...], name: str) -> None:
        super().__init__()
        self.eta, self.sizes, self.name, self.done, self.seen = eta, sizes, name, 0, 0

    def _posttask(self, key, result, dsk, state, worker_id) -> None:
        if key_split(key) == self.name:
            self.done += self.sizes[self.seen]  # blocks finish in any order, of equal sizes but the last: counted in order
            self.seen += 1
            self.eta.update(self.done)


class _Eta:
    """Reports progress of a scan with an ETA, at most every ``every`` seconds (and at the end)."""

    def __init__(self, what: str, total: int, progress: Progress | None, every: float = 5.0) -> None:
        self.what, self.total, self.progress, self.every = what, total, progress, every
        self.started = self.last = time.perf_counter()

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if self.progress is None or (now - self.last < self.every and done < self.total):
            return
        self.last = now
        elapsed = now - self.started
        eta = elapsed / done * (self.total - done) if done else float("nan")
        tail = "done" if done >= self.total else f"ETA {_duration(eta)}"
        self.progress("scan", f"{self.what}: {done:,} of {self.total:,} cells ({done / self.total:.0%}), {_duration(elapsed)} so far, {tail}")


def _duration(seconds: float) -> str:
    if math.isnan(seconds):
        return "?"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
