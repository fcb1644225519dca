"""Marker genes of a group, and marker evidence for a claimed cell type.

``rank_markers`` runs ``scanpy.tl.rank_genes_groups`` (Wilcoxon, tie-corrected, with the fraction
of cells expressing each gene) on the genes detected in at least ``MIN_PCT`` of the cells of some
group (Seurat's ``min.pct`` pre-filter: a gene almost no cell expresses cannot mark a group, and
testing the ~20,000 such genes of a whole-transcriptome file is most of the test's time); the other
genes keep their fractions and fold changes with p = 1. ``group_markers`` reads one group's table. For a claim
"group G is cell type T", :func:`marker_evidence` looks up the known markers of T (and of its
ancestors, e.g. CD3 genes for any T cell) in the marker knowledge
(:func:`cell2text.knowledge.load_markers`, in the data's species) and reports which are up in G,
which are not, which the data does not measure, and a score:

    score = sum(w_i * agree_i) / sum(w_i)   over the markers the data measures

where a positive marker (``+``) agrees when it is up in the group (log fold change >= ``min_logfc``
and adjusted p <= ``max_pval``) and a negative one (``-``) that is up disagrees (one that is not
up, like most genes, is listed but not counted for the claim), and ``w_i`` is the knowledge weight
shared among the genes of one concept (a pegasus panel, the genes of "CD16"). A positive marker that most cells of the group and of the rest express
(``pct_in`` and ``pct_out`` >= ``SHARED``) cannot be up against the rest: it is listed as shared
and left out of the score. 1.0: every measured marker behaves as the cell type predicts; 0.0:
none does; ``None``: nothing to measure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp

from cell2text.data.io import check_group, check_groupby
from cell2text.errors import InputError
from cell2text.knowledge import MarkerKnowledge, detect_species, load_markers
from cell2text.knowledge.ontology import Ontology, load_ontology

MIN_GROUP_CELLS = 2  # a group needs at least this many cells (and the rest as many) for a test
MIN_PCT = 0.1  # genes detected in fewer than this share of the cells of every group are not tested (p = 1)
SHARED = 0.5  # a positive marker expressed by at least this share of the group and of the rest is untestable


def check_test_groups(adata: ad.AnnData, groupby: str, group: str) -> None:
    """Raise unless ``group`` and the rest of the cells each have ``MIN_GROUP_CELLS`` cells for a test."""
    mask = check_group(adata, groupby, group)
    if mask.sum() < MIN_GROUP_CELLS or (~mask).sum() < MIN_GROUP_CELLS:
        msg = f"group '{group}' has {int(mask.sum())} cell(s) and the rest {int((~mask).sum())}:"
        msg += f" at least {MIN_GROUP_CELLS} on each side are needed for a test. Merge small groups or pick another key."
        raise InputError(msg)


def rank_markers(
    adata: ad.AnnData,
    groupby: str,
    *,
    method: str = "wilcoxon",
    key_added: str = "cell2text_markers",
    copy: bool = False,
) -> ad.AnnData | None:
    """Rank genes of every group against the rest (``scanpy.tl.rank_genes_groups``).

    Parameters
    ----------
    adata
        Log-normalised expression in ``X`` (see :func:`cell2text.data.io.prepare`).
    groupby
        obs column with the groups.
    method
        scanpy test; Wilcoxon by default.
    key_added
        ``adata.uns`` key for the result.
    copy
        Work on a copy and return it.

    Returns
    -------
    ``adata.uns[key_added]``: scanpy's result for the tested genes (names, scores, logfoldchanges,
    pvals, pvals_adj, pts, pts_rest) with its ``params``, and ``untested``: for the genes below
    ``MIN_PCT`` in every group, DataFrames (genes x groups) ``logfoldchanges``, ``pts``, ``pts_rest``.
    Returns the AnnData when ``copy``.
    """
    adata = adata.copy() if copy else adata
    column = check_groupby(adata, groupby)
    sizes = column.value_counts()
    small = sizes[sizes < MIN_GROUP_CELLS]
    if len(small):
        raise InputError(f"groups {', '.join(map(str, small.index))} of '{groupby}' have fewer than {MIN_GROUP_CELLS} cells. Merge or drop them.")
    if not isinstance(column.dtype, pd.CategoricalDtype):
        adata.obs[groupby] = column.astype(str).astype("category")
    stats = _group_stats(adata, groupby)
    tested = (stats["pts"] >= MIN_PCT).any(axis=1).to_numpy()
    sc.tl.rank_genes_groups(adata, groupby, mask_var=tested, method=method, pts=True, tie_correct=False, key_added=key_added, use_raw=False)
    if method == "wilcoxon":
        _tie_correct(adata.uns[key_added], _tie_coefficients(adata.X[:, tested], adata.var_names[tested]))
    adata.uns[key_added]["untested"] = {name: frame.loc[~tested] for name, frame in stats.items()}
    return adata if copy else None


def _tie_coefficients(X, genes: pd.Index) -> pd.Series:
    """Each gene's Wilcoxon tie-correction factor over all cells, ``1 - sum(t^3 - t) / (n^3 - n)`` over groups of tied values.

    scanpy 1.11 computes this per group although it depends on the gene alone (the ranks are over
    every cell): once per gene here, then :func:`_tie_correct` applies it to every group's test.
    """
    X = sp.csc_matrix(X) if sp.issparse(X) else sp.csc_matrix(np.asarray(X))
    n = float(X.shape[0])
    coefficients = np.ones(X.shape[1])
    for j in range(X.shape[1]):
        values = X.data[X.indptr[j] : X.indptr[j + 1]]
        _, counts = np.unique(values[values != 0], return_counts=True)
        counts = np.append(counts, n - np.count_nonzero(values)).astype(np.float64)  # the zeros tie too
        coefficients[j] = 1.0 - (counts**3 - counts).sum() / (n**3 - n) if n >= 2 else 1.0
    return pd.Series(coefficients, index=genes)


def _tie_correct(result: dict, coefficients: pd.Series) -> None:
    """A Wilcoxon result computed without tie correction, corrected in place: ``z / sqrt(tc)``, its two-sided p-values,
    Benjamini-Hochberg per group (as scanpy), and each group's genes re-sorted by the corrected score."""
    from scipy.stats import norm
    from statsmodels.stats.multitest import multipletests

    groups = result["names"].dtype.names
    table = {column: pd.DataFrame(result[column]) for column in ("names", "scores", "pvals", "pvals_adj", "logfoldchanges")}
    corrected = {column: {} for column in table}
    for group in groups:
        frame = pd.DataFrame({column: table[column][group].to_numpy() for column in table})
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["scores"] = np.nan_to_num(frame["scores"] / np.sqrt(coefficients.reindex(frame["names"]).to_numpy()))
        frame["pvals"] = 2 * norm.sf(np.abs(frame["scores"]))
        frame["pvals_adj"] = multipletests(frame["pvals"], alpha=0.05, method="fdr_bh")[1]
        frame = frame.sort_values("scores", ascending=False, kind="stable")
        for column in table:
            corrected[column][group] = frame[column].to_numpy()
    for column, columns in corrected.items():
        result[column] = pd.DataFrame(columns).to_records(index=False, column_dtypes={g: result[column].dtype[g] for g in groups})
    result["params"]["tie_correct"] = True


