"""One record per kind of question the chat answers: how to recognise it, what it needs, its slots, its answer.

The router (:mod:`cell2text.agent.chat.router`) reads these records and nothing else about an
intent: it scores a question against every record's ``examples`` (MiniLM similarity) and
``keywords``, keeps only records whose ``needs`` the question meets, fills the winner's slots with
its ``slots`` function and calls its ``answer`` function. An external chat model gets every
record's answer function as a tool, and a question no record covers is told what the records can
answer (their ``can``). Adding a kind of question is adding one record and its answer function.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from cell2text.agent.chat import about_group, across_groups, dataset, genes, terms
from cell2text.agent.chat.conditions import answer_condition_changes
from cell2text.agent.chat.question import Filled, Question
from cell2text.agent.chat.session import Answer

_SIMILAR = re.compile(
    r"(?:between|are|is|of)\s+(?:an?\s+|the\s+)?(?P<a>.+?)\s+(?:and|to|vs\.?|versus|with)\s+(?:an?\s+|the\s+)?(?P<b>.+?)"
    r"(?:\s+in the (?:cell )?ontology|\s+in cl)?\s*(?:[:?].*)?$",
    re.IGNORECASE,
)
_DEFINE = re.compile(
    r"(?:what is|what's|what are|what does|define|definition of|meaning of|tell me what)\s+(?:an?\s+|the\s+)?(?P<term>.+?)"
    r"(?:\s+is|\s+mean|\s+means)?\s*\??$",
    re.IGNORECASE,
)
_CALLED = re.compile(
    r"\b(?:call|called|label(?:l?ed|l?ing)?|annotate[ds]?|think (?:these|they|it) (?:are|is)|really)\s+"
    r"(?:it\s+|them\s+|this\s+|these\s+)?"
    r"(?:as\s+)?(?:an?\s+)?(?P<type>[^?]+)",
    re.IGNORECASE,
)
_CLAIM = re.compile(r"\bclaims?\s+(?:about\s+|that\s+)?(?P<claim>[^?]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Intent:
    """One kind of question: how the router recognises it, what it needs, how its slots are filled, and who answers."""

    name: str  # the answer's tool name (Answer.tool) and the external model's tool name
    answer: Callable[..., Answer]  # answer(session, **slots); its docstring's first paragraph describes the tool
    can: str  # what it answers, in the list a refusal offers instead
    examples: tuple[str, ...]  # example questions: a question is compared with them in MiniLM space
    keywords: str = ""  # a regular expression whose match adds the router's keyword bonus
    needs: Callable[[Question], bool] | None = None  # what the question must name for this intent (None: nothing in particular)
    slots: Callable[[Question], Filled | None] = lambda q: Filled({})  # the answer's arguments; None: the question is malformed
    about_group: bool = False  # answers about one group: a question naming none gets the list of groups


# --------------------------------------------------------------------------- slot functions
def _about(q: Question, group: str | None, **values) -> Filled:
    """Slots of an answer about one group; a mention naming several groups is unclear only while no group is known."""
    return Filled({"group": group, **values}, q.unclear if group is None else None)


def _group_or_last(q: Question) -> str | None:
    """The group named, else (no ambiguous mention either) the group last discussed: "why?" after "describe X"."""
    if q.group is not None or q.unclear is not None:
        return q.group
    return q.last_group if q.last_group in q.session.groups else None


def _explain(q: Question) -> Filled:
    group = _group_or_last(q)
    rest = q.text
    if group is not None:
        rest = re.sub(re.escape(group), " ", rest, flags=re.IGNORECASE)
        rest = re.sub(r"\b(?:the|group|cluster)\b", " ", rest, flags=re.IGNORECASE)
    called = _CALLED.search(rest)
    return _about(q, group, cell_type=called.group("type").strip(" ?.") if called else None)


def _evidence(q: Question) -> Filled:
    claim = _CLAIM.search(q.text)
    wanted = claim.group("claim").strip() if claim else ""
    group = q.group
    if group is None:  # the group whose claims cite the id named
        group = next((n for n, g in q.session.result()["groups"].items() if any(c["id"] and c["id"] in wanted for c in g["claims"])), None)
    return _about(q, group or _group_or_last(q), claim=wanted.strip(" ?.") or None)


def _expand_pair(a: str, b: str) -> tuple[str, str]:
    """ "CD4" and "CD8 T cells" -> "CD4 T cells", "CD8 T cells": the first borrows the second's head noun."""
    a, b = a.strip(" ?.,"), b.strip(" ?.,")
    if "cell" not in a.lower() and "cell" in b.lower() and len(b.split()) > 1:
        a = f"{a} {' '.join(b.split()[1:])}"
    return a, b


