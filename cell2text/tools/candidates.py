"""Candidate cell types from marker genes: rank Cell Ontology terms by the evidence of a gene list.

``rank_cell_types(markers)`` takes a ranked gene list or a group's differential-expression table
(:func:`cell2text.tools.markers.group_markers`) and scores every CL term of the marker knowledge
(:func:`cell2text.knowledge.load_markers`) as a log-likelihood ratio against a random term:

* **specificity-weighted overlap** (a multinomial naive-Bayes score): a term's markers are its own
  and its ancestors' (a CD8 T cell is also a T cell), plus markers most of its subtypes share
  (support flows to parents). Each query gene that is one of them adds
  ``q(g) * log(1 + ODDS * (w(g) / (W + SMOOTHING)) / b(g))``: ``w / W`` is the gene's share of the
  term's marker weight (measured genes only, so a term is not favoured for knowing many genes;
  smoothed, so neither is a term known by one or two genes), ``b(g)`` its
  share of all lineages' markers (terms with the gene that have no ancestor with it, so CD3E on
  "T cell" and twenty subtypes counts once: a gene that marks one type counts far more than one
  that marks twenty) and ``q = 1 / sqrt(1 + rank / 5)`` (top-ranked genes count more);
* **negative markers** (own and inherited) among the query genes subtract what they would add as
  positives; a defining one (weight >= 0.75: a CL label, a curated defining row) contradicts the
  term, supportive ones and ``-low`` markers only lower it;
* **absolute detection** (DE tables), judged on a defining concept's best measured gene (weight
  >= 0.75; the term's or an ancestor's: "CD8" = CD8A, CD8B from a CL label, or a curated or pegasus
  panel), whatever the other groups look like: detected in at most ``min_detection`` of the group's
  cells (almost none), it contradicts the term; in less than ``DECIDING`` (a quarter), the data
  cannot decide the term (most lineage genes of a population are detected in a third or more of
  its cells even in shallow droplet data, CD8A in 51% of pbmc3k's CD8 T cells, while cells of a
  neighbouring lineage in a cluster rarely reach a quarter, CD8B in 12-21% of its CD4 T clusters;
  a poorly captured gene stays undecided: CD4 in 7-16% of its CD4 T cells). An own concept so
  rare keeps the term from being supported, and the ontology step does not choose the term over
  an ancestor the concept sets it apart from; nor where a whole-panel table does not measure the
  concept (a panel without CD4 cannot tell CD4 from CD8 T cells), unless a measured concept
  further down vouches for it (a CD8 T cell is a mature alpha-beta T cell, TRAC on the panel or not);
* **source votes**: each source family scored on its own (:mod:`cell2text.knowledge.profiles`: our
  curated table, pegasus, the Cell Ontology, cellconsensus's consensus of published lists, a
  user's table), as the TF-IDF cosine of the query to the source's profile of the term, with gene
  specificity learned across all sources; each family's cosine times the query's rank-weight mass
  times its weight (``Scoring.votes``) is added to the term's score. Terms only a voting source
  knows are scored too. The weights are chosen by cross-validation over marker lists
  (``benchmarks/marker_annotation.py``), not set by hand;
* **tissue prior**: terms whose rows, label or definition tie them to the given tissue (UBERON id
  or free text, with its part_of lineage) gain ``Scoring.tissue_prior``; terms foreign to it (their
  label, or their definition where the type is not general, names only other organs; or every
  source that describes them names only other tissues) lose ``Scoring.foreign``: a stated tissue
  is honoured, a foreign type answers only where nothing else fits;
* **ontology**: each level of specificity costs ``SPECIFIC`` (a prior: subtypes are many), and
  the most specific term or lineage with enough support wins. Up: an ancestor within ``NEAR_TIE``
  of the best candidate stands in for it. Down: a lineage below the answer that a query gene
  enters (a gene that defines the lineage's root and is no marker of the answer: CD4 under "T
  cell") replaces it when its likelihood, summed over its members, beats the answer's own (the
  answer leaves that gene unexplained), and beats every other lineage so entered by more than
  ``NEAR_TIE``: an ancestor does not win because its subtypes split the evidence. Then two
  unrelated near-ties that are close by Personalized PageRank collapse into their common parent,
  and the candidate says why;
* **confidence**: a returned candidate's share of the likelihood of every known term (``exp(score)``;
  a term no query gene hits has its prior, a contradicted one none) held by it and the terms below
  it, mapped through a Platt calibration fitted across folds of marker lists (``Scoring.calibration``):
  how often an answer so scored agrees with an annotator's.
"""

from __future__ import annotations

import csv
import functools
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import anndata as ad
import networkx as nx
import pandas as pd

from cell2text.cache import cached, source_digest
from cell2text.errors import InputError
from cell2text.knowledge import MarkerKnowledge, load_markers
from cell2text.knowledge import profiles as profiles_module
from cell2text.knowledge.genes import gene_aliases
from cell2text.knowledge.markers import cellconsensus_rows, shipped_digest, with_rows
from cell2text.knowledge.ontology import Ontology, load_ontology
from cell2text.knowledge.pagerank import (
    PageRankSimilarity,
    common_parent,
    pagerank_similarity,
)
from cell2text.knowledge.profiles import SourceProfiles, family, source_profiles
from cell2text.tools.markers import group_markers

ODDS = 1.0  # odds that a query gene comes from the true type's markers rather than from anywhere
SMOOTHING = 10.0  # pseudo marker weight added to every term's (about the median term's): a term known by one gene is not sure
NEGATIVE = 1.0  # a negative marker found costs this times what it would add as a positive one
CONTRADICTING_NEGATIVE = 0.75  # a defining negative marker (this weight or more) found contradicts; supportive ones only lower the score
DEFINING = 0.75  # markers with at least this weight define a term (absolute detection)
DECIDING = 0.25  # DE input: a defining concept decides a term when its best gene is detected in at least this share of the group's cells
SPECIFIC = 1.5  # prior cost of each level of specificity (ancestors with markers): a subtype must earn it
NEAR_TIE = 1.0  # candidates within this many log-units of the best are near-ties
MIN_SUPPORT = 3.0  # a supported candidate scores at least this (one or two specific markers) ...
MIN_FOUND = 2  # ... with at least this many of its markers found
PPR_CLOSE = 0.03  # near-ties at least this similar collapse into their common parent
RANK_SCALE = 5.0  # q(rank) = 1 / sqrt(1 + rank / RANK_SCALE)
N_TOP = 50  # up genes of a DE table used as the query
STATUSES = ("supported", "weak", "contradicted")
PROFILE_MIN_RELATIVE = 0.3  # cellconsensus genes down to this share of a type's top gene make its profile (the whole shipped table)
_CNS = "UBERON:0001017"  # central nervous system
#: Organs CELLxGENE's organ list lacks that a marker list's tissue often is (prostate gland, testis, skeletal muscle tissue,
#: adrenal gland, salivary gland): named in a label ("smooth muscle cell of prostate"), they tie a type there too.
_MORE_ORGANS = ("UBERON:0002367", "UBERON:0000473", "UBERON:0001134", "UBERON:0002369", "UBERON:0001044")
#: blood, bone marrow, lymph node, spleen, thymus
_TRAVELLED = {"UBERON:0000178", "UBERON:0002371", "UBERON:0000029", "UBERON:0002106", "UBERON:0002370"}
_HEMATOPOIETIC = "CL:0000988"  # hematopoietic cell
_EVERYWHERE = {"UBERON:0001013"}  # adipose tissue: a source row tied to it says nothing about the organ (fat lies in most of them)
_ALIASES = frozenset(gene_aliases())  # previous HGNC symbols (upper case already)
_ROOT_TERMS = {"CL:0000000", "CL:0000003", "CL:0000255", "CL:0000548"}  # cell, native cell, eukaryotic cell, animal cell


