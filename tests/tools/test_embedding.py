"""Neighbours, Leiden and UMAP on thousands of cells, on the exact and the approximate (pynndescent) neighbour paths;
the automatic Leiden resolution on cells Leiden would split too finely."""

from __future__ import annotations

import numpy as np
import pytest
import scanpy as sc
import scipy.sparse as sp

from cell2text.agent.describe import MAX_GROUPS, check_groups
from cell2text.data.io import prepare
from cell2text.tools.embedding import NEIGHBORS_KEY, _merge, leiden, neighbors, umap
from cell2text.tools.markers import MIN_GROUP_CELLS


def _resampled(demo, n_cells: int, label: str | None = None):
    """``n_cells`` demo cells (of one ``bulk_labels`` label, or all) drawn with replacement, with Poisson noise on the
    counts-like scale and no stored PCA, so that PCA and neighbours see the noise."""
    rng = np.random.default_rng(0)
    cells = demo if label is None else demo[demo.obs["bulk_labels"] == label]
    work = prepare(cells[rng.integers(0, cells.n_obs, n_cells)].copy())
    work.obs_names_make_unique()
    X = work.X.toarray() if sp.issparse(work.X) else work.X
    work.X = sp.csr_matrix(np.log1p(rng.poisson(np.expm1(X) * 0.5) / 0.5).astype(np.float32))
    del work.obsm["X_pca"]
    return work


@pytest.mark.parametrize("exact_up_to", [50_000, 0], ids=["exact", "pynndescent"])
def test_leiden_and_umap_on_thousands_of_cells(demo, exact_up_to):
    # 8,692 resampled demo cells (past scanpy's own 8,192-cell switch) with Poisson noise on the
    # counts-like scale, so neighbours are not all duplicates; pynndescent is where scanpy 1.11 +
    # scipy 1.17 crashed
    rng = np.random.default_rng(0)
    rows = rng.integers(0, demo.n_obs, 8_692)
    work = prepare(demo[rows].copy())
    X = work.X.toarray() if sp.issparse(work.X) else work.X
    work.X = sp.csr_matrix(np.log1p(rng.poisson(np.expm1(X) * 0.5) / 0.5).astype(np.float32))
    neighbors(work, exact_up_to=exact_up_to)
    leiden(work, key_added="clusters")
    assert work.obs["clusters"].nunique() >= 5  # ten sorted populations do not collapse into one cluster
    coords = umap(work)
    assert coords.shape == (work.n_obs, 2) and np.isfinite(coords).all()


def test_near_identical_cells_get_clusters_describe_takes(demo):
    # 6,000 cells resampled from the 240 dendritic cells: each cell's copies are one another's
    # neighbours, so the graph falls apart into ~240 cliques, more than describe takes, at every
    # resolution (the user's 6,000 cells in 565 clusters); merging by centroid brings them within the cap
    work = _resampled(demo, 6_000, "Dendritic")
    assert leiden(work, resolution=1.0, key_added="fixed") == 1.0
    assert work.obs["fixed"].nunique() > MAX_GROUPS

    resolution = leiden(work, key_added="cell2text_leiden", max_clusters=MAX_GROUPS)
    sizes = check_groups(work, "cell2text_leiden")  # describe's own check passes
    params = work.uns["cell2text_leiden"]["params"]
    assert 2 <= len(sizes) <= MAX_GROUPS and sizes.min() >= MIN_GROUP_CELLS
    assert params["auto"] and params["resolution"] == resolution < 1.0 and params["merged"] > 0
    assert params["n_clusters"] == len(sizes) and params["max_clusters"] == MAX_GROUPS
    assert list(work.obs["cell2text_leiden"].cat.categories) == [str(i) for i in range(len(sizes))]


def test_the_resolution_is_lowered_only_as_far_as_the_cap_needs(demo):
    # the demo's ten populations: Leiden at 1.0 finds 10 clusters; with a cap of 5 the search
    # lowers the resolution until Leiden itself finds at most 5, and that resolution reproduces them
    work = demo.copy()
    assert leiden(work, key_added="default") == 1.0 and work.uns["default"]["params"]["merged"] == 0
    resolution = leiden(work, key_added="auto", max_clusters=5)
    assert 0.01 < resolution < 1.0
    assert 2 <= work.obs["auto"].nunique() <= 5 and work.uns["auto"]["params"]["merged"] == 0
    leiden(work, resolution=resolution, key_added="again")
    assert (work.obs["again"] == work.obs["auto"]).all()


def test_an_explicit_resolution_is_used_as_given(demo):
    work = demo.copy()
    assert leiden(work, resolution=0.3, key_added="ours") == 0.3
    params = work.uns["ours"]["params"]
    assert params["resolution"] == 0.3 and not params["auto"] and params["max_clusters"] is None
    sc.tl.leiden(
        work, resolution=0.3, random_state=0, key_added="scanpy", neighbors_key=NEIGHBORS_KEY, flavor="igraph", n_iterations=2, directed=False
    )
    assert (work.obs["ours"].astype(str) == work.obs["scanpy"].astype(str)).all()


def test_the_same_seed_gives_the_same_clusters(demo):
    first, second = _resampled(demo, 2_000), _resampled(demo, 2_000)
    leiden(first, key_added="clusters", max_clusters=4)
    leiden(second, key_added="clusters", max_clusters=4)
    assert (first.obs["clusters"] == second.obs["clusters"]).all()
    assert first.uns["clusters"]["params"] == second.uns["clusters"]["params"]


def test_a_small_cluster_joins_the_nearest_large_one_not_another_small_one():
    # 1-D PCA: clusters 0 (at 0) and 1 (at 10) of three cells; singletons 2 (at 6) and 3 (at 6.5).
    # Each singleton joins cluster 1, the nearest of at least two cells, though 3 is nearer to 2
    pcs = np.array([[0.0], [0.0], [0.0], [10.0], [10.0], [10.0], [6.0], [6.5]])
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 3])
    merged, n_merged = _merge(labels, pcs, min_cells=2, cap=10)
    assert merged.tolist() == [0, 0, 0, 1, 1, 1, 1, 1] and n_merged == 2
    merged, _ = _merge(labels, pcs, min_cells=2, cap=1)
    assert merged.tolist() == [0] * 8
