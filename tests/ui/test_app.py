"""The UI's handlers on bad input, without a browser: clear errors, the session's data kept, files cleaned up."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from cell2text.ui.app import UISession, load_demo, load_upload, run_describe


def last(generator):
    *_, final = generator
    return final


def test_too_large_wrong_and_unusable_uploads_keep_the_loaded_dataset(tmp_path, demo):
    session, *_ = load_demo(UISession())
    big = tmp_path / "big.h5ad"
    demo.write_h5ad(big)
    _, _, _, error = load_upload(str(big), session, max_mb=0.01)
    assert "the limit is 0 MB" in error
    scaled = ad.AnnData(X=np.random.default_rng(0).normal(size=(20, 30)).astype(np.float32))
    scaled.write_h5ad(tmp_path / "scaled.h5ad")
    _, _, _, error = load_upload(str(tmp_path / "scaled.h5ad"), session)
    assert "error:" in error and ".raw" in error
    assert session.name == "pbmc68k_reduced (demo)" and session.adata.n_obs == 700
    session.close()
    assert not session.folder.exists()


def test_describe_errors_are_shown_and_the_dataset_stays(tmp_path):
    session = UISession()
    outputs = last(run_describe("bulk_labels", session))
    assert "no dataset loaded" in outputs[2]
    session, *_ = load_demo(session)
    outputs = last(run_describe("nope", session))
    assert "obs key 'nope' not found" in outputs[2]
    rng = np.random.default_rng(0)
    foreign = ad.AnnData(
        X=rng.poisson(1.0, size=(60, 40)).astype(np.float32),
        obs=pd.DataFrame({"cluster": pd.Categorical(rng.choice(["a", "b"], 60))}, index=[f"c{i}" for i in range(60)]),
        var=pd.DataFrame(index=[f"gene_{i}" for i in range(40)]),
    )
    foreign.write_h5ad(tmp_path / "foreign.h5ad")
    session, *_ = load_upload(str(tmp_path / "foreign.h5ad"), session)
    outputs = last(run_describe("cluster", session))
    assert "error:" in outputs[2] and "gene" in outputs[2].lower()
    assert "cell2text_cell_type" not in session.adata.obs  # a failed run annotates nothing
    session.close()