@dataclass(frozen=True)
class Scoring:
    """The settings of the fused score that are chosen from data, each by cross-validation over marker lists
    (``benchmarks/marker_annotation.py``: chosen on the other folds, scored on the held-out one; the data README)."""

    votes: dict[str, float]  # source family -> weight of its vote: TF-IDF cosine x the query's rank-weight mass (_votes)
    profile_cut: float  # cellconsensus genes down to this share of a type's top gene make its profile
    tissue_prior: float  # log-odds gained by a term tied to the stated tissue
    foreign: float  # log-odds lost by a term foreign to it (its label, definition or every source places it elsewhere)
    calibration: tuple[float, float] = (1.0, 0.0)  # (a, b): confidence = sigmoid(a * logit(likelihood share) + b)


#: The shipped setting: the grid's best on all development marker lists with the knowledge not written while looking
#: at them (benchmarks/results/marker_annotation.md); odds / 10^12 ties / 10^6 there and honours a stated tissue fully.
SCORING = Scoring(votes={"cellconsensus": 3.0}, profile_cut=0.2, tissue_prior=math.log(2.0), foreign=math.log(1e12), calibration=(0.171, 0.139))


@dataclass
class Candidate:
    """One CL term proposed for a marker list, with the evidence behind it."""

    id: str
    label: str
    score: float  # overlap + lineage - negatives, times the tissue prior (comparable within one query)
    status: str  # supported | weak | contradicted
    genes_found: list[str] = field(default_factory=list)  # the term's (and its lineage's) positive markers among the query genes
    genes_missing: list[str] = field(default_factory=list)  # its defining markers not among them
    negative_hits: list[str] = field(default_factory=list)  # its negative markers among them
    detection: dict[str, float] = field(default_factory=dict)  # defining marker -> fraction of the group's cells expressing it (DE input)
    undecided: dict[str, str] = field(default_factory=dict)  # defining concept -> "rare" | "not measured": the group's data cannot decide it
    reason: str = ""  # one line: why this status
    collapsed_from: list[str] = field(default_factory=list)  # near-tied terms this common parent stands for
    evidence: dict = field(default_factory=dict)  # numbers: own score, lineage, negatives, tissue, sources
    confidence: float | None = None  # rank_cell_types: share of all known terms' likelihood held by this term and those below it

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- the query
@dataclass(frozen=True)
class _Query:
    genes: tuple[str, ...]  # ranked positive evidence
    table: pd.DataFrame | None  # the DE table indexed by gene, when given
    measured: frozenset[str] = frozenset()  # the table's genes (every term's score asks)
    complete: bool = False  # the table covers the panel (it lists genes down in the group): a gene it lacks is not measured

    def weight(self, gene: str) -> float:
        return 1.0 / math.sqrt(1.0 + self.genes.index(gene) / RANK_SCALE)


def _query(markers, min_logfc: float, max_pval: float, n_top: int, spelling: dict[str, str]) -> _Query:
    """A ranked gene list or a DE table -> the query genes (and the table for detection).

    Typed symbols are matched to the knowledge's spelling without regard to case (``CD1c`` -> CD1C),
    and previous HGNC symbols to today's (``ACPP`` -> ACP3, in a DE table too).
    """
    if isinstance(markers, pd.DataFrame):
        table = markers.rename(columns={"names": "gene"})
        if "gene" not in table.columns:
            raise InputError("the marker table has no 'gene' column. Pass group_markers() output or a list of gene symbols.")
        renamed = table["gene"].astype(str).map(lambda g: spelling.get(g.upper(), g) if g.upper() in _ALIASES else g)
        table = table.assign(gene=renamed).drop_duplicates("gene").set_index("gene", drop=False)
        up = table
        if "logfc" in table.columns:
            up = up[up["logfc"] >= min_logfc]
        if "pval_adj" in table.columns:
            up = up[up["pval_adj"] <= max_pval]
        complete = "logfc" in table.columns and bool((table["logfc"] < 0).any())
        return _Query(tuple(str(g) for g in up.index[:n_top]), table, frozenset(table.index), complete)
    if isinstance(markers, str):
        markers = re.split(r"[,;\s]+", markers)
    genes = tuple(dict.fromkeys(spelling.get(str(g).strip().upper(), str(g).strip()) for g in markers if str(g).strip()))
    if not genes:
        raise InputError("no marker genes given. Pass gene symbols, e.g. 'MS4A1, CD79A, CD19'.")
    return _Query(genes, None)


# --------------------------------------------------------------------------- the knowledge, indexed
@dataclass(frozen=True)
class _View:
    """One term's markers with its lineage's."""

    positive: dict[str, float]  # own and inherited positive markers -> weight
    negative: dict[str, float]  # own and inherited negative markers (own signs win)
    defining: dict[str, tuple[str, ...]]  # concept -> genes, own and inherited, weight >= DEFINING
    distinct: frozenset[str]  # own positive markers that no ancestor has
    levels: int  # how many of its ancestors have markers


