"""Marker genes read from the Cell Ontology itself: term labels and definitions.

Many CL terms name their markers: the label ("CD14-low, CD16-positive monocyte") and the
definition ("A monocyte that expresses CD14 and is negative for the lineage markers CD3, CD19, and
CD20"; "... distinguished from other cells in the brain by selective expression of Myoc (Mmus)").
This module reads those phrases into marker rows:

* ``<name>-positive`` / ``-high`` / ``-bright``, "expresses", "expression of", "marked by",
  "positive for" -> ``+``;
* ``<name>-negative``, "negative for", "lacks", "does not express", "absence of" -> ``-``;
  ``-low`` / ``-dim`` / "low expression of" -> ``-`` at 0.4 of the weight (less, not absent: it
  lowers a candidate but never contradicts it);
* a name resolves to genes through ``cd_antigens.tsv`` (CD20 -> MS4A1, "glial fibrillary acidic
  protein" -> GFAP; the longest run of words that names an antigen wins), else as a gene symbol
  when it is one of the known symbols (gene sets and marker tables), so words like "set" are not genes;
  splice isoforms (CD45RA, CD45RO) are skipped: RNA counts the gene, not the isoform.

Label markers define the term (weight 1.0); definition markers weigh less (0.5). Terms specific to
one species ("..., mouse", "(Mmus)", "Homo sapiens") get that species, all others "both" with
HGNC symbols.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import pandas as pd

from cell2text.knowledge.genes import antigen_genes, convert_gene
from cell2text.knowledge.ontology import Ontology

LABEL_WEIGHT = 1.0
DEFINITION_WEIGHT = 0.5
REDUCED = 0.4  # factor for "-low" / "-dim" / "low expression of": less, not absent
MAX_NAME_WORDS = 8  # the longest antigen or protein name tried before a "-positive"
MAX_LIST_ITEMS = 12

_STATES = {"positive": "+", "high": "+", "hi": "+", "bright": "+", "negative": "-", "low": "-", "lo": "-", "dim": "-"}
_STATE = re.compile(r"(?P<head>[^\s,;:()]+?)(?:-|\s)(?P<state>positive|negative|high|hi|bright|low|lo|dim)\b", re.IGNORECASE)
_POSITIVE_LIST = re.compile(
    r"\b(?:selective(?:ly)?\s+expression\s+of|selectively\s+express(?:es)?|(?:high\s+)?expression\s+of|express(?:es|ing)?|"
    r"marked\s+by(?:\s+the)?(?:\s+expression\s+of)?|positive\s+for|markers?\s+(?:include|includes|are|such\s+as))\s+(?P<items>[^.;]+)",
    re.IGNORECASE,
)
_NEGATIVE_LIST = re.compile(
    r"\b(?:negative\s+for|lacks?(?:\s+expression\s+of)?|lacking|do(?:es)?\s+not\s+express|absence\s+of|no\s+expression\s+of)\s+(?P<items>[^.;]+)",
    re.IGNORECASE,
)
_LOW_LIST = re.compile(r"\blow\s+(?:expression|levels?)\s+of\s+(?P<items>[^.;]+)", re.IGNORECASE)
# Where a list of names ends: a new clause.
_LIST_END = re.compile(
    r"\s(?:is|are|was|were|that|which|who|but|in|with|without|while|whereas|when|where|to|from|on|during|after|"
    r"has|have|can|may|and\s+is|and\s+are|and\s+has|as\s+well|among|at|for|than|being|negative|lacks?)\b",
    re.IGNORECASE,
)
_SPLIT = re.compile(r",\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|\s+nor\s+")
_PAREN = re.compile(r"\(([^()]*)\)")
_SYMBOL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)?$")
_MOUSE = re.compile(r"\(Mmus\)|Mus musculus|, mouse\b|\bmouse\b|\bmurine\b", re.IGNORECASE)
_HUMAN = re.compile(r"\(Hsap\)|Homo sapiens|, human\b|\bhuman\b", re.IGNORECASE)
# Splice isoforms (CD45RA, CD45RO, CD45RB) are one gene at the RNA level: they say nothing a gene can show.
_ISOFORM = re.compile(r"^CD45R[A-Z]+$", re.IGNORECASE)
_LEADING = re.compile(
    r"^(?:the|a|an|its|their|genes?|markers?|marker\s+genes?|proteins?|receptors?|both|either|also|high|low|levels?\s+of)\s+", re.IGNORECASE
)


def term_species(label: str) -> str:
    """ "mouse" or "human" for a CL label specific to one species ("..., mouse", "(Mmus)"), else "both"."""
    mouse, human = bool(_MOUSE.search(label)), bool(_HUMAN.search(label))
    return "mouse" if mouse and not human else "human" if human and not mouse else "both"


class _Resolver:
    """Names in text -> HGNC symbols: antigen table first, then known symbols."""

    def __init__(self, symbols: frozenset[str]) -> None:
        self.symbols = symbols

    def symbol(self, token: str) -> str | None:
        """A token written as a gene symbol (``PAX5``, ``Scgb1a1``, ``GATA-1``) -> its HGNC symbol, if known."""
        token = token.strip(" '\"")
        if not _SYMBOL_LIKE.match(token) or not re.search(r"[A-Z]", token):
            return None
        if token[1:].islower() and not re.search(r"\d", token) and len(token) < 3:
            return None
        for candidate in (token.upper(), token.replace("-", "").upper()):
            if candidate in self.symbols:
                return candidate
        return None

    def name(self, words: list[str]) -> tuple[str, tuple[str, ...]] | None:
        """The longest run of words ending the list that names an antigen or a symbol -> (name, genes)."""
        if words and _ISOFORM.match(words[-1]):
            return None
        for start in range(max(0, len(words) - MAX_NAME_WORDS), len(words)):
            name = " ".join(words[start:])
            genes = antigen_genes(name)
            if genes:
                return name, genes
        symbol = self.symbol(words[-1]) if words else None
        return (words[-1], (symbol,)) if symbol else None

    def item(self, item: str) -> tuple[str, tuple[str, ...]] | None:
        """One list item ("parvalbumin (PVALB)", "Myoc (Mmus)", "the marker CD49a") -> (name, genes)."""
        for inner in _PAREN.findall(item):
            inner = re.sub(r"^(?:encoded\s+by|also\s+known\s+as|gene)\s+", "", inner.strip(), flags=re.IGNORECASE)
            found = self.name(inner.split()) if inner and len(inner.split()) <= MAX_NAME_WORDS else None
            if found:
                return found
        bare = _PAREN.sub(" ", item).strip()
        while True:
            stripped = _LEADING.sub("", bare)
            if stripped == bare:
                break
            bare = stripped
        return self.name(bare.split()) if bare else None


def _items(text: str) -> list[str]:
    """The names of a list that runs from the start of ``text`` to the end of its clause."""
    end = _LIST_END.search(text)
    text = text[: end.start()] if end else text
    return [part.strip() for part in _SPLIT.split(text) if part.strip()][:MAX_LIST_ITEMS]


def _phrases(text: str, resolver: _Resolver) -> Iterator[tuple[str, str, tuple[str, ...], float, str]]:
    """(name, sign, genes, weight factor, phrase) for every marker phrase of a label or definition."""
    for match in _STATE.finditer(text):
        state = match.group("state").lower()
        before = text[: match.start("head")].split()[-(MAX_NAME_WORDS - 1) :]
        found = resolver.name([w for w in before if not re.search(r"[,;:()]", w)] + [match.group("head")]) or resolver.name([match.group("head")])
        if found:
            factor = REDUCED if state in ("low", "lo", "dim") else 1.0
            yield found[0], _STATES[state], found[1], factor, match.group(0)
    for pattern, sign, factor in ((_POSITIVE_LIST, "+", 1.0), (_NEGATIVE_LIST, "-", 1.0), (_LOW_LIST, "-", REDUCED)):
        for match in pattern.finditer(text):
            for item in _items(match.group("items")):
                found = resolver.item(item)
                if found:
                    yield found[0], sign, found[1], factor, f"{match.group(0)[: len(match.group(0)) - len(match.group('items'))].strip()} {item}"


def definition_markers(ontology: Ontology, symbols: frozenset[str]) -> pd.DataFrame:
    """Marker rows read from every live CL term's label and definition.

    ``symbols`` are the known HGNC symbols (a bare word is a gene only if it is one of them).
    Columns: cell_type_ontology_term_id, species, gene, sign, weight, source ("CL label" |
    "CL definition"), basis (the phrase read), concept (the antigen name: its genes stand for
    one marker, e.g. CD16 -> FCGR3A, FCGR3B).
    """
    return _definition_markers(ontology, symbols).copy()


@functools.lru_cache(maxsize=4)
def _definition_markers(ontology: Ontology, symbols: frozenset[str]) -> pd.DataFrame:
    resolver = _Resolver(symbols)
    rows = []
    for term_id in ontology.ids("CL"):
        term = ontology.term(term_id)
        species = term_species(term.label)
        seen: set[tuple[str, str]] = set()
        sources = (("CL label", term.label, LABEL_WEIGHT), ("CL definition", term.definition or "", DEFINITION_WEIGHT))
        for source, text, weight in sources:
            for name, sign, genes, factor, phrase in _phrases(text, resolver):
                for gene in genes:
                    symbol = convert_gene(gene, "human", "mouse") if species == "mouse" else gene
                    if symbol is None or (symbol, sign) in seen or (symbol, "+" if sign == "-" else "-") in seen:
                        continue
                    seen.add((symbol, sign))
                    rows.append(
                        {
                            "cell_type_ontology_term_id": term_id,
                            "species": species,
                            "gene": symbol,
                            "sign": sign,
                            "weight": weight * factor,
                            "source": source,
                            "basis": f"{source}: '{phrase}'",
                            "concept": name,
                        }
                    )
    columns = ["cell_type_ontology_term_id", "species", "gene", "sign", "weight", "source", "basis", "concept"]
    return pd.DataFrame(rows, columns=columns)
