"""Each marker source on its own: TF-IDF profiles with gene specificity learned across every source."""

from __future__ import annotations

import pytest

from cell2text.knowledge import load_markers
from cell2text.knowledge.markers import cellconsensus_rows, with_rows, without
from cell2text.knowledge.profiles import family, source_profiles


@pytest.fixture(scope="module")
def profiles(ontology):
    knowledge = load_markers("human", ontology=ontology)
    return source_profiles(with_rows(knowledge, cellconsensus_rows(1.0, min_relative=0.2), ontology))


def test_every_source_family_has_profiles(profiles):
    assert {"curated", "pegasus", "CL", "cellconsensus"} <= set(profiles.matrices)
    assert family("pegasus human lung (ortholog)") == "pegasus" and family("CL definition") == "CL"
    assert family("user markers.csv") == "user"
    for name, matrix in profiles.matrices.items():
        assert matrix.shape == (len(profiles.terms[name]), len(profiles.genes))
        norms = (matrix.multiply(matrix)).sum(axis=1)
        assert abs(norms - 1).max() < 1e-9, name  # unit rows: a cosine is a dot product


def test_a_gene_that_marks_many_types_counts_little(profiles):
    idf = {g: profiles.idf[profiles.genes[g]] for g in ("PTPRC", "SFTPC", "VIM")}
    assert idf["SFTPC"] > idf["PTPRC"] and idf["SFTPC"] > idf["VIM"]


def test_a_list_is_closest_to_its_own_type(profiles, ontology):
    cosines = profiles.cosines(["MS4A1", "CD79A", "CD79B", "CD19"], [1.0, 0.9, 0.8, 0.7])
    for name in ("cellconsensus", "curated"):
        values = cosines[name]
        assert all(0 < v <= 1 + 1e-9 for v, _ in values.values())
        top = max(values, key=lambda t: values[t][0])
        assert top == "CL:0000236" or "CL:0000236" in ontology.ancestors(top), (name, top)  # B cell or one of its subtypes
        assert set(values[top][1]) <= {"MS4A1", "CD79A", "CD79B", "CD19"}
    assert profiles.cosines(["NOT_A_GENE"], [1.0]) == {name: {} for name in profiles.matrices}


def test_without_a_source(ontology):
    knowledge = load_markers("human", ontology=ontology)
    external = without(knowledge, "curated")
    assert not external.table["source"].str.startswith("curated").any()
    assert len(external.table) == (~knowledge.table["source"].str.startswith("curated")).sum()
    assert external.version != knowledge.version