def _similarity(q: Question) -> Filled | None:
    match = _SIMILAR.search(q.text)
    return Filled(dict(zip(("first", "second"), _expand_pair(match.group("a"), match.group("b"))))) if match else None


def _define(q: Question) -> Filled | None:
    match = _DEFINE.search(q.text)
    return Filled({"term": match.group("term").strip(" ?.")}) if match else None


def _compare_groups(q: Question) -> Filled:
    mentions = sorted(sorted(q.slots.mentions, key=lambda m: not m.groups)[:2], key=lambda m: m.start)  # groups before bare terms
    names = [m.groups[0] if len(m.groups) == 1 else m.text for m in mentions]
    unclear = next(((m, slot) for m, slot in zip(mentions, ("first", "second")) if len(m.groups) > 1), (None, "group"))
    return Filled({"first": names[0], "second": names[1]}, *unclear)


def _gene_expression(q: Question) -> Filled:
    first = q.first
    return Filled({"gene": q.slots.genes[0], "group": q.group or (first.text if first else None), "by": q.by() if first is None else None}, q.unclear)


def _geneset_genes(q: Question) -> Filled:
    column, level, _ = q.condition
    return Filled(
        {"pathway": q.text, "group": q.group, "level": level if q.group is None else None, "by": column if q.group is None else None}, q.unclear
    )


def _condition_changes(q: Question) -> Filled:
    column, level, reference = q.condition
    return Filled({"column": column, "level": level, "reference": reference, "group": q.group}, q.unclear)


