"""The ontologies cell2text grounds its claims in: Cell Ontology (CL), UBERON and MONDO.

One :class:`Ontology` object holds the terms of several ontologies and their graph. It loads the
releases that ship inside ``cellxgene-ontology-guide`` (offline, ~0.3 s for all three), or a
user's own ``.obo`` file through ``pronto``; both give the same interface:

* term lookup: label, definition, synonyms, parents, children, ancestors, descendants, obsolete
  terms with their replacement;
* :meth:`Ontology.standardise`: free text ("Tregs", "CD14+ Monocyte", "NK") -> ranked CURIE
  candidates with a score, from exact, normalised and fuzzy matches on labels and synonyms;
* :attr:`Ontology.graph`: a ``networkx.DiGraph`` with one edge child -> parent per relation,
  its ``relation`` attribute ``"is_a"`` or ``"part_of"`` where the source types its edges.
  The cellxgene release stores untyped parent links (is_a and part_of together): those edges
  carry ``relation="is_a|part_of"``.

Load it with :func:`load_ontology`, the one place that reads ontology files.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import networkx as nx
from rapidfuzz import fuzz, process

from cell2text.cache import cached, source_digest
from cell2text.config import get_settings
from cell2text.errors import InputError

#: The ontologies the cellxgene schema uses for cell type, tissue and disease.
DEFAULT_PREFIXES = ("CL", "UBERON", "MONDO")
#: Edge relation for sources that do not say whether a parent link is is_a or part_of.
UNTYPED = "is_a|part_of"

_CURIE = re.compile(r"^([A-Za-z]+)[:_](\d+)$")
#: A semantic search: (text, ontology prefix, k) -> [(term id, cosine similarity, matched name)].
SemanticSearch = Callable[[str, str, int], list[tuple[str, float, str]]]
#: Semantic hits score 0.45 + 0.45 x cosine (at most 0.9): below exact (1.0) and normalised (0.95) string
#: matches, and below the 0.8 confidence line unless the meaning matches closely (cosine > 0.78).
SEMANTIC_BASE, SEMANTIC_WEIGHT = 0.45, 0.45


@dataclass(frozen=True)
class Term:
    """One ontology term."""

    id: str  # CURIE, e.g. "CL:0000236"
    label: str
    definition: str | None = None
    synonyms: tuple[str, ...] = ()
    obsolete: bool = False
    replaced_by: str | None = None  # the term to use instead of an obsolete one, when the source says
    consider: tuple[str, ...] = ()  # suggested alternatives for an obsolete term without a replacement

    @property
    def prefix(self) -> str:
        return self.id.split(":", 1)[0]

    @property
    def url(self) -> str:
        """The term's public page (OBO PURL)."""
        return term_url(self.id)


def term_url(curie: str) -> str:
    """The public page (OBO PURL) of an OBO ontology term, e.g. CL:0000236."""
    return f"http://purl.obolibrary.org/obo/{curie.replace(':', '_')}"


@dataclass(frozen=True)
class TermMatch:
    """A term proposed for a piece of free text (a lookup match; :class:`cell2text.tools.candidates.Candidate` is a cell type ranked from markers)."""

    id: str
    label: str
    score: float  # 1.0 exact; 0.95 same after normalisation; below 0.9 fuzzy (see Ontology.standardise)
    matched: str  # the label or synonym that matched
    method: str  # "id" | "exact" | "normalised" | "fuzzy" | "semantic"


@dataclass(frozen=True)
class Standardised:
    """The result of standardising one piece of text."""

    query: str
    candidates: tuple[TermMatch, ...]
    unsure: bool  # True when the best candidate is weak or not clearly ahead of a different term
    reason: str = ""  # why it is unsure, in words

    @property
    def best(self) -> TermMatch | None:
        return self.candidates[0] if self.candidates else None


