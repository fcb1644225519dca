"""The curated knowledge tables (markers, CD antigens, orthologs) against the real shipped ontologies."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "cell2text" / "knowledge" / "data"
MARKER_COLUMNS = ["cell_type", "cell_type_ontology_term_id", "species", "tissue", "gene", "sign", "weight", "basis"]
HUMAN_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-]*$")
MOUSE_SYMBOL = re.compile(r"^(?:[A-Z][a-z0-9][A-Za-z0-9.\-]*|H2-[A-Z][A-Za-z0-9]*)$")
CD_NAME = re.compile(r"\bCD\d+[a-zA-Z]?\d*\b")


def read(name: str) -> tuple[list[str], list[dict[str, str]]]:
    with open(DATA / name, newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def markers() -> list[dict[str, str]]:
    header, rows = read("curated_markers.tsv")
    assert header == MARKER_COLUMNS
    return rows


@pytest.fixture(scope="module")
def cd_antigens() -> list[dict[str, str]]:
    header, rows = read("cd_antigens.tsv")
    assert header == ["name", "gene", "note"]
    return rows


@pytest.fixture(scope="module")
def orthologs() -> dict[str, str]:
    header, rows = read("orthologs.tsv")
    assert header == ["human", "mouse", "note"]
    assert len({r["human"] for r in rows}) == len(rows), "one row per human gene"
    return {r["human"]: r["mouse"] for r in rows}


def mouse_symbol(gene: str, orthologs: dict[str, str]) -> str:
    """The mouse symbol a `both` row stands for: the listed ortholog, else the title-case form."""
    return orthologs[gene] if gene in orthologs else gene[:1] + gene[1:].lower()


def test_every_cell_type_is_a_live_cl_term_with_its_label(markers, ontology):
    wrong = set()
    for row in markers:
        term = ontology.term(row["cell_type_ontology_term_id"])
        if term.obsolete or term.prefix != "CL" or term.label != row["cell_type"]:
            wrong.add((row["cell_type_ontology_term_id"], row["cell_type"], term.label, term.obsolete))
    assert not wrong


def test_coverage_of_at_least_250_cell_types_in_both_species(markers):
    assert len({r["cell_type_ontology_term_id"] for r in markers}) >= 250
    for species in ("human", "mouse"):
        usable = {r["cell_type_ontology_term_id"] for r in markers if r["species"] in (species, "both")}
        assert len(usable) >= 250, species


def test_field_values(markers, ontology):
    for row in markers:
        assert row["species"] in {"human", "mouse", "both"}, row
        assert row["sign"] in {"+", "-"}, row
        assert row["weight"] in {"1.0", "0.5"}, row
        assert len(row["basis"].split()) >= 3 and row["basis"].endswith("."), row
        pattern = MOUSE_SYMBOL if row["species"] == "mouse" else HUMAN_SYMBOL
        assert pattern.match(row["gene"]), row
        if row["tissue"]:
            tissue = ontology.term(row["tissue"])
            assert tissue.prefix == "UBERON" and not tissue.obsolete, row


def test_no_duplicate_or_contradictory_rows(markers, orthologs):
    keys = Counter((r["cell_type_ontology_term_id"], r["species"], r["gene"], r["sign"]) for r in markers)
    assert [k for k, n in keys.items() if n > 1] == []
    # Seen from a mouse dataset (`both` rows mapped through the orthologs), a gene is listed once per type.
    mouse_view = Counter(
        (r["cell_type_ontology_term_id"], r["gene"] if r["species"] == "mouse" else mouse_symbol(r["gene"], orthologs))
        for r in markers
        if r["species"] != "human"
    )
    assert [k for k, n in mouse_view.items() if n > 1] == []
    human_view = Counter((r["cell_type_ontology_term_id"], r["gene"]) for r in markers if r["species"] != "mouse")
    assert [k for k, n in human_view.items() if n > 1] == []


def test_both_rows_have_a_mouse_ortholog(markers, orthologs):
    without = {r["gene"] for r in markers if r["species"] == "both" and orthologs.get(r["gene"], "x") == ""}
    assert not without, "genes without a 1:1 mouse ortholog must be `human` rows"


def test_textbook_rows_that_the_candidate_search_relies_on(markers):
    def row(term_id: str, gene: str) -> dict[str, str]:
        hits = [r for r in markers if r["cell_type_ontology_term_id"] == term_id and r["gene"] == gene]
        assert len(hits) == 1, (term_id, gene)
        return hits[0]

    assert row("CL:0002063", "SFTPC")["sign"] == "+"  # type II pneumocyte
    assert row("CL:0002396", "FCGR3A")["sign"] == "+"  # CD14-low, CD16-positive monocyte
    assert row("CL:0002396", "CD14")["sign"] == "-"
    assert row("CL:0001054", "CD14")["sign"] == "+"  # CD14-positive monocyte
    assert row("CL:0000084", "MS4A1")["sign"] == "-"  # T cell
    assert row("CL:0000623", "CD3E")["sign"] == "-"  # NK cell
    assert row("CL:0000624", "CD8A")["sign"] == "-"  # CD4 T cell
    assert row("CL:0000233", "PPBP")["sign"] == "+"  # platelet
    assert row("CL:0000784", "Siglech")["species"] == "mouse"  # pDC, mouse-only marker


def test_cd_antigens(cd_antigens, ontology):
    pairs = Counter((r["name"].lower(), r["gene"]) for r in cd_antigens)
    assert [k for k, n in pairs.items() if n > 1] == []
    assert all(HUMAN_SYMBOL.match(r["gene"]) for r in cd_antigens)
    genes = {r["name"]: {x["gene"] for x in cd_antigens if x["name"] == r["name"]} for r in cd_antigens}
    assert genes["CD20"] == {"MS4A1"} and genes["CD56"] == {"NCAM1"} and genes["CD3"] == {"CD3D", "CD3E", "CD3G"}
    assert genes["CD16"] == {"FCGR3A", "FCGR3B"} and genes["surfactant protein C"] == {"SFTPC"}
    # Every CD name written in a live Cell Ontology definition or label can be mapped.
    names = {r["name"].lower() for r in cd_antigens}
    used = set()
    for term_id in ontology.ids("CL"):
        term = ontology.term(term_id)
        used.update(CD_NAME.findall(f"{term.label} {term.definition or ''}"))
    assert sorted(n for n in used if n.lower() not in names) == []


def test_orthologs_cover_only_genes_the_tables_use(orthologs, markers, cd_antigens):
    used = {r["gene"] for r in markers if r["species"] != "mouse"} | {r["gene"] for r in cd_antigens}
    assert set(orthologs) <= used
    assert all(HUMAN_SYMBOL.match(h) for h in orthologs)
    assert all(m == "" or MOUSE_SYMBOL.match(m) for m in orthologs.values())
    assert orthologs["FCGR3A"] == "Fcgr4" and orthologs["GNLY"] == "" and orthologs["HLA-DRA"] == "H2-Ea"
