"""Reading and preparing real data, and every bad-input case failing with one clear line."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import scipy.sparse as sp

from cell2text.data.io import (
    check_group,
    check_groupby,
    expression_kind,
    find_genes,
    gene_symbols,
    prepare,
    read_dataset,
    write_text_atomic,
)
from cell2text.errors import InputError


@pytest.fixture(scope="module")
def pbmc():
    return sc.datasets.pbmc68k_reduced()


def test_demo_is_prepared_from_raw(demo):
    assert demo.shape == (700, 765)
    info = demo.uns["cell2text"]["preprocessing"]
    assert info["source"] == "raw" and info["detected"] == "log1p" and not info["normalised"]
    assert demo.X.min() >= 0
    assert "X_umap" in demo.obsm
    assert demo.obs["bulk_labels"].dtype == "category"


def test_demo_labels_mapped_to_live_cl_terms(demo, demo_table, ontology):
    assert set(demo_table.index) == set(demo.obs["bulk_labels"].astype(str))
    for label, row in demo_table.iterrows():
        term = ontology.term(row["cell_type_ontology_term_id"])
        assert not term.obsolete and term.label == row["cell_type"], label
    assert demo.obs["cell_type_ontology_term_id"].notna().all()


def test_demo_table_markers_are_up_in_their_group(demo, demo_table):
    """Each marker gene that justifies a mapping is higher in its group than in the other cells."""
    labels = demo.obs["bulk_labels"].astype(str).to_numpy()
    X = demo.X.toarray() if sp.issparse(demo.X) else demo.X
    for label, row in demo_table.iterrows():
        genes = find_genes(demo, row["markers"].split(";"), what=label)
        assert len(genes) == len(row["markers"].split(";")), f"{label}: a marker is not in the data"
        inside = labels == label
        for gene in genes:
            j = demo.var_names.get_loc(gene)
            assert X[inside, j].mean() > X[~inside, j].mean(), f"{label}: {gene}"


def test_read_h5ad_round_trip(tmp_path, pbmc):
    path = tmp_path / "pbmc.h5ad"
    pbmc.write_h5ad(path)
    before = path.read_bytes()
    adata = read_dataset(path)
    prepared = prepare(adata, groupby="louvain")
    assert prepared.n_obs == 700
    assert path.read_bytes() == before  # the input is never modified


def test_counts_are_normalised_and_said(pbmc):
    counts = np.round(np.expm1(pbmc.raw.X.toarray()) * 3)
    adata = ad.AnnData(X=sp.csr_matrix(counts), obs=pbmc.obs.copy(), var=pd.DataFrame(index=pbmc.raw.var_names))
    assert expression_kind(adata.X) == "counts"
    prepared = prepare(adata)
    info = prepared.uns["cell2text"]["preprocessing"]
    assert info["detected"] == "counts" and info["normalised"]
    assert any("normalised" in note for note in info["notes"])
    totals = np.expm1(prepared.X.toarray()).sum(axis=1)
    np.testing.assert_allclose(totals, 1e4, rtol=1e-3)
    assert adata.X.max() == counts.max()  # the caller's object is untouched


def test_expression_kinds(pbmc):
    assert expression_kind(pbmc.X) == "scaled"
    assert expression_kind(pbmc.raw.X) == "log1p"
    assert expression_kind(np.full((3, 3), 500.5)) == "linear"
    assert expression_kind(np.full((3, 3), np.inf)) == "unknown"


def test_feature_name_symbols_and_ensembl(pbmc):
    var = pd.DataFrame({"feature_name": ["CD3E", "MS4A1"]}, index=["ENSG00000198851", "ENSG00000156738"])
    assert list(gene_symbols(var)) == ["CD3E", "MS4A1"]
    assert list(gene_symbols(pd.DataFrame(index=["ENSG00000198851.10", "ENSG00000156738", "ENSG00000000000"]))) == [
        "CD3E",
        "MS4A1",
        "ENSG00000000000",
    ]  # GENCODE v44; an unknown id stays
    with pytest.raises(InputError, match="Ensembl ids of a species cell2text does not read"):
        gene_symbols(pd.DataFrame(index=["ENSDARG00000000001", "ENSDARG00000000002"]))
    assert list(gene_symbols(pd.DataFrame(index=["CD3E", "MS4A1"]))) == ["CD3E", "MS4A1"]


def test_duplicate_symbols_made_unique():
    var = pd.DataFrame({"feature_name": ["CD3E", "CD3E"]}, index=["ENSG00000198851", "ENSG00000000001"])
    adata = ad.AnnData(X=np.array([[1.5, 0.2], [0.1, 2.0]], dtype=np.float32), var=var)
    prepared = prepare(adata)
    assert prepared.var_names.is_unique


# ------------------------------------------------------------------ bad input
def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_dataset(tmp_path / "missing.h5ad")


def test_not_h5ad(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a supported file type"):
        read_dataset(path)


def test_corrupt_h5ad(tmp_path, pbmc):
    good = tmp_path / "good.h5ad"
    pbmc.write_h5ad(good)
    broken = tmp_path / "broken.h5ad"
    broken.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(InputError, match="could not read 'broken.h5ad'"):
        read_dataset(broken)


def test_text_named_h5ad(tmp_path):
    path = tmp_path / "fake.h5ad"
    path.write_text("this is not HDF5")
    with pytest.raises(InputError, match="could not read"):
        read_dataset(path)


def test_empty_dataset(tmp_path):
    path = tmp_path / "empty.h5ad"
    ad.AnnData(X=np.zeros((0, 5), dtype=np.float32), var=pd.DataFrame(index=list("ABCDE"))).write_h5ad(path)
    with pytest.raises(InputError, match="is empty"):
        read_dataset(path)


def test_mtx_folder_without_matrix(tmp_path):
    with pytest.raises(InputError, match="no matrix.mtx"):
        read_dataset(tmp_path)


def test_scaled_without_raw(pbmc):
    adata = ad.AnnData(X=pbmc.X.copy(), var=pbmc.var.copy())
    with pytest.raises(InputError, match="scaled"):
        prepare(adata)


def test_unknown_groupby_lists_keys(demo):
    with pytest.raises(InputError, match="obs key 'cell_types' not found. Available keys: bulk_labels"):
        check_groupby(demo, "cell_types")


def test_unknown_or_empty_group(demo):
    assert check_group(demo, "bulk_labels", "CD34+").sum() == 13
    with pytest.raises(InputError, match="has no cells"):
        check_group(demo, "bulk_labels", "Hepatocyte")


def test_groupby_with_too_many_values(demo):
    with pytest.raises(InputError, match="too many to be groups"):
        check_groupby(demo, "n_counts")


def test_no_genes_in_common(demo):
    assert find_genes(demo, ["cd3e", "NOTAGENE"]) == ["CD3E"]
    with pytest.raises(InputError, match="none of the 2 genes"):
        find_genes(demo, ["ENSG00000198851", "NOTAGENE"], what="marker check")


def test_write_text_atomic(tmp_path):
    target = write_text_atomic(tmp_path / "out.json", "{}\n")
    assert target.read_text() == "{}\n"
    assert not list(tmp_path.glob(".*.tmp"))
    source = tmp_path / "in.h5ad"
    source.write_text("data")
    with pytest.raises(InputError, match="refusing to overwrite the input"):
        write_text_atomic(source, "x", inputs=[source])
    assert source.read_text() == "data"
    with pytest.raises(InputError, match="does not exist"):
        write_text_atomic(tmp_path / "no" / "out.json", "x")
