"""The verification tools on the demo data, one claim at a time."""

from __future__ import annotations

import pytest

from cell2text.agent.claims import Claim
from cell2text.agent.tools import common_parent, head_mass, verify
from cell2text.tools.pagerank import pagerank_similarity

B_CELLS = {"CL:0000236": 0.9, "CL:0000623": 0.06, "CL:0000451": 0.04}
NAIVE_OR_MEMORY = {"CL:0000895": 0.45, "CL:0000897": 0.4, "CL:0000236": 0.15}


@pytest.fixture(scope="module")
def ppr(ontology):
    return pagerank_similarity(ontology, "CL")


@pytest.fixture(scope="module")
def demo(demo):
    """A copy: the marker and pathway tests write their results into the AnnData they check."""
    return demo.copy()


def check(claim, demo, ontology, ppr, head=B_CELLS, group="CD19+ B", adata=None):
    return verify(claim, adata=demo if adata is None else adata, groupby="bulk_labels", group=group, head=head, ontology=ontology, ppr=ppr)


def test_the_head_counts_a_term_with_its_descendants(ontology):
    assert head_mass(NAIVE_OR_MEMORY, "CL:0000624", ontology) == pytest.approx(0.85)  # CD4 alpha-beta T cell
    assert head_mass(NAIVE_OR_MEMORY, "CL:0000182", ontology) == 0.0


def test_supported_contradicted_and_evidence_numbers(demo, ontology, ppr):
    right = check(Claim("cell_type", "B cell", "CL:0000236"), demo, ontology, ppr)
    assert right.status == "supported"
    sources = [e["source"] for e in right.evidence]
    assert sources == ["model head", "PageRank", "markers", "candidates", "obs['cell_type_ontology_term_id']"]
    assert right.evidence[3]["claim"]["status"] == "supported" and right.evidence[3]["proposed"][0]["id"] == "CL:0000236"
    assert right.evidence[4]["annotated"] == "CL:0000236" and right.evidence[4]["similarity_to_claim"] == 1.0
    wrong = check(Claim("cell_type", "hepatocyte", "CL:0000182"), demo, ontology, ppr)
    assert wrong.status == "contradicted" and wrong.alternative == "CL:0000236"


def test_close_rivals_fall_back_to_their_common_parent(demo, ontology, ppr):
    claim = check(Claim("cell_type", "naive CD4", "CL:0000895"), demo, ontology, ppr, NAIVE_OR_MEMORY, "CD4+/CD45RO+ Memory")
    parent = common_parent(ontology, "CL:0000895", "CL:0000897", ppr)
    assert claim.status == "unverified" and claim.alternative == parent
    assert "common parent" in claim.reason and ontology.term(parent).label in claim.reason
    assert check(Claim("cell_type", "parent", parent), demo, ontology, ppr, NAIVE_OR_MEMORY, "CD4+/CD45RO+ Memory").alternative is None


def test_a_term_for_another_species_is_contradicted_by_the_organism_column(demo, ontology, ppr):
    adata = demo.copy()
    adata.obs["organism"] = "Homo sapiens"
    mouse = "CL:0002442"  # CD94-negative, Ly49CI-negative natural killer cell, mouse
    claim = check(Claim("cell_type", "mouse NK", mouse), demo, ontology, ppr, {"CL:0000623": 0.95, "CL:0000236": 0.05}, "CD56+ NK", adata)
    assert claim.status == "contradicted" and "mouse" in claim.reason and claim.alternative == "CL:0000623"


def test_metadata_pathway_and_marker_checks(demo, ontology, ppr):
    assert check(Claim("tissue", "liver", "UBERON:0002107"), demo, ontology, ppr).status == "contradicted"
    no_column = demo.copy()
    del no_column.obs["tissue"], no_column.obs["tissue_ontology_term_id"]
    assert check(Claim("tissue", "blood", "UBERON:0000178"), demo, ontology, ppr, adata=no_column).status == "unverified"
    assert check(Claim("pathway", "complement", "HALLMARK_COMPLEMENT"), demo, ontology, ppr, group="CD14+ Monocyte").status == "supported"
    assert check(Claim("marker", "MS4A1", "MS4A1"), demo, ontology, ppr).status == "supported"
    assert check(Claim("marker", "MS4A1", "MS4A1"), demo, ontology, ppr, group="CD14+ Monocyte").status == "contradicted"
    assert "not measured" in check(Claim("marker", "ALB", "ALB"), demo, ontology, ppr).reason
