"""One table of cell type -> positive and negative marker genes, from every source cell2text has.

:func:`load_markers` is the one loader. Sources, each row keeping its own:

* ``pegasus``: the seven pegasus marker files (human immune, lung, brain; mouse immune, lung,
  brain, liver; BSD-3-Clause), extracted by ``scripts/extract_genesets.py`` with each cell type
  mapped to CL; a gene's weight is its panel's weight over the type's largest panel, times
  ``PEGASUS_WEIGHT`` (panels mix canonical markers with data-driven ones);
* ``CL label`` / ``CL definition``: markers the Cell Ontology names itself
  (:mod:`cell2text.knowledge.definitions`);
* ``curated``: ``curated_markers.tsv``, written from well-established biology, with the basis of
  each row (1.0 defining, 0.5 supportive);
* ``cellconsensus`` (only when asked: ``cellconsensus=True``): ``cellconsensus_markers.tsv.gz``
  (MIT), the consensus of many published marker lists per CL type, human, extracted by
  ``scripts/extract_cellconsensus.py``; a gene's weight is its consensus weight over the type's top
  gene (kept from ``CELLCONSENSUS_MIN_RELATIVE``), times ``CELLCONSENSUS_WEIGHT``. Off by default:
  pooled, it lowers the held-out agreement on the development marker lists, while the candidate
  search's vote of each source on its own (:mod:`cell2text.knowledge.profiles`) reads it always and
  lifts it (``benchmarks/results/marker_annotation.md``);
* ``user``: the caller's own table (``extra``, :mod:`cell2text.knowledge.user`), weight as given.

Human symbols are today's HGNC ones (a source's previous symbol is renamed through
``gene_aliases.tsv``). Every row: CL id, cl_label, species, tissue (UBERON id or empty), gene, sign (+/-), weight,
source, basis, concept (rows of one concept stand for one marker: the genes of "CD16", or a
source's panel of one cell type). Genes are written in the requested species' symbols: "both"
rows convert from HGNC through orthologs, rows of the other species likewise at ``CROSS_SPECIES`` weight; terms
specific to the other species ("..., mouse") are left out.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import pandas as pd

from cell2text.cache import cached, source_digest
from cell2text.knowledge import definitions, genes
from cell2text.knowledge.definitions import definition_markers, term_species
from cell2text.knowledge.genes import (
    cd_antigens,
    check_species,
    convert_gene,
    current_symbol,
    data_path,
    detect_species,
)
from cell2text.knowledge.genesets import LIBRARIES, load_gene_sets
from cell2text.knowledge.ontology import Ontology, load_ontology
from cell2text.knowledge.user import read_user_markers

PEGASUS_FILES = ("human_immune", "human_lung", "human_brain", "mouse_immune", "mouse_lung", "mouse_brain", "mouse_liver")
PEGASUS_WEIGHT = 0.8
#: cellconsensus's setting, the best of benchmarks/marker_annotation.py's grid on the development marker lists: weight
#: factor (below candidates.DEFINING, 0.75: a data-driven gene missing from a group never contradicts a type), the
#: smallest relative weight kept and the fewest lists a type's consensus must pool. The best factor is the grid's
#: smallest: the less cellconsensus weighs, the better these lists are answered.
CELLCONSENSUS_WEIGHT = 0.05
CELLCONSENSUS_MIN_RELATIVE = 0.2
CELLCONSENSUS_MIN_LISTS = 1
CROSS_SPECIES = 0.7  # weight factor for a marker known in the other species only
COLUMNS = ["cell_type_ontology_term_id", "cl_label", "species", "tissue", "gene", "sign", "weight", "source", "basis", "concept"]


@dataclass(frozen=True, eq=False)
class MarkerKnowledge:
    """Marker rows for one species, with per-term lookups.

    ``table`` has :data:`COLUMNS`; a (term, gene, sign) may appear once per source.
    """

    table: pd.DataFrame
    species: str
    version: str  # content hash of the table: part of every cache or KB fingerprint built from it
    _positive: dict = field(default_factory=dict, repr=False)
    _negative: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        best = self.table.sort_values("weight", ascending=False).drop_duplicates(["cell_type_ontology_term_id", "gene", "sign"])
        for (term, sign), rows in best.groupby(["cell_type_ontology_term_id", "sign"], sort=True):
            (self._positive if sign == "+" else self._negative)[term] = dict(zip(rows["gene"], rows["weight"]))

    @property
    def terms(self) -> list[str]:
        """CL ids with at least one marker."""
        return sorted(set(self._positive) | set(self._negative))

    def positive(self, term_id: str) -> dict[str, float]:
        """The term's own positive markers -> their largest weight over sources."""
        return self._positive.get(term_id, {})

    def negative(self, term_id: str) -> dict[str, float]:
        """The term's own negative markers -> their largest weight over sources."""
        return self._negative.get(term_id, {})

    def rows(self, term_id: str) -> pd.DataFrame:
        """Every row of one term, all sources."""
        return self.table[self.table["cell_type_ontology_term_id"] == term_id]

    def genes(self) -> set[str]:
        """Every gene the knowledge names."""
        return set(self.table["gene"])


