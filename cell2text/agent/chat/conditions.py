"""What changes between two levels of a condition within each group: a small LangGraph graph.

START -> choose_levels -> count_cells -> test_genes -> test_pathways -> summarise -> END; a
comparison that cannot be made (no condition column, an unknown level) or has no group with
enough cells in both levels goes straight to ``summarise``, which says why.

* ``choose_levels``: the column (a condition/sample/donor column of obs) and the two levels: the
  ones the question names, else the column's non-control level against its control-like one;
* ``count_cells``: cells per group and level; a group with fewer than ``min_cells`` in a level is
  refused with that reason (differential expression on a handful of cells is noise);
* ``test_genes``: per group, Wilcoxon of the level against the reference (scanpy, BH);
* ``test_pathways``: per group, the per-cell Hallmark scores of the level against the reference
  (Mann-Whitney U, AUROC, BH over the gene sets);
* ``summarise``: the answer, with the cells per level and the test behind every number.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from cell2text.agent.chat.genes import (
    compare_cells,
    log_fold,
    one_group,
    p_value,
    reference_level,
    split_changes,
)
from cell2text.agent.chat.session import Answer, DatasetSession
from cell2text.errors import InputError
from cell2text.knowledge.genesets import pathway_title
from cell2text.tools.evidence import auroc_test, fdr

MIN_CELLS_PER_LEVEL = 10
N_GENES = 5
N_PATHWAYS = 3


@dataclass
class ComparisonState:
    """One comparison of two levels of an obs column within groups."""

    column: str | None = None  # the condition column (None: the first condition column of the dataset)
    level: str | None = None  # the level compared, e.g. "stimulated"
    reference: str | None = None  # the level it is compared against, e.g. "control"
    groups: list[str] = field(default_factory=list)  # the groups to compare within (empty: all)
    counts: dict = field(default_factory=dict)  # group -> {level: cells, reference: cells}
    refused: dict = field(default_factory=dict)  # group -> why it was not tested
    genes: dict = field(default_factory=dict)  # group -> {"up": rows, "down": rows}
    pathways: dict = field(default_factory=dict)  # group -> rows of shifted gene sets
    problem: str = ""  # why no comparison could be made
    answer: dict = field(default_factory=dict)  # the final Answer as a dict


@dataclass(kw_only=True)
class ComparisonContext:
    """Run-time context of the comparison graph."""

    session: DatasetSession  # the dataset
    min_cells: int = MIN_CELLS_PER_LEVEL  # cells each level needs within a group


def choose_levels(state: ComparisonState, runtime: Runtime[ComparisonContext]) -> dict:
    """The column and the two levels to compare; a problem when the dataset or the question gives none."""
    session = runtime.context.session
    columns = session.condition_columns()
    column = state.column or next((c for c in columns if state.level in session.levels(c).index), columns[0] if columns else None)
    if column is None or column not in session.adata.obs.columns:
        shown = ", ".join(map(str, session.adata.obs.columns))
        return {"problem": f"This dataset has no condition, sample or donor column to compare (obs columns: {shown})."}
    levels = list(session.levels(column).index)
    for wanted in (state.level, state.reference):
        if wanted is not None and wanted not in levels:
            return {"problem": f"obs['{column}'] has no level '{wanted}'. Levels: {', '.join(levels)}."}
    level = state.level or next((v for v in levels if v != reference_level(session, column)), None)
    reference = state.reference or reference_level(session, column, level)
    if level is None or level == reference:
        return {"problem": f"obs['{column}'] has one level only ({', '.join(levels)}): nothing to compare."}
    try:
        groups = [one_group(session, g) for g in state.groups] or session.groups
    except InputError as exc:
        return {"problem": str(exc)[0].upper() + str(exc)[1:]}
    return {"column": column, "level": level, "reference": reference, "groups": groups}


def levels_chosen(state: ComparisonState) -> Literal["count_cells", "summarise"]:
    """Count cells once the column and levels are known; otherwise say why there is no comparison."""
    return "summarise" if state.problem else "count_cells"


def count_cells(state: ComparisonState, runtime: Runtime[ComparisonContext]) -> dict:
    """Cells per group and level; groups short of ``min_cells`` in a level are refused."""
    obs = runtime.context.session.work.obs
    counts, refused = {}, {}
    for group in state.groups:
        inside = obs[obs[runtime.context.session.groupby].astype(str) == group][state.column].astype(str)
        counts[group] = {state.reference: int((inside == state.reference).sum()), state.level: int((inside == state.level).sum())}
        if min(counts[group].values()) < runtime.context.min_cells:
            refused[group] = f"too few cells to compare (at least {runtime.context.min_cells} per level needed)"
    return {"counts": counts, "refused": refused}


def anything_to_test(state: ComparisonState) -> Literal["test_genes", "summarise"]:
    """Test when the levels are chosen and at least one group has enough cells."""
    return "test_genes" if not state.problem and len(state.refused) < len(state.groups) else "summarise"


def _tested(state: ComparisonState) -> list[str]:
    return [g for g in state.groups if g not in state.refused]


def test_genes(state: ComparisonState, runtime: Runtime[ComparisonContext]) -> dict:
    """Per group: Wilcoxon of the level against the reference."""
    session = runtime.context.session
    genes = {}
    for group in _tested(state):
        cells = session.work[session.work.obs[session.groupby].astype(str) == group].copy()
        up, down = split_changes(compare_cells(cells, state.column, state.level, state.reference), session.thresholds, N_GENES)
        genes[group] = {"up": up.round(4).to_dict("records"), "down": down.round(4).to_dict("records")}
    return {"genes": genes}


def test_pathways(state: ComparisonState, runtime: Runtime[ComparisonContext]) -> dict:
    """Per group: Hallmark scores of the level against the reference (AUROC, BH FDR over the gene sets)."""
    session = runtime.context.session
    scores = session.pathway_scores()
    obs = session.work.obs
    shifted = {}
    for group in _tested(state):
        in_group = (obs[session.groupby].astype(str) == group).to_numpy()
        level = in_group & (obs[state.column].astype(str) == state.level).to_numpy()
        reference = in_group & (obs[state.column].astype(str) == state.reference).to_numpy()
        auroc, pval = auroc_test(scores.to_numpy(), level, reference)
        adjusted = fdr(pval)
        order = np.argsort(-np.abs(auroc - 0.5))
        shifted[group] = [
            {"pathway": scores.columns[i], "auroc": round(float(auroc[i]), 4), "fdr": float(f"{adjusted[i]:.3g}")}
            for i in order
            if adjusted[i] <= session.thresholds.max_fdr
        ][:N_PATHWAYS]
    return {"pathways": shifted}


def _genes(rows: list[dict]) -> str:
    return ", ".join(f"{r['gene']} (log2FC {log_fold(r['logfc'])}, adj. p {p_value(r['pval_adj'])})" for r in rows) or "none"


def summarise(state: ComparisonState, runtime: Runtime[ComparisonContext]) -> dict:
    """The answer: a line per group with its cells per level, its changed genes and pathways, or why it was not tested."""
    session = runtime.context.session
    if state.problem:
        return {"answer": Answer(state.problem, "condition_changes", {"top": None}, []).to_dict()}
    lines, ids = [], []
    for group in state.groups:
        n = state.counts[group]
        cells = f"{n[state.reference]} {state.reference}, {n[state.level]} {state.level} cells"
        if group in state.refused:
            lines.append(f"- {group} ({cells}): not tested, {state.refused[group]}.")
            continue
        changes = state.genes[group]
        shifted = (
            "; ".join(
                f"{pathway_title(p['pathway'])} ({p['pathway']}) {'higher' if p['auroc'] > 0.5 else 'lower'}"
                f" in {state.level}, AUROC {p['auroc']:.2f}, FDR {p['fdr']:.2g}"
                for p in state.pathways[group]
            )
            or "none"
        )
        lines.append(f"- {group} ({cells}): up in {state.level}: {_genes(changes['up'])}; down: {_genes(changes['down'])}; pathways: {shifted}.")
        ids += [p["pathway"] for p in state.pathways[group]] + [r["gene"] for r in changes["up"] + changes["down"]]
    tested = _tested(state)
    common = Counter((p["pathway"], p["auroc"] > 0.5) for g in tested for p in state.pathways[g][:1]).most_common(1)
    lead = (
        f"{state.level} vs {state.reference} (obs['{state.column}']) within each group of obs['{session.groupby}']:"
        f" Wilcoxon per gene (BH), per-cell Hallmark scores by Mann-Whitney U (AUROC, BH over gene sets);"
        f" at least {runtime.context.min_cells} cells per level needed."
    )
    if common:
        (pathway, higher), count = common[0]
        lead += (
            f" Most consistent change: {pathway_title(pathway)} ({pathway}) {'higher' if higher else 'lower'} in {state.level},"
            f" the top shift in {count} of {len(tested)} groups tested."
        )
    elif not tested:
        lead += " No group has enough cells in both levels, so nothing was tested."
    data = {
        "column": state.column,
        "level": state.level,
        "reference": state.reference,
        "counts": state.counts,
        "refused": state.refused,
        "genes": state.genes,
        "pathways": state.pathways,
        "top": common[0][0][0] if common else None,
    }
    group = state.groups[0] if len(state.groups) == 1 else None
    return {"answer": Answer(lead + "\n" + "\n".join(lines), "condition_changes", data, list(dict.fromkeys(ids)), group).to_dict()}


def comparison_graph():
    """START -> choose_levels -> count_cells -> test_genes -> test_pathways -> summarise -> END."""
    builder = StateGraph(ComparisonState, context_schema=ComparisonContext)
    builder.add_node("choose_levels", choose_levels)
    builder.add_node("count_cells", count_cells)
    builder.add_node("test_genes", test_genes)
    builder.add_node("test_pathways", test_pathways)
    builder.add_node("summarise", summarise)
    builder.add_edge(START, "choose_levels")  # which column and levels
    builder.add_conditional_edges("choose_levels", levels_chosen)  # no comparison possible: say why
    builder.add_conditional_edges("count_cells", anything_to_test)  # every group too small: say so
    builder.add_edge("test_genes", "test_pathways")  # genes, then gene sets, per group
    builder.add_edge("test_pathways", "summarise")
    builder.add_edge("summarise", END)
    return builder.compile(name="condition-changes")


GRAPH = comparison_graph()


def answer_condition_changes(
    session: DatasetSession, column: str | None = None, level: str | None = None, reference: str | None = None, group: str | None = None
) -> Answer:
    """What changes between two levels of a condition (e.g. stimulated vs control) within each group, or one named group:
    differential genes and shifted Hallmark pathways, with cells per level; groups with too few cells are refused."""
    state = GRAPH.invoke(
        ComparisonState(column=column, level=level, reference=reference, groups=[group] if group else []), context=ComparisonContext(session=session)
    )
    return Answer(**state["answer"])