@dataclass
class _Index:
    """Per-term markers (own, and shared by most subtypes), gene specificity and tissues, for one knowledge and ontology."""

    ontology: Ontology
    own_positive: dict[str, dict[str, float]]
    own_negative: dict[str, dict[str, float]]
    own_defining: dict[str, dict[str, tuple[str, ...]]]
    background: dict[str, float]  # gene -> share of lineages it marks
    tissues: dict[str, set[str]]  # term -> UBERON ids of its rows; "" when a source describes it without a tissue
    known: set[str]  # terms with positive markers of their own
    spelling: dict[str, str]  # upper-case symbol -> the knowledge's spelling
    views: dict[str, _View] = field(default_factory=dict)

    def view(self, term: str) -> _View:
        """A term's markers with its lineage's (any CL term: one without markers inherits its ancestors')."""
        if term not in self.views:
            lineage = self.ontology.ancestors(term) & (self.known | self.own_negative.keys())
            inherited: dict[str, float] = {}
            for a in lineage:
                for g, w in self.own_positive.get(a, {}).items():
                    inherited[g] = max(w, inherited.get(g, 0.0))
            own, own_negative = self.own_positive.get(term, {}), self.own_negative.get(term, {})
            negative = {g: w for a in lineage for g, w in self.own_negative.get(a, {}).items() if g not in own} | own_negative
            concepts = {c: g for a in lineage for c, g in self.own_defining.get(a, {}).items()} | self.own_defining.get(term, {})
            defining = {c: kept for c, g in concepts.items() if (kept := tuple(x for x in g if x not in negative))}
            positive = {g: w for g, w in (inherited | own).items() if g not in own_negative}
            self.views[term] = _View(positive, negative, defining, frozenset(set(own) - set(inherited)), len(lineage & self.known))
        return self.views[term]


def _shared_markers(knowledge: MarkerKnowledge, ontology: Ontology) -> dict[str, dict[str, float]]:
    """Markers shared by most subtypes of a term, as markers of the term itself: support flows to parents.

    Bottom-up over the CL terms above the knowledge's terms: a gene that is a marker somewhere below
    at least two of a term's children, and below at least half of its children that have markers,
    becomes the term's marker (its largest weight there), so "fibroblast" gains the collagen genes its
    tissue-specific subtypes share, and those stop counting as evidence for one subtype.
    """
    known = set(knowledge.terms)
    nodes = set(known)
    for t in known:
        nodes |= {a for a in ontology.ancestors(t) if a.startswith("CL:")}
    graph = ontology.graph.subgraph(nodes)
    below: dict[str, dict[str, float]] = {}
    shared: dict[str, dict[str, float]] = {}
    for term in reversed(list(nx.topological_sort(graph))):  # edges run child -> parent: children come first here
        children = [c for c in graph.predecessors(term) if below.get(c)]
        counts: dict[str, list[float]] = {}
        for child in children:
            for gene, weight in below[child].items():
                counts.setdefault(gene, []).append(weight)
        if term not in _ROOT_TERMS:
            shared[term] = {g: max(ws) for g, ws in counts.items() if len(ws) >= 2 and len(ws) >= len(children) / 2}
        merged = {g: max(ws) for g, ws in counts.items()}
        for gene, weight in (shared.get(term, {}) | knowledge.positive(term)).items():
            merged[gene] = max(weight, merged.get(gene, 0.0))
        below[term] = merged
    return {t: genes for t, genes in shared.items() if genes}


@functools.lru_cache(maxsize=4)
def _index(knowledge: MarkerKnowledge, ontology: Ontology) -> _Index:
    shared = _shared_markers(knowledge, ontology)
    own_positive = {
        t: {g: w for g, w in shared.get(t, {}).items() if g not in knowledge.negative(t)} | knowledge.positive(t)
        for t in set(knowledge.terms) | set(shared)
    }
    own_positive = {t: genes for t, genes in own_positive.items() if genes}
    own_negative = {t: knowledge.negative(t) for t in knowledge.terms if knowledge.negative(t)}
    table = knowledge.table
    strong = table[(table["weight"] >= DEFINING) & (table["sign"] == "+")]
    own_defining = {t: {c: tuple(rows["gene"]) for c, rows in group.groupby("concept")} for t, group in strong.groupby("cell_type_ontology_term_id")}
    known = set(own_positive)
    carriers: dict[str, set[str]] = {}
    for t, genes in own_positive.items():
        for g in genes:
            carriers.setdefault(g, set()).add(t)
    tops = {g: sum(1 for t in having if not ontology.ancestors(t) & having) for g, having in carriers.items()}
    total = sum(tops.values())
    described = table[~table["source"].str.startswith("CL ")]  # CL's own rows say nothing about where a type occurs
    tissues = {t: set(rows["tissue"]) for t, rows in described.groupby("cell_type_ontology_term_id")}
    spelling = {g.upper(): g for g in knowledge.genes()}
    if knowledge.species == "human":  # a previous HGNC symbol reads as today's, where the knowledge does not use the old one itself
        spelling = {old: spelling[new.upper()] for old, new in gene_aliases().items() if new.upper() in spelling} | spelling
    return _Index(ontology, own_positive, own_negative, own_defining, {g: n / total for g, n in tops.items()}, tissues, known, spelling)


@functools.lru_cache(maxsize=8)
def _profiles(knowledge: MarkerKnowledge, ontology: Ontology, cut: float) -> SourceProfiles:
    """Every source family's TF-IDF profiles: the knowledge's own, plus cellconsensus's genes from ``cut`` of a type's top
    gene when the knowledge does not pool it (it votes on its own, without entering the pooled score). From the disk
    cache after a machine's first run (:func:`cell2text.cache.cached`)."""
    key = [knowledge.species, knowledge.version, ontology.version, repr(cut), shipped_digest(), source_digest(sys.modules[__name__], profiles_module)]
    return cached("profiles", key, lambda: _build_profiles(knowledge, ontology, cut))


def _build_profiles(knowledge: MarkerKnowledge, ontology: Ontology, cut: float) -> SourceProfiles:
    if (knowledge.table["source"].map(family) != "cellconsensus").all():
        knowledge = with_rows(knowledge, cellconsensus_rows(1.0, min_relative=cut), ontology)
    return source_profiles(knowledge)


def _votes(query: _Query, profiles: SourceProfiles, weights: dict[str, float]) -> tuple[dict[str, dict[str, float]], dict[str, frozenset[str]]]:
    """For every term a source with a weight profiles and the query hits: {family: cosine x the query's mass}, and the
    query genes in those profiles.

    The mass is the summed rank weight of the query genes any source knows: the pooled score adds evidence gene by
    gene, so a cosine (0-1 whatever the list's length) counts as much per gene on a 50-gene list as on a 10-gene one.
    """
    weighted = [(g, query.weight(g)) for g in query.genes if g in profiles.genes]
    mass = sum(w for _, w in weighted)
    cosines = profiles.cosines([g for g, _ in weighted], [w for _, w in weighted])
    votes: dict[str, dict[str, float]] = {}
    voters: dict[str, frozenset[str]] = {}
    for name, values in cosines.items():
        if weights.get(name, 0.0) > 0:
            for term, (value, genes) in values.items():
                votes.setdefault(term, {})[name] = value * mass
                voters[term] = voters.get(term, frozenset()) | frozenset(genes)
    return votes, voters


