"""Any data in: units (counts, TPM, log1p, log2, layers), gene identifiers and species, on real expression.

Every matrix is built from the real cells of scanpy's pbmc68k_reduced: its ``.raw`` is log1p of
counts per 10,000, so un-logging a cell and dividing by its smallest value gives back the cell's
counts (of its 765 genes). From those: TPM with gene-length factors, log2(x+1), a counts layer,
Ensembl ids, and the same cells as a mouse dataset (the genes' Ensembl 105 mouse orthologs).
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import scipy.sparse as sp

from cell2text.data.io import expression_kind, find_genes, prepare
from cell2text.errors import InputError
from cell2text.knowledge.genes import (
    convert_gene,
    detect_species,
    ensembl_symbols,
    hgnc_symbols,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="module")
def pbmc() -> ad.AnnData:
    return sc.datasets.pbmc68k_reduced()


@pytest.fixture(scope="module")
def counts(pbmc) -> ad.AnnData:
    """The cells' counts (765 genes), recovered from the log-normalised .raw; obs kept."""
    values = np.expm1(pbmc.raw.X.toarray().astype(np.float64))
    smallest = np.where(values > 0, values, np.inf).min(axis=1, keepdims=True)
    X = sp.csr_matrix(np.round(values / smallest).astype(np.float32))
    return ad.AnnData(X=X, obs=pbmc.obs[["bulk_labels"]].copy(), var=pd.DataFrame(index=pbmc.raw.var_names.astype(str)))


@pytest.fixture(scope="module")
def reference(counts) -> ad.AnnData:
    """``counts`` prepared: what every other unit of the same cells must come back as."""
    return prepare(counts)


def with_x(counts: ad.AnnData, X, **kwargs) -> ad.AnnData:
    return ad.AnnData(X=X, obs=counts.obs.copy(), var=counts.var.copy(), **kwargs)


def info(adata: ad.AnnData) -> dict:
    return adata.uns["cell2text"]["preprocessing"]


def dense(X) -> np.ndarray:
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def test_counts_recovered_from_the_demo(counts, reference):
    assert expression_kind(counts.X) == "counts"
    assert counts.X.sum(1).min() > 100  # real cells: hundreds of counts over these 765 genes
    assert info(reference)["detected"] == "counts" and info(reference)["normalised"]
    assert info(reference)["species"] == "human" and list(reference.var_names) == hgnc_symbols(list(counts.var_names))


def test_tpm_is_rescaled_and_logged(counts, reference):
    """Smart-seq2-style TPM: counts over gene length, per million; not integers, values in the thousands."""
    lengths = np.random.default_rng(0).lognormal(np.log(2500), 0.6, counts.n_vars)  # bp, like real transcripts
    per_base = dense(counts.X) / lengths
    tpm = (per_base / per_base.sum(1, keepdims=True) * 1e6).astype(np.float32)
    assert tpm.max() > 10_000
    assert expression_kind(tpm) == "linear"
    prepared = prepare(with_x(counts, tpm))
    record = info(prepared)
    assert record["detected"] == "linear" and record["normalised"] and record["source"] == "X"
    assert any(n.startswith(f"X looks like TPM/CPM/FPKM (non-integer, max {tpm.max():,.0f})") for n in record["notes"])
    np.testing.assert_allclose(np.expm1(dense(prepared.X)).sum(1), 1e4, rtol=1e-3)
    # the same cells: TPM and counts agree up to the gene-length factor
    r = np.corrcoef(dense(prepared.X).ravel(), dense(reference.X).ravel())[0, 1]
    assert r > 0.8


def test_cpm_is_linear(counts, reference):
    cpm = dense(counts.X) / dense(counts.X).sum(1, keepdims=True) * 1e6
    assert expression_kind(cpm) == "linear"
    np.testing.assert_allclose(dense(prepare(with_x(counts, cpm)).X), dense(reference.X), atol=1e-5)


def test_log2_is_converted_to_natural_log(counts, reference):
    per_10k = np.expm1(dense(reference.X))
    log2 = sp.csr_matrix(np.log2(per_10k + 1).astype(np.float32))
    assert expression_kind(log2) == "log2"
    prepared = prepare(with_x(counts, log2))
    assert info(prepared)["detected"] == "log2" and not info(prepared)["normalised"]
    assert any("log2(x+1)" in n for n in info(prepared)["notes"])
    np.testing.assert_allclose(dense(prepared.X), dense(reference.X), atol=1e-5)


def test_natural_log1p_is_kept_bit_for_bit(pbmc, demo):
    assert expression_kind(pbmc.raw.X) == "log1p"
    assert (demo.X != pbmc.raw.X).nnz == 0  # the demo is .raw, not renormalised
    assert "log1p" not in " ".join(info(demo)["notes"])


