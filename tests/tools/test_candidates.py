"""Candidate search on real marker knowledge, the real ontology and the real demo data."""

from __future__ import annotations

import pandas as pd
import pytest

from cell2text.data.io import prepare
from cell2text.errors import InputError
from cell2text.tools.candidates import (
    Candidate,
    check_cell_type,
    rank_cell_types,
    rank_group,
    read_marker_table,
)
from cell2text.tools.markers import group_markers
from cell2text.knowledge.pagerank import pagerank_similarity


@pytest.fixture(scope="module")
def ppr(ontology):
    return pagerank_similarity(ontology, "CL")


@pytest.fixture(scope="module")
def work(demo):
    """The demo, log-normalised (from .raw), with its markers ranked once."""
    return prepare(demo.copy())


def best(genes, ontology, ppr, **kwargs) -> Candidate:
    return rank_cell_types(genes, ontology=ontology, ppr=ppr, **kwargs)[0]


@pytest.mark.parametrize(("genes", "species", "expected"), [
    ("MS4A1, CD79A, CD79B, CD19", "human", "CL:0000236"),  # B cell
    ("GNLY, NKG7, KLRD1, KLRF1, NCAM1", "human", "CL:0000623"),  # natural killer cell
    ("ALB, APOA1, TTR, SERPINA1, APOB", "human", "CL:0000182"),  # hepatocyte
    ("Alb, Apoa1, Ttr", "mouse", "CL:0000182"),
    ("SFTPC, SFTPB, NAPSA, LAMP3, ABCA3", "human", "CL:0002063"),  # pulmonary alveolar type 2 cell
    ("GFAP, AQP4, SLC1A3, ALDH1L1", "human", "CL:0000127"),  # astrocyte
    ("KRT14, KRT5, KRT1, KRT10, DSP", "human", "CL:0000312"),  # keratinocyte
    ("LILRA4, IL3RA, CLEC4C", "human", "CL:0000784"),  # plasmacytoid dendritic cell
    ("FCGR3A, MS4A7, CDKN1C, LST1", "human", "CL:0000875"),  # non-classical monocyte
])
def test_known_marker_lists_give_known_types(genes, species, expected, ontology, ppr):
    top = best(genes, ontology, ppr, species=species)
    assert top.id == expected, (genes, top)
    assert top.status == "supported" and len(top.genes_found) >= 3
    assert top.evidence["support"] > 0 and all(s > 0 for s in top.evidence["specificity"].values())


def test_a_specific_gene_counts_more_than_a_shared_one(ontology, ppr):
    top = best("SFTPC, SFTPB, NAPSA", ontology, ppr)
    specificity = top.evidence["specificity"]
    assert specificity["SFTPC"] > best("PTPRC, MS4A1", ontology, ppr).evidence["specificity"].get("PTPRC", 0)


def test_negative_markers_contradict(ontology):
    monocyte = check_cell_type("CD3E, CD3D, CD2", "CL:0001054", ontology=ontology)  # "negative for the lineage markers CD3"
    assert monocyte.status == "contradicted" and {"CD3E", "CD3D"} <= set(monocyte.negative_hits)
    assert "negative markers" in monocyte.reason
    statuses = [c.status for c in rank_cell_types("CD3E, CD3D, CD2, CD14", ontology=ontology, k=200)]
    assert "contradicted" in statuses and statuses == sorted(statuses, key=lambda s: s == "contradicted")  # contradicted ones last


def test_absolute_detection_contradicts_whatever_the_other_groups(work, ontology):
    """CD4 T cells in which no cell expresses CD8A or CD8B cannot be CD8 T cells, though the test is against all other cells."""
    cd4 = work.obs["bulk_labels"].astype(str).str.startswith("CD4+")
    no_cd8 = (work[:, ["CD8A", "CD8B"]].X.toarray() == 0).all(axis=1) if hasattr(work.X, "toarray") else (work[:, ["CD8A", "CD8B"]].X == 0).all(axis=1)
    work = work.copy()
    work.obs["groups"] = pd.Categorical(["CD4 T" if c and n else "other" for c, n in zip(cd4, no_cd8)])
    table = group_markers(work, "groups", "CD4 T")
    cd8 = check_cell_type(table, "CL:0000625", ontology=ontology)  # CD8-positive, alpha-beta T cell
    assert cd8.status == "contradicted" and "almost none" in cd8.reason and "CD8A" in cd8.reason
    assert cd8.detection["CD8A"] == 0 and cd8.detection["CD8B"] == 0
    cd4_claim = check_cell_type(table, "CL:0000624", ontology=ontology)  # CD4-positive, alpha-beta T cell
    assert cd4_claim.status == "supported" and cd4_claim.detection["CD3E"] > 0.5


def test_an_ancestor_does_not_win_because_its_subtypes_split_the_evidence(ontology, ppr):
    """CD4 defines the CD4 T cell lineage (and two dozen of its subtypes), IL7R some of them: the lineage beats plain T cell."""
    top = best("CD3E, CD3D, CD4, IL7R", ontology, ppr)
    assert top.id == "CL:0000624", top  # CD4-positive, alpha-beta T cell (was T cell: CD4 T's own score was a near tie)
    assert "entered on CD4" in top.reason and "beats its ancestor T cell" in top.reason
    near = best("CD3E, CD8A, GZMB", ontology, ppr)  # the CD8 lineage (3.8) is not clearly better than T cell (3.4) yet: said
    assert near.id == "CL:0000084" and "CD8-positive, alpha-beta T cell (entered on CD8A" in near.reason