@functools.lru_cache(maxsize=16384)
def _ancestors(ontology: Ontology, term: str) -> frozenset[str]:
    """A term's ancestors, kept: the ranking asks for the same few hundred terms' again and again."""
    return frozenset(ontology.ancestors(term))


def _depth(ontology: Ontology, term: str) -> int:
    """How many ancestors a term has (ties go to the general term)."""
    return len(_ancestors(ontology, term))


def _gain(index: _Index, gene: str, share: float) -> float:
    """Log-likelihood ratio of drawing ``gene`` from a term that gives it ``share`` of its marker weight (0 for unknown genes)."""
    return math.log1p(ODDS * share / index.background[gene]) if gene in index.background else 0.0


_WORDS = re.compile(r"[a-z0-9]+")


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORDS.findall(text.lower()))


@functools.lru_cache(maxsize=2)
def _organ_mentions(ontology: Ontology) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """:func:`_find_organ_mentions`, from the disk cache after a machine's first run (:func:`cell2text.cache.cached`)."""
    return cached("organs", [ontology.version, source_digest(sys.modules[__name__])], lambda: _find_organ_mentions(ontology))


def _find_organ_mentions(ontology: Ontology) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """CL term -> (the organs its label or the first sentence of its definition names, or its ancestors' do; the organs
    that make it foreign to a tissue they are unrelated to).

    Organs: CELLxGENE's organ list, a few organs it lacks (``_MORE_ORGANS``) and the central nervous system, without blood
    and the lymphoid organs (immune cells travel: "found in the blood" does not tie a cell to blood), each named by its
    own labels and synonyms and by those of its parts (UBERON part_of/is_a: "colon macrophage" names the intestine,
    "islet of Langerhans" the pancreas). Names are matched as whole words, longest first; a term that names none takes
    those its nearest ancestors name in their labels (a microglial cell is a central nervous system macrophage; an
    ancestor's definition does not count: "connective tissue cell" mentions adipose tissue in passing), and a term's own
    words win over its ancestors' (a type L enteroendocrine cell is intestinal, although enteroendocrine cells are also
    pancreatic). The second set, what can make a type foreign to a tissue, reads the whole definition (a hepatoblast
    is "found in the liver" in its third sentence): for a hematopoietic type, only what labels name (mast cells live in
    every tissue, though their subtypes are named after organs); for a general type (its subtypes name two organs or
    more) where every subtype names organs, the organs they and it name ("ionocyte": skin, lung, salivary gland); for
    another general type, what labels name, as its definition lists places it is found in, seldom all of them ("smooth
    muscle cell": "lining the digestive tract, uterus, and blood vessels", with subtypes of the esophagus, prostate,
    coronary artery, and vascular ones named by no organ); else what its label and definition name.
    """
    from cellxgene_ontology_guide.curated_ontology_term_lists import (
        get_curated_ontology_term_list,
    )
    from cellxgene_ontology_guide.entities import CuratedOntologyTermList

    organs = [o for o in get_curated_ontology_term_list(CuratedOntologyTermList.ORGAN) if o in ontology and o not in _TRAVELLED]
    names: dict[tuple[str, ...], set[str]] = {}
    for organ in [*organs, *(o for o in _MORE_ORGANS if o in ontology), _CNS]:
        for part in {organ} | {d for d in ontology.descendants(organ) if d.startswith("UBERON:")}:
            for name in (ontology.term(part).label, *ontology.term(part).synonyms):
                if len(name) > 3:
                    names.setdefault(_words(name), set()).add(organ)
    longest = max(map(len, names))

    def named(text: str) -> set[str]:
        words, found, i = _words(text), set(), 0
        while i < len(words):
            n = next((n for n in range(min(longest, len(words) - i), 0, -1) if words[i : i + n] in names), 0)
            found |= names[words[i : i + n]] if n else set()
            i += max(n, 1)
        return found

    terms = {t: ontology.term(t) for t in ontology.ids("CL")}
    first = {t: named(f"{term.label}. {(term.definition or '').split('. ')[0]}") for t, term in terms.items()}
    whole = {t: named(f"{term.label}. {term.definition or ''}") for t, term in terms.items()}
    in_label = {t: named(term.label) for t, term in terms.items()}
    said, bound, labelled = {}, {}, {}
    for t in terms:  # a term that names no organ takes those its nearest ancestors name in their labels
        lineage = sorted((a for a in ontology.ancestors(t) if in_label.get(a)), key=lambda a: -len(ontology.ancestors(a)))
        nearest = [a for a in lineage if len(ontology.ancestors(a)) == len(ontology.ancestors(lineage[0]))] if lineage else []
        inherited = set().union(*(in_label[a] for a in nearest))
        said[t], bound[t] = frozenset(first[t] or inherited), frozenset(whole[t] or inherited)
        labelled[t] = frozenset(in_label[t] or inherited)
    mentions = {}
    for t in terms:
        below = [bound[d] for d in ontology.descendants(t) if d in bound]
        if _HEMATOPOIETIC in ontology.ancestors(t):  # immune cells travel: only a label binds one ("alveolar macrophage")
            mentions[t] = (said[t], labelled[t])
        elif len(set().union(*below)) < 2:
            mentions[t] = (said[t], bound[t])
        elif all(below):  # every subtype is bound to organs: the type lives where they do
            mentions[t] = (said[t], bound[t].union(*below))
        else:
            mentions[t] = (said[t], labelled[t])
    return mentions


