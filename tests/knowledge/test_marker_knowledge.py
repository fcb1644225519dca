"""The marker knowledge: every source loaded into one table, CL definitions read, species and orthologs, user tables."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from cell2text.errors import InputError
from cell2text.knowledge import convert_genes, detect_species, load_markers
from cell2text.knowledge.definitions import term_species
from cell2text.knowledge.markers import COLUMNS, PEGASUS_FILES
from cell2text.knowledge.user import read_user_markers


@pytest.fixture(scope="module")
def human(ontology):
    return load_markers("human", ontology=ontology)


@pytest.fixture(scope="module")
def mouse(ontology):
    return load_markers("mouse", ontology=ontology)


def test_one_table_from_every_source(human, ontology):
    table = human.table
    assert list(table.columns) == COLUMNS
    sources = set(table["source"])
    for name in PEGASUS_FILES:
        species, tissue = name.split("_")
        assert f"pegasus {species} {tissue}" in sources or f"pegasus {species} {tissue} (ortholog)" in sources, name
    assert {"CL label", "CL definition", "curated"} <= sources
    assert set(table["sign"]) == {"+", "-"} and table["weight"].between(0, 1, inclusive="right").all()
    assert table["basis"].str.len().min() > 0
    for term_id, label in table[["cell_type_ontology_term_id", "cl_label"]].drop_duplicates().itertuples(index=False):
        term = ontology.term(term_id)
        assert not term.obsolete and term.label == label
    assert len(human.terms) > 700


def test_markers_read_from_cl_definitions_and_labels(human):
    rows = human.rows("CL:0001054")  # "A monocyte that expresses CD14 and is negative for the lineage markers CD3, CD19, and CD20."
    cl = rows[rows["source"].str.startswith("CL ")]
    assert ("CD14", "+") in set(zip(cl["gene"], cl["sign"]))
    assert {"CD3E", "CD19", "MS4A1"} <= set(cl.loc[cl["sign"] == "-", "gene"])  # CD20 is MS4A1
    label = human.rows("CL:0002396")  # CD14-low, CD16-positive monocyte
    label = label[label["source"] == "CL label"].set_index("gene")
    assert label.loc["FCGR3A", "sign"] == "+" and label.loc["CD14", "sign"] == "-"
    assert label.loc["CD14", "weight"] < 0.5  # "-low" lowers, it does not contradict


def test_pegasus_rows_keep_their_mapping(human):
    at2 = human.rows("CL:0002063")
    pegasus = at2[at2["source"] == "pegasus human lung"]
    assert {"SFTPC", "SFTPA1", "LAMP3"} <= set(pegasus["gene"])
    assert pegasus["basis"].str.contains("Alveolar type II cell").all() and (pegasus["tissue"] == "UBERON:0002048").all()


def test_mouse_symbols_through_orthologs(mouse, human):
    hepatocyte = set(mouse.positive("CL:0000182"))
    assert {"Alb", "Arg1", "Otc"} <= hepatocyte  # mouse symbols, from both the curated table and the pegasus mouse liver file
    assert all(not g.isupper() for g in hepatocyte)
    assert "CL:0000939" in human.terms and "CL:0000939" not in mouse.terms  # "..., human" terms are left out for mouse
    assert convert_genes(["CD3E", "HBB", "FCGR3A"], "human", "mouse") == ["Cd3e", "Hbb-bs", "Fcgr4"]
    assert convert_genes(["Cd3e", "Hbb-bs"], "mouse", "human") == ["CD3E", "HBB"]
    assert term_species("CD94-negative, Ly49CI-negative natural killer cell, mouse") == "mouse"
    assert term_species("B cell") == "both"


def test_species_from_symbols_and_from_obs():
    assert detect_species(["CD3E", "MS4A1", "HLA-DRA"]) == "human"
    assert detect_species(["Cd3e", "Ms4a1", "H2-Ab1"]) == "mouse"
    assert detect_species(["123", "456"], default=None) is None
    adata = ad.AnnData(
        np.zeros((2, 2)), obs=pd.DataFrame({"organism": ["Mus musculus"] * 2}, index=["a", "b"]), var=pd.DataFrame(index=["CD3E", "MS4A1"])
    )
    assert detect_species(adata) == "mouse"  # the organism column wins over the symbols' case
    del adata.obs["organism"]
    assert detect_species(adata) == "human"


def test_user_tables_in_three_formats(tmp_path, ontology):
    tsv = tmp_path / "mine.tsv"
    tsv.write_text("cell_type\tgene\tsign\nB cell\tMS4A1\t+\nCL:0000623\tNCAM1\t+\nB cell\tCD3E\t-\n")
    gmt = tmp_path / "mine.gmt"
    gmt.write_text("hepatocyte\tmy liver\tALB+\tAPOA1\tPTPRC-\n")
    js = tmp_path / "mine.json"
    js.write_text(json.dumps({"astrocyte": ["GFAP", "AQP4"], "microglial cell": {"positive": ["P2RY12"], "negative": ["GFAP"]}}))
    for path, expected in (
        (tsv, {("CL:0000236", "MS4A1", "+"), ("CL:0000623", "NCAM1", "+"), ("CL:0000236", "CD3E", "-")}),
        (gmt, {("CL:0000182", "ALB", "+"), ("CL:0000182", "APOA1", "+"), ("CL:0000182", "PTPRC", "-")}),
        (js, {("CL:0000127", "GFAP", "+"), ("CL:0000127", "AQP4", "+"), ("CL:0000129", "P2RY12", "+"), ("CL:0000129", "GFAP", "-")}),
    ):
        rows = read_user_markers(path, ontology)
        assert set(zip(rows["cell_type_ontology_term_id"], rows["gene"], rows["sign"])) == expected, path.name
    knowledge = load_markers("human", extra=gmt, ontology=ontology)
    user = knowledge.rows("CL:0000182")
    assert {"ALB", "APOA1"} <= set(user.loc[user["source"] == "user mine.gmt", "gene"])


def test_user_table_with_unmappable_names_names_them_all(tmp_path, ontology):
    path = tmp_path / "bad.tsv"
    path.write_text("cell_type\tgene\nB cell\tMS4A1\nfluffy cells\tXYZ\nwobbly things\tABC\n")
    with pytest.raises(InputError) as info:
        read_user_markers(path, ontology)
    message = str(info.value)
    assert "'fluffy cells'" in message and "'wobbly things'" in message and "B cell" not in message.split(":", 1)[1]
    assert "\n" not in message and "CL id" in message
    for text, problem in (
        ("cell_type\tgene\tsign\nB cell\tMS4A1\tyes\n", "sign must be"),
        ("celltype\tgene\nB cell\tMS4A1\n", "no cell_type"),
        ("", "not a readable table"),
    ):
        path.write_text(text)
        with pytest.raises(InputError, match=problem):
            read_user_markers(path, ontology)
    with pytest.raises(InputError, match="not found"):
        read_user_markers(tmp_path / "missing.tsv", ontology)
