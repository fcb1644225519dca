"""Other tissues and mouse: describe real, expert-labelled datasets that are not the model's PBMC demo.

Data (read from ``../shared/data/``, never shipped; a missing file is skipped with a message):

* ``baron_pancreas_mouse.h5ad``: 175 mouse pancreas cells x 12,474 genes (upper-case mouse symbols), counts;
  alpha, beta, delta, activated_stellate, macrophage (Baron et al. 2016);
* ``zeisel_brain_mouse.h5ad``: 1,464 mouse cortex/hippocampus cells x 1,000 genes (``Tmx3``), counts;
  pyramidal CA1, interneurons, endothelial-mural (Zeisel et al. 2015);
* ``pbmc3k_seurat.h5ad``: 2,638 human PBMCs x 13,714 genes, log-normalised; the 9 Seurat tutorial labels
  (the model's own tissue, for contrast).

Each dataset is described grouped by the authors' labels (``describe(adata, "cell_type")``) four ways:
the **evidence path** alone (``use_model=False``) and the **model-weighted** path (the default: the
model counts as much as it fits the data, :mod:`cell2text.model.fit`), each without and with the
tissue stated (``tissue=``, as ``describe --tissue``). CellTypist is not applicable across tissues
without its model zoo (its pretrained models do not ship), so the two paths are the comparison.

Per group, the final cell type is **right** (the expected CL term or a descendant), **general** (a
true ancestor of it), **wrong** (anything else, or no cell type); **supported but wrong** counts wrong
ones whose claim is supported. Expected terms: ``../shared/benchmarks/README.md`` (and the
cross-dataset benchmark's mapping of the Seurat labels). Goal (issue 17): no dataset refused or
crashed; >= 60% of groups right, <= 10% wrong, 0 supported-but-wrong. These datasets are the
development half of a larger set kept aside: nothing here is tuned on them.

    .venv/bin/python benchmarks/tissues.py            # writes benchmarks/results/tissues.{md,json}
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

import anndata as ad
from _common import machine, write_results
from cross_dataset import TRUTH as PBMC_TRUTH

from cell2text.agent.describe import describe, read_result
from cell2text.knowledge.ontology import load_ontology

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: file -> (obs column, tissue to state, label -> accepted CL ids)
DATASETS = {
    "baron_pancreas_mouse.h5ad": (
        "cell_type",
        "pancreas",
        {
            "alpha": ("CL:0000171",),
            "beta": ("CL:0000169",),
            "delta": ("CL:0000173",),
            "activated_stellate": ("CL:0002410",),
            "macrophage": ("CL:0000235",),
        },
    ),
    "zeisel_brain_mouse.h5ad": (
        "cell_type",
        "brain",
        {"pyramidal CA1": ("CL:0000598",), "interneurons": ("CL:0000099",), "endothelial-mural": ("CL:0000115", "CL:0008034")},
    ),
    "pbmc3k_seurat.h5ad": ("cell_type", "blood", {label: (term,) for label, (term, _) in PBMC_TRUTH.items()}),
}
MODES = {"evidence": {"use_model": False}, "weighted": {"use_model": True}}


def grade(found: str | None, expected: tuple[str, ...], ontology) -> str:
    """right (expected or a descendant), general (a true ancestor), or wrong."""
    if found is None:
        return "wrong"
    if any(found == e or e in ontology.ancestors(found) for e in expected):
        return "right"
    if any(found in ontology.ancestors(e) for e in expected):
        return "general"
    return "wrong"


def run(path: Path, groupby: str, tissue: str | None, mode: str, truth: dict, ontology) -> dict:
    """One describe run, graded per group; a crash is recorded, not raised."""
    adata = ad.read_h5ad(path)
    started = time.perf_counter()
    try:
        describe(adata, groupby, tissue=tissue, **MODES[mode])
    except Exception as exc:  # the goal counts crashes of any kind: record and go on
        return {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(limit=3)}
    result = read_result(adata)
    rows = {}
    for label, expected in truth.items():
        group = result["groups"][label]
        verdict = grade(group["cell_type_ontology_term_id"], expected, ontology)
        rows[label] = {
            "cell_type": group["cell_type"],
            "id": group["cell_type_ontology_term_id"],
            "status": group["status"],
            "expected": list(expected),
            "grade": verdict,
            "supported_but_wrong": verdict == "wrong" and group["status"] == "supported",
        }
    fit = result["model"]["fit"]
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "groups": rows,
        "model": {"used": fit["used"], "weight": fit["weight"], "gene_share": fit["gene_share"], "agreement": fit["agreement"]},
        "notes": result["notes"],
    }


def main() -> None:
    ontology = load_ontology()
    report = {"machine": machine(), "load_before": os.getloadavg()[0], "runs": {}}
    lines = [
        "# Other tissues and mouse: describe grouped by the authors' labels",
        "",
        f"Machine: {report['machine']}; 1-minute load before the runs {report['load_before']:.1f}.",
        "",
        "| dataset | path | tissue stated | model weight | right | general | wrong | supported but wrong | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    details, totals = [], {}
    for name, (groupby, tissue, truth) in DATASETS.items():
        path = DATA / name
        if not path.is_file():
            print(f"skipped {name}: {path} is not here (evaluation data in ../shared, not shipped)", file=sys.stderr)
            continue
        for mode in MODES:
            for stated in (None, tissue):
                key = f"{name}|{mode}|{stated or '-'}"
                print(f"running {key}", file=sys.stderr)
                out = report["runs"][key] = run(path, groupby, stated, mode, truth, ontology)
                if "error" in out:
                    lines.append(f"| {name} | {mode} | {stated or '-'} | - | crashed: {out['error'][:80]} | | | | |")
                    continue
                grades = [g["grade"] for g in out["groups"].values()]
                counts = {k: grades.count(k) for k in ("right", "general", "wrong")}
                sbw = sum(g["supported_but_wrong"] for g in out["groups"].values())
                total = totals.setdefault((mode, stated is not None), {"right": 0, "general": 0, "wrong": 0, "sbw": 0, "n": 0, "crashed": 0})
                for k, v in counts.items():
                    total[k] += v
                total["sbw"] += sbw
                total["n"] += len(grades)
                lines.append(
                    f"| {name} | {mode} | {stated or '-'} | {out['model']['weight']:.2f} | {counts['right']}/{len(grades)} |"
                    f" {counts['general']} | {counts['wrong']} | {sbw} | {out['seconds']} |"
                )
                details.append(
                    f"- {name}, {mode}, tissue {stated or '-'}: "
                    + "; ".join(
                        f"{label} -> {g['cell_type'] or 'none'} ({g['id'] or '-'}, {g['status'] or '-'}, {g['grade']})"
                        for label, g in out["groups"].items()
                    )
                )
    lines += [
        "",
        "All datasets together (groups):",
        "",
        "| path | tissue stated | right | general | wrong | supported but wrong |",
        "|---|---|---|---|---|---|",
    ]
    for (mode, stated), t in totals.items():
        share = {k: f"{t[k]}/{t['n']} ({t[k] / t['n']:.0%})" if t["n"] else "-" for k in ("right", "general", "wrong")}
        lines.append(f"| {mode} | {'yes' if stated else 'no'} | {share['right']} | {share['general']} | {share['wrong']} | {t['sbw']} |")
    report["totals"] = {f"{m}|{'tissue' if s else 'no tissue'}": t for (m, s), t in totals.items()}
    lines += ["", "Per group:", "", *details]
    write_results("tissues", report, lines)


if __name__ == "__main__":
    main()