@functools.lru_cache(maxsize=32)
def _tissue_terms(tissue: str, ontology: Ontology, knowledge: MarkerKnowledge, cut: float) -> tuple[frozenset[str], frozenset[str]]:
    """CL terms (tied to the tissue, foreign to it).

    Tied: a row's tissue is the tissue, a part of it or a whole it belongs to, or the term's label or
    definition names the tissue or one of its parts. Foreign: not tied, and its label (or its nearest
    ancestors') names an organ, unrelated to this tissue (a central nervous system macrophage, given
    lung), or every source that describes it names only unrelated tissues (a cortical neuron's
    markers, given breast; a source row without a tissue means anywhere).
    """
    term_id = tissue_id(tissue, ontology)
    parts = {term_id} | ontology.descendants(term_id)
    related = parts | ontology.ancestors(term_id)
    names = {n.lower() for p in parts for n in (ontology.term(p).label, *ontology.term(p).synonyms) if len(n) > 3}
    pattern = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")
    index = _index(knowledge, ontology)
    organs = _organ_mentions(ontology)
    tied, foreign = set(), set()
    profiled = _profiles(knowledge, ontology, cut).terms
    anywhere = set(profiled.get("cellconsensus", ()))  # pooled published lists, from every tissue: a type they know lives anywhere
    for t in index.known | set().union(*profiled.values()):
        text = f"{ontology.term(t).label} {ontology.term(t).definition or ''}".lower()
        places = {"" if p in _EVERYWHERE else p for p in index.tissues.get(t, set())} | ({""} if t in anywhere else set())
        named, labelled = organs.get(t, (frozenset(), frozenset()))
        if places & related or named & related or pattern.search(text):
            tied.add(t)
        elif labelled or (places and "" not in places):
            foreign.add(t)
    return frozenset(tied), frozenset(foreign)


def tissue_id(tissue: str, ontology: Ontology) -> str:
    """A tissue as a UBERON id: a CURIE as given, free text through the standardiser."""
    result = ontology.standardise(tissue, prefix="UBERON")
    if result.best is None or result.unsure:
        hint = f" (closest: {result.best.label}, {result.best.id})" if result.best is not None else ""
        raise InputError(f"tissue '{tissue}' maps to no UBERON term with confidence{hint}. Pass an UBERON id or a tissue name such as 'lung'.")
    return result.best.id


# --------------------------------------------------------------------------- scoring
def _score(
    term: str,
    query: _Query,
    index: _Index,
    tissue: tuple[frozenset[str], frozenset[str]],
    min_detection: float,
    ontology: Ontology,
    votes: dict[str, float],
    scoring: Scoring,
    voters: dict[str, frozenset[str]],
) -> Candidate:
    """One term's candidate record (before the ontology step); ``votes`` are the sources' cosines for it (times the
    query's mass, :func:`_votes`), ``voters`` the query genes in its profiles of those sources."""
    view = index.view(term)
    markers, negative = view.positive, view.negative
    found = [g for g in query.genes if g in markers or g in voters.get(term, ())]
    negatives = [g for g in query.genes if g in negative]
    measurable = markers.keys() if query.table is None else [g for g in markers if g in query.measured]
    mass = sum(markers[g] for g in measurable) + SMOOTHING
    support = sum(query.weight(g) * _gain(index, g, markers[g] / mass) for g in found if g in markers)
    penalty = NEGATIVE * sum(query.weight(g) * _gain(index, g, negative[g] / mass) for g in negatives)
    in_tissue = "tied" if term in tissue[0] else "foreign" if term in tissue[1] else None
    prior = {"tied": scoring.tissue_prior, "foreign": -scoring.foreign, None: 0.0}[in_tissue] - SPECIFIC * view.levels
    vote = sum(scoring.votes.get(f, 0.0) * v for f, v in votes.items())
    score = support - penalty + prior + vote
    defining = view.defining
    missing = sorted({g for genes in defining.values() for g in genes} - set(query.genes))
    detection, absent, rare, undecided = {}, [], {}, {}
    if query.table is not None and "pct_in" in query.table.columns:
        for concept, genes in defining.items():
            measured = [g for g in genes if g in query.measured]
            for g in measured:
                detection[g] = round(float(query.table.at[g, "pct_in"]), 3)
            shown = f"{concept.split(': ')[-1]} ({', '.join(f'{g} {detection[g]:.0%}' for g in measured)})"
            best = max((detection[g] for g in measured), default=None)
            if best is None:
                if query.complete:
                    undecided[concept] = "not measured"
            elif best <= min_detection:
                absent.append(shown)
            elif best < DECIDING:
                undecided[concept] = "rare"
                if concept in index.own_defining.get(term, {}):  # an inherited one weakens the ancestor that owns it
                    rare.setdefault(tuple(measured), shown)  # "CD8" and "curated: CD8-positive, alpha-beta T cell": one gene set
    strong_negatives = [g for g in negatives if negative[g] >= CONTRADICTING_NEGATIVE]
    distinct = [g for g in found if g in view.distinct]
    if absent:
        status, reason = "contradicted", f"its defining markers are detected in almost none of the group's cells: {'; '.join(absent)}"
    elif strong_negatives:
        status, reason = "contradicted", f"its negative markers are among the genes: {', '.join(strong_negatives)}"
    elif rare:
        status, reason = "weak", f"its defining markers are detected in too few of the group's cells to decide it: {'; '.join(rare.values())}"
    elif len(found) >= MIN_FOUND and score >= MIN_SUPPORT:
        status, reason = "supported", f"{len(found)} of its markers are among the genes ({', '.join(found[:6])})"
    else:
        status, reason = "weak", f"{len(found)} of its markers among the genes ({', '.join(found[:6]) or 'none'}), score {score:.1f}"
    evidence = {
        "support": round(support, 3),
        "marker_mass": round(mass, 2),
        "negative_penalty": round(penalty, 3),
        "prior": round(prior, 3),
        "tissue_prior": in_tissue,
        "vote": round(vote, 3),
        "source_votes": {f: round(v, 3) for f, v in votes.items()},
        "markers_known": len(markers),
        "distinct_found": distinct,
        "specificity": {g: round(-math.log(index.background[g]), 2) for g in found if g in index.background},
    }
    return Candidate(term, ontology.term(term).label, round(score, 3), status, found, missing, negatives, detection, undecided, reason, [], evidence)


def _merge(parent: str, members: list[Candidate], ontology: Ontology, reason: str) -> Candidate:
    """A common-parent candidate standing for near-tied members."""
    found = list(dict.fromkeys(g for m in members for g in m.genes_found))
    status = "supported" if all(m.status == "supported" for m in members) else "weak"
    return Candidate(
        parent,
        ontology.term(parent).label,
        members[0].score,
        status,
        found,
        [],
        [],
        {},
        {},
        reason,
        [m.id for m in members],
        {"members": {m.id: m.score for m in members}},
    )