# Abbreviations and shorthand common in single-cell annotations, expanded before matching.
# Keys are lower-case tokens after punctuation is removed.
_ABBREVIATIONS = {
    "nk": "natural killer",
    "nkt": "natural killer t",
    "treg": "regulatory t",
    "reg": "regulatory",
    "tcm": "central memory t",
    "tem": "effector memory t",
    "mono": "monocyte",
    "dc": "dendritic",
    "cdc": "conventional dendritic",
    "pdc": "plasmacytoid dendritic",
    "mdc": "myeloid dendritic",
    "hsc": "hematopoietic stem",
    "hspc": "hematopoietic stem and progenitor",
    "mk": "megakaryocyte",
    "rbc": "erythrocyte",
    "pbmc": "peripheral blood mononuclear",
    "mait": "mucosal invariant t",
    "ilc": "innate lymphoid",
    "α": "alpha",
    "β": "beta",
    "γ": "gamma",
    "δ": "delta",
}
# Words that carry no meaning for matching cell types ("T cell" ~ "T lymphocyte" ~ "T").
_STOPWORDS = {"cell", "cells", "of", "the", "a", "an", "type", "population", "lymphocyte"}
_KEEP_S = ("ss", "us", "is", "ous")
_WEAK_WORDS = {"positive", "alpha", "beta", "human", "mouse"}
_MARKER = re.compile(r"^cd\d+[a-z]*$")
_MARKER_STATES = {"positive", "negative", "dim", "bright", "hi", "high", "low", "lo"}


def _singular(token: str) -> str:
    if len(token) > 3 and token.endswith("s") and not token.endswith(_KEEP_S):
        return token[:-1]
    return token


def normalise(text: str) -> str:
    """Reduce a term name or a piece of free text to a canonical form for matching.

    Lower case, "+"/"-" after a marker read as positive/negative ("CD14+" -> "cd14 positive"),
    a bare CD marker read as positive ("CD8 T" -> "cd8 positive t"),
    punctuation removed, plurals singular, common abbreviations expanded, filler words
    ("cell", "lymphocyte") dropped; tokens kept in order.
    """
    text = text.lower()
    text = re.sub(r"(?<=[a-z0-9])\+", " positive ", text)
    text = re.sub(r"(?<=\d)-(?=\s|/|,|$)", " negative ", text)
    text = re.sub(r"(?<=[a-z0-9])(hi|high|bright)\b", r" \1 ", text)
    text = re.sub(r"[^a-z0-9αβγδ]+", " ", text)
    tokens: list[str] = []
    for token in text.split():
        token = _singular(token)
        tokens.extend(_ABBREVIATIONS.get(token, token).split())
    # a bare marker means its positive form: "CD8 T cell" is a CD8-positive T cell
    marked = []
    for i, token in enumerate(tokens):
        marked.append(token)
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if _MARKER.match(token) and following not in _MARKER_STATES:
            marked.append("positive")
    return " ".join(t for t in marked if t not in _STOPWORDS)


@dataclass
class _NameIndex:
    """Labels and synonyms of one ontology's live terms, raw and normalised, for matching."""

    names: list[str] = field(default_factory=list)
    normalised: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    exact: dict[str, list[int]] = field(default_factory=dict)  # lower-cased name -> positions
    by_normalised: dict[str, list[int]] = field(default_factory=dict)

    def add(self, name: str, term_id: str) -> None:
        position = len(self.names)
        self.names.append(name)
        self.normalised.append(normalise(name))
        self.ids.append(term_id)
        self.exact.setdefault(name.lower(), []).append(position)
        self.by_normalised.setdefault(self.normalised[-1], []).append(position)


