"""Gene symbols across species, identifiers and protein names: the lookups data preparation and marker knowledge need.

* :func:`detect_species` / :func:`infer_species`: human or mouse, from an AnnData's ``organism``
  columns, Ensembl id prefixes (``ENSG`` / ``ENSMUSG``), which symbols exist in one species only,
  and last the symbols' case (HGNC ``CD3E``, MGI ``Cd3e``);
* :func:`convert_genes`, :func:`orthologs_of`: human <-> mouse symbols through Ensembl 105
  orthologs (``ensembl105_human_mouse.tsv.gz``, from celltypist), with ``orthologs.tsv`` (a
  hand-written list: ``HBB`` -> ``Hbb-bs``, ``LYZ`` -> ``Lyz2``, or no 1:1 ortholog at all) taking
  precedence for the human genes it lists; a gene Ensembl leaves unpaired maps to the gene of the
  same symbol in the other species, when there is one (HGNC and MGI give orthologs one symbol
  wherever they can);
* :func:`ensembl_symbols`, :func:`hgnc_symbols`: Ensembl gene ids -> symbols (GENCODE v44 human,
  BioMart GRCm39 mouse), and human symbols in any case or previous -> today's HGNC symbols;
* :func:`antigen_genes`: a CD antigen or protein name as cell biologists write it (``CD20``,
  ``surfactant protein C``) -> its HGNC symbols, through ``cd_antigens.tsv``;
* :func:`current_symbol`: a previous HGNC symbol that marker lists and older annotations still use
  (``ACPP``, ``GUCY1A3``, ``C10orf11``) -> today's symbol (``ACP3``, ``GUCY1A1``, ``LRMDA``), through
  ``gene_aliases.tsv``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from importlib.resources import files
from pathlib import Path

import anndata as ad
import pandas as pd

from cell2text.errors import InputError

SPECIES = ("human", "mouse")
#: How ``organism`` / ``organism_ontology_term_id`` values spell each species.
ORGANISM_NAMES = {"human": ("homo sapiens", "human", "ncbitaxon:9606"), "mouse": ("mus musculus", "mouse", "ncbitaxon:10090")}
#: obs columns that name the organism, in order of preference (CELLxGENE names first).
ORGANISM_COLUMNS = ("organism_ontology_term_id", "organism", "species")
#: var column :func:`cell2text.data.io.prepare` writes: the gene name(s) of the input behind each human symbol.
SOURCE_GENE_COLUMN = "cell2text_source_gene"
ENSEMBL_PREFIXES = {"human": "ENSG", "mouse": "ENSMUSG"}
MIN_VOTES = 3  # symbols of one species only needed before they decide the species
VOTE_SHARE = 0.75  # and the share of those votes the winning species needs
_ENSEMBL_ID = re.compile(r"^ENS[A-Z]*G\d{6,}(?:\.\d+)?$")  # ENSG00000141510, ENSMUSG00000000001.5
_TITLE_CASE = re.compile(r"^[A-Z][a-z0-9]+(?:[-.][A-Za-z0-9]+)*$")  # Cd3e, Hba-a1, Gm9733, H2-Ob
_UPPER_CASE = re.compile(r"^[A-Z0-9]+(?:[-.][A-Z0-9]+)*$")  # CD3E, HLA-DRA, MT-CO1
_ORF = re.compile(r"(?<=\d)ORF(?=\d)")  # C1ORF228 -> C1orf228
_NAME_KEY = re.compile(r"[\s\-_/.,()]+")


def data_path(name: str) -> Path:
    """A file of the knowledge tables shipped in ``cell2text/knowledge/data/``."""
    return Path(str(files("cell2text.knowledge").joinpath("data", name)))


def _read_table(name: str) -> pd.DataFrame:
    """A shipped tab-separated table (``.tsv`` or ``.tsv.gz``), every value a string, empty cells as ``""``."""
    return pd.read_csv(data_path(name), sep="\t", dtype=str, keep_default_na=False)


def check_species(species: str) -> str:
    """``species`` in lower case, or an InputError listing the choices."""
    value = str(species).strip().lower()
    if value not in SPECIES:
        raise InputError(f"unknown species '{species}'. Use one of: {', '.join(SPECIES)}.")
    return value


# ------------------------------------------------------------------ identifiers
def strip_version(gene_id: str) -> str:
    """An Ensembl id without its version suffix (``ENSG00000141510.17`` -> ``ENSG00000141510``)."""
    return gene_id.split(".", 1)[0] if gene_id.startswith("ENS") else gene_id


def ensembl_species(names: Iterable[str]) -> str | None:
    """``"human"`` or ``"mouse"`` when most of ``names`` (the first 1,000) are Ensembl gene ids of that species.

    Raises when they are Ensembl ids of another species (``ENSDARG``, ...), which cell2text cannot read.
    """
    sample = pd.Series(list(names)[:1000], dtype=object).astype(str)
    ids = sample[sample.str.match(_ENSEMBL_ID)]
    if len(ids) <= len(sample) / 2:
        return None
    prefixes = ids.str.extract(r"^(ENS[A-Z]*G)\d", expand=False).value_counts()
    found = next((s for s, prefix in ENSEMBL_PREFIXES.items() if prefix == prefixes.index[0]), None)
    if found is None:
        msg = f"genes are Ensembl ids of a species cell2text does not read ({prefixes.index[0]}...)."
        raise InputError(msg + " Pass human (ENSG) or mouse (ENSMUSG) data, or map the genes to human symbols first.")
    return found


@functools.cache
def ensembl_symbols(species: str) -> dict[str, str]:
    """Ensembl gene id (no version) -> symbol: GENCODE v44 for human, BioMart (GRCm39) for mouse."""
    name = {"human": "gencode44_human_genes.tsv.gz", "mouse": "mouse_ensembl_genes.tsv.gz"}[check_species(species)]
    table = _read_table(name)
    return dict(zip(table["ensembl_id"], table["symbol"]))


@functools.cache
def ensembl_orthologs() -> pd.DataFrame:
    """Ensembl 105 ``human`` / ``mouse`` symbol pairs, plus genes with no ortholog listed (the other column empty)."""
    return _read_table("ensembl105_human_mouse.tsv.gz")


@functools.cache
def orthologs() -> pd.DataFrame:
    """``orthologs.tsv``: hand-written human -> mouse 1:1 orthologs (empty: none), taking precedence over Ensembl."""
    return _read_table("orthologs.tsv")


@functools.cache
def _spellings(species: str) -> dict[str, str]:
    """Upper-case symbol -> its official spelling, for every symbol known in ``species`` (``C1ORF112`` -> ``C1orf112``)."""
    pairs = ensembl_orthologs()[species]
    names = list(ensembl_symbols(species).values()) + list(pairs[pairs != ""])
    if species == "human":
        names += list(gene_aliases().values())
    return {name.upper(): name for name in names}


@functools.cache
def _vote_sets() -> tuple[frozenset[str], frozenset[str]]:
    """Upper-case symbols found only among human genes, and only among mouse genes.

    Left out: clone-based names (``AC012345.1``), which both species use, and previous HGNC symbols
    (``CTGF``), which the mouse genes often had too before both were renamed.
    """
    previous = {name.upper() for name in gene_aliases()}
    human = {n for n in _spellings("human") if "." not in n} - previous
    mouse = {n for n in _spellings("mouse") if "." not in n} - previous
    return frozenset(human - mouse), frozenset(mouse - human)


def hgnc_symbols(genes: Sequence[str]) -> list[str]:
    """Human gene names as today's HGNC symbols: any case -> the HGNC spelling (``cd3e`` -> ``CD3E``), a previous
    symbol -> the current one (``ACPP`` -> ``ACP3``) unless that one is among ``genes`` too. A name the tables do not
    know is written as HGNC writes symbols: upper case, ``orf`` between digits kept lower (``c1orf228`` -> ``C1orf228``)."""
    spelling, current = _spellings("human"), _current_by_upper()
    spelled = [spelling.get(g.upper()) or _ORF.sub("orf", g.upper()) for g in genes]
    present = set(spelled)
    renamed = [current.get(g.upper(), g) for g in spelled]
    return [new if new == old or new not in present else old for old, new in zip(spelled, renamed)]


# ------------------------------------------------------------------ species
def infer_species(genes: Iterable[str] | ad.AnnData) -> tuple[str | None, str]:
    """The species of a gene list or an AnnData (``"human"``, ``"mouse"`` or None), and how it was decided.

    In order: an AnnData prepared by :func:`cell2text.data.io.prepare` (var ``cell2text_source_gene``)
    has human symbols; an ``organism_ontology_term_id`` / ``organism`` / ``species`` obs column
    (CELLxGENE names); Ensembl id prefixes (``ENSG`` / ``ENSMUSG``); gene content: at least
    ``MIN_VOTES`` symbols that exist in one species only (case-insensitive; the GENCODE v44 and Ensembl
    105 human symbols against the BioMart and Ensembl 105 mouse ones), ``VOTE_SHARE`` of them for one
    species (mouse datasets often write MGI symbols in upper case); last the symbols' case: mouse when at
    least 60% of the symbols that fit either convention are title case (``Cd3e``), human when 60% are
    upper case.
    """
    if isinstance(genes, ad.AnnData):
        if SOURCE_GENE_COLUMN in genes.var.columns:
            return "human", "genes mapped to human symbols by prepare()"
        for column in ORGANISM_COLUMNS:
            counts = genes.obs[column].value_counts() if column in genes.obs.columns else ()
            if len(counts):  # the most frequent value (value_counts: fast on a million cells' categorical)
                value = str(counts.index[0]).lower()
                found = next((s for s, names in ORGANISM_NAMES.items() if value in names), None)
                if found:
                    return found, f"obs['{column}'] is '{value}'"
        by_id = ensembl_species(genes.var_names.astype(str))
        if by_id:
            return by_id, f"Ensembl ids ({ENSEMBL_PREFIXES[by_id]})"
        genes = genes.var["feature_name"].astype(str) if "feature_name" in genes.var.columns else genes.var_names
    symbols = pd.Series(list(genes), dtype=object).astype(str).str.strip()
    by_id = ensembl_species(symbols)
    if by_id:
        return by_id, f"Ensembl ids ({ENSEMBL_PREFIXES[by_id]})"
    symbols = symbols[symbols.str.contains("[A-Za-z]", regex=True)]
    human_only, mouse_only = _vote_sets()
    upper = symbols.str.upper()
    votes = {"human": int(upper.isin(human_only).sum()), "mouse": int(upper.isin(mouse_only).sum())}
    winner = max(votes, key=votes.get)
    if sum(votes.values()) >= MIN_VOTES and votes[winner] >= VOTE_SHARE * sum(votes.values()):
        return winner, f"gene content: {votes['mouse']:,} mouse-only vs {votes['human']:,} human-only symbols"
    title, upper_case = int(symbols.str.match(_TITLE_CASE).sum()), int(symbols.str.match(_UPPER_CASE).sum())
    counted = title + upper_case
    if counted and title / counted >= 0.6:
        return "mouse", f"symbol case: {title:,} of {counted:,} title case"
    if counted and upper_case / counted >= 0.6:
        return "human", f"symbol case: {upper_case:,} of {counted:,} upper case"
    return None, "undecided (no organism column, Ensembl ids, species-specific symbols or consistent case)"


def detect_species(genes: Iterable[str] | ad.AnnData, default: str | None = None) -> str | None:
    """``"human"`` or ``"mouse"`` for a gene list or an AnnData (:func:`infer_species`); ``default`` when it cannot tell."""
    return infer_species(genes)[0] or default


# ------------------------------------------------------------------ orthologs
@functools.cache
def _ortholog_index() -> dict[str, dict[str, tuple[str, ...]]]:
    """Source species -> {upper-case symbol: its orthologs in the other species}, for the genes the tables pair.

    Ensembl 105 pairs, reduced to the same-symbol ortholog where a gene has several and one shares its
    symbol; ``orthologs.tsv`` replaces a listed human gene's answer (empty: no 1:1 ortholog, so none)
    and pairs its mouse gene back to it.
    """
    table = ensembl_orthologs()
    pairs = table[(table["human"] != "") & (table["mouse"] != "")]
    index: dict[str, dict[str, tuple[str, ...]]] = {}
    for source, target in (("human", "mouse"), ("mouse", "human")):
        grouped: dict[str, list[str]] = {}
        for gene, ortholog in zip(pairs[source], pairs[target]):
            grouped.setdefault(gene.upper(), []).append(ortholog)
        index[source] = {key: tuple(t for t in found if t.upper() == key) or tuple(found) for key, found in grouped.items()}
    for human, mouse in zip(orthologs()["human"], orthologs()["mouse"]):
        index["human"][human.upper()] = (mouse,) if mouse else ()
        if mouse:
            index["mouse"][mouse.upper()] = (human,)
    return index


def orthologs_of(gene: str, source: str, target: str) -> tuple[str, ...]:
    """The ``target``-species orthologs of one ``source`` symbol (any case), in the target's spelling.

    Several when the tables pair it with several genes none of which shares its symbol; empty when
    it has none. A gene the tables do not pair maps to the target gene of the same symbol, if any; for
    a human target, also to today's HGNC symbol of a previous one (mouse data annotated with older
    releases share those: ``Ctgf`` -> ``CCN2``).
    """
    if source == target:
        return (gene,)
    key = gene.upper()
    paired = _ortholog_index()[source]
    if key in paired:
        return paired[key]
    same = _spellings(target).get(key) or (target == "human" and _current_by_upper().get(key))
    return (same,) if same else ()


def convert_gene(gene: str, source: str, target: str) -> str | None:
    """One symbol from ``source`` to ``target`` species; None when it has no 1:1 ortholog (:func:`orthologs_of`)."""
    found = orthologs_of(gene, source, target)
    return found[0] if len(found) == 1 else None


def convert_genes(genes: Iterable[str], source: str, target: str) -> list[str]:
    """Symbols from ``source`` to ``target`` species (human | mouse), in order; genes without a 1:1 ortholog dropped."""
    source, target = check_species(source), check_species(target)
    converted = (convert_gene(g, source, target) for g in genes)
    return [g for g in converted if g]


def name_key(name: str) -> str:
    """A protein or antigen name reduced for lookup: lower case, no spaces, hyphens or punctuation."""
    return _NAME_KEY.sub("", name.lower().replace("α", "alpha").replace("β", "beta").replace("γ", "gamma"))


@functools.cache
def cd_antigens() -> pd.DataFrame:
    """``cd_antigens.tsv``: CD antigen and protein names with their HGNC symbols (several rows per name when several genes)."""
    return pd.read_csv(data_path("cd_antigens.tsv"), sep="\t", dtype=str, keep_default_na=False)


@functools.cache
def _antigen_index() -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for name, gene in zip(cd_antigens()["name"], cd_antigens()["gene"]):
        genes = index.setdefault(name_key(name), [])
        if gene and gene not in genes:
            genes.append(gene)
    return {key: tuple(genes) for key, genes in index.items()}


def antigen_genes(name: str) -> tuple[str, ...]:
    """The HGNC symbols of a CD antigen or protein name (``CD16`` -> FCGR3A, FCGR3B); empty when unknown."""
    return _antigen_index().get(name_key(name), ())


@functools.cache
def gene_aliases() -> dict[str, str]:
    """``gene_aliases.tsv``: previous HGNC symbol -> current HGNC symbol."""
    table = pd.read_csv(data_path("gene_aliases.tsv"), sep="\t", dtype=str, keep_default_na=False)
    return dict(zip(table["previous"], table["symbol"]))


@functools.cache
def _current_by_upper() -> dict[str, str]:
    """Upper-case previous HGNC symbol -> current HGNC symbol."""
    return {previous.upper(): symbol for previous, symbol in gene_aliases().items()}


def current_symbol(gene: str) -> str:
    """Today's HGNC symbol of a human gene written with a previous one (``ACPP`` -> ``ACP3``); other genes unchanged."""
    return gene_aliases().get(gene, gene)
