"""Pathway enrichment and per-cell pathway activity on real gene sets and the real demo data."""

from __future__ import annotations

import pandas as pd
import pytest

from cell2text.errors import InputError
from cell2text.tools.enrichment import (
    enrich_genes,
    enrich_group,
    pathway_activity,
    pathway_scores,
    prerank_group,
    score_pathways,
    top_pathways,
)


@pytest.fixture(scope="module")
def adata(demo):
    adata = demo.copy()
    score_pathways(adata)
    return adata


def test_planted_gene_set_is_found(tmp_path):
    """A gene list drawn from one set of a user GMT finds that set first, with a tiny FDR."""
    genes = [f"GENE{i}" for i in range(300)]
    gmt = tmp_path / "planted.gmt"
    lines = [f"SET_{k}\tdesc\t" + "\t".join(genes[k * 20 : (k + 1) * 20]) for k in range(15)]
    gmt.write_text("\n".join(lines) + "\n")
    table = enrich_genes(genes[100:115] + ["GENE2"], gmt, background=genes)
    assert table.iloc[0]["pathway"] == "SET_5"
    assert table.iloc[0]["fdr"] < 1e-10
    assert table["pval"].is_monotonic_increasing
    assert (table.iloc[1:]["fdr"] > 0.05).all()
    assert table.attrs["n_matched"] == 16


def test_hallmark_cytotoxic_genes():
    table = enrich_genes(["CD3E", "CD8A", "GZMB", "PRF1", "GNLY", "NKG7", "IFNG", "CCL5"], "hallmark")
    assert table.iloc[0]["pathway"] == "HALLMARK_ALLOGRAFT_REJECTION"
    assert table.iloc[0]["fdr"] < 1e-4
    assert list(table.columns) == ["pathway", "title", "overlap", "pval", "fdr", "odds_ratio", "genes"]
    assert table.iloc[0]["title"] == "Allograft rejection"


def test_enrich_group_monocytes(demo):
    table = enrich_group(demo.copy(), "bulk_labels", "CD14+ Monocyte")
    significant = set(table[table["fdr"] < 0.05]["pathway"])
    assert {"HALLMARK_COMPLEMENT", "HALLMARK_TNFA_SIGNALING_VIA_NFKB"} & significant
    assert ((table["pval"] >= 0) & (table["pval"] <= 1)).all()


def test_prerank_group(demo):
    table = prerank_group(demo.copy(), "bulk_labels", "CD14+ Monocyte", permutations=100)
    assert {"pathway", "nes", "pval", "fdr", "lead_genes"} <= set(table.columns)
    assert table["fdr"].is_monotonic_increasing
    assert table["pval"].between(0, 1).all()


def test_score_pathways_keys(adata):
    scores = adata.obsm["cell2text_pathways"]
    assert isinstance(scores, pd.DataFrame) and scores.shape[0] == adata.n_obs
    assert scores.shape[1] == len(adata.uns["cell2text_pathways"]["n_genes"]) >= 30
    assert adata.uns["cell2text_pathways"]["params"]["library"] == "hallmark"


def test_pathway_activity_proliferation_in_progenitors(adata):
    table = pathway_activity(adata, "bulk_labels", "CD34+")
    assert table.iloc[0]["auroc"] >= table.iloc[-1]["auroc"]
    top = set(table.head(3)["pathway"])
    assert top & {"HALLMARK_MYC_TARGETS_V1", "HALLMARK_E2F_TARGETS", "HALLMARK_G2M_CHECKPOINT"}
    assert table["auroc"].between(0, 1).all() and table["fdr"].between(0, 1).all()
    one = pathway_activity(adata, "bulk_labels", "CD34+", ["HALLMARK_E2F_TARGETS"])
    assert len(one) == 1


def test_top_pathways_per_group(adata):
    top = top_pathways(adata, "bulk_labels", n=2)
    assert len(top) == 10
    assert all(len(v) <= 2 for v in top.values())
    assert "HALLMARK_COMPLEMENT" in top["CD14+ Monocyte"]


def test_bad_input(adata, tmp_path):
    with pytest.raises(InputError, match="only 1 of 3 genes"):
        enrich_genes(["CD3E", "NOTAGENE1", "NOTAGENE2"])
    with pytest.raises(InputError, match="no genes given"):
        enrich_genes([])
    with pytest.raises(InputError, match="not found"):
        enrich_genes(["CD3E"], tmp_path / "missing.gmt")
    bad = tmp_path / "bad.gmt"
    bad.write_text("ONLY_A_NAME\n")
    with pytest.raises(InputError, match="line 1 is not GMT"):
        enrich_genes(["CD3E", "CD8A", "GZMB"], bad)
    with pytest.raises(InputError, match="has no scores"):
        pathway_activity(adata, "bulk_labels", "CD34+", ["HALLMARK_NOPE"])


def test_stored_scores_are_reused_only_with_their_params(demo):
    """Scores under the key are reused when library, settings and genes match; scores from another library (or a
    user's file) under the same key are recomputed, as scanpy's readers check ``uns[key]['params']``."""
    adata = demo.copy()
    first = pathway_scores(adata, "hallmark", key_added="scores")
    assert pathway_scores(adata, "hallmark", key_added="scores") is first  # same params: not scored again
    reactome = pathway_scores(adata, "reactome", key_added="scores")
    assert reactome is not first and reactome.columns[0].startswith("REACTOME_")
    fewer = adata[:, adata.var_names[:400]].copy()
    fewer.obsm["scores"], fewer.uns["scores"] = reactome.copy(), dict(adata.uns["scores"])
    rescored = pathway_scores(fewer, "reactome", key_added="scores")  # same library, other genes: scored again
    assert fewer.uns["scores"]["params"]["genes"] != adata.uns["scores"]["params"]["genes"]
    assert rescored.shape[1] <= reactome.shape[1]
