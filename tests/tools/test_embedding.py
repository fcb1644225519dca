"""Neighbours, Leiden and UMAP on thousands of cells, on the exact and the approximate (pynndescent) neighbour paths."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from cell2text.data.io import prepare
import pytest

from cell2text.tools.embedding import leiden, neighbors, umap


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
