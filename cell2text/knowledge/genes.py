"""Gene symbols across species and protein names: the small lookups marker knowledge needs.

* :func:`detect_species`: human or mouse from how gene symbols are written (HGNC symbols are
  upper case, ``CD3E``; MGI symbols title case, ``Cd3e``), or from an AnnData's ``organism``
  columns first;
* :func:`convert_genes`: human <-> mouse symbols through ``orthologs.tsv`` (the mappings that are
  not a change of case: ``HBB`` -> ``Hbb-bs``, ``CD16``'s ``FCGR3A`` -> ``Fcgr4``, or no 1:1
  ortholog at all), else by case (``CD3E`` <-> ``Cd3e``);
* :func:`antigen_genes`: a CD antigen or protein name as cell biologists write it (``CD20``,
  ``surfactant protein C``) -> its HGNC symbols, through ``cd_antigens.tsv``;
* :func:`current_symbol`: a previous HGNC symbol that marker lists and older annotations still use
  (``ACPP``, ``GUCY1A3``, ``C10orf11``) -> today's symbol (``ACP3``, ``GUCY1A1``, ``LRMDA``), through
  ``gene_aliases.tsv``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

import anndata as ad
import pandas as pd

from cell2text.errors import InputError

SPECIES = ("human", "mouse")
#: How ``organism`` / ``organism_ontology_term_id`` values spell each species.
ORGANISM_NAMES = {"human": ("homo sapiens", "human", "ncbitaxon:9606"), "mouse": ("mus musculus", "mouse", "ncbitaxon:10090")}
_TITLE_CASE = re.compile(r"^[A-Z][a-z0-9]+(?:[-.][A-Za-z0-9]+)*$")  # Cd3e, Hba-a1, Gm9733, H2-Ob
_UPPER_CASE = re.compile(r"^[A-Z0-9]+(?:[-.][A-Z0-9]+)*$")  # CD3E, HLA-DRA, MT-CO1
_NAME_KEY = re.compile(r"[\s\-_/.,()]+")


def data_path(name: str) -> Path:
    """A file of the knowledge tables shipped in ``cell2text/knowledge/data/``."""
    return Path(str(files("cell2text.knowledge").joinpath("data", name)))


def check_species(species: str) -> str:
    """``species`` in lower case, or an InputError listing the choices."""
    value = str(species).strip().lower()
    if value not in SPECIES:
        raise InputError(f"unknown species '{species}'. Use one of: {', '.join(SPECIES)}.")
    return value


def detect_species(genes: Iterable[str] | ad.AnnData, default: str | None = None) -> str | None:
    """``"human"`` or ``"mouse"`` for a gene list or an AnnData; ``default`` when it cannot tell.

    An AnnData's ``organism_ontology_term_id`` or ``organism`` column decides first (CELLxGENE
    names). Otherwise the symbols' case decides: mouse when at least 60% of the symbols that
    look like either convention are title case (``Cd3e``), human when at least 60% are upper case;
    symbols that fit both (digits only) or neither do not count.
    """
    if isinstance(genes, ad.AnnData):
        for column in ("organism_ontology_term_id", "organism"):
            if column in genes.obs.columns:
                value = str(genes.obs[column].astype(str).mode().iloc[0]).lower()
                found = next((s for s, names in ORGANISM_NAMES.items() if value in names), None)
                if found:
                    return found
        genes = genes.var["feature_name"].astype(str) if "feature_name" in genes.var.columns else genes.var_names
    symbols = pd.Series(list(genes), dtype=object).astype(str).str.strip()
    symbols = symbols[symbols.str.contains("[A-Za-z]", regex=True)]
    title, upper = int(symbols.str.match(_TITLE_CASE).sum()), int(symbols.str.match(_UPPER_CASE).sum())
    counted = title + upper
    if counted == 0:
        return default
    if title / counted >= 0.6:
        return "mouse"
    if upper / counted >= 0.6:
        return "human"
    return default


@functools.cache
def orthologs() -> pd.DataFrame:
    """``orthologs.tsv``: human and mouse symbols whose mapping is not a change of case (empty: no 1:1 ortholog)."""
    return pd.read_csv(data_path("orthologs.tsv"), sep="\t", dtype=str, keep_default_na=False, comment=None)


@functools.cache
def _ortholog_maps() -> tuple[dict[str, str], dict[str, str]]:
    """(human -> mouse, mouse -> human) from ``orthologs.tsv``; an empty value means no ortholog."""
    table = orthologs()
    to_mouse = {h: m for h, m in zip(table["human"], table["mouse"]) if h}
    to_human = {m: h for h, m in zip(table["human"], table["mouse"]) if m}
    return to_mouse, to_human


def convert_gene(gene: str, source: str, target: str) -> str | None:
    """One symbol from ``source`` to ``target`` species; None when it has no 1:1 ortholog."""
    if source == target:
        return gene
    to_mouse, to_human = _ortholog_maps()
    if target == "mouse":
        if gene in to_mouse:
            return to_mouse[gene] or None
        return gene[:1].upper() + gene[1:].lower()
    if gene in to_human:
        return to_human[gene] or None
    return gene.upper()


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


def current_symbol(gene: str) -> str:
    """Today's HGNC symbol of a human gene written with a previous one (``ACPP`` -> ``ACP3``); other genes unchanged."""
    return gene_aliases().get(gene, gene)