def _pegasus(name: str) -> pd.DataFrame:
    """One extracted pegasus file as marker rows (weights normalised per cell type)."""
    table = pd.read_csv(data_path(f"pegasus_{name}.tsv"), sep="\t", dtype={"tissue": str}, keep_default_na=False)
    top = table.groupby("cell_type")["panel_weight"].transform("max")
    species, tissue = name.split("_")
    return pd.DataFrame(
        {
            "cell_type_ontology_term_id": table["cell_type_ontology_term_id"],
            "species": table["species"],
            "tissue": table["tissue"],
            "gene": table["gene"],
            "sign": table["sign"],
            "weight": PEGASUS_WEIGHT * table["panel_weight"] / top,
            "source": f"pegasus {species} {tissue}",
            "basis": f"pegasus {species} {tissue} markers, '" + table["cell_type"] + "' (" + table["mapping"] + ")",
            "concept": f"pegasus {name}: " + table["cell_type"] + " panel " + table["panel_weight"].astype(str),
        }
    )


def _curated() -> pd.DataFrame:
    table = pd.read_csv(data_path("curated_markers.tsv"), sep="\t", dtype=str, keep_default_na=False)
    table["weight"] = table["weight"].astype(float)
    table["source"] = "curated"
    table["concept"] = "curated: " + table["cell_type"]  # one panel per cell type
    return table


def cellconsensus_rows(
    weight: float = CELLCONSENSUS_WEIGHT, *, min_relative: float = CELLCONSENSUS_MIN_RELATIVE, min_lists: int = CELLCONSENSUS_MIN_LISTS
) -> pd.DataFrame:
    """cellconsensus's consensus markers (human, no tissue) as source rows, one concept per type.

    A gene's weight is ``weight`` times its relative weight in the type (kept when at least
    ``min_relative``), for types whose consensus pools at least ``min_lists`` published lists.
    """
    table = pd.read_csv(data_path("cellconsensus_markers.tsv.gz"), sep="\t", dtype={"gene": str}, keep_default_na=False)
    table = table[(table["weight"] >= min_relative) & (table["sources"] >= min_lists)]
    return pd.DataFrame(
        {
            "cell_type_ontology_term_id": table["cell_type_ontology_term_id"],
            "species": "human",
            "tissue": "",
            "gene": table["gene"],
            "sign": "+",
            "weight": weight * table["weight"],
            "source": "cellconsensus",
            "basis": "cellconsensus 1.2.0, '" + table["cell_type"] + "': consensus of " + table["sources"].astype(str) + " marker lists",
            "concept": "cellconsensus: " + table["cell_type"],
        }
    )


@functools.cache
def known_symbols() -> frozenset[str]:
    """HGNC symbols cell2text knows: the bundled gene sets, the antigen table, human pegasus and curated genes."""
    symbols = {g for library in LIBRARIES for genes in load_gene_sets(library).values() for g in genes}
    symbols |= set(cd_antigens()["gene"]) - {""}
    for name in PEGASUS_FILES:
        if name.startswith("human"):
            symbols |= set(pd.read_csv(data_path(f"pegasus_{name}.tsv"), sep="\t", usecols=["gene"])["gene"])
    curated = _curated()
    symbols |= set(curated.loc[curated["species"] != "mouse", "gene"])
    return frozenset(symbols)


def _in_species(rows: pd.DataFrame, species: str, ontology: Ontology) -> pd.DataFrame:
    """Rows with genes in ``species``' symbols: other-species rows via orthologs at reduced weight."""
    rows = rows.copy()
    rows["tissue"] = rows["tissue"].fillna("") if "tissue" in rows.columns else ""
    terms = {t: ontology.replacement(t) or ontology.term(t) for t in set(rows["cell_type_ontology_term_id"])}
    rows["cell_type_ontology_term_id"] = rows["cell_type_ontology_term_id"].map(lambda t: terms[t].id)
    rows["cl_label"] = rows["cell_type_ontology_term_id"].map(lambda t: ontology.term(t).label)
    other = "mouse" if species == "human" else "human"
    rows = rows[rows["cl_label"].map(term_species) != other]
    source_species = rows["species"].replace({"both": "human"})
    genes = [convert_gene(current_symbol(g) if s == "human" else g, s, species) for g, s in zip(rows["gene"], source_species)]
    rows["gene"] = [current_symbol(g) if species == "human" and g else g for g in genes]
    crossed = rows["species"] == other
    rows.loc[crossed, "weight"] = rows.loc[crossed, "weight"] * CROSS_SPECIES
    rows.loc[crossed, "source"] = rows.loc[crossed, "source"] + " (ortholog)"
    return rows[rows["gene"].notna() & (rows["gene"] != "")]


