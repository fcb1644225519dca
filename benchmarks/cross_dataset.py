"""Cross-dataset: describe a second PBMC dataset the shipped model never saw, beside CellTypist trained on the same demo.

Data: ``../shared/data/pbmc3k_seurat.h5ad`` (10x PBMC 3k, 2,638 cells, the 9 labels of the Seurat
tutorial in ``obs['cell_type']``). The shipped Cell2Text checkpoint was trained on the demo only
(pbmc68k_reduced, 10 sorted populations, 765 genes): it knows no platelet and no CD16 monocyte.

* cell2text: ``describe(adata, "cell_type")`` (model draft, then verification with the head,
  PageRank, marker evidence and the candidate search over the marker knowledge, revision);
* CellTypist 1.7.1: ``celltypist.train`` on the demo (its bulk labels as CL ids, from
  ``cell2text/data/pbmc68k_bulk_labels.csv``), ``celltypist.annotate`` per cell, then the majority
  label of each group.

Each group's final cell type is graded against the Seurat label mapped to CL (``TRUTH`` below,
with the reason for each mapping) by :func:`cell2text.model.evaluate.grade`: exact, parent (a
correct ancestor), child (a correct, more specific term), sibling or other. Goals: no group whose
final type is *supported* but a sibling or other; Platelet -> platelet; FCGR3A+ Mono ->
CD14-low, CD16-positive monocyte or non-classical monocyte (its parent); every group right (exact
or a correct, more specific term) or a correct ancestor. Writes ``benchmarks/results/cross_dataset.md`` and ``.json``.

    .venv/bin/python benchmarks/cross_dataset.py
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

import anndata as ad
from _common import machine, write_results

from cell2text.agent.describe import describe, read_result
from cell2text.data.demo import load_demo
from cell2text.knowledge.ontology import load_ontology
from cell2text.knowledge.pagerank import pagerank_similarity
from cell2text.model.evaluate import grade

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pbmc3k_seurat.h5ad"
#: Seurat tutorial label -> (CL id, why): the tutorial names each cluster by its canonical markers.
TRUTH = {
    "Naive CD4 T": ("CL:0000895", "IL7R and CCR7 high, no CD8A: naive thymus-derived CD4-positive, alpha-beta T cell"),
    "Memory CD4 T": ("CL:0000897", "IL7R and S100A4 high, no CD8A: CD4-positive, alpha-beta memory T cell"),
    "CD14+ Mono": ("CL:0001054", "CD14 and LYZ high: CD14-positive monocyte"),
    "B": ("CL:0000236", "MS4A1 (CD20): B cell"),
    "CD8 T": ("CL:0000625", "CD8A high: CD8-positive, alpha-beta T cell (the tutorial does not split naive and memory)"),
    "FCGR3A+ Mono": ("CL:0002396", "FCGR3A (CD16) and MS4A7 high, CD14 low: CD14-low, CD16-positive monocyte"),
    "NK": ("CL:0000623", "GNLY and NKG7 high, no CD3: natural killer cell"),
    "DC": ("CL:0000451", "FCER1A and CST3 high: dendritic cell (mostly conventional DC2, a few plasmacytoid)"),
    "Platelet": ("CL:0000233", "PPBP (and PF4) high: platelet"),
}
RIGHT = ("exact", "parent", "child")  # a correct term: the truth, a correct ancestor, or a correct more specific one


def celltypist_groups(adata: ad.AnnData, groupby: str) -> tuple[dict[str, str], float]:
    """CellTypist trained on the demo's CL ids, majority label per group, and the seconds it took."""
    import celltypist

    start = time.perf_counter()
    train = load_demo()
    model = celltypist.train(
        train, labels="cell_type_ontology_term_id", feature_selection=False, n_jobs=1, use_SGD=False, check_expression=False
    )  # the demo is log-normalised, but not to 10,000 counts per cell
    predicted = celltypist.annotate(adata, model=model).predicted_labels["predicted_labels"].astype(str)
    groups = adata.obs[groupby].astype(str)
    majority = {g: Counter(predicted[groups == g]).most_common(1)[0][0] for g in sorted(set(groups))}
    return majority, time.perf_counter() - start


