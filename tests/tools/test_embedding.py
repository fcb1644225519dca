"""Neighbours, Leiden and UMAP past scanpy's exact-neighbour limit (the path every real dataset takes)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from cell2text.data.io import prepare
from cell2text.tools.embedding import EXACT_BELOW, leiden, umap


def test_leiden_and_umap_on_more_cells_than_the_exact_path(demo):
    # resampled demo cells with Poisson noise on the counts-like scale, so neighbours are not all duplicates
    rng = np.random.default_rng(0)
    rows = rng.integers(0, demo.n_obs, EXACT_BELOW + 500)
    work = prepare(demo[rows].copy())
    X = work.X.toarray() if sp.issparse(work.X) else work.X
    work.X = sp.csr_matrix(np.log1p(rng.poisson(np.expm1(X) * 0.5) / 0.5).astype(np.float32))
    leiden(work, key_added="clusters")
    assert work.obs["clusters"].nunique() >= 5  # ten sorted populations do not collapse into one cluster
    coords = umap(work)
    assert coords.shape == (work.n_obs, 2) and np.isfinite(coords).all()