@dataclass
class _Lineages:
    """The usable candidates as lineages, for the ontology step: a term stands for itself and every candidate below it.

    Down: a lineage below a term is entered on a query gene that defines the lineage's root and is
    no marker of the term (CD4 enters "CD4-positive, alpha-beta T cell" under "T cell"). Its score
    is its posterior mass under the scores: the log of its members' summed likelihood (exp score,
    each with its own specificity cost), against the term's own score, "this type and none of its
    subtypes". So an ancestor does not win because its subtypes split the evidence (34 CD4 T
    cell subtypes inherit CD4, IL7R marks five of them), and a lineage is not favoured for having many members
    the query does not fit (they add little). Undecided: a term whose defining concepts that set it
    apart from an ancestor are too rarely detected, or not measured (DE input), cannot be chosen
    over that ancestor.
    """

    usable: list[Candidate]
    ontology: Ontology
    index: _Index
    genes: frozenset[str]  # the query genes

    def __post_init__(self) -> None:
        self.by_id = {c.id: c for c in self.usable}
        self.above = {c.id: self.ancestors(c.id) & self.by_id.keys() for c in self.usable}
        self.below: dict[str, set[str]] = {c.id: set() for c in self.usable}
        for c in self.usable:
            for a in self.above[c.id]:
                self.below[a].add(c.id)

    def ancestors(self, term: str) -> frozenset[str]:
        return _ancestors(self.ontology, term)

    def blocked(self, term: str, ancestor: str) -> list[str]:
        """The defining concepts that set ``term`` apart from ``ancestor`` and that the data cannot decide (DE input).

        Each term on the way from the ancestor down to ``term`` (``term`` included) must be decided by
        its own defining concepts: one too rarely detected blocks; one not measured blocks unless a
        term further down is decided by a concept that is measured (a CD8 T cell is a mature
        alpha-beta T cell, whether TRAC is on the panel or not).
        """
        states = self.by_id[term].undecided
        if not states:
            return []
        defining = self.index.view(term).defining
        path = [x for x in {term} | self.ancestors(term) if ancestor in self.ancestors(x)]
        own = {x: [c for c in self.index.own_defining.get(x, {}) if c in defining] for x in path}
        decided = {x for x in path if any(c not in states for c in own[x])}
        for x in path:
            if rare := [c for c in own[x] if states.get(c) == "rare"]:
                return rare
            unmeasured = [c for c in own[x] if states.get(c) == "not measured"]
            if unmeasured and not any(x in self.ancestors(y) for y in decided):
                return unmeasured
        return []

    def entry(self, root: str, term: str) -> list[str]:
        """The query genes that define ``root`` (its own defining concepts) and are no marker of ``term``."""
        own = {g for genes in self.index.own_defining.get(root, {}).values() for g in genes}
        return sorted(own & self.genes - self.index.view(term).positive.keys())

    def mass(self, root: str, term: str, *, excluding: frozenset[str] = frozenset()) -> tuple[float, str]:
        """(log of the summed likelihood, best member) of the lineage's members that the data can decide against
        ``term`` (members in ``excluding`` left out)."""
        members = [m for m in ({root} | self.below[root]) - excluding if not self.blocked(m, term)]
        if not members:
            return -math.inf, root
        best = min(members, key=lambda m: (-self.by_id[m].score, len(self.above[m]), m))  # ties: the general member
        top = self.by_id[best].score
        return top + math.log(sum(math.exp(self.by_id[m].score - top) for m in members)), best

    def up(self, best: Candidate) -> Candidate:
        """The ancestor that stands in for ``best``: one within ``NEAR_TIE`` of it, or one the data cannot tell it from."""
        while True:
            above = [a for a in self.above[best.id] if self.by_id[a].score >= best.score - NEAR_TIE or self.blocked(best.id, a)]
            if not above:
                return best
            general = max((self.by_id[a] for a in above), key=lambda c: (c.score, -len(self.above[c.id])))
            undecided = self.blocked(best.id, general.id)
            general.reason += (
                f"; {best.label} ({best.score:.1f}) is not clearly better supported than this, its ancestor"
                if not undecided
                else f"; the data cannot decide {best.label} ({', '.join(c.split(': ')[-1] for c in undecided)})"
            )
            best = general

    def down(self, term: str) -> tuple[str, float, str] | None:
        """The lineage below ``term``, entered on a query gene, that beats the term itself (which leaves that gene
        unexplained) and every other lineage so entered by more than ``NEAR_TIE``: (its root, its score, why); else None
        (the term's reason says which came close)."""
        here = self.by_id[term]
        roots = [d for d in self.below[term] if self.entry(d, term) and not self.blocked(d, term)]
        if not roots:
            return None
        masses = {d: self.mass(d, term) for d in roots}
        child = min(roots, key=lambda d: (-masses[d][0], len(self.above[d]), d))  # ties: the general root
        value, member = masses[child]
        lineage = f"{self.by_id[child].label} (entered on {', '.join(self.entry(child, term))}; {value:.1f} as a lineage)"
        if value <= here.score:
            here.reason += f"; its subtype {lineage} is not better supported"
            return None
        inside = frozenset({child} | self.below[child])
        rivals = [(self.mass(e, term, excluding=inside)[0], e) for e in roots if e not in inside and e not in self.above[child]]
        rival_value, rival = max(rivals, default=(-math.inf, ""))
        if rival_value >= value - NEAR_TIE:
            here.reason += f"; its subtypes {lineage} and {self.by_id[rival].label} ({rival_value:.1f}) fit nearly as well as each other"
            return None
        return child, value, f"; {lineage}, best member {self.by_id[member].label}, beats its ancestor {here.label} ({here.score:.1f})"


def _settle(ranked: list[Candidate], ontology: Ontology, ppr: PageRankSimilarity, index: _Index, genes: frozenset[str]) -> list[Candidate]:
    """The ontology step on the best candidate: the most specific term or lineage with enough support, or a common parent.

    Up: an ancestor within ``NEAR_TIE`` of the best candidate, or one the data cannot tell it from,
    stands in for it (repeatedly). Down: a lineage below the term, entered on a query gene that
    defines its root, that beats the term with no other lineage so entered within ``NEAR_TIE`` of
    it, replaces it (repeatedly; :class:`_Lineages`). Then an unrelated rival
    (outside the lineage of the term the walk went down from) within ``NEAR_TIE`` of the answer that
    is PPR-close collapses with it into their common parent.
    """
    usable = [c for c in ranked if c.status != "contradicted"]
    if not usable:
        return ranked
    lineages = _Lineages(usable, ontology, index, genes)
    best = lineages.up(usable[0])  # an ancestor standing in for the best candidate holds its evidence: rivals are measured against it
    related, value = {best.id} | lineages.above[best.id] | lineages.below[best.id], max(best.score, usable[0].score)
    while (step := lineages.down(best.id)) is not None:
        best, value = lineages.by_id[step[0]], step[1]
        best.reason += step[2]
    rivals = [c for c in usable if c.id not in related and c.score >= value - NEAR_TIE]
    close = [c for c in rivals if c.id in ppr.index and best.id in ppr.index and ppr.similarity(best.id, c.id) >= PPR_CLOSE]
    if close:
        rival = close[0]
        parent = common_parent(ontology, best.id, rival.id, ppr)
        if parent not in _ROOT_TERMS:
            reason = (
                f"{best.label} ({value:.1f}) and {rival.label} ({rival.score:.1f}) are nearly tied and close in the ontology"
                f" (PPR {ppr.similarity(best.id, rival.id):.3f}): their common parent"
            )
            merged = _merge(parent, [best, rival], ontology, reason)
            return [merged, best, rival, *[c for c in ranked if c.id not in (best.id, rival.id, parent)]]
    return [best, *[c for c in ranked if c.id != best.id]]