def load_markers(
    species: str = "human", extra: str | Path | None = None, *, ontology: Ontology | None = None, cellconsensus: bool = False
) -> MarkerKnowledge:
    """The marker knowledge for ``species`` (human | mouse): pegasus, CL, curated, the user's ``extra`` table and,
    with ``cellconsensus``, cellconsensus's consensus markers.

    Cached per species, ``extra`` file (path and modification time), ontology and ``cellconsensus``.
    """
    species = check_species(species)
    ontology = ontology or load_ontology()
    key = None
    if extra is not None:
        path = Path(extra).expanduser().resolve()
        key = (str(path), path.stat().st_mtime_ns) if path.is_file() else (str(path), None)
    return _load(species, key, ontology, cellconsensus)


def with_rows(knowledge: MarkerKnowledge, rows: pd.DataFrame, ontology: Ontology) -> MarkerKnowledge:
    """``knowledge`` plus one more source's rows (any species, converted to the knowledge's): to compare sources and settings."""
    return _assemble([knowledge.table, _in_species(rows, knowledge.species, ontology)[COLUMNS]], knowledge.species)


def without(knowledge: MarkerKnowledge, source: str) -> MarkerKnowledge:
    """``knowledge`` less the rows whose source starts with ``source`` ('curated' drops 'curated (ortholog)' too): to measure
    what a source adds, or what the others score without it."""
    return _assemble([knowledge.table[~knowledge.table["source"].str.startswith(source)]], knowledge.species)


@functools.lru_cache(maxsize=8)
def _load(species: str, extra: tuple[str, int | None] | None, ontology: Ontology, cellconsensus: bool) -> MarkerKnowledge:
    parts = _shipped(species, ontology, cellconsensus)
    if extra is not None:
        user = read_user_markers(extra[0], ontology)
        user_species = detect_species(user["gene"], default=species)
        user = user.assign(species=user_species, tissue="", source=f"user {Path(extra[0]).name}", concept="user: " + user["cell_type"])
        parts = [*parts, _in_species(user, species, ontology)[COLUMNS]]
    return _assemble(parts, species)


@functools.cache
def shipped_digest() -> str:
    """A digest of the shipped knowledge: every file of ``knowledge/data`` and ``knowledge/genesets`` and the code that
    reads them (this module, genes, definitions). Part of the key of every disk cache built from it."""
    shipped = sorted(p for folder in ("data", "genesets") for p in Path(str(files("cell2text.knowledge").joinpath(folder))).iterdir() if p.is_file())
    return source_digest(sys.modules[__name__], genes, definitions, *shipped)


def _shipped(species: str, ontology: Ontology, cellconsensus: bool) -> list[pd.DataFrame]:
    """The shipped sources (pegasus, the CL's definitions, curated, optionally cellconsensus) in ``species``' symbols:
    a second to build, so read from the disk cache after a machine's first build (keyed by the ontology and
    :func:`shipped_digest`)."""
    key = [species, ontology.version, str(cellconsensus), shipped_digest()]

    def build() -> list[pd.DataFrame]:
        parts = [_pegasus(name) for name in PEGASUS_FILES]
        parts.append(definition_markers(ontology, known_symbols()).assign(tissue=""))
        parts.append(_curated())
        if cellconsensus:
            parts.append(cellconsensus_rows())
        return [_in_species(p, species, ontology)[COLUMNS] for p in parts]

    return cached("markers", key, build)


def _assemble(tables: list[pd.DataFrame], species: str) -> MarkerKnowledge:
    """Marker rows already in ``species``' symbols as one sorted table, with its content hash as the version."""
    table = pd.concat(tables, ignore_index=True)
    table = table.sort_values(
        ["cell_type_ontology_term_id", "sign", "weight", "gene"], ascending=[True, True, False, True], kind="stable"
    ).reset_index(drop=True)
    version = format(pd.util.hash_pandas_object(table, index=False).sum() & 0xFFFFFFFFFFFF, "012x")
    return MarkerKnowledge(table, species, version)