def _group_stats(adata: ad.AnnData, groupby: str) -> dict[str, pd.DataFrame]:
    """Per gene and group (genes x groups): the fraction of the group's cells and of the rest's expressing it, and
    the log2 fold change of the group against the rest as scanpy computes it (from the means of log values)."""
    aggregated = sc.get.aggregate(adata, groupby, func=["count_nonzero", "sum"])
    groups = aggregated.obs_names
    sizes = adata.obs[groupby].value_counts().reindex(groups).to_numpy(dtype=float)[:, None]
    nonzero, total = aggregated.layers["count_nonzero"], aggregated.layers["sum"]
    rest = adata.n_obs - sizes
    mean_in, mean_out = total / sizes, (total.sum(0) - total) / rest
    frames = {
        "pts": nonzero / sizes,
        "pts_rest": (nonzero.sum(0) - nonzero) / rest,
        "logfoldchanges": np.log2((np.expm1(mean_in) + 1e-9) / (np.expm1(mean_out) + 1e-9)),
    }
    return {name: pd.DataFrame(np.asarray(values).T, index=adata.var_names, columns=groups) for name, values in frames.items()}


def group_markers(adata: ad.AnnData, groupby: str, group: str, *, key: str = "cell2text_markers") -> pd.DataFrame:
    """One group's ranked genes: gene, score, logfc, pval, pval_adj, pct_in, pct_out (best first).

    Runs :func:`rank_markers` first when ``adata.uns[key]`` is missing or was computed for
    another ``groupby``.
    """
    check_test_groups(adata, groupby, group)
    if key not in adata.uns or adata.uns[key]["params"]["groupby"] != groupby:
        rank_markers(adata, groupby, key_added=key)
    table = sc.get.rank_genes_groups_df(adata, group=str(group), key=key)
    untested = adata.uns[key].get("untested")
    if untested is not None and len(untested["pts"]):
        rest = pd.DataFrame(
            {
                "names": untested["pts"].index,
                "scores": 0.0,
                "logfoldchanges": untested["logfoldchanges"][str(group)].to_numpy(),
                "pvals": 1.0,
                "pvals_adj": 1.0,
                "pct_nz_group": untested["pts"][str(group)].to_numpy(),
                "pct_nz_reference": untested["pts_rest"][str(group)].to_numpy(),
            }
        )
        table = pd.concat([table, rest], ignore_index=True).sort_values("scores", ascending=False, kind="stable")
    table = table.rename(
        columns={
            "names": "gene",
            "scores": "score",
            "logfoldchanges": "logfc",
            "pvals": "pval",
            "pvals_adj": "pval_adj",
            "pct_nz_group": "pct_in",
            "pct_nz_reference": "pct_out",
        }
    )
    return table.reset_index(drop=True)


