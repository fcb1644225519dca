"""The evidence rulebook: each word's rule at its thresholds, and the one Mann-Whitney/AUROC/BH test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cell2text.tools.evidence import (
    Thresholds,
    auroc_test,
    detection,
    fdr,
    is_active,
    is_contradicted,
    is_down,
    is_up,
    marker_status,
    pathway_status,
)

RULES = Thresholds()


@pytest.mark.parametrize(
    ("logfc", "pval_adj", "status"),
    [
        (0.5, 0.05, "supported"),  # both thresholds are inclusive
        (0.49, 0.001, "unverified"),  # significant but not clearly up
        (2.0, 0.051, "unverified"),  # large but not significant
        (-0.1, 0.01, "contradicted"),  # significantly lower, however little
        (-3.0, 0.2, "unverified"),
    ],
)
def test_a_marker_claims_status(logfc, pval_adj, status):
    assert marker_status(logfc, pval_adj, RULES) == status
    assert bool(is_up(logfc, pval_adj, RULES)) == (status == "supported")
    assert bool(is_contradicted(logfc, pval_adj, RULES)) == (status == "contradicted")


def test_the_rules_run_on_a_de_table_and_follow_the_thresholds():
    table = pd.DataFrame({"logfc": [1.0, 0.3, -0.6, -0.2], "pval_adj": [0.01, 0.01, 0.01, 0.01]})
    assert is_up(table["logfc"], table["pval_adj"], RULES).tolist() == [True, False, False, False]
    assert is_down(table["logfc"], table["pval_adj"], RULES).tolist() == [False, False, True, False]
    assert is_contradicted(table["logfc"], table["pval_adj"], RULES).tolist() == [False, False, True, True]
    lenient = Thresholds(min_logfc=0.25)
    assert is_up(table["logfc"], table["pval_adj"], lenient).tolist() == [True, True, False, False]


def test_detection_bands():
    assert [detection(share, RULES) for share in (0.2, 0.19, 0.05, 0.049, 0.0)] == ["expressed", "few", "few", "absent", "absent"]


def test_a_pathways_status():
    assert pathway_status(0.7, 0.01, RULES) == "supported" and bool(is_active(0.7, 0.01, RULES))
    assert pathway_status(0.3, 0.01, RULES) == "contradicted" and not is_active(0.3, 0.01, RULES)
    assert pathway_status(0.9, 0.2, RULES) == "unverified" and not is_active(0.9, 0.2, RULES)


def test_thresholds_come_back_from_a_runs_params():
    params = {"max_rounds": 3, "min_logfc": 1.0, "max_fdr": 0.01}  # as describe stores them, next to its other settings
    assert Thresholds.from_params(params) == Thresholds(min_logfc=1.0, max_fdr=0.01)
    assert Thresholds.from_params(None) == Thresholds()


def test_auroc_test_is_mann_whitney_with_auroc_as_effect_size():
    rng = np.random.default_rng(0)
    values = np.column_stack([np.r_[rng.normal(1, 1, 40), rng.normal(0, 1, 60)], rng.normal(0, 1, 100), np.ones(100)])
    inside = np.arange(100) < 40
    auroc, pval = auroc_test(values, inside, ~inside)
    u, expected = stats.mannwhitneyu(values[inside, 0], values[~inside, 0], alternative="two-sided")
    assert auroc[0] == pytest.approx(u / (40 * 60)) and pval[0] == pytest.approx(expected)
    assert auroc[0] > 0.7 and pval[0] < 1e-3 and 0.3 < auroc[1] < 0.7
    assert auroc[2] == 0.5 and pval[2] == 1.0  # constant values: no difference, never a NaN
    adjusted = fdr([0.01, 0.02, np.nan])
    assert adjusted.tolist() == pytest.approx([0.03, 0.03, 1.0])
