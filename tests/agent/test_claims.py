"""Reading claims out of drafts and revised texts, and rewriting texts from verified claims."""

from __future__ import annotations

from cell2text.agent.describe.claims import Claim, extract_claims
from cell2text.agent.describe.revise import render, revise

DRAFT = (
    "This sample consists of a CD4-positive, alpha-beta memory T cell. The cells were taken from blood; the donor's condition:"
    " normal. It is marked by fatty acid metabolism and mtorc1 signaling activity."
)


def by_kind(claims: list[Claim]) -> dict[str, list[str | None]]:
    kinds: dict[str, list[str | None]] = {}
    for claim in claims:
        kinds.setdefault(claim.kind, []).append(claim.id)
    return kinds


def test_a_model_draft_becomes_claims_with_ids(ontology):
    kinds = by_kind(extract_claims(DRAFT, ontology))
    assert kinds == {
        "cell_type": ["CL:0000897"],
        "tissue": ["UBERON:0000178"],
        "disease": ["PATO:0000461"],
        "pathway": ["HALLMARK_FATTY_ACID_METABOLISM", "HALLMARK_MTORC1_SIGNALING"],
    }


def test_every_phrasing_of_the_training_targets_is_read(ontology):
    for text in ("It comes from the blood of a donor with normal.", "Its tissue of origin is blood, and the disease context is normal."):
        kinds = by_kind(extract_claims("This sample consists of a B cell." + " " + text, ontology))
        assert kinds["tissue"] == ["UBERON:0000178"] and kinds["disease"] == ["PATO:0000461"], text


def test_names_that_match_nothing_stay_claims_without_an_id(ontology):
    claims = extract_claims("This sample consists of a B cell. Pathways enriched in it: tnfa signaling via nfkb and pi", ontology)
    pathways = [c for c in claims if c.kind == "pathway"]
    assert [c.id for c in pathways] == ["HALLMARK_TNFA_SIGNALING_VIA_NFKB", None]
    assert pathways[1].text == "pi"


def test_a_pathway_cut_short_by_the_length_limit_matches_a_unique_title(ontology):
    claims = extract_claims("Pathways enriched in it: pi3k akt", ontology)
    assert [c.id for c in claims] == ["HALLMARK_PI3K_AKT_MTOR_SIGNALING"]


def test_marker_sentences_give_gene_claims_even_for_genes_the_data_lacks(ontology):
    claims = extract_claims("Marker genes: MS4A1, ALB and CD79A. This sample consists of a B cell.", ontology, genes={"MS4A1", "CD79A"})
    assert [c.id for c in claims if c.kind == "marker"] == ["MS4A1", "ALB", "CD79A"]


def test_revised_text_is_read_back_to_the_same_claims(ontology):
    claims = [
        Claim("cell_type", "B cell", "CL:0000236", "B cell", "supported"),
        Claim("tissue", "blood", "UBERON:0000178", "blood", "supported"),
        Claim("disease", "normal", "PATO:0000461", "normal", "unverified"),
        Claim("pathway", "glycolysis", "HALLMARK_GLYCOLYSIS", "Glycolysis", "supported"),
        Claim("pathway", "hypoxia", "HALLMARK_HYPOXIA", "Hypoxia", "unverified"),
        Claim("marker", "MS4A1", "MS4A1", "MS4A1", "supported"),
    ]
    text = render(claims)
    assert "(unverified)" in text and "Possibly active pathways (unverified): hypoxia (HALLMARK_HYPOXIA)" in text
    again = extract_claims(text, ontology, genes={"MS4A1"})
    assert sorted((c.kind, c.id) for c in again) == sorted((c.kind, c.id) for c in claims)


def test_revision_replaces_contradicted_hedges_unverified_and_removes_the_unnamed(ontology):
    claims = [
        Claim("cell_type", "hepatocyte", "CL:0000182", "hepatocyte", "contradicted", alternative="CL:0000236"),
        Claim("tissue", "liver", "UBERON:0002107", "liver", "contradicted", alternative="UBERON:0000178"),
        Claim("pathway", "bile acid metabolism", "HALLMARK_BILE_ACID_METABOLISM", "Bile acid metabolism", "contradicted", evidence=[{"auroc": 0.3}]),
        Claim("pathway", "pi", None, None, "unverified"),
        Claim("marker", "ALB", "ALB", "ALB", "unverified", reason="not measured"),
    ]
    text, kept = revise(
        claims, ontology=ontology, fallback_cell_type="CL:0000236", pathways=["HALLMARK_GLYCOLYSIS"], markers_for=lambda cell_type: ["MS4A1"]
    )
    assert [c.action for c in claims] == ["replaced by CL:0000236", "replaced by UBERON:0000178", "removed", "removed", "removed"]
    assert "hepatocyte" not in text and "liver" not in text and "ALB" not in text and "bile" not in text
    assert {c.id for c in kept} == {"CL:0000236", "UBERON:0000178", "HALLMARK_GLYCOLYSIS", "MS4A1"}
    assert all(c.status == "pending" for c in kept)  # new claims wait for the next verification


def test_the_markers_added_are_those_of_the_cell_type_the_revision_states(ontology):
    def stated_cell_type(claims, fallback):
        asked = []
        revise(claims, ontology=ontology, fallback_cell_type=fallback, pathways=[], markers_for=lambda c: asked.append(c) or [])
        return asked[0]

    def claim(status, alternative=None):
        return [Claim("cell_type", "hepatocyte", "CL:0000182", "hepatocyte", status=status, alternative=alternative)]

    assert stated_cell_type(claim("supported"), "CL:0000236") == "CL:0000182"
    assert stated_cell_type(claim("contradicted", "CL:0000236"), "CL:0000623") == "CL:0000236"
    assert stated_cell_type(claim("contradicted"), "CL:0000623") == "CL:0000623"
    assert stated_cell_type(claim("unverified"), "CL:0000623") == "CL:0000182"  # hedged, still named
    assert stated_cell_type([], "CL:0000623") == "CL:0000623"
