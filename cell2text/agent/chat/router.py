"""The embedded chat router: a question -> an intent and its slots -> the answer tool, with no external service.

Intent: MiniLM similarity to example questions, plus a bonus for the intent's keywords, plus the
slots the intent needs: an intent whose required slot the question does not fill (no gene for a
gene question, no Hallmark pathway for a pathway ranking, fewer than two groups for a comparison,
no condition column for a condition comparison) is not chosen. Slots come from the dataset's and
the knowledge's vocabularies (:mod:`cell2text.agent.vocabulary`). A slot that names several
groups ("the T cells" in a dataset with five T-cell groups) gets a short clarifying question,
whose reply then fills it. Questions that tell the assistant to ignore its tools or to say
something are refused: the router only matches text against fixed intents.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cell2text.agent import answers, answers_data, answers_genes, answers_groups
from cell2text.agent.answers import Answer, DatasetSession
from cell2text.agent.condition_graph import answer_condition_changes
from cell2text.agent.vocabulary import (
    Mention,
    embed,
    find_columns,
    find_genes,
    find_levels,
    find_pathways,
    gene_like_words,
    group_mentions,
    without_mentions,
)

MIN_INTENT_SCORE = 0.3
KEYWORD_BONUS = 0.5  # a keyword match outweighs shared words like "NK cells" between intents
SLOT_BONUS = 0.15  # the question fills what the intent needs
MAX_REPLY_WORDS = 6  # a reply this short that names one of the offered groups answers a clarifying question

#: Example questions per intent; the router compares a question with them in MiniLM space.
INTENTS: dict[str, list[str]] = {
    "cell_types": ["what cell types are here?", "which cell types are in this dataset", "list the cell types",
                   "what cells do we have", "annotate the clusters", "what are the groups"],
    "describe_group": ["describe cluster 3", "tell me about group X", "what is in cluster 5", "summarise the B cells",
                       "give me a description of this group", "describe it"],
    "explain": ["why do you call group X regulatory T cells?", "why is cluster 2 labelled NK cells", "what makes you think these are B cells",
                "is group X really a monocyte", "why this annotation", "how sure are you about it"],
    "pathways": ["which pathways are active in the NK cells?", "what pathways are enriched in cluster 3", "active pathways in group X",
                 "pathway activity of the monocytes", "which biological processes are up in it"],
    "markers": ["which markers separate B cells from the rest?", "marker genes of cluster 3", "what genes are up in group X",
                "top genes of the monocytes", "differentially expressed genes of this cluster"],
    "similarity": ["how similar are CD4 and CD8 T cells in the ontology?", "how close is a monocyte to a macrophage",
                   "similarity between B cells and plasma cells", "how related are NK cells and T cells"],
    "define": ["what is a plasmacytoid dendritic cell?", "define monocyte", "what does regulatory T cell mean",
               "tell me what a hepatocyte is", "what is the complement pathway"],
    "evidence": ["show me the evidence for claim CL:0000236", "what is the evidence for the pathways of group X",
                 "how was this verified", "evidence for the claims about cluster 3", "show the evidence for it"],
    "summary": ["how many cells are there", "summarise the dataset", "what is this dataset", "how many genes and groups"],
    "rank_pathway": ["which group shows an interferon response?", "which cluster is most proliferative?",
                     "which group has the highest hypoxia score?", "rank the groups by glycolysis",
                     "where is TNF signalling strongest?", "which condition has the stronger inflammatory response?"],
    "find_cell_type": ["is any group hepatocytes?", "which groups are T cells?", "are there any B cells in this dataset?",
                       "do we have neurons here?", "is there evidence that any cluster is a macrophage?"],
    "gene_expression": ["where is CD8A expressed?", "is FOXP3 expressed in the Tregs?", "which groups express GNLY?",
                        "show a dot plot of MS4A1", "expression of LYZ per group", "is IRF7 higher in stimulated than control?"],
    "compare_groups": ["which genes separate group A from group B?", "differential expression between CD4 T and CD8 T",
                       "what distinguishes the B cells from the dendritic cells?", "genes that differ between cluster 1 and cluster 2"],
    "geneset_genes": ["what genes does the interferon response set contain that are up here?",
                      "which genes of the hypoxia set are up in the B cells?", "which interferon genes are up in the stimulated cells?"],
    "condition_changes": ["what changes between stimulated and control within each cell type?",
                          "what is different between treated and untreated cells in each group?",
                          "effect of the stimulation on the B cells", "compare the conditions within each cluster"],
    "counts": ["how many cells per donor?", "how many cells are in each condition?", "number of cells per cluster",
               "how many cells does each sample have?"],
    "metadata": ["what metadata columns are there?", "which obs columns does the dataset have?", "list the metadata"],
    "uncertain": ["which groups are uncertain and why?", "which annotations are not verified?", "which clusters could not be annotated?"],
    "genes_cell_type": ["what cell type expresses SFTPC, SFTPB and NAPSA?", "which cell type do the markers CD3E, CD4 and IL7R point to?",
                        "what cells express ALB, APOA1 and TTR?", "identify the cell type of MS4A1, CD79A, CD19",
                        "which cell type has these marker genes: KRT5, TP63, KRT15"],
}
KEYWORDS = {
    "pathways": r"\bpathways?\b|\bprocess(es)?\b|\bhallmark",
    "markers": r"\bmarkers?\b|\bgenes?\b.*\b(up|separate|distinguish|express)|\bdifferentially\b",
    "similarity": r"\bsimilar|\bclose (is|are)\b|\bsimilarity\b|\brelated\b|\bdistance\b",
    "evidence": r"\bevidence\b|\bverif|\bproof\b|\bsupport(s|ed)? (the|this|that)\b",
    "explain": r"^\s*why\b|\bwhat makes you\b|\bhow sure\b|\breally an?\b|\breasoning\b",
    "define": r"^\s*(what is|what's|what are|define|definition of|meaning of)\s+(an?|the)\s+(?!cells?\b)|^\s*define\b|\bwhat does .+ mean",
    "cell_types": r"\b(which|what) cell ?types\b|\blist (the|all) (cell ?types|groups)\b",
    "describe_group": r"^\s*(describe|tell me about|summari[sz]e)\b(?!.*\bdataset\b)",
    "summary": r"\bhow many (cells|genes|groups)\b(?!.*\b(per|each|every|by)\b)|\b(this|the) dataset\b",
    "rank_pathway": r"\b(highest|strongest|lowest|weakest|most|least|rank)\b|\bwhich (groups?|clusters?|conditions?|cell types?)\b.*\b(shows?|has|have)\b",
    "find_cell_type": r"\b(any|which|what) (groups?|clusters?)\s+(is|are)\b|\bis (there )?any (group|cluster)\b|\bare there (any )?\w"
                      r"|\bdo we have\b|\bany\b.*\bhere\b|\bis any\b|\bare any\b",
    "gene_expression": r"\bexpress(ed|ion|es)?\b|\bdot ?plot\b|\bviolin\b|\bdetected\b|\b(up|down|higher|lower|increased|decreased)\b",
    "compare_groups": r"\bseparat|\bdistinguish|\bdiffer|\bbetween\b|\bversus\b|\bvs\.?\b|\bcompare",
    "geneset_genes": r"\bgenes? (of|from|in) the\b|\bset\b|\bmembers\b|\bcontain",
    "condition_changes": r"\bstimulat|\btreat|\bcondition|\bchanges?\b|\bdifferent between\b|\beffect of\b",
    "counts": r"\bhow many cells\b.*\b(per|each|every|by)\b|\bcells per\b|\bnumber of cells\b|\bcells does each\b",
    "metadata": r"\bmetadata\b|\bobs columns?\b|\bcolumns?\b",
    "genes_cell_type": r"\b(what|which) (kind of )?(cell ?types?|cells?)\b.*\b(express|mark|point|ha(s|ve))|\bidentify\b|\bthese (marker )?genes\b",
    "uncertain": r"\buncertain|\bunverified|\bunsure|\bnot (verified|supported)|\blow confidence|\bcould not be annotated",
}
#: Words an intent cannot do without (beyond its slots).
NEEDS_WORDS = {"counts": r"\bhow many\b|\bnumber of\b|\bcount|\bcells per\b|\bsizes?\b",
               "find_cell_type": r"\b(any|which|what)\b|\bare there\b|\bdo we have\b|\bis there\b|\bevidence\b"}
INJECTION = re.compile(r"\b(ignore|disregard|forget|override)\b.{0,40}\b(tools?|instructions?|data|rules|prompt|above|previous|everything)\b"
                       r"|\b(pretend|act as|you are now|from now on)\b|^\s*(just\s+)?(say|reply|respond|answer)\s+(that|with)\b", re.IGNORECASE)
_FOLLOW_UP = re.compile(r"\b(it|its|that (cluster|group|one)|this (cluster|group|one)|them|those cells|these cells|there)\b", re.IGNORECASE)
_GROUP_WORD = re.compile(r"\b(?:cluster|group|leiden|louvain)\s*#?\s*(?P<name>[\w+/.-]+)", re.IGNORECASE)
_SIMILAR = re.compile(r"(?:between|are|is|of)\s+(?:an?\s+|the\s+)?(?P<a>.+?)\s+(?:and|to|vs\.?|versus|with)\s+(?:an?\s+|the\s+)?(?P<b>.+?)"
                      r"(?:\s+in the (?:cell )?ontology|\s+in cl)?\s*(?:[:?].*)?$", re.IGNORECASE)
_DEFINE = re.compile(r"(?:what is|what's|what are|what does|define|definition of|meaning of|tell me what)\s+(?:an?\s+|the\s+)?(?P<term>.+?)"
                     r"(?:\s+is|\s+mean|\s+means)?\s*\??$", re.IGNORECASE)
_CALLED = re.compile(r"\b(?:call|called|label(?:l?ed|l?ing)?|annotate[ds]?|think (?:these|they|it) (?:are|is)|really)\s+(?:it\s+|them\s+|this\s+|these\s+)?"
                     r"(?:as\s+)?(?:an?\s+)?(?P<type>[^?]+)", re.IGNORECASE)
_CLAIM = re.compile(r"\bclaims?\s+(?:about\s+|that\s+)?(?P<claim>[^?]+)", re.IGNORECASE)
_GROUP_INTENTS = {"describe_group", "explain", "pathways", "markers", "evidence"}  # about one group


@dataclass
class Slots:
    """What a question names, read once and shared by every intent's requirements."""

    mentions: list[Mention]
    genes: list[str]
    pathways: list[str]
    columns: list[str]
    levels: list[tuple[str, str]]
    conditions: list[str] = field(default_factory=list)  # the dataset's condition columns
    symbols: list[str] = field(default_factory=list)  # every gene the question names, measured here or not, in order