def test_log_of_unknown_base_is_read_as_natural_and_said(counts):
    lengths = np.random.default_rng(1).lognormal(np.log(2500), 0.6, counts.n_vars)
    per_base = dense(counts.X) / lengths
    log_tpm = np.log1p(per_base / per_base.sum(1, keepdims=True) * 1e6).astype(np.float32)
    assert expression_kind(log_tpm) == "log"
    prepared = prepare(with_x(counts, log_tpm))
    assert info(prepared)["detected"] == "log" and np.array_equal(dense(prepared.X), log_tpm)
    assert any("base could not be told" in n for n in info(prepared)["notes"])


def test_counts_layer_is_used_when_x_is_scaled(pbmc, counts, reference):
    scaled = with_x(counts, pbmc.X.copy(), layers={"counts": counts.X.copy()})
    prepared = prepare(scaled)
    record = info(prepared)
    assert record["source"] == "layer:counts" and record["detected"] == "counts"
    assert any("taken from layers['counts']" in n for n in record["notes"])
    np.testing.assert_allclose(dense(prepared.X), dense(reference.X), atol=1e-6)


def test_layer_keyword(counts, reference):
    adata = with_x(counts, reference.X.copy(), layers={"umis": counts.X.copy()})
    assert info(prepare(adata))["source"] == "X"
    prepared = prepare(adata, layer="umis")
    assert info(prepared)["source"] == "layer:umis" and info(prepared)["detected"] == "counts"
    with pytest.raises(InputError, match=r"layer 'spliced' not found\. Layers: umis\."):
        prepare(adata, layer="spliced")


def test_unreadable_expression_names_the_fix(pbmc, counts):
    scaled = with_x(counts, pbmc.X.copy(), layers={"counts": pbmc.X.copy()})
    with pytest.raises(InputError, match=r"X looks scaled.*no \.raw.*layers\['counts'\] looks scaled.*layer=\.\.\."):
        prepare(scaled)
    broken = dense(counts.X).copy()
    broken[0, 0] = np.nan
    assert expression_kind(broken) == "unknown"
    with pytest.raises(InputError, match="NaN or infinite"):
        prepare(with_x(counts, broken))


def test_chunks_are_treated_like_the_whole(counts, reference):
    """The Dask scan prepares a file block by block: each block is judged on the dataset's first cells."""
    log2 = with_x(counts, sp.csr_matrix(np.log2(np.expm1(dense(reference.X)) + 1).astype(np.float32)))
    whole = prepare(log2)
    for rows in (slice(0, 100), slice(600, 700), np.array([3, 250, 699])):
        part = prepare(log2, rows=rows)
        assert info(part)["detected"] == "log2"
        np.testing.assert_array_equal(dense(part.X), dense(whole.X)[rows])


def test_ensembl_ids_with_versions_become_symbols(counts, reference):
    to_id = {symbol: gene_id for gene_id, symbol in ensembl_symbols("human").items()}
    symbols = list(reference.var_names)
    ids = [f"{to_id[s]}.{i % 20 + 1}" if s in to_id else s for i, s in enumerate(symbols)]
    assert sum(i.startswith("ENSG") for i in ids) > 700
    adata = ad.AnnData(X=counts.X.copy(), obs=counts.obs.copy(), var=pd.DataFrame(index=ids))
    prepared = prepare(adata)
    assert list(prepared.var_names) == symbols
    assert list(prepared.var["cell2text_source_gene"]) == ids
    record = info(prepared)
    assert record["genes"]["identifiers"] == "Ensembl ids" and record["species_from"].startswith("Ensembl ids")
    assert any(n.startswith("Genes are Ensembl ids:") for n in record["notes"])
    np.testing.assert_array_equal(dense(prepared.X), dense(reference.X))


def test_gene_case_and_previous_symbols(counts, reference):
    lower = ad.AnnData(X=counts.X.copy(), obs=counts.obs.copy(), var=pd.DataFrame(index=[g.lower() for g in counts.var_names]))
    prepared = prepare(lower, species="human")
    assert list(prepared.var_names) == list(reference.var_names)  # also names GENCODE v44 lacks: ATPIF1, C1orf228, RP11-...
    assert "IGJ" in counts.var_names and "JCHAIN" in prepared.var_names  # previous HGNC symbol -> today's
    assert any("previous HGNC symbols were renamed" in n for n in info(reference)["notes"])
    assert find_genes(prepared, ["igj", "Cd3e", "Cd8b1"]) == ["JCHAIN", "CD3E", "CD8B"]


@pytest.fixture(scope="module")
def as_mouse(counts) -> ad.AnnData:
    """The same cells as a mouse dataset: each gene named by its 1:1 mouse ortholog (genes without one, and a second
    human gene of the same mouse gene, left out)."""
    mouse = [convert_gene(g, "human", "mouse") for g in hgnc_symbols(list(counts.var_names))]
    mouse = [m if m not in mouse[:i] else None for i, m in enumerate(mouse)]
    keep = np.array([m is not None for m in mouse])
    adata = counts[:, keep].copy()
    adata.var["human"] = adata.var_names
    adata.var_names = [m for m in mouse if m]
    return adata