def up_markers(
    adata: ad.AnnData, groupby: str, group: str, *, min_logfc: float = 0.5, max_pval: float = 0.05, key: str = "cell2text_markers"
) -> pd.DataFrame:
    """The group's significantly up genes: log fold change >= ``min_logfc``, adjusted p <= ``max_pval``, best first."""
    table = group_markers(adata, groupby, group, key=key)
    return table[(table["logfc"] >= min_logfc) & (table["pval_adj"] <= max_pval)]


@dataclass
class MarkerEvidence:
    """Known markers of a cell type, checked in one group."""

    cell_type_id: str
    marker_terms: list[str]  # CL ids whose known markers were used (the term, its ancestors, or a child)
    relation: str  # "own" (the term or its ancestors have markers) | "child" (the best-fitting descendant) | "none"
    up: list[dict] = field(default_factory=list)  # positive markers up in the group, with their numbers
    not_up: list[dict] = field(default_factory=list)  # positive markers measured but not up
    negative_ok: list[dict] = field(default_factory=list)  # negative markers not up, as expected
    negative_violated: list[dict] = field(default_factory=list)  # negative markers up, against the claim
    shared: list[dict] = field(default_factory=list)  # positive markers most cells of the group and the rest express (not scored)
    not_measured: list[str] = field(default_factory=list)  # markers the data does not contain
    score: float | None = None  # see module docstring

    def to_dict(self) -> dict:
        return asdict(self)


def _marker_terms(ontology: Ontology, term_id: str, known: set[str]) -> list[str]:
    """The term and its ancestors that have known markers."""
    return [t for t in [term_id, *sorted(ontology.ancestors(term_id))] if t in known]


def _check(table: pd.DataFrame, rows: pd.DataFrame, evidence: MarkerEvidence, min_logfc: float, max_pval: float) -> MarkerEvidence:
    rows = rows.sort_values("weight", ascending=False).drop_duplicates(["gene", "sign"])
    rows = rows.assign(panel_size=rows.groupby(["cell_type_ontology_term_id", "concept"])["gene"].transform("count"))
    total = agreeing = 0.0
    for row in rows.itertuples():
        if row.gene not in table.index:
            evidence.not_measured.append(row.gene)
            continue
        stats = table.loc[row.gene]
        record = {
            "gene": row.gene,
            "marker_of": row.cell_type_ontology_term_id,
            "logfc": round(float(stats["logfc"]), 3),
            "pval_adj": float(stats["pval_adj"]),
            "pct_in": round(float(stats["pct_in"]), 3),
            "pct_out": round(float(stats["pct_out"]), 3),
        }
        is_up = bool(stats["logfc"] >= min_logfc and stats["pval_adj"] <= max_pval)
        if row.sign == "+":
            agree = is_up
            if not is_up and stats["pct_in"] >= SHARED and stats["pct_out"] >= SHARED:
                evidence.shared.append(record)
                continue
            (evidence.up if agree else evidence.not_up).append(record)
        elif is_up:
            agree = False
            evidence.negative_violated.append(record)
        else:  # a negative marker that is not up is expected of most genes: listed, not counted for the claim
            evidence.negative_ok.append(record)
            continue
        weight = row.weight / row.panel_size
        total += weight
        agreeing += weight if agree else 0.0
    evidence.not_measured = sorted(set(evidence.not_measured))
    evidence.score = round(agreeing / total, 3) if total else None
    return evidence


def marker_evidence(
    adata: ad.AnnData,
    groupby: str,
    group: str,
    cell_type_id: str,
    *,
    ontology: Ontology | None = None,
    min_logfc: float = 0.5,
    max_pval: float = 0.05,
    key: str = "cell2text_markers",
    knowledge: MarkerKnowledge | None = None,
    table: pd.DataFrame | None = None,
) -> MarkerEvidence:
    """Check the known markers of ``cell_type_id`` in ``group`` against the rest of the cells.

    Uses the markers of the term and of its ancestors (``knowledge``: default
    :func:`load_markers` for the data's species, :func:`detect_species`). When none of them has
    markers, each descendant with markers is checked and the best-scoring one is reported
    (``relation="child"``), which says which subtype the group fits. ``table``: the group's
    :func:`group_markers` indexed by gene, when the caller has it (else read here).
    """
    ontology = ontology or load_ontology()
    term_id = ontology.term(cell_type_id).id
    knowledge = knowledge or load_markers(detect_species(adata, default="human"), ontology=ontology)
    database = knowledge.table
    known = set(knowledge.terms)
    table = group_markers(adata, groupby, group, key=key).set_index("gene") if table is None else table

    def check(terms: list[str], relation: str) -> MarkerEvidence:
        rows = database[database["cell_type_ontology_term_id"].isin(terms)]
        return _check(table, rows, MarkerEvidence(term_id, terms, relation), min_logfc, max_pval)

    own = _marker_terms(ontology, term_id, known)
    if own:
        return check(own, "own")
    children = [check([t], "child") for t in sorted(ontology.descendants(term_id) & known)]
    scored = [e for e in children if e.score is not None]
    if scored:
        return max(scored, key=lambda e: (e.score, len(e.up)))
    return MarkerEvidence(term_id, [], "none")
