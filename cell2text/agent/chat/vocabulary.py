"""What a question names, read from the dataset's and the knowledge's own vocabularies.

* genes: the dataset's var names (case-insensitive when the word has a digit, e.g. "cd8a");
* groups: the values of the groups column, the labels and synonyms of their verified cell types,
  and any Cell Ontology term the standardiser reads in the text ("T cells" -> CL:0000084 -> every
  group annotated with it or a subtype: several groups make the mention ambiguous);
* pathways: the Hallmark gene sets, by MiniLM similarity of the text to their titles (the
  knowledge base's embedding model), plus a few plain-language names the titles lack
  ("proliferation" is the G2M checkpoint and E2F targets);
* obs columns and their values (conditions, donors, ...).

Words of the question are matched against these lists only; nothing in it is followed as an instruction.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from cell2text.agent.chat.session import DatasetSession
from cell2text.knowledge.genesets import load_gene_sets, pathway_title

MIN_PATHWAY_SIMILARITY = 0.5  # cosine of question and gene-set title for a pathway to count as named
PATHWAY_TIE = 0.08  # sets this close to the best are named too ("interferon response": alpha and gamma)
MIN_TERM_SCORE = 0.95  # a phrase names a CL term at this standardiser score (exact label or synonym, plural allowed) ...
MIN_CELL_PHRASE_SCORE = 0.85  # ... or at this score when the phrase says "cell(s)" ("CD8 T cells")
LONGEST_PHRASE = 6
#: Plain-language names for processes that no Hallmark title says in words.
PATHWAY_NAMES = {
    r"\bprolifera|\bdividing\b|\bcycling\b|\bcell[- ]cycle\b|\bmitotic\b|\bmitosis\b": ["HALLMARK_G2M_CHECKPOINT", "HALLMARK_E2F_TARGETS"],
}
_STOP = {
    "the",
    "a",
    "an",
    "cell",
    "cells",
    "which",
    "what",
    "are",
    "is",
    "in",
    "of",
    "from",
    "rest",
    "group",
    "groups",
    "cluster",
    "clusters",
    "genes",
    "gene",
    "markers",
    "and",
    "or",
    "vs",
    "versus",
    "to",
    "with",
    "here",
    "there",
    "any",
    "all",
    "each",
    "one",
    "ones",
    "it",
    "them",
    "this",
    "that",
    "these",
    "those",
    "type",
    "types",
    "set",
    "most",
    "more",
    "highest",
    "do",
    "we",
    "have",
    "has",
}
_GROUP_WORD = re.compile(r"\b(?:cluster|group|leiden|louvain)\s*#?\s*(?P<name>[\w+/.-]+)", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*[A-Za-z0-9]|[A-Za-z0-9]")
_TITLE_GENERIC = {"response", "signaling", "pathway", "targets", "up", "dn", "v1", "v2", "via", "and", "of", "early", "late"}


@functools.lru_cache(maxsize=256)
def embed_question(text: str) -> np.ndarray:
    """The normalised MiniLM vector of one question (cached: the router and the pathway lookup share it).

    Encoded on one torch thread: for one short sentence a second thread only waits on the first,
    and on a CPU other jobs share, torch's default threads made it ~30x slower (944 vs 33 ms, measured).
    """
    import torch

    from cell2text.kb.embeddings import embed

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return embed([text])[0]
    finally:
        torch.set_num_threads(threads)


# --------------------------------------------------------------------------- genes
def find_genes(session: DatasetSession, text: str) -> list[str]:
    """Measured genes the text names, in order: exact symbols, or any case when the word has a digit."""
    found = []
    for word in _WORD.findall(text):
        gene = word if word in session.work.var_names else session.gene(word) if re.search(r"\d", word) and len(word) > 2 else None
        if gene is not None and gene not in found:
            found.append(gene)
    return found


def gene_like_words(text: str) -> list[str]:
    """Words written like gene symbols (upper case, digits allowed, e.g. FOXP3, HLA-DRA): for saying one is not measured."""
    return [w for w in _WORD.findall(text) if re.fullmatch(r"[A-Z][A-Z0-9-]{2,}", w) and re.search(r"\d|[A-Z]{3}", w)]


# --------------------------------------------------------------------------- pathways
@functools.cache
def _hallmark_titles() -> tuple[list[str], np.ndarray]:
    from cell2text.kb.embeddings import embed

    names = sorted(load_gene_sets("hallmark"))
    vectors = embed([pathway_title(n) for n in names])
    return names, vectors


def _title_words(name: str) -> set[str]:
    return {w for w in pathway_title(name).lower().replace("-", " ").split() if w not in _TITLE_GENERIC}


def find_pathways(text: str) -> list[str]:
    """Hallmark gene sets the text names, best first (at most two near-ties); empty when none is close enough."""
    named = re.findall(r"\bHALLMARK_[A-Z0-9_]+\b", text)
    if named:
        return list(dict.fromkeys(named))
    for pattern, sets in PATHWAY_NAMES.items():
        if re.search(pattern, text, re.IGNORECASE):
            return list(sets)
    names, vectors = _hallmark_titles()
    similarity = vectors @ embed_question(text)
    order = np.argsort(-similarity)
    best = float(similarity[order[0]])
    if best < MIN_PATHWAY_SIMILARITY:
        return []
    tied = [names[i] for i in order[:2] if similarity[i] >= best - PATHWAY_TIE]
    words = set(re.findall(r"[a-z0-9]+", text.lower()))
    spelled = [n for n in tied if _title_words(n) <= words]  # "interferon alpha" names the alpha set alone
    return spelled[:1] if spelled else tied


# --------------------------------------------------------------------------- groups
@dataclass
class Mention:
    """A piece of the question that names groups: one (resolved) or several (ambiguous), or a cell type no group has."""

    text: str
    groups: list[str]
    term: str | None = None  # the CL term the text names, when it was read as a cell type
    start: int = 0  # where it is in the question
    end: int = 0


def _group_names(session: DatasetSession) -> list[tuple[str, list[str]]]:
    """(name, groups) to find groups by: each group's name, and each label or synonym of the groups' cell types, longest first."""
    pairs: dict[str, list[str]] = {}
    for name in session.result()["groups"]:
        pairs.setdefault(name, []).append(name)
    by_term: dict[str, list[str]] = {}
    for name, g in session.result()["groups"].items():
        if g["cell_type_ontology_term_id"]:
            by_term.setdefault(g["cell_type_ontology_term_id"], []).append(name)
    for term_id, groups in by_term.items():
        term = session.ontology.term(term_id)
        for label in (term.label, *term.synonyms):
            if len(label) > 2 and label not in pairs:
                pairs[label] = groups
    return sorted(pairs.items(), key=lambda p: -len(p[0]))


def _find_name(text: str, name: str, start: int = 0) -> re.Match | None:
    """Where ``name`` first occurs from ``start`` as a whole word (plural allowed); short names only in their own case."""
    flags = 0 if len(name) <= 2 else re.IGNORECASE
    return re.compile(rf"(?<![\w+/-]){re.escape(name)}(?:s|es)?(?![\w+/-])", flags).search(text, start)


def _ends_longer_name(text: str, match: re.Match, groups: list[str]) -> bool:
    """Is a matched cell-type label the end of a longer phrase that names groups by their own names?

    "T cells" in "the CD8 T cells" ends "CD8 T" (a group's name), and in "the CD4 T cells" it ends
    "CD4 T" (part of "Naive CD4 T" and "Memory CD4 T"): the longer phrase is what the question names,
    so the label alone ("T cell", some group's annotation) must not take it.
    """
    core = re.sub(r"\s+cells?$", "", match.group(0), flags=re.IGNORECASE)
    before = re.search(rf"((?:[\w+\-/.]+ ){{1,{LONGEST_PHRASE - 1}}})$", text[: match.start()])
    words = before.group(1).split() if before else []
    return any(_find_name(g, " ".join([*words[-n:], core])) is not None for n in range(1, len(words) + 1) for g in groups)


@functools.lru_cache(maxsize=4096)
def _standardised(ontology, phrase: str) -> tuple[str, float] | None:
    result = ontology.standardise(phrase, "CL", k=1)
    return (result.best.id, result.best.score) if result.best is not None else None


def groups_under(session: DatasetSession, term_id: str) -> list[str]:
    """Groups whose verified cell type is ``term_id`` or one of its subtypes."""
    out = []
    for name, g in session.result()["groups"].items():
        annotated = g["cell_type_ontology_term_id"]
        if annotated and (annotated == term_id or term_id in session.ontology.ancestors(annotated)):
            out.append(name)
    return out


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def group_mentions(session: DatasetSession, text: str) -> list[Mention]:
    """Every piece of the text that names groups, in reading order (group names first, then cell types)."""
    mentions: list[Mention] = []
    groups = session.groups
    for match in _GROUP_WORD.finditer(text):
        name = match.group("name").rstrip("?.,")
        exact = [g for g in groups if g.lower() == name.lower()]
        if exact:
            mentions.append(Mention(match.group(0), exact, start=match.start(), end=match.end()))
            text = _blank(text, match.start(), match.end())
    for name, named in _group_names(session):
        if name.isdigit():
            continue  # numbered clusters only as "cluster 3"
        start = 0
        while (match := _find_name(text, name, start)) is not None:
            start = match.end()
            if name not in groups and _ends_longer_name(text, match, groups):
                continue  # a label ending a longer group name: that name (or the phrase reading below) takes the words
            mentions.append(Mention(match.group(0), list(named), start=match.start(), end=match.end()))
            text = _blank(text, match.start(), match.end())
    words = [(m.group(0), m.start(), m.end()) for m in re.finditer(r"[\w+\-/.]+", text)]
    genes = set(session.work.var_names)
    size = min(LONGEST_PHRASE, len(words))
    while size > 0:
        for first in range(len(words) - size + 1):
            chunk = words[first : first + size]
            if any(w[0] == "" for w in chunk):
                continue
            phrase = " ".join(w[0] for w in chunk)
            if (
                chunk[0][0].lower() in _STOP
                or chunk[-1][0].lower() in _STOP
                and not chunk[-1][0].lower().startswith("cell")
                or len(phrase) < 2
                or (size == 1 and phrase in genes)
            ):
                continue
            found = _standardised(session.ontology, phrase)
            threshold = MIN_CELL_PHRASE_SCORE if re.search(r"\bcells?\b", phrase, re.IGNORECASE) else MIN_TERM_SCORE
            if found is None or found[1] < threshold or found[0] == "CL:0000000":
                continue
            core = re.sub(r"\s+cells?$", "", phrase, flags=re.IGNORECASE)
            named = [g for g in groups if len(core) > 2 and _find_name(g, core) is not None]  # "CD4 T" in "Naive CD4 T"
            candidates = list(dict.fromkeys(groups_under(session, found[0]) + named))
            mentions.append(Mention(phrase, candidates, found[0], chunk[0][1], chunk[-1][2]))
            for i in range(first, first + size):
                words[i] = ("", 0, 0)
        size -= 1
    return sorted(mentions, key=lambda m: m.start)


def without_mentions(text: str, mentions: list[Mention]) -> str:
    """The text with every group mention blanked out (so "CD4" in "Naive CD4 T" is not read as a gene)."""
    for mention in mentions:
        text = _blank(text, mention.start, mention.end)
    return text


def resolve_groups(session: DatasetSession, text: str) -> list[str]:
    """The groups a short text (a group name, a cell type) names; the exact group name wins."""
    if text in session.groups:
        return [text]
    mentions = group_mentions(session, text)
    return mentions[0].groups if mentions else []


# --------------------------------------------------------------------------- obs columns and their values
def _column_words(column: str) -> list[str]:
    words = [w for w in re.split(r"[_\W]+", column.lower()) if w and w not in ("id", "ontology", "term")]
    return words or [column.lower()]


def find_columns(session: DatasetSession, text: str) -> list[str]:
    """obs columns the text names ("donor" -> donor_id, "seurat cluster" -> seurat_clusters, "phase"), in reading order."""
    lowered = text.lower()
    found = []
    for column in session.adata.obs.columns:
        words = _column_words(str(column))
        positions = [re.search(rf"\b{re.escape(w.rstrip('s'))}", lowered) for w in words]
        if all(positions) and not str(column).endswith("_ontology_term_id"):
            found.append((min(p.start() for p in positions), -len(words), str(column)))
    columns = [c for _, _, c in sorted(found)]
    return [c for c in columns if not any(c != o and c in o for o in columns)]  # "cell_type" inside "cell_type_ontology..." excluded


def find_levels(session: DatasetSession, text: str) -> list[tuple[str, str]]:
    """(column, value) pairs for values of condition columns the text names ("stimulated", "control", "D1")."""
    found = []
    for column in session.condition_columns():
        for level in session.levels(column).index:
            match = _find_name(text, level) if len(level) > 1 else None
            if match is not None:
                found.append((match.start(), column, level))
    return [(c, v) for _, c, v in sorted(found)]