def read_slots(session: DatasetSession, question: str) -> Slots:
    """Everything the question names from the dataset's vocabularies."""
    mentions = group_mentions(session, question)
    rest = without_mentions(question, mentions)
    measured, written = find_genes(session, rest), gene_like_words(rest)
    symbols = sorted(set(measured) | set(written), key=lambda g: rest.upper().find(g.upper()))  # in the order written
    return Slots(mentions, measured or written, find_pathways(question), find_columns(session, question), find_levels(session, question),
                 session.condition_columns(), symbols)


def _fills(intent: str, slots: Slots, question: str) -> bool | None:
    """Does the question fill what the intent needs (and nothing that makes it another question)?

    None: the intent needs nothing in particular. A question naming one gene is about that gene,
    not about every gene that changes; one naming the ontology is about terms, not the data's groups.
    """
    if intent == "condition_changes" and slots.genes or intent == "compare_groups" and re.search(r"\bontology\b", question, re.IGNORECASE):
        return False
    if intent in ("rank_pathway", "geneset_genes"):
        return bool(slots.pathways)
    if intent == "gene_expression":
        return bool(slots.genes)
    if intent == "genes_cell_type":  # a list of genes and no group: knowledge, not this dataset's groups
        return len(slots.symbols) >= 2 and not any(m.groups for m in slots.mentions)
    if intent == "compare_groups":
        return len(slots.mentions) >= 2
    if intent == "condition_changes":
        return bool(slots.conditions)
    if intent == "find_cell_type" and not slots.mentions:
        return False
    if intent in NEEDS_WORDS:
        return re.search(NEEDS_WORDS[intent], question, re.IGNORECASE) is not None
    return None


