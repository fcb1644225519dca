"""Pathway evidence: over-representation and prerank GSEA of a group's markers, and per-cell pathway activity.

* :func:`enrich_genes` / :func:`enrich_group`: over-representation (gseapy ``enrich``, hypergeometric,
  Benjamini-Hochberg FDR) of a gene list, with the dataset's genes as background for a group.
* :func:`prerank_group`: gseapy ``prerank`` on the group's Wilcoxon scores (all genes ranked).
* :func:`score_pathways`: per-cell activity of every gene set with ``scanpy.tl.score_genes``
  (mean expression of the set minus that of random control genes with matched expression; the
  paper used AUCell, a rank-based score; score_genes is scanpy's own, fast and needs no extra
  dependency). :func:`pathway_activity` then makes "pathway X is active in group G" testable:
  Mann-Whitney U of G's scores against the other cells, with AUROC (``U / (n_G n_rest)``, 0.5 =
  no difference, 1 = every G cell scores higher) as the effect size and a BH FDR over pathways.
  :func:`top_pathways` gives each group's most active pathways (the model's training targets).

Library arguments take ``"hallmark"``, ``"reactome"``, ``"wikipathways"`` or a GMT path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import anndata as ad
import gseapy
import pandas as pd
import scanpy as sc
import scipy.sparse as sp

from cell2text.data.io import check_group, check_groupby
from cell2text.errors import InputError
from cell2text.knowledge.genesets import library_label, load_gene_sets, pathway_title
from cell2text.tools.evidence import Thresholds, auroc_test, fdr, is_active
from cell2text.tools.markers import (
    MIN_GROUP_CELLS,
    check_test_groups,
    group_markers,
    up_markers,
)

MIN_MATCHED_GENES = 3  # enrichment of fewer known genes than this is refused
_COLUMNS = ["pathway", "title", "overlap", "pval", "fdr", "odds_ratio", "genes"]


def _known(genes: Iterable[str], universe: set[str]) -> list[str]:
    by_upper = {g.upper(): g for g in universe}
    return list(dict.fromkeys(by_upper[g.upper()] for g in genes if g.upper() in by_upper))


def enrich_genes(genes: Iterable[str], library: str | Path = "hallmark", *, background: Iterable[str] | None = None) -> pd.DataFrame:
    """Over-representation of ``genes`` in each gene set (hypergeometric test, BH FDR), best first.

    Gene symbols are matched case-insensitively to the library (and background); fewer than
    ``MIN_MATCHED_GENES`` matches is an error that reports the count.

    Returns
    -------
    DataFrame with pathway, title, overlap ("k/n"), pval, fdr, odds_ratio, genes (";"-joined).
    """
    gene_list = [g.strip() for g in genes if g and g.strip()]
    if not gene_list:
        raise InputError("no genes given. Pass gene symbols, e.g. 'cell2text enrich CD3E CD8A GZMB'.")
    gene_sets = load_gene_sets(library)
    universe = {g for members in gene_sets.values() for g in members}
    if background is not None:
        background = list(dict.fromkeys(background))
        universe &= set(background)
        gene_sets = {name: [g for g in members if g in universe] for name, members in gene_sets.items()}
        gene_sets = {name: members for name, members in gene_sets.items() if members}
    matched = _known(gene_list, universe)
    if len(matched) < MIN_MATCHED_GENES:
        msg = f"only {len(matched)} of {len(gene_list)} genes are in the '{library_label(library)}' gene sets"
        msg += " (and background)" if background is not None else ""
        msg += f"; at least {MIN_MATCHED_GENES} are needed. Use human gene symbols (e.g. CD3E), not Ensembl ids."
        raise InputError(msg)
    result = gseapy.enrich(gene_list=matched, gene_sets=gene_sets, background=background, outdir=None, no_plot=True)
    table = result.results.rename(
        columns={"Term": "pathway", "Overlap": "overlap", "P-value": "pval", "Adjusted P-value": "fdr", "Odds Ratio": "odds_ratio", "Genes": "genes"}
    )
    table["title"] = table["pathway"].map(pathway_title)
    table = table[_COLUMNS].sort_values(["pval", "pathway"]).reset_index(drop=True)
    table.attrs.update(library=library_label(library), n_genes=len(gene_list), n_matched=len(matched))
    return table


def enrich_group(
    adata: ad.AnnData,
    groupby: str,
    group: str,
    library: str | Path = "hallmark",
    *,
    n_genes: int = 100,
    min_logfc: float = 0.5,
    max_pval: float = 0.05,
) -> pd.DataFrame:
    """Over-representation of a group's up-regulated markers, against all genes of the dataset.

    Markers: up to ``n_genes`` genes with log fold change >= ``min_logfc`` and adjusted p <=
    ``max_pval`` (Wilcoxon, :func:`cell2text.tools.markers.group_markers`).
    """
    up = up_markers(adata, groupby, group, min_logfc=min_logfc, max_pval=max_pval).head(n_genes)
    if len(up) < MIN_MATCHED_GENES:
        raise InputError(f"group '{group}' has {len(up)} significant up-regulated genes; at least {MIN_MATCHED_GENES} are needed for enrichment.")
    return enrich_genes(up["gene"], library, background=adata.var_names)


def prerank_group(
    adata: ad.AnnData,
    groupby: str,
    group: str,
    library: str | Path = "hallmark",
    *,
    permutations: int = 200,
    seed: int = 0,
    min_size: int = 5,
) -> pd.DataFrame:
    """Prerank GSEA of a group: all genes ranked by their Wilcoxon score against the rest.

    Returns pathway, title, es, nes, pval, fdr, lead_genes, sorted by FDR then |NES|.
    """
    table = group_markers(adata, groupby, group)
    ranking = table.set_index("gene")["score"].astype(float)
    ranking = ranking[~ranking.index.duplicated()].sort_values(ascending=False)
    gene_sets = load_gene_sets(library)
    result = gseapy.prerank(
        rnk=ranking,
        gene_sets=gene_sets,
        permutation_num=permutations,
        seed=seed,
        min_size=min_size,
        max_size=2000,
        outdir=None,
        no_plot=True,
        threads=1,
        verbose=False,
    )
    res = result.res2d.rename(
        columns={"Term": "pathway", "ES": "es", "NES": "nes", "NOM p-val": "pval", "FDR q-val": "fdr", "Lead_genes": "lead_genes"}
    )
    res["title"] = res["pathway"].map(pathway_title)
    for column in ("es", "nes", "pval", "fdr"):
        res[column] = res[column].astype(float)
    res = res.assign(abs_nes=res["nes"].abs()).sort_values(["fdr", "abs_nes"], ascending=[True, False])
    return res[["pathway", "title", "es", "nes", "pval", "fdr", "lead_genes"]].reset_index(drop=True)


def score_pathways(
    adata: ad.AnnData,
    library: str | Path = "hallmark",
    *,
    key_added: str = "cell2text_pathways",
    min_genes: int = 5,
    seed: int = 0,
    copy: bool = False,
) -> ad.AnnData | None:
    """Per-cell activity of every gene set with at least ``min_genes`` genes in the data.

    Returns
    -------
    ``adata.obsm[key_added]``: DataFrame, cells x pathways, ``scanpy.tl.score_genes`` scores;
    ``adata.uns[key_added]``: ``params`` (library, min_genes, seed, method and a digest of the genes scored on) and
    ``n_genes`` per pathway. Returns the AnnData when ``copy``. :func:`pathway_scores` reuses them when the params match.
    """
    adata = adata.copy() if copy else adata
    gene_sets = load_gene_sets(library)
    present = set(adata.var_names)
    usable = {name: [g for g in genes if g in present] for name, genes in gene_sets.items()}
    usable = {name: genes for name, genes in usable.items() if len(genes) >= min_genes}
    if not usable:
        raise InputError(f"no '{library_label(library)}' gene set has {min_genes}+ genes in the data. Use gene symbols of the same species.")
    # score_genes slices X by genes three times per gene set (the control pool is every gene): column slices of a CSC
    # copy are cheap, of CSR rows not (half the time at 10,000 cells x 32,786 genes; the same scores to 1e-6).
    X = sp.csc_matrix(adata.X) if sp.issparse(adata.X) else adata.X
    scratch = ad.AnnData(X=X, obs=pd.DataFrame(index=adata.obs_names), var=pd.DataFrame(index=adata.var_names))
    scores = {}
    for name, genes in usable.items():
        sc.tl.score_genes(scratch, genes, score_name="score", random_state=seed, use_raw=False)
        scores[name] = scratch.obs["score"].to_numpy()
    adata.obsm[key_added] = pd.DataFrame(scores, index=adata.obs_names)
    adata.uns[key_added] = {"params": _score_params(adata, library, min_genes, seed), "n_genes": {name: len(genes) for name, genes in usable.items()}}
    return adata if copy else None


def _score_params(adata: ad.AnnData, library: str | Path, min_genes: int, seed: int) -> dict:
    """What per-cell pathway scores depend on: the library, the scoring settings and the genes of the data."""
    genes = hashlib.sha1("\n".join(map(str, adata.var_names)).encode()).hexdigest()[:16]
    return {"library": library_label(library), "min_genes": min_genes, "seed": seed, "method": "scanpy.tl.score_genes", "genes": genes}


def pathway_scores(
    adata: ad.AnnData, library: str | Path = "hallmark", *, key_added: str = "cell2text_pathways", min_genes: int = 5, seed: int = 0
) -> pd.DataFrame:
    """The per-cell scores of ``library`` (cells x pathways), from ``adata.obsm[key_added]`` when they were stored with
    the same params on the same genes (as scanpy's readers check ``uns[key]["params"]``), else scored now.

    Scores a user's file brings under the same key from another library or another gene list are never reused.
    """
    stored = adata.uns.get(key_added)
    params = stored.get("params") if isinstance(stored, dict) else None
    if key_added not in adata.obsm or not isinstance(params, dict) or dict(params) != _score_params(adata, library, min_genes, seed):
        score_pathways(adata, library, key_added=key_added, min_genes=min_genes, seed=seed)
    return adata.obsm[key_added]


def pathway_activity(
    adata: ad.AnnData,
    groupby: str,
    group: str,
    pathways: Iterable[str] | None = None,
    *,
    key: str = "cell2text_pathways",
) -> pd.DataFrame:
    """Is each pathway more active in ``group`` than in the other cells? (Mann-Whitney U, AUROC, BH FDR)

    Needs :func:`score_pathways` first (run with Hallmark if ``adata.obsm[key]`` is missing).
    Returns pathway, title, auroc, mean_in, mean_out, pval, fdr, sorted by AUROC (most active first).
    """
    check_test_groups(adata, groupby, group)
    scores: pd.DataFrame = adata.obsm[key] if key in adata.obsm else pathway_scores(adata, key_added=key)
    if pathways is not None:
        wanted = list(pathways)
        missing = [p for p in wanted if p not in scores.columns]
        if missing:
            raise InputError(f"pathway '{missing[0]}' has no scores. Scored pathways look like: {', '.join(scores.columns[:3])}.")
        scores = scores[wanted]
    mask = check_group(adata, groupby, group)
    values = scores.to_numpy()
    auroc, pval = auroc_test(values, mask, ~mask)
    table = pd.DataFrame(
        {
            "pathway": scores.columns,
            "title": [pathway_title(p) for p in scores.columns],
            "auroc": auroc,
            "mean_in": values[mask].mean(axis=0),
            "mean_out": values[~mask].mean(axis=0),
            "pval": pval,
            "fdr": fdr(pval),
        }
    )
    return table.sort_values(["auroc", "pathway"], ascending=[False, True]).reset_index(drop=True)


def top_pathways(adata: ad.AnnData, groupby: str, n: int = 2, *, key: str = "cell2text_pathways", max_fdr: float = 0.05) -> dict[str, list[str]]:
    """For each group (with enough cells), its ``n`` most active pathways: highest AUROC among FDR <= ``max_fdr``."""
    groups = check_groupby(adata, groupby).astype(str)
    result = {}
    for group, size in groups.value_counts().items():
        if size < MIN_GROUP_CELLS or len(groups) - size < MIN_GROUP_CELLS:
            continue
        table = pathway_activity(adata, groupby, group, key=key)
        result[group] = table[is_active(table["auroc"], table["fdr"], Thresholds(max_fdr=max_fdr))]["pathway"].head(n).tolist()
    return result
