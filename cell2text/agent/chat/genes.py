"""Chat answers about genes: where a gene is expressed, a list of genes across the groups, the genes separating two
groups, a gene set's genes that are up, and which cell types a list of marker genes points to (the candidate search,
from knowledge alone).

Tests: Wilcoxon rank-sum with BH-adjusted p-values (``scanpy.tl.rank_genes_groups``; against
the other cells, or against a named ``reference`` group or level), log2 fold change as scanpy
computes it, and the share of cells with any expression. What counts as "up", "down" and
"expressed" is the rulebook's (:mod:`cell2text.tools.evidence`) at the describe run's thresholds.
Figures: scanpy's dot and violin plots.
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc

from cell2text.agent.chat.plots import dot_plot, violin_plot
from cell2text.agent.chat.session import Answer, DatasetSession, figure_path
from cell2text.agent.chat.vocabulary import (
    find_pathways,
    group_mentions,
    resolve_groups,
)
from cell2text.errors import InputError
from cell2text.knowledge import detect_species
from cell2text.knowledge.genesets import load_gene_sets, pathway_title
from cell2text.tools.candidates import rank_cell_types
from cell2text.tools.evidence import (
    Thresholds,
    auroc_test,
    detection,
    is_active,
    is_down,
    is_up,
    marker_status,
)

N_GENES = 8
CONTROL_WORDS = ("control", "ctrl", "unstim", "untreated", "baseline", "normal", "healthy", "vehicle", "mock", "wt", "wild")


MAX_SHOWN_LOGFC = 10  # scanpy's log2FC against a group with no expression is ~30: shown as "> 10"


def p_value(x: float) -> str:
    """A p-value for the text; one below double precision is "< 1e-300"."""
    return f"{x:.2g}" if x > 0 else "< 1e-300"


def log_fold(x: float) -> str:
    """A log2 fold change for the text; beyond +-10 (no expression on one side) only its sign and size class."""
    return f"{x:.2f}" if abs(x) <= MAX_SHOWN_LOGFC else f"{'>' if x > 0 else '<'} {'' if x > 0 else '-'}{MAX_SHOWN_LOGFC}"


def gene_row(r) -> str:
    """One gene of a DE table with its numbers: log2FC, adjusted p, share of cells expressing it on each side."""
    return f"{r.gene} (log2FC {log_fold(r.logfc)}, adj. p {p_value(r.pval_adj)}, in {r.pct_in:.0%} vs {r.pct_out:.0%} of cells)"


def one_group(session: DatasetSession, text: str) -> str:
    """The one group a name or phrase names; raises listing the groups when it names none or several."""
    found = resolve_groups(session, text)
    if len(found) == 1:
        return found[0]
    what = f"'{text}' could be {', '.join(found)}" if found else f"there is no group '{text}'"
    raise InputError(f"{what} in obs['{session.groupby}']. Groups: {', '.join(session.groups)}.")


def reference_level(session: DatasetSession, column: str, level: str | None = None) -> str:
    """The level to compare against: a control-like value of the column, else its first value other than ``level``."""
    levels = [v for v in session.levels(column).index if v != level]
    return next((v for v in levels if any(w in v.lower() for w in CONTROL_WORDS)), levels[0])


def _per_level(session: DatasetSession, symbol: str, labels: pd.Series, levels: list[str]) -> pd.DataFrame:
    """Per level of ``labels`` (one per cell of the session's data): its cells, the gene's mean log-expression and the
    share of cells expressing it (``scanpy.get.aggregate``), highest mean first."""
    level = pd.Categorical(labels.astype(str).to_numpy())
    cells = ad.AnnData(session.work[:, [symbol]].X, obs=pd.DataFrame({"level": level}, index=session.work.obs_names))
    totals = sc.get.aggregate(cells, by="level", func=["mean", "count_nonzero"])
    sizes = cells.obs["level"].value_counts()
    rows = [
        {
            "level": v,
            "n_cells": int(sizes[v]),
            "mean": float(totals[v].layers["mean"][0, 0]),
            "pct": float(totals[v].layers["count_nonzero"][0, 0] / sizes[v]),
        }
        for v in levels
        if sizes.get(v, 0)
    ]
    return pd.DataFrame(rows).sort_values(["mean", "level"], ascending=[False, True]).reset_index(drop=True)


#: How a gene's detection in a group reads (the rulebook's :func:`detection` bands).
DETECTION_WORDS = {"expressed": "is expressed in", "few": "is detected in few cells of", "absent": "is essentially not expressed in"}
#: How a gene's test of one group against the other cells reads: its marker status, or no significant difference.
CHANGE_WORDS = {"supported": "up", "contradicted": "down", "unverified": "not clearly up"}


def _not_measured(session: DatasetSession, gene: str) -> Answer:
    text = (
        f"{gene} is not measured in this dataset ({session.work.n_vars:,} genes), so I can't tell where it is expressed."
        " Check the symbol (human gene symbols, e.g. CD8A)."
    )
    return Answer(text, "gene_expression", {"gene": gene, "measured": False, "top": None}, [])


def answer_gene_expression(session: DatasetSession, gene: str, group: str | None = None, by: str | None = None) -> Answer:
    """Where a gene is expressed: per group (or per value of ``by``, e.g. condition) its mean and share of expressing cells.

    With ``group`` (a name or a cell type), that group against the other cells (Wilcoxon); with
    ``by``, its values against each other (Mann-Whitney U, AUROC).
    """
    symbol = session.gene(gene)
    if symbol is None:
        return _not_measured(session, gene)
    values = session.expression(symbol)
    if by is not None and by != session.groupby:
        return _by_condition(session, symbol, values, session.column(by))
    table = _per_level(session, symbol, session.work.obs[session.groupby], session.groups)
    per_group = "; ".join(f"{r.level} {r.mean:.2f} ({r.pct:.0%})" for r in table.itertuples())
    lead, terms = "", []
    if group is not None:
        named = resolve_groups(session, group)
        if len(named) == 1:
            return _in_group(session, symbol, values, named[0], table)
        mention = group_mentions(session, group)
        terms = [mention[0].term] if mention and mention[0].term else []
        what = f"{session.ontology.term(terms[0]).label} ({terms[0]}) or a subtype" if terms else f"'{group}'"
        lead = (
            f"No group here is annotated {what}" if not named else f"'{group}' could be {', '.join(named)}"
        ) + f" (groups of obs['{session.groupby}']: {', '.join(session.groups)}). Where {symbol} is expressed instead: "
    best = table.iloc[0]
    markers = _test_in(session, symbol, best.level)
    text = (
        f"{lead}{symbol} is highest in {best.level}: mean log-expression {best['mean']:.2f}, in {best.pct:.0%} of its cells;"
        f" against the other cells log2FC {log_fold(markers.logfc)}, adj. p {p_value(markers.pval_adj)} (Wilcoxon)."
        f"\nPer group (mean log-expression, share of cells expressing): {per_group}."
    )
    path = figure_path(session, "dotplot", symbol)
    plots = [dot_plot(session.work, [symbol], session.groupby, path, title=f"{symbol} per {session.groupby}")] if path else []
    data = {
        "gene": symbol,
        "per_group": table.round(4).to_dict("records"),
        "top": best.level,
        "test": {"group": best.level, "logfc": float(markers.logfc), "pval_adj": float(markers.pval_adj)},
    }
    return Answer(text, "gene_expression", data, [symbol, *terms], None, plots)


def _test_in(session: DatasetSession, symbol: str, group: str) -> pd.Series:
    """One gene's Wilcoxon row (logfc, pval_adj, pct_in, pct_out) for one group against the other cells."""
    return session.evidence.by_gene(group).loc[symbol]


def _in_group(session: DatasetSession, symbol: str, values: np.ndarray, group: str, table: pd.DataFrame) -> Answer:
    """One gene in one group, against the other cells."""
    row = _test_in(session, symbol, group)
    rules = session.thresholds
    significant = row.pval_adj <= rules.max_fdr
    change = CHANGE_WORDS[marker_status(row.logfc, row.pval_adj, rules)] if significant else "not significantly different"
    mean = float(table.set_index("level").loc[group, "mean"])
    text = (
        f"{symbol} {DETECTION_WORDS[detection(row.pct_in, rules)]} {group}: in {row.pct_in:.0%} of its cells (mean log-expression {mean:.2f});"
        f" in {row.pct_out:.0%} of the other cells. Against the other cells it is {change}: log2FC {log_fold(row.logfc)},"
        f" adj. p {p_value(row.pval_adj)} (Wilcoxon, BH)."
    )
    path = figure_path(session, "violin", symbol)
    plots = (
        [
            violin_plot(
                values,
                session.work.obs[session.groupby].astype(str),
                session.groups,
                f"{symbol} per {session.groupby} (share of cells expressing on top)",
                path,
            )
        ]
        if path
        else []
    )
    data = {
        "gene": symbol,
        "group": group,
        "pct_in": float(row.pct_in),
        "pct_out": float(row.pct_out),
        "logfc": float(row.logfc),
        "pval_adj": float(row.pval_adj),
        "mean": mean,
        "top": group,
    }
    return Answer(text, "gene_expression", data, [symbol], group, plots)


def _by_condition(session: DatasetSession, symbol: str, values: np.ndarray, column: str) -> Answer:
    """One gene across the values of an obs column; the first non-reference value against the reference."""
    labels = session.work.obs[column].astype(str)
    table = _per_level(session, symbol, labels, list(session.levels(column).index))
    reference = reference_level(session, column)
    others = [v for v in table["level"] if v != reference]
    lines = [f"{r.level} ({r.n_cells} cells): mean log-expression {r.mean:.2f}, in {r.pct:.0%} of cells" for r in table.itertuples()]
    tests = []
    for level in others:
        auroc, pval = auroc_test(values[:, None], (labels == level).to_numpy(), (labels == reference).to_numpy())
        higher = "higher" if auroc[0] > 0.5 else "lower"
        tests.append({"level": level, "reference": reference, "auroc": float(auroc[0]), "pval": float(pval[0])})
        lines.append(f"{level} vs {reference}: {higher} (AUROC {auroc[0]:.2f}, p {p_value(pval[0])}, Mann-Whitney U)")
    path = figure_path(session, "violin", symbol, column)
    plots = [violin_plot(values, labels, list(session.levels(column).index), f"{symbol} per {column}", path)] if path else []
    top = tests[0]["level"] if tests and is_active(tests[0]["auroc"], tests[0]["pval"], session.thresholds) else None
    text = f"{symbol} per {column} (obs['{column}']):\n- " + "\n- ".join(lines)
    return Answer(
        text,
        "gene_expression",
        {"gene": symbol, "by": column, "per_level": table.round(4).to_dict("records"), "tests": tests, "top": top},
        [symbol],
        None,
        plots,
    )


# --------------------------------------------------------------------------- a list of genes across the groups
MAX_PANEL = 30  # genes one panel shows: a dot plot wider than this is unreadable


def answer_gene_panel(session: DatasetSession, genes: list[str]) -> Answer:
    """Several genes across the groups, as scanpy's dot plot of the whole list shows them: per gene, the group where it is
    highest (mean log-expression, share of cells expressing) and whether it is up there against the other cells."""
    measured = list(dict.fromkeys(symbol for symbol in map(session.gene, genes) if symbol is not None))[:MAX_PANEL]
    missing = [g for g in genes if session.gene(g) is None]
    unmeasured = f" Not measured here: {', '.join(missing)}." if missing else ""
    if not measured:
        return Answer(
            f"None of {', '.join(genes)} is measured in this dataset ({session.work.n_vars:,} genes), so I can't show them."
            " Check the symbols (human gene symbols, e.g. CD3E).",
            "gene_panel",
            {"genes": [], "not_measured": missing, "top": {}},
            [],
        )
    rules, labels = session.thresholds, session.work.obs[session.groupby]
    lines, top, per_gene = [], {}, {}
    for symbol in measured:
        table = _per_level(session, symbol, labels, session.groups)
        best = table.iloc[0]
        row = _test_in(session, symbol, best.level)
        change = CHANGE_WORDS[marker_status(row.logfc, row.pval_adj, rules)] if row.pval_adj <= rules.max_fdr else "not significantly different"
        lines.append(
            f"- {symbol}: highest in {best.level} (mean log-expression {best['mean']:.2f}, in {best.pct:.0%} of its cells);"
            f" {change} there against the other cells (log2FC {log_fold(row.logfc)}, adj. p {p_value(row.pval_adj)}, Wilcoxon)"
        )
        top[symbol] = best.level
        per_gene[symbol] = table.round(4).to_dict("records")
    text = (
        f"{', '.join(measured)} across the {len(session.groups)} groups of obs['{session.groupby}'] (a dot plot shows each"
        f" group's mean expression and share of cells expressing):\n" + "\n".join(lines) + unmeasured
    )
    path = figure_path(session, "dotplot", *measured)
    plots = [dot_plot(session.work, measured, session.groupby, path, title=f"{len(measured)} genes per {session.groupby}")] if path else []
    data = {"genes": measured, "not_measured": missing, "per_gene": per_gene, "top": top}
    return Answer(text, "gene_panel", data, measured, None, plots)


# --------------------------------------------------------------------------- two groups
def compare_cells(adata, column: str, level: str, reference: str, key: str = "cell2text_compare") -> pd.DataFrame:
    """Wilcoxon of ``level`` against ``reference`` in an obs column: gene, score, logfc, pval_adj, pct_in, pct_out, best first."""
    if not isinstance(adata.obs[column].dtype, pd.CategoricalDtype):
        adata.obs[column] = adata.obs[column].astype(str).astype("category")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # genes with no variance among the cells compared
        sc.tl.rank_genes_groups(
            adata, column, groups=[level], reference=reference, method="wilcoxon", pts=True, tie_correct=True, key_added=key, use_raw=False
        )
    table = sc.get.rank_genes_groups_df(adata, group=level, key=key)
    table["pct_out"] = adata.uns[key]["pts"][reference].reindex(table["names"]).to_numpy()  # scanpy keeps pts per group
    return table.rename(columns={"names": "gene", "scores": "score", "logfoldchanges": "logfc", "pvals_adj": "pval_adj", "pct_nz_group": "pct_in"})


def split_changes(table: pd.DataFrame, rules: Thresholds, n: int = N_GENES) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The up and down genes of a DE table (the rulebook's :func:`is_up` and :func:`is_down`), strongest first."""
    up = table[is_up(table["logfc"], table["pval_adj"], rules)].head(n)
    down = table[is_down(table["logfc"], table["pval_adj"], rules)].sort_values("score").head(n)
    return up, down


def answer_compare_groups(session: DatasetSession, first: str, second: str, n: int = N_GENES) -> Answer:
    """The genes that separate two named groups, in both directions (Wilcoxon with the second group as reference)."""
    a, b = one_group(session, first), one_group(session, second)
    if a == b:
        raise InputError(f"both names are the group '{a}'. Name two different groups.")
    rules = session.thresholds
    table = compare_cells(session.work, session.groupby, a, b)
    up, down = split_changes(table, rules, n)
    sizes = session.levels(session.groupby)
    parts = [
        (
            f"Genes separating {a} ({sizes[a]} cells) from {b} ({sizes[b]} cells): Wilcoxon rank-sum, {b} as reference,"
            f" BH-adjusted, |log2FC| >= {rules.min_logfc}."
        )
    ]
    seen_from_b = down.assign(pct_in=down["pct_out"], pct_out=down["pct_in"], logfc=-down["logfc"])
    for name, rows in ((a, up), (b, seen_from_b)):
        parts.append(f"Up in {name}: " + ("; ".join(gene_row(r) for r in rows.itertuples()) if len(rows) else "none"))
    genes = up["gene"].tolist() + down["gene"].tolist()
    path = figure_path(session, "dotplot", a, b)
    plots = []
    if path is not None and genes:
        cells = session.work[session.work.obs[session.groupby].isin([a, b])].copy()
        cells.obs[session.groupby] = cells.obs[session.groupby].cat.remove_unused_categories()
        plots.append(dot_plot(cells, genes[:12], session.groupby, path, title=f"{a} vs {b}"))
    data = {
        "first": a,
        "second": b,
        "up": up.round(4).to_dict("records"),
        "down": seen_from_b.round(4).to_dict("records"),
        "top": genes[0] if genes else None,
    }
    return Answer("\n".join(parts), "compare_groups", data, genes, a, plots)


# --------------------------------------------------------------------------- a gene set's genes
def answer_geneset_genes(session: DatasetSession, pathway: str, group: str | None = None, level: str | None = None, by: str | None = None) -> Answer:
    """The genes of a Hallmark gene set that are up: in one group (vs the other cells), in one value of a condition
    column (vs its reference, e.g. stimulated vs control), or else in each group."""
    names = find_pathways(pathway)
    if not names:
        return Answer(
            f"'{pathway}' names no Hallmark gene set. Name one (e.g. interferon alpha response, hypoxia).", "geneset_genes", {"top": []}, []
        )
    name = names[0]
    members = load_gene_sets("hallmark")[name]
    measured = [g for g in members if g in session.work.var_names]
    title = f"{pathway_title(name)} ({name}; {len(measured)} of its {len(members)} genes measured)"
    rules = session.thresholds
    if group is not None:
        target = one_group(session, group)
        table = session.evidence.markers(target)
        up, _ = split_changes(table[table["gene"].isin(measured)], rules, n=len(measured))
        where, answer_group = f"up in {target} against the other cells (Wilcoxon, BH)", target
        blocks = {target: up}
    elif level is not None:
        column = by or next(c for c in session.condition_columns() if level in session.levels(c).index)
        reference = reference_level(session, column, level)
        table = compare_cells(session.work, column, level, reference)
        up, _ = split_changes(table[table["gene"].isin(measured)], rules, n=len(measured))
        where, answer_group = f"up in {level} against {reference} (obs['{column}'], all cells, Wilcoxon, BH)", None
        blocks = {level: up}
    else:
        blocks = {}
        for g in session.groups:
            try:
                table = session.evidence.markers(g)
            except InputError:
                continue
            up, _ = split_changes(table[table["gene"].isin(measured)], rules, n=len(measured))
            if len(up):
                blocks[g] = up
        where, answer_group = f"up in a group of obs['{session.groupby}'] against the other cells (Wilcoxon, BH)", None
    lines = [f"- {label}: " + "; ".join(gene_row(r) for r in up.itertuples()) for label, up in blocks.items() if len(up)]
    genes = list(dict.fromkeys(g for up in blocks.values() for g in up["gene"]))
    text = f"Genes of {title} {where}, log2FC >= {rules.min_logfc}, adj. p <= {rules.max_fdr}:\n" + ("\n".join(lines) if lines else "- none")
    path = figure_path(session, "dotplot", name, group or level or "groups")
    plots = []
    if path is not None and genes:
        column = session.groupby if level is None else (by or next(c for c in session.condition_columns() if level in session.levels(c).index))
        plots.append(dot_plot(session.work, genes[:20], column, path, title=pathway_title(name)))
    data = {"pathway": name, "measured": len(measured), "up": {k: v.round(4).to_dict("records") for k, v in blocks.items()}, "top": genes}
    return Answer(text, "geneset_genes", data, [name, *genes], answer_group, plots)


def answer_genes_cell_type(session: DatasetSession, genes: list[str], k: int = 3) -> Answer:
    """The cell types a list of marker genes points to (:func:`cell2text.tools.candidates.rank_cell_types`), with the
    evidence of each: what ``cell2text annotate-markers`` prints, whatever the dataset measures."""
    species = detect_species(genes, default=None) or detect_species(session.adata, default="human")  # no describe needed
    try:
        ranked = rank_cell_types(genes, species=species, k=k, ontology=session.ontology, ppr=session.ppr)
    except InputError as exc:
        return Answer(f"I can't name a cell type from {', '.join(genes)}: {exc}", "genes_cell_type", {"genes": genes, "candidates": []}, [])
    lines = [f"{i}. {c.label} ({c.id}): {c.status}, score {c.score:.1f}; {c.reason}" for i, c in enumerate(ranked, 1)]
    text = (
        f"From the {species} marker knowledge (no tissue prior), {', '.join(genes)} point to:\n"
        + "\n".join(lines)
        + "\nThis is knowledge about the genes, not a test on this dataset's cells: ask where a gene is expressed for that."
    )
    return Answer(text, "genes_cell_type", {"genes": genes, "species": species, "candidates": [c.to_dict() for c in ranked]}, [c.id for c in ranked])