@functools.cache
def _intent_vectors() -> tuple[list[str], np.ndarray]:
    from cell2text.kb.embeddings import embedding_function

    names = [name for name, examples in INTENTS.items() for _ in examples]
    vectors = np.asarray(embedding_function()([e for examples in INTENTS.values() for e in examples]), dtype=np.float32)
    return names, vectors


def classify(question: str, slots: Slots | None = None) -> tuple[str, float]:
    """The intent of a question and its score: best MiniLM cosine to the examples, plus keyword and slot bonuses.

    An intent whose required slot is empty scores nothing.
    """
    names, vectors = _intent_vectors()
    similarity = vectors @ embed(question)
    scores = {name: float(similarity[[i for i, n in enumerate(names) if n == name]].max()) for name in INTENTS}
    for name, pattern in KEYWORDS.items():
        if re.search(pattern, question, re.IGNORECASE):
            scores[name] += KEYWORD_BONUS
    if slots is not None:
        for name in INTENTS:
            fills = _fills(name, slots, question)
            if fills is not None:
                scores[name] = scores[name] + SLOT_BONUS if fills else -1.0
    best = max(scores, key=scores.get)
    return best, scores[best]


# --------------------------------------------------------------------------- slots of each intent
def _expand_pair(a: str, b: str) -> tuple[str, str]:
    """"CD4" and "CD8 T cells" -> "CD4 T cells", "CD8 T cells": the first borrows the second's head noun."""
    a, b = a.strip(" ?.,"), b.strip(" ?.,")
    if "cell" not in a.lower() and "cell" in b.lower() and len(b.split()) > 1:
        a = f"{a} {' '.join(b.split()[1:])}"
    return a, b


