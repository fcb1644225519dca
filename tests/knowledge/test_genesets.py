"""The bundled gene-set libraries and marker database."""

from __future__ import annotations

import pytest

from cell2text.errors import InputError
from cell2text.knowledge.genesets import (
    LIBRARIES,
    library_path,
    load_gene_sets,
    pathway_title,
)


def test_libraries_ship_without_kegg_or_biocarta():
    sizes = {name: len(load_gene_sets(name)) for name in LIBRARIES}
    assert sizes == {"hallmark": 50, "reactome": 1615, "wikipathways": 664}
    names = [n for lib in LIBRARIES for n in load_gene_sets(lib)]
    assert not any(n.startswith(("KEGG_", "BIOCARTA_")) for n in names)
    assert "CD8A" in load_gene_sets("hallmark")["HALLMARK_ALLOGRAFT_REJECTION"]
    assert (library_path("hallmark").parent / "README.md").is_file()  # licence notes ship with the data


def test_pathway_titles():
    assert pathway_title("HALLMARK_TNFA_SIGNALING_VIA_NFKB") == "TNFA signaling via NFKB"
    assert pathway_title("HALLMARK_E2F_TARGETS") == "E2F targets"
    assert pathway_title("REACTOME_INTERFERON_GAMMA_SIGNALING") == "Interferon gamma signaling"


def test_user_gmt(tmp_path):
    gmt = tmp_path / "mine.gmt"
    gmt.write_text("MY_SET\tmy description\tCD3E\tCD8A\n")
    assert load_gene_sets(gmt) == {"MY_SET": ["CD3E", "CD8A"]}
    with pytest.raises(InputError, match="not found"):
        load_gene_sets(tmp_path / "none.gmt")
    empty = tmp_path / "empty.gmt"
    empty.write_text("\n")
    with pytest.raises(InputError, match="holds no gene sets"):
        load_gene_sets(empty)
