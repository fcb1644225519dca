"""The cellconsensus source: the shipped table, its rows in the knowledge, and the extraction's safe unpickling."""

from __future__ import annotations

import collections
import importlib.util
import os
import pickle
from pathlib import Path

import pytest

from cell2text.knowledge import load_markers
from cell2text.knowledge.markers import CELLCONSENSUS_WEIGHT, cellconsensus_rows
from cell2text.tools.candidates import DEFINING

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "extract_cellconsensus.py"


@pytest.fixture(scope="module")
def extraction():
    spec = importlib.util.spec_from_file_location("extract_cellconsensus", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def human(ontology):
    return load_markers("human", ontology=ontology, cellconsensus=True)


def consensus_of(knowledge, term_id: str) -> dict[str, float]:
    rows = knowledge.rows(term_id)
    rows = rows[rows["source"].str.startswith("cellconsensus")]
    return dict(zip(rows["gene"], rows["weight"]))


def test_the_table_maps_to_live_cl_terms(ontology):
    rows = cellconsensus_rows(1.0, min_relative=0.0, min_lists=1)  # the whole shipped table
    assert len(rows) > 40_000 and rows["cell_type_ontology_term_id"].nunique() > 1_000
    for term_id in set(rows["cell_type_ontology_term_id"]):
        term = ontology.term(term_id)
        assert not term.obsolete or ontology.replacement(term_id) is not None, term_id
    assert rows["weight"].between(0.1, 1.0).all()  # relative to the type's top gene, cut at 0.1 by the extraction
    assert not {"CL:0000000", "CL:0000255"} & set(rows["cell_type_ontology_term_id"])  # "cell" pools every list


def test_off_by_default_and_below_defining_when_asked(ontology, human):
    assert not load_markers("human", ontology=ontology).table["source"].str.startswith("cellconsensus").any()
    cc = human.table[human.table["source"] == "cellconsensus"]
    assert len(cc) > 10_000 and set(cc["species"]) == {"human"} and set(cc["sign"]) == {"+"}
    assert cc["weight"].max() <= CELLCONSENSUS_WEIGHT < DEFINING  # a data-driven list never defines a type
    assert cc["basis"].str.contains("marker lists").all()
    assert cc.groupby("cell_type_ontology_term_id")["concept"].nunique().max() == 1  # one concept per type


def test_textbook_types_get_their_genes(human):
    assert "SST" in consensus_of(human, "CL:0000173")  # pancreatic D cell
    assert {"LRP2", "CUBN"} <= consensus_of(human, "CL:0002306").keys()  # epithelial cell of proximal tubule
    assert {"MS4A1", "CD19", "CD79A"} <= consensus_of(human, "CL:0000236").keys()  # B cell
    t_cell = consensus_of(human, "CL:0000084")
    assert {"CD3D", "CD3E"} <= t_cell.keys() and "CD8A" not in t_cell  # CD8A is its CD8 subtype's, not every T cell's
    assert "CD8A" in consensus_of(human, "CL:0000625")  # CD8-positive, alpha-beta T cell


def test_mouse_reads_the_human_consensus_through_orthologs(ontology):
    mouse = load_markers("mouse", ontology=ontology, cellconsensus=True)
    d_cell = mouse.rows("CL:0000173")
    crossed = d_cell[d_cell["source"] == "cellconsensus (ortholog)"]
    assert "Sst" in set(crossed["gene"])


def test_subtype_rule_and_roots(extraction, ontology):
    cache = {
        "consensus": {
            "CL:0000084": {"CD3E": 10.0, "CD8A": 12.0, "NOISE": 0.5},  # T cell
            "CL:0000625": {"CD8A": 12.0, "CD3E": 4.0},  # CD8-positive, alpha-beta T cell
            "CL:0000000": {"ACTB": 9.0},
        },  # cell
        "n_sources": {"CL:0000084": 5, "CL:0000625": 3, "CL:0000000": 8},
        "ct_info": {t: {"name": ontology.term(t).label} for t in ("CL:0000084", "CL:0000625", "CL:0000000")},
    }
    table = extraction.marker_table(extraction.read_cache(pickle.dumps(cache)), ontology)
    kept = {(t, g): w for t, g, w in table[["cell_type_ontology_term_id", "gene", "weight"]].itertuples(index=False)}
    assert kept == {("CL:0000084", "CD3E"): round(10 / 12, 3), ("CL:0000625", "CD8A"): 1.0, ("CL:0000625", "CD3E"): round(4 / 12, 3)}


class _Runs:
    """Unpickling this would run a shell command."""

    def __reduce__(self):
        return os.system, ("echo unpickled",)


@pytest.mark.parametrize("payload", [_Runs(), collections.OrderedDict(a=1)], ids=["callable", "class"])
def test_extraction_refuses_anything_but_plain_data(extraction, payload):
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        extraction.read_cache(pickle.dumps({"consensus": payload}))


def test_extraction_refuses_an_unexpected_structure(extraction):
    with pytest.raises(ValueError, match="want"):
        extraction.read_cache(pickle.dumps({"consensus": {"CL:0000084": {"CD3E": "high"}}, "n_sources": {}, "ct_info": {}}))
    with pytest.raises(ValueError, match="want"):
        extraction.read_cache(pickle.dumps(["not", "a", "dict"]))