def _confidence(
    returned: list[Candidate],
    scored: list[Candidate],
    index: _Index,
    tissue: tuple[frozenset[str], frozenset[str]],
    ontology: Ontology,
    scoring: Scoring,
) -> None:
    """Set each returned candidate's confidence: the share of every known term's likelihood held by it and the terms
    below it, calibrated (``scoring.calibration``, a Platt map fitted across folds of marker lists).

    A term's likelihood is ``exp(score)``; a known term no query gene hits scores its prior (tissue
    prior less its specificity cost), a contradicted one holds none. The raw share is kept in the
    candidate's evidence (``likelihood_share``).
    """
    scores = {c.id: c.score for c in scored if c.status != "contradicted"}
    hit = {c.id for c in scored}
    for t in index.known - hit:
        in_tissue = scoring.tissue_prior if t in tissue[0] else -scoring.foreign if t in tissue[1] else 0.0
        scores[t] = in_tissue - SPECIFIC * index.view(t).levels
    top = max(scores.values())
    weights = {t: math.exp(v - top) for t, v in scores.items()}
    total = sum(weights.values())
    for c in returned:
        lineage = {c.id} | ontology.descendants(c.id)
        share = 0.0 if c.status == "contradicted" else sum(w for t, w in weights.items() if t in lineage) / total
        c.evidence["likelihood_share"] = float(f"{share:.4g}")
        c.confidence = 0.0 if c.status == "contradicted" else round(calibrate(share, scoring.calibration), 3)


def calibrate(share: float, calibration: tuple[float, float]) -> float:
    """A likelihood share mapped through a Platt calibration ``(a, b)``: ``sigmoid(a * logit(share) + b)``."""
    a, b = calibration
    p = min(max(share, 1e-6), 1 - 1e-6)
    return 1.0 / (1.0 + math.exp(-(a * math.log(p / (1 - p)) + b)))


def _prepare(
    markers,
    species: str,
    tissue: str | None,
    knowledge: MarkerKnowledge | None,
    ontology: Ontology | None,
    min_logfc: float,
    max_pval: float,
    n_top: int,
    scoring: Scoring,
) -> tuple[Ontology, MarkerKnowledge, _Index, _Query, tuple]:
    """The loaded resources, the indexed knowledge, the query and the tissue's (tied, foreign) terms."""
    ontology = ontology or load_ontology()
    knowledge = knowledge or load_markers(species, ontology=ontology)
    index = _index(knowledge, ontology)
    query = _query(markers, min_logfc, max_pval, n_top, index.spelling)
    places = _tissue_terms(tissue, ontology, knowledge, scoring.profile_cut) if tissue else (frozenset(), frozenset())
    return ontology, knowledge, index, query, places


def rank_cell_types(
    markers: Sequence[str] | str | pd.DataFrame,
    *,
    species: str = "human",
    tissue: str | None = None,
    k: int = 5,
    knowledge: MarkerKnowledge | None = None,
    ontology: Ontology | None = None,
    ppr: PageRankSimilarity | None = None,
    min_logfc: float = 0.5,
    max_pval: float = 0.05,
    min_detection: float = 0.05,
    n_top: int = N_TOP,
    scoring: Scoring = SCORING,
) -> list[Candidate]:
    """Rank Cell Ontology terms for a marker list or a group's differential-expression table.

    Parameters
    ----------
    markers
        Gene symbols, best first (a list or a comma-separated string), or a DE table with columns
        gene, logfc, pval_adj, pct_in, pct_out (:func:`cell2text.tools.markers.group_markers`): its
        up genes (``logfc >= min_logfc``, ``pval_adj <= max_pval``; the first ``n_top``) are the
        query and ``pct_in`` gives absolute detection.
    species
        human | mouse: which symbols and knowledge to use.
    tissue
        UBERON id or tissue name; terms tied to it get a prior.
    k
        How many candidates to return (after the ontology step; a common parent comes first,
        then the terms it stands for).
    knowledge, ontology, ppr
        Loaded resources; default :func:`load_markers` for ``species``, the shipped ontology and
        its symmetric PPR similarity.
    min_detection
        A defining marker concept none of whose genes is detected in more than this share of the
        group's cells contradicts the term (5%: almost none); below ``DECIDING`` the data cannot
        decide the term.
    scoring
        The settings chosen from data (:class:`Scoring`): the sources' vote weights, the tissue priors, the
        confidence's calibration.

    Returns
    -------
    Candidates, best first: the ontology step's answer (a common parent first, then the terms it
    stands for), then non-contradicted ones by score, then contradicted ones (so a claim can be
    checked against them), each with its ``confidence``. Raises InputError when no query gene is
    a known marker.
    """
    ontology, knowledge, index, query, places = _prepare(markers, species, tissue, knowledge, ontology, min_logfc, max_pval, n_top, scoring)
    if not query.genes:
        return []
    if not any(g in index.background for g in query.genes):
        shown = ", ".join(query.genes[:5]) + (" ..." if len(query.genes) > 5 else "")
        raise InputError(f"none of the genes ({shown}) is a known {knowledge.species} marker. Check the symbols and --species.")
    hit = set(query.genes)
    votes, voters = _votes(query, _profiles(knowledge, ontology, scoring.profile_cut), scoring.votes)
    terms = {t for t in index.known if hit & index.view(t).positive.keys()} | {t for t in votes if t in ontology}
    scored = [_score(t, query, index, places, min_detection, ontology, votes.get(t, {}), scoring, voters) for t in terms]
    scored.sort(key=lambda c: (c.status == "contradicted", -c.score, _depth(ontology, c.id), c.id))  # ties: the general term
    settled = _settle(scored, ontology, ppr or pagerank_similarity(ontology, "CL"), index, frozenset(query.genes))[:k]
    _confidence(settled, scored, index, places, ontology, scoring)
    return settled


