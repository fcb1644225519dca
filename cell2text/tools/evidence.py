"""The evidence rulebook: what "up", "detected", "active" and "contradicted" mean, with their thresholds.

Every part of cell2text that turns a test result into a word reads it here: describe's checks
(:mod:`cell2text.agent.describe.checks`), the chat's answers (:mod:`cell2text.agent.chat`) and,
through the claims describe writes, the report. So a gene the chat lists as a group's marker is a
gene the report calls "up", with the same numbers: the thresholds a describe run used are stored
in its result (``result["params"]``) and read back with :meth:`Thresholds.from_params`.

* A gene is **up** in a group when its log2 fold change against the other cells is at least
  ``min_logfc`` and its BH-adjusted p-value at most ``max_fdr`` (Wilcoxon rank-sum,
  :func:`cell2text.tools.markers.group_markers`); **down** mirrors it.
* A claim "gene G marks the group" is **supported** when G is up, **contradicted** when G is
  significantly lower in the group (adjusted p <= ``max_fdr``, log2FC < 0), else **unverified**.
* A gene is **expressed** in a group when at least ``min_expressed`` of its cells have any
  expression, **detected in few cells** down to ``max_absent``, and **absent** below it.
* A per-cell score (a pathway's) is **more active** in some cells than in others when the
  Mann-Whitney test (:func:`auroc_test`) gives AUROC > 0.5 at BH FDR <= ``max_fdr``; a pathway
  claim significantly *less* active is contradicted.

The functions take scalars or pandas Series alike (``&`` and comparisons work on both).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
from scipy import stats

Status = Literal["supported", "contradicted", "unverified"]
Detection = Literal["expressed", "few", "absent"]


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    """When evidence counts as support or contradiction."""

    min_probability: float = 0.5  # head probability mass a supported cell type needs
    max_contradicted: float = 0.1  # a claim the head gives less than this, while it is sure of another, is contradicted
    ambiguity_margin: float = 0.2  # top-two head probabilities closer than this are ambiguous ...
    ppr_close: float = 0.03  # ... and, when their PPR similarity is at least this, generalised to a common parent
    min_marker_score: float = 0.34  # marker agreement below this (with 3+ markers measured) leaves a cell type unverified
    max_fdr: float = 0.05  # pathway activity and marker tests
    min_logfc: float = 0.5  # a marker gene counts as up at this log fold change
    min_expressed: float = 0.2  # a gene is expressed in a group when at least this share of its cells has any
    max_absent: float = 0.05  # below this share of a group's cells, a gene is essentially absent

    @classmethod
    def from_params(cls, params: dict | None) -> Thresholds:
        """The thresholds a describe run stored in ``result["params"]`` (other keys ignored; missing ones at their default)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (params or {}).items() if k in names})


DEFAULTS = Thresholds()  # the thresholds a run uses unless told otherwise (describe's --options, a stored run's params)


def is_up(logfc, pval_adj, thresholds: Thresholds):
    """Significantly higher in the group, by at least ``min_logfc`` (log2 fold change)."""
    return (logfc >= thresholds.min_logfc) & (pval_adj <= thresholds.max_fdr)


def is_down(logfc, pval_adj, thresholds: Thresholds):
    """Significantly lower in the group, by at least ``min_logfc`` (the mirror of :func:`is_up`)."""
    return (logfc <= -thresholds.min_logfc) & (pval_adj <= thresholds.max_fdr)


def is_contradicted(logfc, pval_adj, thresholds: Thresholds):
    """A marker claim the data contradicts: the gene is significantly lower in the group (any negative fold change)."""
    return (logfc < 0) & (pval_adj <= thresholds.max_fdr)


def marker_status(logfc: float, pval_adj: float, thresholds: Thresholds) -> Status:
    """The status of "gene G marks the group" from G's test of the group against the other cells."""
    if is_up(logfc, pval_adj, thresholds):
        return "supported"
    if is_contradicted(logfc, pval_adj, thresholds):
        return "contradicted"
    return "unverified"


def detection(share: float, thresholds: Thresholds) -> Detection:
    """How widely a gene is detected in a group, from the share of its cells with any expression."""
    if share >= thresholds.min_expressed:
        return "expressed"
    return "few" if share >= thresholds.max_absent else "absent"


def is_active(auroc, fdr, thresholds: Thresholds):
    """A per-cell score significantly higher in the cells tested than in the others (AUROC > 0.5, FDR <= ``max_fdr``)."""
    return (auroc > 0.5) & (fdr <= thresholds.max_fdr)


def pathway_status(auroc: float, fdr: float, thresholds: Thresholds) -> Status:
    """The status of "pathway P is active in the group": more active (supported), significantly less (contradicted), else unverified."""
    if fdr > thresholds.max_fdr:
        return "unverified"
    return "supported" if auroc > 0.5 else "contradicted"


def auroc_test(values: np.ndarray, inside: np.ndarray, outside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Are ``values`` (cells x features) higher in the ``inside`` cells than in the ``outside`` ones?

    Mann-Whitney U per feature (two-sided): AUROC (``U / (n_in n_out)``; 0.5 no difference, 1 every
    inside cell higher) and the p-value (1 where the test is undefined, e.g. constant values).
    """
    u, pval = stats.mannwhitneyu(values[inside], values[outside], alternative="two-sided", axis=0)
    return u / (inside.sum() * outside.sum()), np.nan_to_num(pval, nan=1.0)


def fdr(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (an undefined p-value counts as 1)."""
    return stats.false_discovery_control(np.nan_to_num(np.asarray(pvalues, dtype=float), nan=1.0))
