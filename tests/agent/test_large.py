"""Real-size and out-of-core describe: chunked reading, Leiden and UMAP on thousands of cells, bad input at scale.

The generated dataset resamples the demo's cells into Poisson counts (so neighbours are not
duplicates) and is written to disk; the out-of-core path is forced by lowering
``CELL2TEXT_IN_MEMORY_CELLS``, so the same code runs as on a million cells.
"""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from cell2text.agent.describe import CLUSTER_KEY, describe, read_result
from cell2text.cli import app
from cell2text.data.io import read_dataset

runner = CliRunner()
N_CELLS = 8_492  # past scanpy's 8,192-cell switch to approximate neighbours


def _counts(demo, n_cells: int, seed: int = 0) -> ad.AnnData:
    """``n_cells`` Poisson count profiles (~1,500 per cell) drawn around the demo's populations, with their bulk labels.

    Each cell's rate mixes a random demo cell (30%) with the mean of its population (70%), so cells form
    populations rather than ~700 tight families of copies.
    """
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, demo.n_obs, n_cells)
    dense = np.expm1(demo.X.toarray() if sp.issparse(demo.X) else np.asarray(demo.X))
    dense /= dense.sum(1, keepdims=True)
    labels = demo.obs["bulk_labels"].astype(str).to_numpy()
    means = {label: dense[labels == label].mean(0) for label in set(labels)}
    rate = 0.3 * dense[rows] + 0.7 * np.stack([means[label] for label in labels[rows]])
    counts = rng.poisson(rate * 1500).astype(np.float32)
    obs = pd.DataFrame({"bulk_labels": demo.obs["bulk_labels"].to_numpy()[rows]}, index=[f"cell{i}" for i in range(n_cells)])
    return ad.AnnData(sp.csr_matrix(counts), obs=obs, var=pd.DataFrame(index=demo.var_names))


@pytest.fixture(scope="module")
def big_file(demo, tmp_path_factory):
    path = tmp_path_factory.mktemp("large") / "big.h5ad"
    _counts(demo, N_CELLS).write_h5ad(path)
    return path


def test_chunked_and_whole_matrix_paths_give_the_same_annotations(demo, monkeypatch):
    whole = demo.copy()
    describe(whole, "bulk_labels", max_rounds=1)
    monkeypatch.setenv("CELL2TEXT_IN_MEMORY_CELLS", "0")
    monkeypatch.setenv("CELL2TEXT_CHUNK_SIZE", "97")
    chunked = demo.copy()
    nodes = []
    describe(chunked, "bulk_labels", max_rounds=1, progress=lambda node, step: nodes.append(node))
    assert "scan" in nodes
    for key in ("cell2text_cell_type_ontology_term_id", "cell2text_status"):
        assert (whole.obs[key].astype(str) == chunked.obs[key].astype(str)).all()
    np.testing.assert_allclose(whole.obs["cell2text_confidence"], chunked.obs["cell2text_confidence"], atol=1e-5)
    texts = {g: v["text"] for g, v in read_result(whole)["groups"].items()}
    assert texts == {g: v["text"] for g, v in read_result(chunked)["groups"].items()}
    assert any("read in chunks of 97 cells" in note for note in read_result(chunked)["notes"])


