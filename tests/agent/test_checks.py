"""The verification tools on the demo data, one claim at a time."""

from __future__ import annotations

from pathlib import Path

import anndata
import pandas as pd
import pytest

from cell2text.agent.describe.checks import common_parent, head_mass, verify
from cell2text.agent.describe.claims import Claim
from cell2text.agent.describe.revise import no_metadata_note, revise
from cell2text.data.io import prepare
from cell2text.knowledge import load_markers
from cell2text.knowledge.pagerank import pagerank_similarity
from cell2text.tools.groups import GroupEvidence

B_CELLS = {"CL:0000236": 0.9, "CL:0000623": 0.06, "CL:0000451": 0.04}
NAIVE_OR_MEMORY = {"CL:0000895": 0.45, "CL:0000897": 0.4, "CL:0000236": 0.15}


@pytest.fixture(scope="module")
def ppr(ontology):
    return pagerank_similarity(ontology, "CL")


@pytest.fixture(scope="module")
def demo(demo):
    """A copy: the marker and pathway tests write their results into the AnnData they check."""
    return demo.copy()


def evidence_of(adata, groupby, ontology, ppr):
    """The evidence a describe run on ``adata`` would verify with (human marker knowledge, default thresholds)."""
    return GroupEvidence(adata=adata, groupby=groupby, ontology=ontology, ppr=ppr, knowledge=load_markers("human", ontology=ontology))


def check(claim, demo, ontology, ppr, head=B_CELLS, group="CD19+ B", adata=None):
    return verify(claim, evidence_of(demo if adata is None else adata, "bulk_labels", ontology, ppr), group, head=head)


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


# --------------------------------------------------------------------------- the candidate search inside verification
PBMC3K = Path(__file__).resolve().parents[3] / "shared" / "data" / "pbmc3k_seurat.h5ad"


@pytest.fixture(scope="module")
def pbmc3k():
    """A second PBMC dataset the model never saw (../shared evaluation data; the tests skip without it)."""
    if not PBMC3K.is_file():
        pytest.skip(f"{PBMC3K} not found: the cross-dataset checks need the shared evaluation data")
    adata = prepare(anndata.read_h5ad(PBMC3K))
    adata.obs["cell_type"] = adata.obs["cell_type"].astype(str).astype("category")
    known = load_markers("human").genes()
    return adata[:, adata.var_names.isin(known)].copy()  # the genes the marker knowledge names: the tests' evidence, 5x faster


def check_pbmc3k(claim, adata, group, head, ontology, ppr):
    return verify(claim, evidence_of(adata, "cell_type", ontology, ppr), group, head=head)


def test_a_head_supported_claim_is_refined_to_the_child_the_markers_support(pbmc3k, ontology, ppr):
    """FCGR3A+ monocytes: the head says CD14-positive monocyte, but CD14 is not up and CD16 is."""
    claim = check_pbmc3k(
        Claim("cell_type", "CD14+ monocyte", "CL:0001054"), pbmc3k, "FCGR3A+ Mono", {"CL:0001054": 0.9, "CL:0000451": 0.1}, ontology, ppr
    )
    assert claim.status == "supported" and claim.alternative in ("CL:0002396", "CL:0000875")
    assert "CD14" in claim.reason and "more specific" in claim.reason
    child = check_pbmc3k(
        Claim("cell_type", "CD16 monocyte", claim.alternative), pbmc3k, "FCGR3A+ Mono", {"CL:0001054": 0.9, "CL:0000451": 0.1}, ontology, ppr
    )
    assert child.status == "supported" and "does not know this term" in child.reason  # markers, not the head, support it


def test_a_type_the_model_never_saw_is_supported_by_markers(pbmc3k, ontology, ppr):
    """Platelets: the demo-trained head leans to dendritic cell; its markers are not up, the platelet markers are."""
    head = {"CL:0000451": 0.6, "CL:0001054": 0.4}
    wrong = check_pbmc3k(Claim("cell_type", "dendritic cell", "CL:0000451"), pbmc3k, "Platelet", head, ontology, ppr)
    assert wrong.status != "supported"
    right = check_pbmc3k(Claim("cell_type", "platelet", "CL:0000233"), pbmc3k, "Platelet", head, ontology, ppr)
    assert right.status == "supported" and {"PPBP", "PF4"} <= set(next(e for e in right.evidence if e["source"] == "markers")["up"])


def test_absent_defining_markers_contradict_a_head_supported_claim(demo, ontology, ppr):
    cd4 = demo.obs["bulk_labels"].astype(str).str.startswith("CD4+")
    expression = demo[:, ["CD8A", "CD8B"]].X
    no_cd8 = ((expression.toarray() if hasattr(expression, "toarray") else expression) == 0).all(axis=1)
    adata = demo.copy()
    adata.obs["groups"] = pd.Categorical(["CD4 T" if c and n else "other" for c, n in zip(cd4, no_cd8)])
    claim = verify(
        Claim("cell_type", "CD8 T cell", "CL:0000625"),
        evidence_of(adata, "groups", ontology, ppr),
        "CD4 T",
        head={"CL:0000794": 0.9, "CL:0000897": 0.1},
    )
    assert claim.status == "contradicted" and "almost none" in claim.reason and "CD8A" in claim.reason


def test_metadata_the_data_lacks_is_not_stated(demo, ontology, ppr):
    adata = demo.copy()
    del adata.obs["tissue"], adata.obs["tissue_ontology_term_id"]
    tissue = check(Claim("tissue", "blood", "UBERON:0000178"), demo, ontology, ppr, adata=adata)
    b_cell = check(Claim("cell_type", "B cell", "CL:0000236"), demo, ontology, ppr)
    text, kept = revise([b_cell, tissue], ontology=ontology, fallback_cell_type="CL:0000236", pathways=[], markers_for=lambda c: [])
    assert "blood" not in text and tissue.action.startswith("removed") and all(c.kind != "tissue" for c in kept)
    assert no_metadata_note([b_cell, tissue]) == "The data has no tissue metadata, so the model's guess about it is not stated."
    assert no_metadata_note([b_cell]) == ""


def test_evidence_records_follow_their_typed_contract(demo, ontology, ppr):
    """Every record the checks write for a source with a TypedDict has exactly that contract's keys: the chat,
    the report and the UI read them by name."""
    from typing import get_args, get_type_hints

    from cell2text.agent.describe.claims import Evidence

    contracts = {get_type_hints(c)["source"].__args__[0]: c for c in get_args(Evidence) if c is not dict}
    records = [
        r
        for claim in (
            Claim("cell_type", "B cell", "CL:0000236"),
            Claim("marker", "MS4A1", "MS4A1"),
            Claim("pathway", "complement", "HALLMARK_COMPLEMENT"),
        )
        for r in check(claim, demo, ontology, ppr).evidence
    ]
    typed = [r for r in records if r["source"] in contracts]
    assert {r["source"] for r in typed} >= {"model head", "PageRank", "markers", "candidates", "Wilcoxon"}
    for record in typed:
        contract = contracts[record["source"]]
        assert contract.__required_keys__ <= set(record) <= contract.__required_keys__ | contract.__optional_keys__, record["source"]