# --------------------------------------------------------------------------- the records, in the router's tie order
INTENTS: tuple[Intent, ...] = (
    Intent(
        "cell_types",
        across_groups.answer_cell_types,
        "which cell types are here",
        (
            "what cell types are here?",
            "which cell types are in this dataset",
            "list the cell types",
            "what cells do we have",
            "annotate the clusters",
            "what are the groups",
        ),
        keywords=r"\b(which|what) cell ?types\b|\blist (the|all) (cell ?types|groups)\b",
    ),
    Intent(
        "describe_group",
        about_group.answer_describe_group,
        "describe a group",
        (
            "describe cluster 3",
            "tell me about group X",
            "what is in cluster 5",
            "summarise the B cells",
            "give me a description of this group",
            "describe it",
        ),
        keywords=r"^\s*(describe|tell me about|summari[sz]e)\b(?!.*\bdataset\b)",
        slots=lambda q: _about(q, q.group),
        about_group=True,
    ),
    Intent(
        "explain",
        about_group.answer_explain,
        "why a group is called a cell type",
        (
            "why do you call group X regulatory T cells?",
            "why is cluster 2 labelled NK cells",
            "what makes you think these are B cells",
            "is group X really a monocyte",
            "why this annotation",
            "how sure are you about it",
        ),
        keywords=r"^\s*why\b|\bwhat makes you\b|\bhow sure\b|\breally an?\b|\breasoning\b",
        slots=_explain,
        about_group=True,
    ),
    Intent(
        "pathways",
        about_group.answer_pathways,
        "a group's active pathways",
        (
            "which pathways are active in the NK cells?",
            "what pathways are enriched in cluster 3",
            "active pathways in group X",
            "pathway activity of the monocytes",
            "which biological processes are up in it",
        ),
        keywords=r"\bpathways?\b|\bprocess(es)?\b|\bhallmark",
        slots=lambda q: _about(q, q.group),
        about_group=True,
    ),
    Intent(
        "markers",
        about_group.answer_markers,
        "a group's marker genes",
        (
            "which markers separate B cells from the rest?",
            "marker genes of cluster 3",
            "what genes are up in group X",
            "top genes of the monocytes",
            "differentially expressed genes of this cluster",
        ),
        keywords=r"\bmarkers?\b|\bgenes?\b.*\b(up|separate|distinguish|express)|\bdifferentially\b",
        slots=lambda q: _about(q, q.group),
        about_group=True,
    ),
    Intent(
        "similarity",
        terms.answer_similarity,
        "how similar two cell types are in the Cell Ontology",
        (
            "how similar are CD4 and CD8 T cells in the ontology?",
            "how close is a monocyte to a macrophage",
            "similarity between B cells and plasma cells",
            "how related are NK cells and T cells",
        ),
        keywords=r"\bsimilar|\bclose (is|are)\b|\bsimilarity\b|\brelated\b|\bdistance\b",
        slots=_similarity,
    ),
    Intent(
        "define",
        terms.answer_define,
        "what a term means",
        (
            "what is a plasmacytoid dendritic cell?",
            "define monocyte",
            "what does regulatory T cell mean",
            "tell me what a hepatocyte is",
            "what is the complement pathway",
        ),
        keywords=r"^\s*(what is|what's|what are|define|definition of|meaning of)\s+(an?|the)\s+(?!cells?\b)|^\s*define\b|\bwhat does .+ mean",
        slots=_define,
    ),
    Intent(
        "evidence",
        about_group.answer_evidence,
        "the evidence for a claim",
        (
            "show me the evidence for claim CL:0000236",
            "what is the evidence for the pathways of group X",
            "how was this verified",
            "evidence for the claims about cluster 3",
            "show the evidence for it",
        ),
        keywords=r"\bevidence\b|\bverif|\bproof\b|\bsupport(s|ed)? (the|this|that)\b",
        slots=_evidence,
        about_group=True,
    ),
    Intent(
        "summary",
        dataset.answer_summary,
        "what the dataset is",
        ("how many cells are there", "summarise the dataset", "what is this dataset", "how many genes and groups"),
        keywords=r"\bhow many (cells|genes|groups)\b(?!.*\b(per|each|every|by)\b)|\b(this|the) dataset\b",
    ),
    Intent(
        "rank_pathway",
        across_groups.answer_rank_pathway,
        "which group has the highest score of a Hallmark pathway",
        (
            "which group shows an interferon response?",
            "which cluster is most proliferative?",
            "which group has the highest hypoxia score?",
            "rank the groups by glycolysis",
            "where is TNF signalling strongest?",
            "which condition has the stronger inflammatory response?",
        ),
        keywords=r"\b(highest|strongest|lowest|weakest|most|least|rank)\b"
        r"|\bwhich (groups?|clusters?|conditions?|cell types?)\b.*\b(shows?|has|have)\b",
        needs=lambda q: bool(q.slots.pathways),
        slots=lambda q: Filled({"pathway": q.text, "by": q.by()}),
    ),
    Intent(
        "find_cell_type",
        across_groups.answer_find_cell_type,
        "which groups are a given type (e.g. 'which groups are T cells?')",
        (
            "is any group hepatocytes?",
            "which groups are T cells?",
            "are there any B cells in this dataset?",
            "do we have neurons here?",
            "is there evidence that any cluster is a macrophage?",
        ),
        keywords=r"\b(any|which|what) (groups?|clusters?)\s+(is|are)\b|\bis (there )?any (group|cluster)\b|\bare there (any )?\w"
        r"|\bdo we have\b|\bany\b.*\bhere\b|\bis any\b|\bare any\b",
        needs=lambda q: bool(q.slots.mentions) and q.says(r"\b(any|which|what)\b|\bare there\b|\bdo we have\b|\bis there\b|\bevidence\b"),
        slots=lambda q: Filled({"cell_type": q.first.text}),
    ),
    Intent(
        "gene_expression",
        genes.answer_gene_expression,
        "where a gene is expressed",
        (
            "where is CD8A expressed?",
            "is FOXP3 expressed in the Tregs?",
            "which groups express GNLY?",
            "show a dot plot of MS4A1",
            "expression of LYZ per group",
            "is IRF7 higher in stimulated than control?",
        ),
        keywords=r"\bexpress(ed|ion|es)?\b|\bdot ?plot\b|\bviolin\b|\bdetected\b|\b(up|down|higher|lower|increased|decreased)\b",
        needs=lambda q: len(q.slots.genes) == 1,  # one gene; several are a panel
        slots=_gene_expression,
    ),
    Intent(
        "gene_panel",
        genes.answer_gene_panel,
        "a list of genes across the groups (a dot plot)",
        (
            "show CD3E, MS4A1, CD14 and PPBP across the groups",
            "dot plot of CD3E, LYZ and GNLY",
            "plot these genes per cluster: CD8A, CD4, FOXP3",
            "how are MS4A1, CD79A and CD19 expressed across the groups?",
            "expression of NKG7, GNLY and PRF1 in each cluster",
        ),
        keywords=r"\bacross\b|\bdot ?plot\b|\b(per|each|every|all( the)?) (groups?|clusters?|cell types?)\b|\bpanel\b",
        needs=lambda q: len(q.slots.genes) >= 2,
        slots=lambda q: Filled({"genes": q.slots.symbols}),  # every gene named: the answer says which are not measured
    ),
    Intent(
        "compare_groups",
        genes.answer_compare_groups,
        "the genes separating two groups",
        (
            "which genes separate group A from group B?",
            "differential expression between CD4 T and CD8 T",
            "what distinguishes the B cells from the dendritic cells?",
            "genes that differ between cluster 1 and cluster 2",
        ),
        keywords=r"\bseparat|\bdistinguish|\bdiffer|\bbetween\b|\bversus\b|\bvs\.?\b|\bcompare",
        needs=lambda q: len(q.slots.mentions) >= 2 and not q.says(r"\bontology\b"),  # the ontology's terms are a similarity question
        slots=_compare_groups,
    ),
    Intent(
        "geneset_genes",
        genes.answer_geneset_genes,
        "the genes of a gene set that are up",
        (
            "what genes does the interferon response set contain that are up here?",
            "which genes of the hypoxia set are up in the B cells?",
            "which interferon genes are up in the stimulated cells?",
        ),
        keywords=r"\bgenes? (of|from|in) the\b|\bset\b|\bmembers\b|\bcontain",
        needs=lambda q: bool(q.slots.pathways),
        slots=_geneset_genes,
    ),
    Intent(
        "condition_changes",
        answer_condition_changes,
        "what changes between two levels of a condition within each group",
        (
            "what changes between stimulated and control within each cell type?",
            "what is different between treated and untreated cells in each group?",
            "effect of the stimulation on the B cells",
            "compare the conditions within each cluster",
        ),
        keywords=r"\bstimulat|\btreat|\bcondition|\bchanges?\b|\bdifferent between\b|\beffect of\b",
        needs=lambda q: bool(q.slots.conditions) and not q.slots.genes,  # one gene named: where that gene changes
        slots=_condition_changes,
    ),
    Intent(
        "counts",
        dataset.answer_counts,
        "cells per metadata value",
        (
            "how many cells per donor?",
            "how many cells are in each condition?",
            "number of cells per cluster",
            "how many cells does each sample have?",
        ),
        keywords=r"\bhow many cells\b.*\b(per|each|every|by)\b|\bcells per\b|\bnumber of cells\b|\bcells does each\b",
        needs=lambda q: q.says(r"\bhow many\b|\bnumber of\b|\bcount|\bcells per\b|\bsizes?\b"),
        slots=lambda q: Filled({"columns": q.slots.columns[:2] or None}),
    ),
    Intent(
        "metadata",
        dataset.answer_metadata,
        "the metadata columns",
        ("what metadata columns are there?", "which obs columns does the dataset have?", "list the metadata"),
        keywords=r"\bmetadata\b|\bobs columns?\b|\bcolumns?\b",
    ),
    Intent(
        "uncertain",
        across_groups.answer_uncertain,
        "which groups are uncertain",
        ("which groups are uncertain and why?", "which annotations are not verified?", "which clusters could not be annotated?"),
        keywords=r"\buncertain|\bunverified|\bunsure|\bnot (verified|supported)|\blow confidence|\bcould not be annotated",
    ),
    Intent(
        "genes_cell_type",
        genes.answer_genes_cell_type,
        "which cell type a list of marker genes points to",
        (
            "what cell type expresses SFTPC, SFTPB and NAPSA?",
            "which cell type do the markers CD3E, CD4 and IL7R point to?",
            "what cells express ALB, APOA1 and TTR?",
            "identify the cell type of MS4A1, CD79A, CD19",
            "which cell type has these marker genes: KRT5, TP63, KRT15",
        ),
        keywords=r"\b(what|which) (kind of )?(cell ?types?|cells?)\b.*\b(express|mark|point|ha(s|ve))|\bidentify\b|\bthese (marker )?genes\b",
        needs=lambda q: len(q.slots.symbols) >= 2 and not any(m.groups for m in q.slots.mentions),  # knowledge, not this dataset's groups
        slots=lambda q: Filled({"genes": q.slots.symbols}),
    ),
)
BY_NAME: dict[str, Intent] = {intent.name: intent for intent in INTENTS}