class Ontology:
    """Terms and graph of one or more ontologies (CL, UBERON, MONDO by default).

    Parameters
    ----------
    terms
        Every term, live and obsolete, keyed by CURIE.
    edges
        ``(child, parent, relation)`` triples between terms of ``terms``.
    versions
        Release of each ontology, keyed by prefix (e.g. ``{"CL": "v2026-03-26"}``); part of
        every cache key computed from this ontology.
    """

    def __init__(
        self,
        terms: Mapping[str, Term],
        edges: Iterable[tuple[str, str, str]],
        versions: Mapping[str, str],
    ) -> None:
        self._terms = dict(terms)
        self.versions = dict(versions)
        graph = nx.DiGraph()
        graph.add_nodes_from(self._terms)
        graph.add_edges_from((c, p, {"relation": r}) for c, p, r in edges if c in self._terms and p in self._terms)
        self.graph = graph
        self._name_index: dict[str, _NameIndex] = {}

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_cellxgene(cls, prefixes: Iterable[str] = DEFAULT_PREFIXES, schema_version: str | None = None) -> Ontology:
        """The releases shipped inside ``cellxgene-ontology-guide`` for a cellxgene schema version."""
        from cellxgene_ontology_guide.supported_versions import CXGSchema

        schema = CXGSchema(version=schema_version)
        terms: dict[str, Term] = {}
        edges: list[tuple[str, str, str]] = []
        versions: dict[str, str] = {}
        for prefix in prefixes:
            versions[prefix] = str(schema.supported_ontologies[prefix]["version"])
            for term_id, meta in schema.ontology(prefix).items():
                terms[term_id] = Term(
                    id=term_id,
                    label=meta["label"],
                    definition=meta.get("description") or None,
                    synonyms=tuple(meta.get("synonyms", ())),
                    obsolete=bool(meta.get("deprecated", False)),
                    replaced_by=meta.get("replaced_by"),
                    consider=tuple(meta.get("consider", ())),
                )
                edges.extend((term_id, a, UNTYPED) for a, d in meta.get("ancestors", {}).items() if d == 1)
        return cls(terms, edges, versions)

    @classmethod
    def from_obo(cls, path: str | Path) -> Ontology:
        """A user's own ontology file (OBO or OWL) through ``pronto``; is_a and part_of edges are typed."""
        import pronto

        path = Path(path)
        if not path.is_file():
            raise InputError(f"ontology file '{path}' not found. Pass the path of an existing .obo file.")
        try:
            source = pronto.Ontology(str(path))
        except Exception as exc:  # pronto raises many types for a malformed file
            raise InputError(f"could not read '{path}' as an ontology ({exc}). Pass a valid .obo file.") from exc
        terms: dict[str, Term] = {}
        edges: list[tuple[str, str, str]] = []
        for t in source.terms():
            if not _CURIE.match(t.id):
                continue
            replaced = sorted(r.id for r in t.replaced_by)
            terms[t.id] = Term(
                id=t.id,
                label=t.name or t.id,
                definition=str(t.definition) if t.definition else None,
                synonyms=tuple(sorted(s.description for s in t.synonyms)),
                obsolete=bool(t.obsolete),
                replaced_by=replaced[0] if replaced else None,
                consider=tuple(sorted(c.id for c in t.consider)),
            )
            edges.extend((t.id, p.id, "is_a") for p in t.superclasses(distance=1, with_self=False))
            for relation, targets in t.relationships.items():
                if relation.id in ("part_of", "BFO:0000050") or relation.name == "part of":
                    edges.extend((t.id, p.id, "part_of") for p in targets)
        if not terms:
            raise InputError(f"'{path}' holds no ontology terms with CURIE ids. Pass a Cell Ontology-style .obo file.")
        version = source.metadata.data_version or hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        prefixes = sorted({t.prefix for t in terms.values()})
        return cls(terms, edges, {p: version for p in prefixes})

    # ------------------------------------------------------------------ terms
    @property
    def prefixes(self) -> list[str]:
        return list(self.versions)

    @property
    def version(self) -> str:
        """All releases in one string, e.g. ``"CL v2026-03-26, UBERON v2026-04-01"``."""
        return ", ".join(f"{p} {v}" for p, v in self.versions.items())

    def __contains__(self, term_id: object) -> bool:
        return term_id in self._terms

    def __len__(self) -> int:
        return len(self._terms)

    def ids(self, prefix: str | None = None, *, include_obsolete: bool = False) -> list[str]:
        """Term ids, optionally of one ontology; live terms only unless asked."""
        return [i for i, t in self._terms.items() if (prefix is None or t.prefix == prefix) and (include_obsolete or not t.obsolete)]

    def term(self, term_id: str) -> Term:
        """The term with this CURIE (``CL_0000236`` is read as ``CL:0000236``)."""
        key = _canonical_id(term_id)
        if key in self._terms:
            return self._terms[key]
        msg = f"'{term_id}' is not a term of the loaded ontologies ({self.version})."
        msg += " Pass a CURIE such as CL:0000236, or free text to 'ontology lookup'."
        raise InputError(msg)

    def replacement(self, term_id: str) -> Term | None:
        """For an obsolete term, the live term that replaces it (following chains); None otherwise."""
        term = self.term(term_id)
        seen = {term.id}
        while term.obsolete and term.replaced_by and term.replaced_by in self._terms and term.replaced_by not in seen:
            term = self._terms[term.replaced_by]
            seen.add(term.id)
        return None if term.obsolete or term.id == _canonical_id(term_id) else term

    def parents(self, term_id: str) -> list[str]:
        return sorted(self.graph.successors(self.term(term_id).id))

    def children(self, term_id: str) -> list[str]:
        return sorted(self.graph.predecessors(self.term(term_id).id))

    def ancestors(self, term_id: str) -> set[str]:
        """Every term reachable by is_a/part_of links upward (the term itself excluded)."""
        return nx.descendants(self.graph, self.term(term_id).id)

    def descendants(self, term_id: str) -> set[str]:
        """Every term below this one (the term itself excluded)."""
        return nx.ancestors(self.graph, self.term(term_id).id)

    # ------------------------------------------------------------------ free text
    def _names(self, prefix: str) -> _NameIndex:
        if prefix not in self._name_index:
            index = _NameIndex()
            for term in self._terms.values():
                if term.prefix == prefix and not term.obsolete:
                    for name in (term.label, *term.synonyms):
                        index.add(name, term.id)
            self._name_index[prefix] = index
        return self._name_index[prefix]

    def standardise(
        self,
        text: str,
        prefix: str = "CL",
        k: int = 5,
        min_score: float = 0.5,
        semantic: SemanticSearch | None = None,
    ) -> Standardised:
        """Map free text to ranked candidate terms of one ontology.

        Scores: 1.0 for an exact (case-insensitive) label or synonym, 0.95 for a name equal after
        :func:`normalise`, otherwise ``0.9 * mean(token_set_ratio / 100, token F1)`` on normalised
        names: rapidfuzz's character-level ratio forgives typos, the F1 of shared words keeps
        "CD4" apart from "CD8" and penalises extra words; a fuzzy match never outranks an exact one. A CURIE
        is returned as itself (its replacement if obsolete). Each term appears once, with its
        best-matching name. The result is ``unsure`` when the best score is below 0.8 or a
        different term scores within 0.02 of it.

        ``semantic`` (e.g. ``KnowledgeBase.semantic_candidates``) adds a meaning-based step for
        text that string matching misses ("cells that kill virus-infected cells"): when the
        string result is unsure, its hits join the candidates with score ``0.45 + 0.45 * cosine``
        (method "semantic").
        """
        query = text.strip()
        if not query:
            raise InputError("empty text to standardise. Pass a cell type, tissue or disease name.")
        if prefix not in self.versions:
            raise InputError(f"ontology '{prefix}' is not loaded. Use one of: {', '.join(self.prefixes)}.")
        if _CURIE.match(query):
            return self._standardise_id(query)

        index = self._names(prefix)
        scored: dict[str, TermMatch] = {}

        def offer(position: int, score: float, method: str) -> None:
            term_id = index.ids[position]
            if term_id not in scored or score > scored[term_id].score:
                scored[term_id] = TermMatch(term_id, self._terms[term_id].label, score, index.names[position], method)

        for position in index.exact.get(query.lower(), []):
            offer(position, 1.0, "exact")
        norm = normalise(query)
        for position in index.by_normalised.get(norm, []):
            offer(position, 0.95, "normalised")
        if norm:
            hits = process.extract(norm, index.normalised, scorer=fuzz.token_set_ratio, limit=200, score_cutoff=50)
            for _, set_ratio, position in hits:
                overlap = _token_f1(norm, index.normalised[position])
                offer(position, round(0.9 * (set_ratio / 100 + overlap) / 2, 4), "fuzzy")

        result = _judge(query, _rank(scored, min_score, k))
        if semantic is None or not result.unsure:
            return result
        for term_id, similarity, matched in semantic(query, prefix, k):
            score = round(SEMANTIC_BASE + SEMANTIC_WEIGHT * similarity, 4)
            if term_id in self._terms and (term_id not in scored or score > scored[term_id].score):
                scored[term_id] = TermMatch(term_id, self._terms[term_id].label, score, matched, "semantic")
        return _judge(query, _rank(scored, min_score, k))

    def _standardise_id(self, term_id: str) -> Standardised:
        term = self.term(term_id)
        if term.obsolete:
            new = self.replacement(term.id)
            if new is None:
                hint = f" Consider: {', '.join(term.consider)}." if term.consider else ""
                return Standardised(term_id, (), True, f"{term.id} is obsolete with no replacement.{hint}")
            candidate = TermMatch(new.id, new.label, 1.0, term.id, "id")
            return Standardised(term_id, (candidate,), False, f"{term.id} is obsolete, replaced by {new.id}")
        return Standardised(term_id, (TermMatch(term.id, term.label, 1.0, term.id, "id"),), False)

    def read_term(self, span: str, prefix: str = "CL", min_score: float = 0.8) -> Standardised | None:
        """The term a span of generated text names, or None when nothing matches with ``min_score``.

        Labels contain commas ("CD4-positive, alpha-beta T cell") while text runs on after a name
        ("a B cell, CD19-positive"), so the longest comma-separated prefix that matches a name
        (score >= 0.95) wins; otherwise the whole span is standardised.
        """
        parts = span.strip().split(",")
        for end in range(len(parts), 0, -1):
            head = ",".join(parts[:end]).strip()
            if head:
                result = self.standardise(head, prefix=prefix, k=3)
                if result.best is not None and result.best.score >= 0.95:
                    return result
        if not span.strip():
            return None
        result = self.standardise(span, prefix=prefix, k=3)
        return result if result.best is not None and result.best.score >= min_score else None

    def lookup(self, text_or_id: str, prefix: str = "CL") -> Term:
        """The term a CURIE or a piece of free text refers to (the best standardised candidate)."""
        if _CURIE.match(text_or_id.strip()):
            return self.term(text_or_id.strip())
        result = self.standardise(text_or_id, prefix=prefix, k=1)
        if result.best is None:
            raise InputError(f"no {prefix} term matches '{text_or_id}'. Try a broader name or a CURIE.")
        return self._terms[result.best.id]


