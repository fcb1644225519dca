"""Enrichment benchmark on the demo dataset: does the expected biology show for each bulk label?

For each of the ten pbmc68k bulk labels, three ways to find the group's pathways (Hallmark):

* ORA: gseapy ``enrich`` of the group's up-regulated Wilcoxon markers, dataset genes as background;
* prerank: gseapy ``prerank`` (200 permutations) on all genes ranked by Wilcoxon score;
* activity: per-cell ``scanpy.tl.score_genes`` scores, group vs rest by AUROC (Mann-Whitney).

A label "shows its biology" when one of the Hallmark sets its cells are known for (``EXPECTED``)
is among a method's top 5 significant (FDR <= 0.05) pathways. Runtime per method is summed over
groups. Note pbmc68k_reduced keeps only 765 highly variable genes, so many Hallmark sets have
few genes in the data. Writes ``benchmarks/results/enrichment.md`` and ``enrichment.json``.

    .venv/bin/python benchmarks/enrichment.py
"""

from __future__ import annotations

import logging
import time

from _common import machine, write_results

from cell2text.data.demo import DEMO_GROUPBY, load_demo
from cell2text.errors import InputError
from cell2text.tools.enrichment import enrich_group, pathway_activity, prerank_group, score_pathways
from cell2text.tools.markers import rank_markers

TOP = 5
H = "HALLMARK_"
# Hallmark sets whose biology each population is known for.
EXPECTED = {
    "CD14+ Monocyte": {
        "COMPLEMENT",
        "INFLAMMATORY_RESPONSE",
        "TNFA_SIGNALING_VIA_NFKB",
        "INTERFERON_GAMMA_RESPONSE",
        "INTERFERON_ALPHA_RESPONSE",
        "IL6_JAK_STAT3_SIGNALING",
    },
    "Dendritic": {"ALLOGRAFT_REJECTION", "INTERFERON_GAMMA_RESPONSE", "COMPLEMENT", "INFLAMMATORY_RESPONSE", "TNFA_SIGNALING_VIA_NFKB"},
    "CD56+ NK": {"ALLOGRAFT_REJECTION", "IL2_STAT5_SIGNALING", "INTERFERON_GAMMA_RESPONSE", "INFLAMMATORY_RESPONSE"},
    "CD8+ Cytotoxic T": {"ALLOGRAFT_REJECTION", "IL2_STAT5_SIGNALING", "INTERFERON_GAMMA_RESPONSE", "TNFA_SIGNALING_VIA_NFKB"},
    "CD8+/CD45RA+ Naive Cytotoxic": {"ALLOGRAFT_REJECTION", "IL2_STAT5_SIGNALING", "PI3K_AKT_MTOR_SIGNALING"},
    "CD19+ B": {"ALLOGRAFT_REJECTION", "INTERFERON_GAMMA_RESPONSE", "IL2_STAT5_SIGNALING", "PI3K_AKT_MTOR_SIGNALING"},
    "CD4+/CD25 T Reg": {"IL2_STAT5_SIGNALING", "ALLOGRAFT_REJECTION", "PI3K_AKT_MTOR_SIGNALING"},
    "CD4+/CD45RO+ Memory": {"IL2_STAT5_SIGNALING", "ALLOGRAFT_REJECTION", "PI3K_AKT_MTOR_SIGNALING", "TNFA_SIGNALING_VIA_NFKB"},
    "CD4+/CD45RA+/CD25- Naive T": {"IL2_STAT5_SIGNALING", "ALLOGRAFT_REJECTION", "PI3K_AKT_MTOR_SIGNALING"},
    "CD34+": {"MYC_TARGETS_V1", "MYC_TARGETS_V2", "E2F_TARGETS", "G2M_CHECKPOINT", "OXIDATIVE_PHOSPHORYLATION"},
}


def short(name: str) -> str:
    return name.removeprefix(H)


def main() -> None:
    logging.getLogger("gseapy").setLevel(logging.ERROR)
    adata = load_demo()
    seconds = {"markers": 0.0, "ora": 0.0, "prerank": 0.0, "activity": 0.0}
    start = time.perf_counter()
    rank_markers(adata, DEMO_GROUPBY)
    seconds["markers"] = time.perf_counter() - start
    start = time.perf_counter()
    score_pathways(adata)
    seconds["activity"] += time.perf_counter() - start
    rows = []
    for label, expected in EXPECTED.items():
        row = {"group": label, "cells": int((adata.obs[DEMO_GROUPBY] == label).sum())}
        methods = {
            "ora": lambda label=label: enrich_group(adata, DEMO_GROUPBY, label),
            "prerank": lambda label=label: prerank_group(adata, DEMO_GROUPBY, label, permutations=200).query("nes > 0"),
            "activity": lambda label=label: pathway_activity(adata, DEMO_GROUPBY, label).query("auroc > 0.5"),
        }
        for method, run in methods.items():
            start = time.perf_counter()
            try:
                table = run()
                top = [short(p) for p in table[table["fdr"] <= 0.05]["pathway"].head(TOP)]
            except InputError as exc:  # e.g. too few significant markers in a tiny group
                top, row[f"{method}_note"] = [], str(exc)
            seconds[method] += time.perf_counter() - start
            row[method] = top
            row[f"{method}_shows"] = bool(set(top) & expected)
        rows.append(row)
        print(row)

    report = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "seconds": seconds,
        "rows": rows,
        "shows": {m: sum(r[f"{m}_shows"] for r in rows) for m in ("ora", "prerank", "activity")},
    }
    lines = [
        "# Pathway evidence on the demo dataset (pbmc68k_reduced, Hallmark)",
        "",
        f"Machine: {report['machine']}. Date: {report['date']}.",
        f"Runtime, all 10 groups: markers (Wilcoxon) {seconds['markers']:.2f} s, ORA {seconds['ora']:.2f} s, "
        f"prerank {seconds['prerank']:.2f} s, per-cell scores + tests {seconds['activity']:.2f} s.",
        f"Expected biology among the top {TOP} significant pathways: ORA {report['shows']['ora']}/10, "
        f"prerank {report['shows']['prerank']}/10, activity {report['shows']['activity']}/10. "
        "(yes / no after each list; the expected sets per group are in the script.)",
        "",
        "| group | cells | ORA of markers | prerank GSEA (NES > 0) | activity (AUROC > 0.5) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [
            ", ".join(r[m]) + (" — yes" if r[f"{m}_shows"] else " — no") if r[m] else "none significant — no" for m in ("ora", "prerank", "activity")
        ]
        lines.append(f"| {r['group']} | {r['cells']} | " + " | ".join(cells) + " |")
    write_results("enrichment", report, lines)


if __name__ == "__main__":
    main()
