"""The gene tokenizer on the real demo data."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from cell2text.errors import InputError
from cell2text.model.tokenizer import GeneTokenizer


@pytest.fixture(scope="module")
def tokenizer(demo):
    return GeneTokenizer.fit(demo)


def test_fit_vocabulary_and_medians(tokenizer, demo):
    assert len(tokenizer) == demo.n_vars == 765
    assert (tokenizer.medians > 0).all()
    j = tokenizer.index["CD3D"]
    column = demo[:, "CD3D"].X.toarray().ravel()
    assert tokenizer.medians[j] == pytest.approx(np.median(column[column > 0]))


def test_rank_value_encoding(tokenizer, demo):
    dense = tokenizer.dense(demo)
    tokens = tokenizer.encode(dense, top_k=16)
    assert tokens.shape == (demo.n_obs, 16)
    ratio = dense / tokenizer.medians
    for row in range(5):
        chosen = ratio[row, tokens[row][tokens[row] > 0] - 1]
        assert np.all(np.diff(chosen) <= 0)  # in rank order, highest first
        assert chosen.min() >= np.sort(ratio[row])[-16]


def test_unknown_genes_dropped_and_counted(tokenizer, demo):
    subset = demo[:, demo.var_names[:600]].copy()
    columns, found = tokenizer.overlap(subset)
    assert found == 600 and (columns < 0).sum() == 165
    dense = tokenizer.dense(subset)
    assert dense.shape == (demo.n_obs, 765)
    assert np.all(dense[:, columns < 0] == 0)


def test_too_little_overlap_is_refused(tokenizer):
    other = ad.AnnData(X=np.ones((3, 4), dtype=np.float32), var=pd.DataFrame(index=["CD3D", "A", "B", "C"]))
    with pytest.raises(InputError, match="only 1 of the model's 765 genes"):
        tokenizer.dense(other)


def test_save_load(tokenizer, tmp_path):
    tokenizer.save(tmp_path / "genes.json")
    again = GeneTokenizer.load(tmp_path / "genes.json")
    assert again.genes == tokenizer.genes
    np.testing.assert_allclose(again.medians, tokenizer.medians)