def _canonical_id(term_id: str) -> str:
    match = _CURIE.match(term_id.strip())
    return f"{match.group(1).upper()}:{match.group(2)}" if match else term_id.strip()


def _token_f1(a: str, b: str) -> float:
    """Weighted F1 of the word sets of two normalised names (1.0 = same words).

    Words that rarely decide a match ("positive", "alpha", "beta", species) weigh a quarter,
    so "CD4 T cell" finds "CD4-positive, alpha-beta T cell" before "Th1 CD4+ T cell".
    """
    left, right = set(a.split()), set(b.split())

    def weight(words: set[str]) -> float:
        return sum(0.25 if w in _WEAK_WORDS else 1.0 for w in words)

    shared = weight(left & right)
    return 2 * shared / (weight(left) + weight(right)) if shared else 0.0


def _rank(scored: dict[str, TermMatch], min_score: float, k: int) -> list[TermMatch]:
    ranked = sorted(scored.values(), key=lambda c: (-c.score, len(c.label), c.id))
    return [c for c in ranked if c.score >= min_score][:k]


def _judge(query: str, ranked: list[TermMatch]) -> Standardised:
    if not ranked:
        return Standardised(query, (), True, "no term matched")
    best = ranked[0]
    if best.score < 0.8:
        return Standardised(query, tuple(ranked), True, f"best match is weak (score {best.score:.2f})")
    rival = next((c for c in ranked[1:] if c.id != best.id and best.score - c.score <= 0.02), None)
    if rival is not None:
        reason = f"'{best.label}' ({best.score:.2f}) and '{rival.label}' ({rival.score:.2f}) match about equally"
        return Standardised(query, tuple(ranked), True, reason)
    return Standardised(query, tuple(ranked), False)


