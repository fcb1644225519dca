"""Marker genes and marker evidence on the real demo data and the bundled marker database."""

from __future__ import annotations

import pytest
import scanpy as sc

from cell2text.errors import InputError
from cell2text.knowledge import MarkerKnowledge, load_markers
from cell2text.tools.markers import MIN_PCT, group_markers, marker_evidence, rank_markers


@pytest.fixture(scope="module")
def adata(demo):
    adata = demo.copy()
    rank_markers(adata, "bulk_labels")
    return adata


@pytest.mark.parametrize(
    ("group", "expected"),
    [("CD19+ B", {"CD79A", "MS4A1", "CD79B"}), ("CD56+ NK", {"GZMB", "PRF1", "GNLY", "NKG7"}), ("CD14+ Monocyte", {"FCN1", "S100A8", "S100A9"})],
)
def test_known_markers_come_out(adata, group, expected):
    table = group_markers(adata, "bulk_labels", group)
    assert list(table.columns) == ["gene", "score", "logfc", "pval", "pval_adj", "pct_in", "pct_out"]
    top = set(table["gene"].head(40))
    assert len(expected & top) >= len(expected) - 1, (group, table.head(10))
    assert table["score"].is_monotonic_decreasing
    row = table[table["gene"] == sorted(expected & top)[0]].iloc[0]
    assert row["logfc"] > 1 and row["pval_adj"] < 1e-5 and row["pct_in"] > row["pct_out"]


def test_rank_markers_writes_uns_with_params(demo):
    adata = demo.copy()
    assert rank_markers(adata, "bulk_labels", key_added="my_markers") is None
    assert adata.uns["my_markers"]["params"]["groupby"] == "bulk_labels"
    assert "pts" in adata.uns["my_markers"]
    copy = rank_markers(demo, "louvain", copy=True)
    assert "cell2text_markers" in copy.uns and "cell2text_markers" not in demo.uns


def test_evidence_supports_right_type(adata):
    evidence = marker_evidence(adata, "bulk_labels", "CD19+ B", "CL:0000236")
    assert evidence.relation == "own" and evidence.marker_terms == ["CL:0000236", "CL:0000738"]  # B cell, and leukocyte (PTPRC)
    assert evidence.score >= 0.9
    assert {"MS4A1", "CD79A"} <= {r["gene"] for r in evidence.up}
    assert "CD19" in evidence.not_measured  # CD19 is not among the 765 genes


def test_evidence_uses_ancestor_markers(adata):
    """CD8 cytotoxic T has no own entry: the T cell (CD3) markers of its ancestor are used."""
    evidence = marker_evidence(adata, "bulk_labels", "CD8+ Cytotoxic T", "CL:0000794")
    assert "CL:0000084" in evidence.marker_terms
    assert {"CD3D", "CD3E"} <= {r["gene"] for r in evidence.up}


def test_evidence_falls_back_to_best_child(adata):
    """A term with no markers up its lineage is checked through its best-fitting descendant."""
    full = load_markers("human")
    dendritic = full.table[full.table["cell_type_ontology_term_id"].isin(["CL:0002399", "CL:0000784"])]  # cDC2, pDC only
    knowledge = MarkerKnowledge(dendritic.reset_index(drop=True), "human", "test")
    evidence = marker_evidence(adata, "bulk_labels", "Dendritic", "CL:0000451", knowledge=knowledge)
    assert evidence.relation == "child"
    assert evidence.marker_terms == ["CL:0002399"]  # CD1c-positive myeloid DC fits best
    assert {"FCER1A", "CLEC10A"} <= {r["gene"] for r in evidence.up}


