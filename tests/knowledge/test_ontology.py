"""The Ontology object on the real shipped CL / UBERON / MONDO releases, and a user .obo through pronto."""

from __future__ import annotations

import pytest

from cell2text.errors import InputError
from cell2text.knowledge.ontology import UNTYPED, Ontology, normalise


def test_loads_three_ontologies_with_versions(ontology):
    assert ontology.prefixes == ["CL", "UBERON", "MONDO"]
    assert all(v for v in ontology.versions.values())
    assert len(ontology.ids("CL")) > 3000
    assert len(ontology.ids("UBERON")) > 10000
    assert len(ontology.ids("MONDO")) > 20000


def test_term_fields(ontology):
    term = ontology.term("CL:0000624")
    assert term.label == "CD4-positive, alpha-beta T cell"
    assert term.definition.startswith("A mature alpha-beta T cell")
    assert "CD4-positive, alpha-beta T lymphocyte" in term.synonyms
    assert term.url == "http://purl.obolibrary.org/obo/CL_0000624"
    assert ontology.term("cl_0000624") is term  # underscore form and case are accepted


def test_hierarchy(ontology):
    assert ontology.parents("CL:0000624") == ["CL:0000791"]
    assert "CL:0000624" in ontology.children("CL:0000791")
    ancestors = ontology.ancestors("CL:0000624")
    assert {"CL:0000084", "CL:0000542", "CL:0000000"} <= ancestors  # T cell, lymphocyte, cell
    assert "CL:0000624" in ontology.descendants("CL:0000084")
    assert not ontology.ancestors("CL:0000000")
    assert ontology.parents("UBERON:0002371")  # bone marrow has parents in UBERON
    assert "MONDO:0005015" in ontology.parents("MONDO:0005148")  # T2D is_a diabetes mellitus


def test_graph_is_typed_digraph_child_to_parent(ontology):
    graph = ontology.graph
    assert graph.is_directed()
    assert graph.has_edge("CL:0000624", "CL:0000791")
    assert graph.edges["CL:0000624", "CL:0000791"]["relation"] == UNTYPED


def test_obsolete_term_and_replacement(ontology):
    term = ontology.term("CL:0000003")
    assert term.obsolete
    assert ontology.replacement("CL:0000003").id == "CL:0000000"
    assert ontology.replacement("CL:0000624") is None
    result = ontology.standardise("CL:0000003")
    assert result.best.id == "CL:0000000" and "obsolete" in result.reason
    assert "CL:0000003" not in ontology.ids("CL")


def test_obsolete_without_replacement_is_unsure(ontology):
    term = ontology.term("CL:0000004")
    assert term.obsolete and term.replaced_by is None and term.consider
    result = ontology.standardise("CL:0000004")
    assert result.unsure and result.best is None and "Consider" in result.reason


def test_unknown_id_raises_with_fix(ontology):
    with pytest.raises(InputError, match="not a term of the loaded ontologies"):
        ontology.term("CL:9999999")


def test_normalise():
    assert normalise("CD14+ Monocytes") == "cd14 positive monocyte"
    assert normalise("Tregs") == "regulatory t"
    assert normalise("CD8 T cells") == "cd8 positive t"
    assert normalise("CD4+/CD45RA+/CD25- Naive T") == "cd4 positive cd45ra positive cd25 negative naive t"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tregs", "CL:0000815"),
        ("CD14+ Monocyte", "CL:0001054"),
        ("cd8 cytotoxic t cell", "CL:0000794"),
        ("NK", "CL:0000623"),
        ("CD4 T cell", "CL:0000624"),
        ("B cell", "CL:0000236"),
        ("hepatocytes", "CL:0000182"),
        ("pDC", "CL:0000784"),
    ],
)
def test_standardise_common_names(ontology, text, expected):
    result = ontology.standardise(text)
    assert result.best.id == expected, result
    assert not result.unsure


def test_standardise_ranks_and_scores(ontology):
    result = ontology.standardise("B cell", k=5)
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert result.candidates[0].method == "exact" and result.candidates[0].score == 1.0
    assert all(c.score < 0.9 for c in result.candidates[1:])  # fuzzy never reaches an exact/normalised score
    assert len({c.id for c in result.candidates}) == len(result.candidates)  # a term appears once


def test_standardise_other_ontologies(ontology):
    assert ontology.standardise("lung", prefix="UBERON").best.id == "UBERON:0002048"
    assert ontology.standardise("type 2 diabetes", prefix="MONDO").best.id == "MONDO:0005148"


def test_standardise_nonsense_is_unsure(ontology):
    result = ontology.standardise("qwxzv plorf")
    assert result.unsure


def test_standardise_bad_input(ontology):
    with pytest.raises(InputError, match="empty"):
        ontology.standardise("   ")
    with pytest.raises(InputError, match="not loaded"):
        ontology.standardise("T cell", prefix="GO")


def test_every_demo_label_sensible_or_unsure(ontology, demo_table):
    """Each pbmc68k bulk label maps to its curated id or a term on the same lineage, or is flagged unsure."""
    for label, row in demo_table.iterrows():
        curated = row["cell_type_ontology_term_id"]
        result = ontology.standardise(label)
        if result.unsure:
            assert result.reason, label
            continue
        best = result.best.id
        lineage = {curated} | ontology.ancestors(curated) | ontology.descendants(curated)
        assert best in lineage, f"{label}: {best} ({result.best.label}) is not on the lineage of {curated}"


def test_user_obo_through_pronto(tmp_path, ontology):
    """A small OBO written from real CL terms loads through pronto with typed is_a / part_of edges."""
    ids = ["CL:0000000", "CL:0000542", "CL:0000084", "CL:0000236"]
    stanzas = ["format-version: 1.2\ndata-version: test-2026\nontology: cl\n"]
    stanzas.append("[Typedef]\nid: part_of\nname: part of\nxref: BFO:0000050\n")
    for term_id in ids:
        term = ontology.term(term_id)
        lines = ["[Term]", f"id: {term_id}", f"name: {term.label}"]
        lines += [f'synonym: "{s}" EXACT []' for s in term.synonyms]
        lines += [f"is_a: {p}" for p in ontology.parents(term_id) if p in ids]
        stanzas.append("\n".join(lines) + "\n")
    stanzas.append("[Term]\nid: CL:0009999\nname: test part cell\nrelationship: part_of CL:0000084\n")
    stanzas.append("[Term]\nid: CL:0009998\nname: old cell\nis_obsolete: true\nreplaced_by: CL:0000084\n")
    path = tmp_path / "mini.obo"
    path.write_text("\n".join(stanzas))

    mini = Ontology.from_obo(path)
    assert mini.versions == {"CL": "test-2026"}
    assert mini.term("CL:0000084").label == "T cell"
    assert mini.graph.edges["CL:0009999", "CL:0000084"]["relation"] == "part_of"
    assert mini.standardise("T cells").best.id == "CL:0000084"
    assert mini.replacement("CL:0009998").id == "CL:0000084"
    assert {"CL:0000084", "CL:0009999"} <= mini.descendants("CL:0000542")  # is_a then part_of
    assert mini.parents("CL:0000236") == []  # its CL parent is not in the file


def test_user_obo_missing_or_broken(tmp_path):
    with pytest.raises(InputError, match="not found"):
        Ontology.from_obo(tmp_path / "nope.obo")
    bad = tmp_path / "bad.obo"
    bad.write_bytes(b"\x00\x01 not an ontology \xff")
    with pytest.raises(InputError):
        Ontology.from_obo(bad)
