"""Classes of marker-knowledge failure that were fixed, each on the real tables and the real ontology.

Each test names a class (a gene on too broad a type, a lineage gene missing, a renamed HGNC
symbol), not a benchmark row: the knowledge must hold for any dataset.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cell2text.knowledge import load_markers
from cell2text.knowledge.genes import current_symbol, gene_aliases
from cell2text.knowledge.pagerank import pagerank_similarity
from cell2text.tools.candidates import rank_cell_types


@pytest.fixture(scope="module")
def human(ontology):
    return load_markers("human", ontology=ontology)


@pytest.fixture(scope="module")
def ppr(ontology):
    return pagerank_similarity(ontology, "CL")


def own(knowledge, term_id: str, sign: str = "+") -> set[str]:
    rows = knowledge.rows(term_id)
    return set(rows.loc[(rows["source"] == "curated") & (rows["sign"] == sign), "gene"])


def test_a_child_never_contradicts_a_curated_parent(human, ontology):
    """A curated marker's sign on a term agrees with the curated sign on each CL child that names the gene.

    (CD14-positive monocyte once carried FCGR3A- while its child CD14-low, CD16-positive monocyte is FCGR3A+.)
    """
    curated = human.table[human.table["source"] == "curated"]
    signs = {(t, g): set(rows["sign"]) for (t, g), rows in curated.groupby(["cell_type_ontology_term_id", "gene"])}
    clashes = []
    for (term, gene), sign in signs.items():
        for parent in ontology.parents(term):
            theirs = signs.get((parent, gene))
            if theirs and theirs != sign and "-" in theirs:  # a parent's negative marker that a child expresses
                clashes.append((parent, term, gene))
    assert clashes == []


def test_vascular_and_smooth_muscle_genes_sit_on_the_type_they_mark(human):
    assert "VWF" not in own(human, "CL:0000115")  # endothelial cell: corneal endothelium is not vascular
    assert "VWF" in own(human, "CL:0002139")  # endothelial cell of vascular tree
    assert "VWF" in own(human, "CL:0002138", "-")  # lymphatic endothelium has little
    assert "MYOCD" in own(human, "CL:0000192")  # smooth muscle cell, visceral as well as vascular


def test_t_lineage_genes_name_t_cells(human, ontology, ppr):
    assert {"CD247", "THEMIS", "ITK", "BCL11B"} <= own(human, "CL:0000084")
    best = rank_cell_types("PTPRC, THEMIS, ITK, BCL11B, CD247", ontology=ontology, ppr=ppr)[0]
    assert best.id == "CL:0000084", best


def test_previous_hgnc_symbols_read_as_todays(ontology, ppr):
    assert current_symbol("ACPP") == "ACP3" and current_symbol("KLK3") == "KLK3"
    assert all(old != new for old, new in gene_aliases().items())
    genes = ["ACPP", "KLK3", "MSMB", "KLK2"]
    listed = rank_cell_types(genes, tissue="prostate", ontology=ontology, ppr=ppr)[0]
    table = pd.DataFrame({"gene": genes, "logfc": 3.0, "pval_adj": 0.0, "pct_in": 0.9, "pct_out": 0.1})
    de = rank_cell_types(table, tissue="prostate", ontology=ontology, ppr=ppr)[0]
    for best in (listed, de):
        assert best.id == "CL:0002340" and "ACP3" in best.genes_found, best  # luminal cell of prostate epithelium