def _condition(session: DatasetSession, slots: Slots) -> tuple[str | None, str | None, str | None]:
    """(column, level, reference) the question names: its levels, the control-like one as reference."""
    column = next((c for c, _ in slots.levels), None) or next((c for c in slots.columns if c in slots.conditions), None)
    named = [v for c, v in slots.levels if c == column]
    if not named:
        return column, None, None
    reference = answers_genes.reference_level(session, column)
    level = next((v for v in named if v != reference), None)
    return column, level, reference if (reference in named or level is not None) else None


def _by(session: DatasetSession, slots: Slots, question: str) -> str | None:
    """The obs column a ranking or an expression question is about, when it is not the groups."""
    column, _, _ = _condition(session, slots)
    if column is not None:
        return column
    if re.search(r"\b(conditions?|donors?|samples?)\b", question, re.IGNORECASE) and slots.conditions:
        return next((c for c in slots.conditions if re.search(c.split("_")[0][:5], question, re.IGNORECASE)), slots.conditions[0])
    return None


def _single(mention: Mention | None) -> str | None:
    return mention.groups[0] if mention is not None and len(mention.groups) == 1 else None


@dataclass
class Routed:
    """A routed question: the intent, its slots, and a mention that needs clarifying (several groups), if any."""

    intent: str
    slots: dict[str, Any]
    unclear: Mention | None = None
    unclear_slot: str = "group"


def understand_question(session: DatasetSession, question: str, last_group: str | None) -> Routed:
    """Intent and slots of a question; pronouns fall back to the last group discussed."""
    if INJECTION.search(question):
        return Routed("injection", {})
    slots = read_slots(session, question)
    if slots.mentions and not re.sub(r"[\W_]|\b(the|cells?|group|cluster|please)\b", "", without_mentions(question, slots.mentions[:1]),
                                     flags=re.IGNORECASE):
        intent, score = "describe_group", 1.0  # just a group's name: describe it
    else:
        intent, score = classify(question, slots)
    if score < MIN_INTENT_SCORE:
        return Routed("cannot_tell", {})
    first = next((m for m in slots.mentions if m.groups), slots.mentions[0] if slots.mentions else None)  # a mention with groups first
    if intent == "similarity":
        match = _SIMILAR.search(question)
        if not match:
            return Routed("cannot_tell", {})
        return Routed(intent, dict(zip(("first", "second"), _expand_pair(match.group("a"), match.group("b")))))
    if intent == "define":
        match = _DEFINE.search(question)
        return Routed(intent, {"term": match.group("term").strip(" ?.")}) if match else Routed("cannot_tell", {})
    if intent in ("cell_types", "summary", "metadata", "uncertain"):
        return Routed(intent, {})
    if intent == "counts":
        return Routed(intent, {"columns": slots.columns[:2] or None})
    if intent == "genes_cell_type":
        return Routed(intent, {"genes": slots.symbols})
    if intent == "find_cell_type":
        return Routed(intent, {"cell_type": first.text})
    if intent == "rank_pathway":
        return Routed(intent, {"pathway": question, "by": _by(session, slots, question)})
    if intent == "compare_groups":
        a, b = sorted(sorted(slots.mentions, key=lambda m: not m.groups)[:2], key=lambda m: m.start)  # groups before bare terms
        unclear = next(((m, s) for m, s in ((a, "first"), (b, "second")) if len(m.groups) > 1), (None, ""))
        return Routed(intent, {"first": _single(a) or a.text, "second": _single(b) or b.text}, *unclear)
    column, level, reference = _condition(session, slots)
    group = _single(first)
    if group is None and last_group in session.groups and _FOLLOW_UP.search(question):
        group = last_group
    unclear = first if first is not None and len(first.groups) > 1 else None
    if intent == "gene_expression":
        by = _by(session, slots, question) if first is None else None
        return Routed(intent, {"gene": slots.genes[0], "group": group or (first.text if first else None), "by": by}, unclear)
    if intent == "geneset_genes":
        return Routed(intent, {"pathway": question, "group": group, "level": level if group is None else None,
                               "by": column if group is None else None}, unclear)
    if intent == "condition_changes":
        return Routed(intent, {"column": column, "level": level, "reference": reference, "group": group}, unclear)
    return _group_question(session, question, intent, slots, group, last_group, unclear)