def check_cell_type(
    markers: Sequence[str] | str | pd.DataFrame,
    term_id: str,
    *,
    species: str = "human",
    tissue: str | None = None,
    knowledge: MarkerKnowledge | None = None,
    ontology: Ontology | None = None,
    min_logfc: float = 0.5,
    max_pval: float = 0.05,
    min_detection: float = 0.05,
    n_top: int = N_TOP,
) -> Candidate:
    """One CL term scored against a marker list or DE table exactly as :func:`rank_cell_types` scores it.

    For verifying a claim: its status is contradicted when its defining markers are absent (DE
    input) or its negative markers are among the genes, and weak (not supported) when one of its
    own defining concepts is detected in too few of the group's cells to decide it; a term without
    markers of its own is judged by its ancestors'. No ``confidence`` (that is a share among ranked terms).
    """
    ontology, knowledge, index, query, places = _prepare(markers, species, tissue, knowledge, ontology, min_logfc, max_pval, n_top, SCORING)
    term = ontology.term(term_id).id
    votes, voters = _votes(query, _profiles(knowledge, ontology, SCORING.profile_cut), SCORING.votes)
    return _score(term, query, index, places, min_detection, ontology, votes.get(term, {}), SCORING, voters)


def own_defining(knowledge: MarkerKnowledge, ontology: Ontology, term_id: str) -> dict[str, tuple[str, ...]]:
    """A term's own defining marker concepts (weight >= ``DEFINING``; not its ancestors'): concept -> genes."""
    return _index(knowledge, ontology).own_defining.get(term_id, {})


def consensus(candidates: list[Candidate], ontology: Ontology, *, min_share: float = 0.5) -> str | None:
    """The most specific CL term holding at least ``min_share`` of the candidates' likelihood, or None.

    For weak evidence, where no candidate is supported on its own: scores are log-likelihood ratios,
    so ``exp(score)`` weighs each non-contradicted candidate; a term's share is the weight of the
    candidates that are it or below it. Three weak candidates, two of them neurons, give "neuron"
    rather than the single best guess. None when only a root term ("cell") holds the share.
    """
    usable = [c for c in candidates if c.status != "contradicted"]
    if not usable:
        return None
    top = max(c.score for c in usable)
    weights = {c.id: math.exp(c.score - top) for c in usable}
    total = sum(weights.values())
    terms = {t for c in usable for t in ({c.id} | ontology.ancestors(c.id)) if t.startswith("CL:") and t not in _ROOT_TERMS}
    share = {t: sum(w for i, w in weights.items() if i == t or t in ontology.ancestors(i)) / total for t in terms}
    held = [t for t, v in share.items() if v >= min_share]
    return max(held, key=lambda t: (len(ontology.ancestors(t)), share[t])) if held else None


def organs_named(term_id: str, ontology: Ontology) -> frozenset[str]:
    """UBERON ids of the organs a CL term's label or definition (or an ancestor's) names; empty for travelling or general types."""
    return _organ_mentions(ontology).get(term_id, (frozenset(), frozenset()))[0]


def rank_group(adata: ad.AnnData, groupby: str, group: str, **kwargs) -> list[Candidate]:
    """:func:`rank_cell_types` on one group's markers against the rest (:func:`group_markers`)."""
    return rank_cell_types(group_markers(adata, groupby, group), **kwargs)


# --------------------------------------------------------------------------- marker tables from files
_CLUSTER_COLUMNS = ("cluster", "group", "cell_type", "clusters")
_GENE_COLUMNS = ("gene", "names", "genes", "symbol", "feature")
_DE_COLUMNS = {  # the DE-table columns of scanpy's rank_genes_groups_df and Seurat's FindAllMarkers, as group_markers() names them
    "logfc": ("logfc", "avg_log2fc", "avg_logfc", "logfoldchanges", "log2fc"),
    "pval_adj": ("pval_adj", "p_val_adj", "pvals_adj", "padj", "fdr"),
    "pct_in": ("pct_in", "pct.1", "pct_nz_group"),
    "pct_out": ("pct_out", "pct.2", "pct_nz_reference"),
}


def read_marker_table(path: str | Path, *, top: int = 10) -> dict[str, list[str] | pd.DataFrame]:
    """Cluster -> its first ``top`` markers, from a CSV/TSV file, for :func:`rank_cell_types`.

    Two layouts: one row per cluster (columns ``cluster`` and ``genes``, the genes comma- or
    space-separated, best first: the first ``top`` of them), or one row per (cluster, gene) as scanpy's
    ``rank_genes_groups_df`` (``group``, ``names``, ``logfoldchanges``, ``pvals_adj``,
    ``pct_nz_group``, ``pct_nz_reference``) or Seurat's ``FindAllMarkers`` (``cluster``, ``gene``,
    ``avg_log2FC``, ``p_val_adj``, ``pct.1``, ``pct.2``) writes it: the first ``top`` genes of each
    cluster with a positive log fold change, in file order, as a DE table (so ``pct_in`` gives
    absolute detection) when the statistics are there.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"marker file '{path}' not found. Pass a CSV/TSV with columns cluster,genes or a rank_genes_groups / FindAllMarkers table.")
    try:
        table = pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"could not read '{path.name}' as a table ({type(exc).__name__}). Pass a CSV or TSV file.") from exc
    columns = {str(c).strip().lower(): c for c in table.columns}
    cluster = next((columns[c] for c in _CLUSTER_COLUMNS if c in columns), None)
    gene = next((columns[c] for c in _GENE_COLUMNS if c in columns), None)
    if cluster is None or gene is None:
        msg = f"'{path.name}' needs a cluster column ({'/'.join(_CLUSTER_COLUMNS)}) and a gene column ({'/'.join(_GENE_COLUMNS)});"
        raise InputError(msg + f" found: {', '.join(map(str, table.columns))}.")
    if table.empty:
        raise InputError(f"'{path.name}' has no rows. Pass one row per cluster or per (cluster, gene).")
    if table[cluster].is_unique:  # one row per cluster: the gene list in one cell
        return {str(c): [g for g in re.split(r"[,;\s]+", genes) if g][:top] for c, genes in zip(table[cluster], table[gene])}
    stats = {name: next((columns[c] for c in names if c in columns), None) for name, names in _DE_COLUMNS.items()}
    result: dict[str, list[str] | pd.DataFrame] = {}
    for name, rows in table.groupby(cluster, sort=False):
        de = pd.DataFrame({"gene": rows[gene].str.strip()})
        for key, column in stats.items():
            if column is not None:
                de[key] = pd.to_numeric(rows[column], errors="coerce").to_numpy()
        if "logfc" in de.columns:
            de = de[de["logfc"] > 0]
        de = de[de["gene"] != ""].head(top)
        result[str(name)] = de.reset_index(drop=True) if len(de.columns) > 1 else de["gene"].tolist()
    return result