def test_evidence_contradicts_wrong_type(adata):
    right = marker_evidence(adata, "bulk_labels", "CD56+ NK", "CL:0000623")
    wrong = marker_evidence(adata, "bulk_labels", "CD56+ NK", "CL:0000236")
    assert right.score > 0.7 and wrong.score == 0.0
    assert {"GNLY", "NKG7", "PRF1"} <= {r["gene"] for r in right.up}
    assert not wrong.up and {"CD79A", "MS4A1"} <= {r["gene"] for r in wrong.not_up}
    assert "NKG7" in {r["gene"] for r in wrong.negative_violated}  # B cells do not express NKG7


def test_broadly_expressed_markers_are_not_scored(adata):
    """PTPRC (leukocyte) is in most cells of every group: it cannot be up against the rest, so it is not held against B cells."""
    evidence = marker_evidence(adata, "bulk_labels", "CD19+ B", "CL:0000236")
    assert "PTPRC" in {r["gene"] for r in evidence.shared}
    assert "PTPRC" not in {r["gene"] for r in evidence.not_up}


def test_evidence_for_a_foreign_type(adata):
    evidence = marker_evidence(adata, "bulk_labels", "CD14+ Monocyte", "CL:0000182")  # hepatocyte
    assert evidence.relation == "own" and not evidence.up
    assert evidence.score in (None, 0.0)


def test_bad_groups(demo):
    adata = demo.copy()
    with pytest.raises(InputError, match="has no cells"):
        group_markers(adata, "bulk_labels", "Hepatocyte")
    adata.obs["tiny"] = "big"
    adata.obs.iloc[0, adata.obs.columns.get_loc("tiny")] = "single"
    with pytest.raises(InputError, match="fewer than 2 cells"):
        rank_markers(adata, "tiny")
    with pytest.raises(InputError, match="1 cell"):
        group_markers(adata, "tiny", "single")


def test_rarely_detected_genes_are_not_tested_but_keep_their_numbers(adata):
    untested = adata.uns["cell2text_markers"]["untested"]["pts"]
    assert len(untested) and (untested.max(axis=1) < MIN_PCT).all()
    table = group_markers(adata, "bulk_labels", "CD19+ B").set_index("gene")
    assert len(table) == adata.n_vars
    gene = untested["CD19+ B"].idxmax()
    in_group = (adata.obs["bulk_labels"] == "CD19+ B").to_numpy()
    detected = sc.get.obs_df(adata, [gene])[gene].to_numpy() > 0
    row = table.loc[gene]
    assert row["pval_adj"] == 1 and row["score"] == 0
    assert row["pct_in"] == pytest.approx(detected[in_group].mean()) and row["pct_out"] == pytest.approx(detected[~in_group].mean())


def test_tie_correction_once_per_gene_matches_scanpy(demo):
    """The Wilcoxon test tie-corrected once per gene gives scanpy's tie-corrected scores, p-values and gene order."""
    import numpy as np
    import pandas as pd

    ours = demo.copy()
    rank_markers(ours, "bulk_labels")
    reference = demo.copy()
    reference.obs["bulk_labels"] = reference.obs["bulk_labels"].astype(str).astype("category")
    result = ours.uns["cell2text_markers"]
    tested = reference.var_names.isin(pd.DataFrame(result["names"]).iloc[:, 0])  # the same genes (those detected in MIN_PCT of a group)
    sc.tl.rank_genes_groups(reference, "bulk_labels", mask_var=tested, method="wilcoxon", tie_correct=True, key_added="scanpy", use_raw=False)
    expected = reference.uns["scanpy"]
    assert result["params"]["tie_correct"] is True
    for group in expected["names"].dtype.names:
        got = pd.DataFrame({f: result[f][group] for f in ("names", "scores", "pvals_adj")}).set_index("names")
        want = pd.DataFrame({f: expected[f][group] for f in ("names", "scores", "pvals_adj")}).set_index("names").loc[got.index]
        np.testing.assert_allclose(got["scores"], want["scores"], atol=1e-4)
        np.testing.assert_allclose(got["pvals_adj"], want["pvals_adj"], rtol=1e-4, atol=1e-12)
        assert list(result["names"][group][:10]) == list(expected["names"][group][:10])