def _group_question(session: DatasetSession, question: str, intent: str, slots: Slots, group: str | None,
                    last_group: str | None, unclear: Mention | None) -> Routed:
    """Slots of the intents about one group (describe, explain, pathways, markers, evidence)."""
    if group is None and intent == "evidence":
        claim = _CLAIM.search(question)
        wanted = claim.group("claim").strip() if claim else ""
        group = next((n for n, g in session.result()["groups"].items() if any(c["id"] and c["id"] in wanted for c in g["claims"])), None)
    if group is None and unclear is None and last_group in session.groups and intent in ("explain", "evidence"):
        group = last_group
    values: dict[str, Any] = {"group": group}
    if intent == "explain":
        rest = question
        if group is not None:
            rest = re.sub(re.escape(group), " ", rest, flags=re.IGNORECASE)
            rest = re.sub(r"\b(?:the|group|cluster)\b", " ", rest, flags=re.IGNORECASE)
        called = _CALLED.search(rest)
        values["cell_type"] = called.group("type").strip(" ?.") if called else None
    if intent == "evidence":
        claim = _CLAIM.search(question)
        values["claim"] = claim.group("claim").strip(" ?.") if claim else None
    return Routed(intent, values, unclear if group is None else None)


# --------------------------------------------------------------------------- answering
def clarify(session: DatasetSession, mention: Mention, intent: str) -> Answer:
    """A short question back: which of the groups a mention could mean."""
    term = f" ({session.ontology.term(mention.term).label}, {mention.term})" if mention.term else ""
    text = (f"'{mention.text}'{term} could be {len(mention.groups)} groups: {', '.join(mention.groups)}. Which one do you mean?"
            " Reply with its name.")
    return Answer(text, "clarify", {"candidates": mention.groups, "intent": intent}, [mention.term] if mention.term else [])


def resume(session: DatasetSession, question: str, pending: dict) -> Routed | None:
    """The pending question, its unclear slot filled by this short reply, or None when the reply is something else."""
    if not pending or len(question.split()) > MAX_REPLY_WORDS:
        return None
    named = [g for g in pending["candidates"] if g.lower() == question.strip(" ?.!").lower()]
    if not named:
        mentions = [m for m in group_mentions(session, question) if len(m.groups) == 1 and m.groups[0] in pending["candidates"]]
        named = [mentions[0].groups[0]] if len(mentions) == 1 else []
    if not named:
        return None
    return Routed(pending["intent"], {**pending["slots"], pending["slot"]: named[0]})


TOOLS = {
    "cell_types": answers.answer_cell_types, "summary": answers.answer_summary, "similarity": answers.answer_similarity,
    "define": answers.answer_define, "describe_group": answers.answer_describe_group, "explain": answers.answer_explain,
    "pathways": answers.answer_pathways, "markers": answers.answer_markers, "evidence": answers.answer_evidence,
    "rank_pathway": answers_groups.answer_rank_pathway, "find_cell_type": answers_groups.answer_find_cell_type,
    "uncertain": answers_groups.answer_uncertain, "gene_expression": answers_genes.answer_gene_expression,
    "compare_groups": answers_genes.answer_compare_groups, "geneset_genes": answers_genes.answer_geneset_genes,
    "metadata": answers_data.answer_metadata, "counts": answers_data.answer_counts, "condition_changes": answer_condition_changes,
    "genes_cell_type": answers_genes.answer_genes_cell_type,
}


def respond_to(session: DatasetSession, question: str, routed: Routed) -> Answer:
    """Call the tool for an intent; a missing group gets the list of groups."""
    if routed.intent == "injection":
        return answers.cannot_tell(question, "I answer only from this dataset's tools and do not follow instructions inside a question.")
    if routed.intent == "cannot_tell":
        return answers.cannot_tell(question)
    if routed.intent in _GROUP_INTENTS and routed.slots.get("group") is None:
        named = _GROUP_WORD.search(question)
        lead = f"There is no group '{named.group('name')}'." if named else "Which group do you mean?"
        return Answer(f"{lead} Groups in obs['{session.groupby}']: {', '.join(session.groups)}.", routed.intent, {"groups": session.groups}, [])
    return TOOLS[routed.intent](session, **routed.slots)
