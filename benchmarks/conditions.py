"""A two-condition dataset built from the demo, with a planted interferon response whose truth is known.

The demo (pbmc68k_reduced, 700 cells, 10 ``bulk_labels``) is split, not resampled:

* ``obs["condition"]``: within each bulk label a seeded random half of the cells (rounded down)
  is ``"stimulated"``, the rest ``"control"``; so every group has both levels, and the small
  groups (CD34+ 13 cells, CD4+/CD45RO+ Memory 19, CD4+/CD45RA+/CD25- Naive T 8) have fewer
  than 10 cells in a level, which a per-group comparison must refuse.
* ``obs["donor_id"]``: one of four donors (D1..D4) per cell, drawn at random independently of the
  condition, so every donor has cells in both levels (a stand-in for a paired design).
* Planted shift: in the stimulated cells only, every measured gene of the Hallmark interferon-alpha
  response set (16 of the demo's 765 genes, e.g. IRF7, ISG20, BST2, IFITM1) gains
  ``N(shift, 0.3)`` log-expression (at least 0) in a random ``fraction`` of the cells. Nothing
  else changes. Truth: the stimulated level of every group shows an interferon-alpha response;
  the planted genes are up in stimulated vs control; the control level is the demo unchanged.

Used by ``benchmarks/chat.py`` and the chat tests (in memory). To write it as a file::

    .venv/bin/python benchmarks/conditions.py conditions.h5ad
"""

from __future__ import annotations

import sys

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

CONDITION = "condition"
LEVELS = ("control", "stimulated")
DONORS = ("D1", "D2", "D3", "D4")
PLANTED_SET = "HALLMARK_INTERFERON_ALPHA_RESPONSE"
NAME = "pbmc68k_conditions"


def planted_genes(adata: ad.AnnData) -> list[str]:
    """The genes of the planted set that the data measures, in the set's order."""
    from cell2text.knowledge.genesets import load_gene_sets

    present = set(adata.var_names)
    return [g for g in load_gene_sets("hallmark")[PLANTED_SET] if g in present]


def make_conditions(
    adata: ad.AnnData | None = None, *, groupby: str = "bulk_labels", shift: float = 1.5, fraction: float = 0.8, seed: int = 0
) -> ad.AnnData:
    """The demo (or ``adata``, log-normalised) split into control / stimulated with the planted interferon shift.

    Returns a new AnnData with ``obs["condition"]``, ``obs["donor_id"]`` and
    ``uns["planted"]`` (set, genes, shift, fraction, seed).
    """
    if adata is None:
        from cell2text.data.demo import load_demo

        adata = load_demo()
    rng = np.random.default_rng(seed)
    out = adata.copy()
    stimulated = np.zeros(out.n_obs, dtype=bool)
    for group in sorted(out.obs[groupby].astype(str).unique()):
        cells = np.flatnonzero(out.obs[groupby].astype(str).to_numpy() == group)
        stimulated[rng.permutation(cells)[: len(cells) // 2]] = True
    out.obs[CONDITION] = pd.Categorical(np.where(stimulated, LEVELS[1], LEVELS[0]), categories=list(LEVELS))
    out.obs["donor_id"] = pd.Categorical(rng.choice(DONORS, size=out.n_obs), categories=list(DONORS))

    genes = planted_genes(out)
    columns = [out.var_names.get_loc(g) for g in genes]
    matrix = out.X.toarray() if sp.issparse(out.X) else np.array(out.X)
    block = matrix[np.ix_(stimulated, columns)]  # (stimulated cells, planted genes)
    hit = rng.random(block.shape) < fraction
    block += np.where(hit, np.clip(rng.normal(shift, 0.3, size=block.shape), 0, None), 0.0)
    matrix[np.ix_(stimulated, columns)] = block
    out.X = sp.csr_matrix(matrix.astype(np.float32)) if sp.issparse(adata.X) else matrix.astype(np.float32)
    out.uns["planted"] = {
        "set": PLANTED_SET,
        "genes": genes,
        "shift": shift,
        "fraction": fraction,
        "seed": seed,
        "condition": CONDITION,
        "stimulated": LEVELS[1],
    }
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].endswith(".h5ad"):
        sys.exit("usage: python benchmarks/conditions.py OUT.h5ad")
    make_conditions().write_h5ad(sys.argv[1])
    print(f"wrote {sys.argv[1]}")
