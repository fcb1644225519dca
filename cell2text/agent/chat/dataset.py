"""Chat answers about the dataset itself: what it is, its metadata columns, and how many cells each value (or pair of values) has."""

from __future__ import annotations

import pandas as pd

from cell2text.agent.chat.session import MAX_LEVELS, Answer, DatasetSession

SHOWN_VALUES = 4


def answer_metadata(session: DatasetSession) -> Answer:
    """The obs columns: each one's kind, number of values and a few of them; which holds the groups and which are conditions."""
    obs = session.adata.obs
    conditions = session.condition_columns()
    rows, columns = [], {}
    for column in obs.columns:
        values = obs[column]
        n = int(values.nunique())
        numeric = pd.api.types.is_numeric_dtype(values) and not isinstance(values.dtype, pd.CategoricalDtype)
        if numeric:
            described = f"numbers from {values.min():.3g} to {values.max():.3g}"
        else:
            shown = list(map(str, values.astype(str).value_counts().index[:SHOWN_VALUES]))
            described = f"{n} value{'s' if n > 1 else ''} ({'; '.join(shown)}{'; ...' if n > SHOWN_VALUES else ''})"
        role = (
            " - the groups"
            if column == session.groupby
            else " - a condition/sample column"
            if column in conditions
            else " - written by cell2text describe"
            if str(column).startswith("cell2text_")
            else ""
        )
        rows.append(f"- {column}: {described}{role}")
        columns[str(column)] = {"values": n, "numeric": bool(numeric)}
    text = f"{session.name} has {len(obs.columns)} metadata columns (obs) for its {session.adata.n_obs:,} cells:\n" + "\n".join(rows)
    return Answer(text, "metadata", {"columns": columns, "groupby": session.groupby, "conditions": conditions, "top": list(columns)}, [])


def answer_counts(session: DatasetSession, columns: list[str] | None = None) -> Answer:
    """How many cells have each value of an obs column (default: the groups), or each pair of values of two columns."""
    columns = [session.column(c) for c in (columns or [session.groupby])][:2]
    for column in columns:
        if session.adata.obs[column].nunique() > MAX_LEVELS:
            return Answer(
                f"obs['{column}'] has {session.adata.obs[column].nunique()} distinct values (numbers per cell?), too many to count cells per value.",
                "counts",
                {"top": None},
                [],
            )
    first = session.levels(columns[0])
    if len(columns) == 1:
        rows = [f"- {value}: {n:,}" for value, n in first.items()]
        text = f"Cells per value of obs['{columns[0]}'] ({session.adata.n_obs:,} cells):\n" + "\n".join(rows)
        return Answer(text, "counts", {"column": columns[0], "counts": {k: int(v) for k, v in first.items()}, "top": columns[0]}, [])
    obs = session.adata.obs
    table = pd.crosstab(obs[columns[0]].astype(str), obs[columns[1]].astype(str)).reindex(first.index)
    second = list(session.levels(columns[1]).index)
    table = table[second]
    header = f"| {columns[0]} | " + " | ".join(second) + " | total |"
    lines = [header, "|" + "---|" * (len(second) + 2)]
    lines += [f"| {value} | " + " | ".join(f"{int(n):,}" for n in row) + f" | {int(row.sum()):,} |" for value, row in table.iterrows()]
    text = f"Cells per obs['{columns[0]}'] and obs['{columns[1]}'] ({session.adata.n_obs:,} cells):\n" + "\n".join(lines)
    return Answer(
        text, "counts", {"columns": columns, "counts": {k: {c: int(n) for c, n in row.items()} for k, row in table.iterrows()}, "top": columns[0]}, []
    )


def answer_summary(session: DatasetSession) -> Answer:
    """What the dataset is: cells, genes, groups, metadata columns."""
    result = session.result()
    meta = [c for c in ("tissue", "disease", "donor_id", "assay", "organism", "sex") if c in session.adata.obs.columns]
    text = (
        f"{session.name}: {session.adata.n_obs:,} cells x {session.adata.n_vars:,} genes, {len(result['groups'])} groups in"
        f" obs['{result['groupby']}']. Metadata columns: {', '.join(meta) or 'none of tissue/disease/donor'}."
        + ("".join(f"\nNote: {n}" for n in result["notes"]))
    )
    return Answer(text, "summary", {"n_cells": int(session.adata.n_obs), "n_genes": int(session.adata.n_vars), "groups": list(result["groups"])}, [])