def test_out_of_core_describe_without_groupby_on_more_cells_than_exact_neighbours(big_file, tmp_path, monkeypatch):
    """The CLI on a file read backed in chunks: Leiden and the report's UMAP on > 8,192 cells, annotated copy written."""
    monkeypatch.setenv("CELL2TEXT_IN_MEMORY_CELLS", "5000")
    monkeypatch.setenv("CELL2TEXT_CHUNK_SIZE", "3000")
    monkeypatch.setenv("CELL2TEXT_CELLS_PER_GROUP", "150")
    before = big_file.read_bytes()
    out = tmp_path / "annotated.h5ad"
    result = runner.invoke(app, ["describe", str(big_file), "--out", str(tmp_path / "report"), "--write", str(out), "--max-rounds", "1", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["groupby"] == CLUSTER_KEY and len(payload["groups"]) >= 5
    assert sum(g["n_cells"] for g in payload["groups"].values()) == N_CELLS
    assert all(g["n_cells_tested"] <= 150 for g in payload["groups"].values())
    assert any("nearest cluster centroid" in note for note in payload["notes"])
    annotated = ad.read_h5ad(out)
    assert annotated.obs["cell2text_cell_type"].notna().all() and annotated.obs[CLUSTER_KEY].nunique() == len(payload["groups"])
    counted = annotated.obs[CLUSTER_KEY].astype(str).map({g: v["head_weight"] > 0 for g, v in payload["groups"].items()}).to_numpy(bool)
    confidence = annotated.obs["cell2text_confidence"].to_numpy()
    assert counted.any() and np.isfinite(confidence[counted]).all() and np.isnan(confidence[~counted]).all()  # NaN: the head did not count
    assert annotated.X.nnz > 0
    assert (tmp_path / "report" / "report.html").stat().st_size > 10_000
    assert big_file.read_bytes() == before  # the input is never written

    # chat on the annotated file opened backed: answers come from the tested sample, never the whole matrix
    from cell2text.agent.chat.run import Chat
    from cell2text.agent.chat.session import DatasetSession

    session = DatasetSession(read_dataset(out), out.name, result=read_result(annotated))
    assert session.adata.isbacked
    answer = Chat(session).ask("Where is GNLY expressed?")
    assert answer.tool == "gene_expression" and "GNLY" in answer.text, answer.text
    assert session.work.n_obs <= 150 * len(payload["groups"]) < N_CELLS


def _invoke_describe(adata: ad.AnnData, path, *args: str):
    adata.write_h5ad(path)
    return runner.invoke(app, ["describe", str(path), *args])


def test_a_groupby_with_thousands_of_groups_is_refused_at_once(tmp_path):
    rng = np.random.default_rng(0)
    adata = ad.AnnData(
        sp.random(10_000, 30, density=0.2, format="csr", random_state=0, dtype=np.float32) * 10,
        obs=pd.DataFrame({"barcode_group": rng.integers(0, 5000, 10_000).astype(str)}),
    )
    result = _invoke_describe(adata, tmp_path / "many.h5ad", "-g", "barcode_group")
    assert result.exit_code == 2 and "groups" in result.output and "at most 200" in result.output
    assert "Traceback" not in result.output


def test_a_group_of_one_cell_is_refused_with_the_fix(demo, tmp_path):
    adata = _counts(demo, 300)
    adata.obs["bulk_labels"] = adata.obs["bulk_labels"].astype(str)
    adata.obs.iloc[0, 0] = "lonely"
    result = _invoke_describe(adata, tmp_path / "one.h5ad", "-g", "bulk_labels")
    assert result.exit_code == 2 and "'lonely' (1)" in result.output and "Merge" in result.output


def test_overflowed_integer_counts_are_refused_with_the_fix(demo, tmp_path):
    adata = _counts(demo, 200)
    adata.X = adata.X.astype(np.int32)
    adata.X.data[5] = -2_000_000_000  # what a sum past 2**31 wraps to
    result = _invoke_describe(adata, tmp_path / "overflow.h5ad", "-g", "bulk_labels")
    assert result.exit_code == 2 and "negative integers" in result.output and "overflowed" in result.output


def test_cells_and_genes_without_counts_are_described_with_a_note(demo, tmp_path):
    adata = _counts(demo, 400)
    X = adata.X.tolil()
    X[:7] = 0  # seven empty cells
    X[:, 3] = 0  # an empty gene
    X = X.tocsr()
    X.eliminate_zeros()
    adata.X = X
    result = _invoke_describe(adata, tmp_path / "empty.h5ad", "-g", "bulk_labels", "--max-rounds", "1", "--json")
    assert result.exit_code == 0, result.output
    assert any("7 cells have no counts" in note for note in json.loads(result.stdout)["notes"])


def test_a_10x_file_too_large_for_memory_is_refused_with_the_fix(tmp_path, monkeypatch):
    import cell2text.data.io as io

    path = tmp_path / "huge.h5"
    path.write_bytes(b"\0" * 4096)
    monkeypatch.setattr(io, "available_memory", lambda: 1000)  # a machine with 1 kB free
    result = runner.invoke(app, ["describe", str(path)])
    assert result.exit_code == 2 and "Convert it to .h5ad" in result.output


def test_int64_indptr_with_int32_indices_is_tested_like_any_matrix(demo):
    """Large files are written with an int64 indptr and int32 indices; scanpy's marker test must still run on them."""
    from cell2text.data.io import prepare
    from cell2text.tools.markers import rank_markers

    adata = _counts(demo, 300)
    adata.X.indptr = adata.X.indptr.astype(np.int64)
    work = prepare(adata, "bulk_labels")
    rank_markers(work, "bulk_labels")
    assert "cell2text_markers" in work.uns