@functools.cache
def _load(obo: str | None, schema_version: str | None) -> Ontology:
    """The ontology with its name indexes, from the disk cache (:func:`cell2text.cache.cached`) after a machine's first build."""
    if obo:
        path = Path(obo)
        if not path.is_file():
            return Ontology.from_obo(path)  # raises the error that names the fix
        stat = path.stat()
        source = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    else:
        source = f"cellxgene-ontology-guide {metadata.version('cellxgene-ontology-guide')}|schema {schema_version}"
    return cached("ontology", [source, source_digest(sys.modules[__name__])], lambda: _build(obo, schema_version))


def _build(obo: str | None, schema_version: str | None) -> Ontology:
    ontology = Ontology.from_obo(obo) if obo else Ontology.from_cellxgene(schema_version=schema_version)
    for prefix in ontology.prefixes:  # free-text matching reads these in nearly every run: built once, cached with the terms
        ontology._names(prefix)
    return ontology


def load_ontology() -> Ontology:
    """The ontology in force: the user's ``.obo`` (``CELL2TEXT_ONTOLOGY``) or the shipped CL/UBERON/MONDO.

    Loaded once per process and shared.
    """
    settings = get_settings()
    return _load(str(settings.ontology_obo) if settings.ontology_obo else None, settings.schema_version)