def test_confidence_is_the_share_of_the_likelihood_below_a_term(ontology, ppr):
    ranked = rank_cell_types("MS4A1, CD79A, CD79B, CD19", ontology=ontology, ppr=ppr, k=10)
    assert all(0 <= c.confidence <= 1 for c in ranked) and ranked[0].confidence > 0.8  # B cell: its lineage holds nearly all
    below = [c for c in ranked if ranked[0].id in ontology.ancestors(c.id)]
    assert below and all(c.confidence <= ranked[0].confidence for c in below)  # a subtype's lineage is part of its ancestor's
    weak = rank_cell_types("ITM2A, JCHAIN", ontology=ontology, ppr=ppr)[0]
    assert weak.confidence < 0.5  # two genes of unrelated types: no lineage holds most of the likelihood
    assert check_cell_type("CD3E, CD3D", "CL:0000084", ontology=ontology).confidence is None  # a single claim has no share


def test_a_tissue_prior_changes_a_tie(ontology, ppr):
    genes = "KRT5, TP63, KRT15"  # basal cells of several epithelia
    assert best(genes, ontology, ppr, tissue="prostate gland").id == "CL:0002341"  # basal cell of prostate epithelium
    lung = best(genes, ontology, ppr, tissue="lung")
    assert lung.id == "CL:0000646" and lung.evidence["tissue_prior"] == "tied"  # basal cell
    with pytest.raises(InputError, match="UBERON"):
        rank_cell_types(genes, tissue="the moon", ontology=ontology, ppr=ppr)


def test_near_ties_close_in_the_ontology_collapse_into_their_parent(ontology, ppr):
    ranked = rank_cell_types("CD14, FCGR3A, CD68", ontology=ontology, ppr=ppr)  # monocyte or macrophage?
    parent = ranked[0]
    assert parent.id == "CL:0000113" and set(parent.collapsed_from) == {"CL:0000576", "CL:0000235"}  # mononuclear phagocyte
    assert "common parent" in parent.reason and "PPR" in parent.reason
    for member in parent.collapsed_from:
        assert parent.id in ontology.ancestors(member)
        assert member in [c.id for c in ranked[1:3]]


def test_groups_of_real_data(work, ontology, ppr):
    assert rank_group(work, "bulk_labels", "CD19+ B", ontology=ontology, ppr=ppr)[0].id == "CL:0000236"
    nk = rank_group(work, "bulk_labels", "CD56+ NK", ontology=ontology, ppr=ppr)[0]
    assert nk.id == "CL:0000623" or "CL:0000623" in ontology.ancestors(nk.id)
    assert nk.detection and all(0 <= v <= 1 for v in nk.detection.values())
    assert set(Candidate.__dataclass_fields__) == set(nk.to_dict())


def test_marker_tables_from_files(work, tmp_path, ontology, ppr):
    per_cluster = tmp_path / "clusters.csv"
    per_cluster.write_text('cluster,genes\nb,"MS4A1, CD79A, CD19"\nnk,GNLY NKG7 KLRD1\n')
    lists = read_marker_table(per_cluster)
    assert lists == {"b": ["MS4A1", "CD79A", "CD19"], "nk": ["GNLY", "NKG7", "KLRD1"]}
    assert read_marker_table(per_cluster, top=2) == {"b": ["MS4A1", "CD79A"], "nk": ["GNLY", "NKG7"]}  # top cuts either layout
    scanpy_table = pd.concat([group_markers(work, "bulk_labels", g).assign(group=g) for g in ("CD19+ B", "CD56+ NK")])
    scanpy_table = scanpy_table.rename(columns={"gene": "names", "logfc": "logfoldchanges", "pval_adj": "pvals_adj",
                                                "pct_in": "pct_nz_group", "pct_out": "pct_nz_reference"})
    seurat = scanpy_table.rename(columns={"group": "cluster", "names": "gene", "logfoldchanges": "avg_log2FC", "pvals_adj": "p_val_adj",
                                          "pct_nz_group": "pct.1", "pct_nz_reference": "pct.2"})
    for name, table in (("scanpy.csv", scanpy_table), ("seurat.tsv", seurat)):
        path = tmp_path / name
        table.to_csv(path, sep="\t" if name.endswith("tsv") else ",", index=False)
        markers = read_marker_table(path, top=10)
        assert set(markers) == {"CD19+ B", "CD56+ NK"}
        assert list(markers["CD19+ B"].columns) == ["gene", "logfc", "pval_adj", "pct_in", "pct_out"] and len(markers["CD19+ B"]) == 10
        assert rank_cell_types(markers["CD19+ B"], min_logfc=0.0, ontology=ontology, ppr=ppr)[0].id == "CL:0000236"
    broken = tmp_path / "broken.csv"
    broken.write_text("name,value\na,1\n")
    with pytest.raises(InputError, match="cluster column"):
        read_marker_table(broken)


def test_bad_input(ontology, ppr):
    with pytest.raises(InputError, match="no marker genes"):
        rank_cell_types(" , ", ontology=ontology, ppr=ppr)
    with pytest.raises(InputError, match="none of the genes"):
        rank_cell_types(["NOTAGENE1", "NOTAGENE2"], ontology=ontology, ppr=ppr)