def main() -> None:
    if not DATA.is_file():
        sys.exit(f"skipped: {DATA} not found (evaluation data lives in ../shared, not in the repository)")
    ontology = load_ontology()
    ppr = pagerank_similarity(ontology, "CL")
    adata = ad.read_h5ad(DATA)
    start = time.perf_counter()
    describe(adata, "cell_type")
    describe_s = time.perf_counter() - start
    result = read_result(adata)
    theirs, celltypist_s = celltypist_groups(ad.read_h5ad(DATA), "cell_type")

    rows = []
    for group, (truth, why) in TRUTH.items():
        ours = result["groups"][group]
        final, draft = ours["cell_type_ontology_term_id"], ours["draft_claims"]
        drafted = next((c["id"] for c in draft if c["kind"] == "cell_type"), None)
        rows.append(
            {
                "group": group,
                "truth": truth,
                "truth_label": ontology.term(truth).label,
                "mapping": why,
                "n_cells": ours["n_cells"],
                "draft": drafted,
                "draft_label": ontology.term(drafted).label if drafted else None,
                "draft_grade": grade(drafted, truth, ontology),
                "final": final,
                "final_label": ours["cell_type"],
                "status": ours["status"],
                "grade": grade(final, truth, ontology),
                "ppr": round(ppr.similarity(final, truth), 3) if final else 0.0,
                "text": ours["text"],
                "celltypist": theirs[group],
                "celltypist_label": ontology.term(theirs[group]).label,
                "celltypist_grade": grade(theirs[group], truth, ontology),
                "celltypist_ppr": round(ppr.similarity(theirs[group], truth), 3),
            }
        )
    supported_wrong = [r["group"] for r in rows if r["status"] == "supported" and r["grade"] not in RIGHT]
    summary = {
        "cell2text": {
            "right": sum(r["grade"] in RIGHT for r in rows),
            "exact": sum(r["grade"] == "exact" for r in rows),
            "supported_but_wrong": len(supported_wrong),
            "mean_ppr": round(sum(r["ppr"] for r in rows) / len(rows), 3),
            "draft_right": sum(r["draft_grade"] in RIGHT for r in rows),
            "seconds": round(describe_s, 1),
        },
        "celltypist": {
            "right": sum(r["celltypist_grade"] in RIGHT for r in rows),
            "exact": sum(r["celltypist_grade"] == "exact" for r in rows),
            "mean_ppr": round(sum(r["celltypist_ppr"] for r in rows) / len(rows), 3),
            "seconds": round(celltypist_s, 1),
        },
    }
    by_group = {r["group"]: r for r in rows}
    goals = {
        "no supported-but-wrong group": not supported_wrong,
        "Platelet -> platelet": by_group["Platelet"]["final"] == "CL:0000233",
        "FCGR3A+ Mono -> CL:0002396 or non-classical monocyte": by_group["FCGR3A+ Mono"]["final"] in ("CL:0002396", "CL:0000875"),
        "every group right (exact or a correct, more specific term) or a correct ancestor": all(r["grade"] in RIGHT for r in rows),
    }
    lines = [
        "# Cross-dataset: pbmc3k (Seurat tutorial labels), model trained on the demo only",
        "",
        f"{adata.n_obs:,} cells, {len(rows)} groups (`obs['cell_type']`); {machine()}.",
        "Grades against the Seurat label mapped to CL (mapping and reasons in `benchmarks/cross_dataset.py`): exact, parent (a",
        "correct ancestor), child (correct and more specific), sibling, other.",
        "",
        "| group | truth | cell2text draft | cell2text final | status | grade | PPR | CellTypist (majority) | grade | PPR |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['group']} ({r['n_cells']}) | {r['truth_label']} | {r['draft_label']} | {r['final_label']} ({r['final']}) | {r['status']} |"
            f" {r['grade']} | {r['ppr']:.2f} | {r['celltypist_label']} | {r['celltypist_grade']} | {r['celltypist_ppr']:.2f} |"
        )
    ours, peer = summary["cell2text"], summary["celltypist"]
    lines += [
        "",
        f"- cell2text: {ours['right']}/{len(rows)} right (exact {ours['exact']}, the rest a correct ancestor or descendant), mean PPR"
        f" {ours['mean_ppr']:.3f}, **{ours['supported_but_wrong']} supported but wrong**; its drafts alone: {ours['draft_right']}/{len(rows)}"
        f" right; describe took {ours['seconds']:.0f} s.",
        f"- CellTypist 1.7.1 trained on the demo, majority per group: {peer['right']}/{len(rows)} right (exact {peer['exact']}), mean PPR"
        f" {peer['mean_ppr']:.3f}; {peer['seconds']:.0f} s (training included).",
        "- Goals: " + "; ".join(f"{name}: **{'met' if ok else 'not met'}**" for name, ok in goals.items()) + ".",
    ]
    write_results(
        "cross_dataset", {"machine": machine(), "summary": summary, "goals": goals, "supported_but_wrong": supported_wrong, "groups": rows}, lines
    )


if __name__ == "__main__":
    main()