def test_mouse_genes_are_mapped_to_human_orthologs(as_mouse, counts):
    assert detect_species(as_mouse) == "mouse"
    prepared = prepare(as_mouse)
    record = info(prepared)
    assert record["species"] == "mouse" and record["species_from"].startswith("gene content")
    assert record["genes"]["n_kept"] == as_mouse.n_vars and record["genes"]["n_dropped"] == 0
    assert {"CD8B", "FCGR3A", "HLA-DRA", "JCHAIN"} <= set(prepared.var_names)
    assert prepared.var.loc["CD8B", "cell2text_source_gene"] == "Cd8b1"
    assert any(n.startswith("Mouse genes were mapped to their human orthologs (Ensembl 105)") for n in record["notes"])
    # a human gene made of one mouse gene has the value of the same gene read as human (normalised over the same genes)
    human = prepare(counts[:, list(as_mouse.var["human"])].copy())
    source = prepared.var["cell2text_source_gene"]
    single = [h for h, m in zip(human.var_names, as_mouse.var_names) if h in source.index and source[h] == m]
    assert len(single) > 0.9 * human.n_vars  # the others are summed (HLA-DRB1, HLA-DRB5) or renamed (ATPIF1 -> ATP5IF1)
    np.testing.assert_allclose(dense(prepared[:, single].X), dense(human[:, single].X), atol=1e-5)
    assert detect_species(prepared) == "human"  # downstream: its genes are human symbols now


def test_upper_case_mouse_symbols_are_mouse(as_mouse):
    upper = as_mouse.copy()
    upper.var_names = [g.upper() for g in as_mouse.var_names]
    prepared = prepare(upper)
    assert info(prepared)["species"] == "mouse"
    assert prepared.var.loc["CD8B", "cell2text_source_gene"] == "CD8B1"
    assert prepare(upper, species="human").n_vars == upper.n_vars  # an explicit species wins


def test_mouse_genes_of_one_human_gene_are_summed():
    X = sp.csr_matrix(np.array([[3, 1, 5, 7], [0, 2, 4, 1]], dtype=np.float32))
    adata = ad.AnnData(
        X=X, var=pd.DataFrame(index=["Abcb1a", "Abcb1b", "Cd3e", "Gm12345"]), obs=pd.DataFrame({"organism": ["Mus musculus"] * 2}, index=["c1", "c2"])
    )
    prepared = prepare(adata)
    assert info(prepared)["species_from"] == "obs['organism'] is 'mus musculus'"
    assert list(prepared.var_names) == ["ABCB1", "CD3E"]  # Gm12345: no human ortholog
    assert list(prepared.var["cell2text_source_gene"]) == ["Abcb1a;Abcb1b", "Cd3e"]
    per_10k = np.expm1(dense(prepared.X))
    np.testing.assert_allclose(per_10k, np.array([[4, 5], [2, 4]]) / np.array([[16], [7]]) * 1e4, rtol=1e-5)
    assert info(prepared)["genes"] == {
        "identifiers": "symbols",
        "n_input": 4,
        "mapping": info(prepared)["genes"]["mapping"],
        "n_kept": 3,
        "n_dropped": 1,
        "n_genes": 2,
    }


def test_mouse_ensembl_ids():
    X = sp.csr_matrix(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32))
    adata = ad.AnnData(X=X, var=pd.DataFrame(index=["ENSMUSG00000000001.4", "ENSMUSG00000023274", "ENSMUSG00000000000"]))
    prepared = prepare(adata)
    assert info(prepared)["species"] == "mouse" and info(prepared)["genes"]["identifiers"] == "Ensembl ids"
    assert list(prepared.var_names) == ["GNAI3", "CD4"]  # Gnai3, Cd4; the unknown id dropped
    zebrafish = ad.AnnData(X=X, var=pd.DataFrame(index=["ENSDARG00000000001", "ENSDARG00000000002", "ENSDARG00000000018"]))
    with pytest.raises(InputError, match="Ensembl ids of a species cell2text does not read"):
        prepare(zebrafish)


@pytest.mark.parametrize(
    "name, species, at_least",
    [
        ("baron_pancreas_mouse", "mouse", 11_000),  # upper-case mouse symbols, counts
        ("zeisel_brain_mouse", "mouse", 850),  # title-case mouse symbols, counts
        ("pbmc3k_seurat", "human", 13_714),  # Seurat LogNormalize
    ],
)
def test_shared_datasets(name, species, at_least):
    path = SHARED / f"{name}.h5ad"
    if not path.exists():
        pytest.skip(f"{path} not found (evaluation data under ../shared)")
    adata = ad.read_h5ad(path)
    adata.obs = adata.obs.drop(columns=["species"], errors="ignore")  # decided from the genes, not obs
    prepared = prepare(adata)
    record = info(prepared)
    assert record["species"] == species and prepared.n_vars >= at_least, record
    assert record["detected"] == ("log1p" if species == "human" else "counts")
    assert {"INS", "GCG"} <= set(prepared.var_names) if name.startswith("baron") else True
    assert detect_species(prepared.var_names) == "human"
