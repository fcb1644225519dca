"""Scaling benchmark: ``describe`` on 10k, 100k and 1M cells, side by side with CellTypist's ``annotate``.

    python benchmarks/scale.py                      # generate (once, into --data-dir) and measure every size
    python benchmarks/scale.py --sizes 10000 100000 --sets wide

Data (generated here, sparse, on disk, log-normalised like a CELLxGENE ``X``):

- ``wide``: CellTypist's bundled sample (559 PBMCs x 32,786 genes, raw counts). Each new cell is
  a random source cell whose non-zero counts are redrawn from a Poisson with the same mean (so no
  two cells are equal), normalised to 10,000 and log1p-transformed. ``obs['source_cluster']`` is
  the Leiden cluster of the source cell (computed once on the 559 cells).
- ``demo``: the demo's 700 log-normalised cells x 765 genes, resampled the same way from
  ``expm1`` of their values; ``obs['source_cluster']`` is the demo's ``bulk_labels``.

Each measurement runs in a fresh process, so its peak memory (``ru_maxrss``) is its own:
``describe`` (grouped by ``source_cluster``; the report with its UMAP and the annotated file
written too) records the wall time and the peak memory so far at the end of each stage;
CellTypist 1.7.1 (``celltypist.train`` on the demo's 560-cell training split, the same model for
every size) runs ``annotate`` on the same file. The growth exponent is the slope of
log(time) on log(cells) over the sizes measured.
A run keeps the earlier rows of the sets and sizes it does not measure; each row says when it
was measured and the 1-minute load average before it (other work on the machine slows it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CHUNK = 20_000  # cells generated and written at a time


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # kB -> GB


# ------------------------------------------------------------------------------------------- data
def _sources(kind: str):
    """(counts-like source matrix as CSR, gene names, source cluster names)."""
    import anndata as ad
    import scanpy as sc
    import scipy.sparse as sp

    if kind == "demo":
        from cell2text.data.demo import load_demo

        demo = load_demo()
        return sp.csr_matrix(np.expm1(demo.X.toarray() if sp.issparse(demo.X) else demo.X)), demo.var_names, \
            demo.obs["bulk_labels"].astype(str).to_numpy()
    import celltypist
    import pandas as pd

    table = pd.read_csv(Path(celltypist.__file__).parent / "data" / "samples" / "sample_cell_by_gene.csv", index_col=0)
    counts = sp.csr_matrix(table.to_numpy(dtype=np.float32))
    adata = ad.AnnData(counts.copy(), var=pd.DataFrame(index=table.columns))
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    sc.pp.pca(adata, n_comps=30, random_state=0)
    sc.pp.neighbors(adata, random_state=0)
    sc.tl.leiden(adata, random_state=0, flavor="igraph", n_iterations=2, directed=False)
    return counts, adata.var_names, ("c" + adata.obs["leiden"].astype(str)).to_numpy()


def generate(kind: str, n_cells: int, path: Path, seed: int = 0) -> None:
    """Write ``n_cells`` resampled cells to an .h5ad at ``path``, chunk by chunk (never the whole matrix in memory)."""
    import anndata as ad
    import h5py
    import pandas as pd
    import scipy.sparse as sp

    source, genes, clusters = _sources(kind)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, source.shape[0], n_cells)
    tmp = path.with_suffix(".tmp")
    with h5py.File(tmp, "w") as f:
        ad.io.write_elem(f, "obs", pd.DataFrame({"source_cluster": pd.Categorical(clusters[picks])},
                                                 index=[f"cell{i}" for i in range(n_cells)]))
        ad.io.write_elem(f, "var", pd.DataFrame(index=list(genes)))
        X = f.create_group("X")
        X.attrs.update({"encoding-type": "csr_matrix", "encoding-version": "0.1.0", "shape": (n_cells, len(genes))})
        data = X.create_dataset("data", shape=(0,), maxshape=(None,), dtype=np.float32, chunks=(1 << 20,))
        indices = X.create_dataset("indices", shape=(0,), maxshape=(None,), dtype=np.int32, chunks=(1 << 20,))
        indptr = [np.zeros(1, dtype=np.int64)]
        for start in range(0, n_cells, CHUNK):
            block = source[picks[start:start + CHUNK]].copy()
            block.data = rng.poisson(block.data).astype(np.float32)
            block.eliminate_zeros()
            totals = np.asarray(block.sum(1)).ravel()
            block = sp.csr_matrix(sp.diags(1e4 / np.maximum(totals, 1)) @ block)
            block.data = np.log1p(block.data).astype(np.float32)
            end = data.shape[0]
            data.resize((end + block.nnz,))
            indices.resize((end + block.nnz,))
            data[end:] = block.data
            indices[end:] = block.indices
            indptr.append(block.indptr[1:].astype(np.int64) + end)
        X.create_dataset("indptr", data=np.concatenate(indptr))
        for key in ("obsm", "varm", "obsp", "varp", "layers", "uns"):
            f.create_group(key)
    tmp.replace(path)


# ------------------------------------------------------------------------------------ measurements
def run_describe(path: Path, out: Path) -> dict:
    """In this process: describe the file grouped by source_cluster, write the report and the annotated copy."""
    from cell2text.agent.describe import describe
    from cell2text.data.io import read_dataset, write_h5ad_atomic
    from cell2text.report import write_report

    stages, started = [], time.perf_counter()
    last = [started]

    def mark(stage: str) -> None:
        now = time.perf_counter()
        if stages and stages[-1]["stage"] == stage:  # a chunked stage reporting progress: extend its row
            stages[-1]["seconds"] = round(stages[-1]["seconds"] + now - last[0], 2)
            stages[-1]["peak_gb"] = round(_peak_gb(), 2)
        else:
            stages.append({"stage": stage, "seconds": round(now - last[0], 2), "peak_gb": round(_peak_gb(), 2)})
        last[0] = now

    adata = read_dataset(path)
    mark("open")
    describe(adata, "source_cluster", progress=lambda node, step: mark(node))
    write_report(adata, out / "report", name=path.name, formats=("html",), inputs=[path])
    mark("report")
    write_h5ad_atomic(adata, out / "annotated.h5ad", inputs=[path])
    mark("write")
    return {"seconds": round(time.perf_counter() - started, 1), "peak_gb": round(_peak_gb(), 2), "stages": stages,
            "backed": bool(adata.isbacked), "groups": int(adata.obs["source_cluster"].nunique())}


def run_celltypist(path: Path, model: Path) -> dict:
    """In this process: CellTypist's annotate on the file with the demo-trained model (no majority voting)."""
    import celltypist

    started = time.perf_counter()
    result = celltypist.annotate(str(path), model=str(model))
    labels = result.predicted_labels["predicted_labels"]
    return {"seconds": round(time.perf_counter() - started, 1), "peak_gb": round(_peak_gb(), 2), "n_labels": int(labels.nunique())}


def train_celltypist(model: Path) -> None:
    """CellTypist trained on the demo's training split (the checkpoint's split.json), saved to ``model``."""
    import celltypist

    from cell2text.data.demo import load_demo

    demo = load_demo()
    split = json.loads((HERE.parent / "cell2text" / "model" / "checkpoint" / "split.json").read_text())
    train = demo[demo.obs_names.isin(split["train"])].copy()
    # pbmc68k_reduced is log-normalised, but not to 10,000 counts per cell: skip that check (as benchmarks/annotation.py)
    celltypist.train(train, labels="bulk_labels", feature_selection=False, n_jobs=1, use_SGD=False,
                     check_expression=False).write(str(model))


def _subprocess(*args: str, timeout: int) -> dict:
    """Run this script's hidden sub-command in a fresh process; its JSON, or the failure."""
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s", "seconds": round(time.perf_counter() - started, 1)}
    if done.returncode == -9:  # SIGKILL: on this machine, the kernel's out-of-memory killer
        return {"error": "killed (out of memory)", "seconds": round(time.perf_counter() - started, 1)}
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1][:200]
        return {"error": f"exit {done.returncode}: {tail}", "seconds": round(time.perf_counter() - started, 1)}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _exponent(points: list[tuple[int, float]]) -> float | None:
    if len(points) < 2:
        return None
    x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    return round(float(np.polyfit(x, y, 1)[0]), 2)


def _table(rows: list[dict]) -> str:
    lines = ["| data | cells | genes | file GB | describe total | describe peak GB | CellTypist annotate | CellTypist peak GB | ratio | load before |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d, c = r["describe"], r["celltypist"]
        ours = f"{d['seconds']:.0f} s" if "error" not in d else f"failed: {d['error']}"
        theirs = f"{c['seconds']:.0f} s" if "error" not in c else f"failed: {c['error']}"
        ratio = f"{d['seconds'] / c['seconds']:.1f}x" if "error" not in d and "error" not in c else "-"
        lines.append(f"| {r['set']} | {r['cells']:,} | {r['genes']:,} | {r['file_gb']:.2f} | {ours} | {d.get('peak_gb', '-')} | "
                     f"{theirs} | {c.get('peak_gb', '-')} | {ratio} | {r.get('load_before', '-')} |")
    lines += ["", "Stages of describe (seconds; peak GB so far):", ""]
    for r in rows:
        if "stages" in r["describe"]:
            stages = ", ".join(f"{s['stage']} {s['seconds']:.1f} s ({s['peak_gb']} GB)" for s in r["describe"]["stages"])
            lines.append(f"- {r['set']} {r['cells']:,}: {stages}")
    return "\n".join(lines)


def _goals(rows: list[dict]) -> str:
    """The issue's goals, each met / not met / not measured, from the wide (whole-transcriptome) rows."""
    wide = {r["cells"]: r for r in rows if r["set"] == "wide"}
    lines = ["Goals (wide set):"]
    big = wide.get(1_000_000, {}).get("describe", {})
    if big and "error" not in big:
        met = big["seconds"] < 15 * 60 and big["peak_gb"] < 8
        lines.append(f"- 1M cells in < 15 min within 8 GB: {'met' if met else 'not met'} ({big['seconds'] / 60:.1f} min, {big['peak_gb']} GB)")
    else:
        lines.append(f"- 1M cells in < 15 min within 8 GB: not measured{' (' + big['error'] + ')' if big else ''}")
    mid = wide.get(100_000)
    if mid and "error" not in mid["describe"] and "error" not in mid["celltypist"]:
        ratio = mid["describe"]["seconds"] / mid["celltypist"]["seconds"]
        lines.append(f"- 100k cells within 3x CellTypist's annotate: {'met' if ratio <= 3 else 'not met'} ({ratio:.1f}x)")
    else:
        lines.append("- 100k cells within 3x CellTypist's annotate: not measured")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--sets", nargs="+", default=["wide", "demo"], choices=["wide", "demo"])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "cell2text-scale")
    parser.add_argument("--timeout", type=int, default=3600, help="Seconds each measurement may take.")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    model = args.data_dir / "celltypist_demo.pkl"
    if not model.is_file():
        train_celltypist(model)
    rows = _earlier_rows(args.sets, args.sizes)
    for kind in args.sets:
        for n in args.sizes:
            path = args.data_dir / f"{kind}_{n}.h5ad"
            if not path.is_file():
                started = time.perf_counter()
                generate(kind, n, path)
                print(f"generated {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            import h5py

            with h5py.File(path) as f:
                genes = int(f["X"].attrs["shape"][1])
            out = args.data_dir / f"out_{kind}_{n}"
            out.mkdir(exist_ok=True)
            for stale in ("annotated.h5ad",):
                (out / stale).unlink(missing_ok=True)
            row = {"set": kind, "cells": n, "genes": genes, "file_gb": round(path.stat().st_size / 1e9, 2),
                   "measured_at": time.strftime("%Y-%m-%d %H:%M"),
                   "load_before": round(os.getloadavg()[0], 1),  # 1-minute load average: other work on the machine
                   "describe": _subprocess("_describe", str(path), str(out), timeout=args.timeout),
                   "celltypist": _subprocess("_celltypist", str(path), str(model), timeout=args.timeout)}
            rows.append(row)
            rows.sort(key=lambda r: (r["set"] != "wide", r["cells"]))
            print(json.dumps(row), file=sys.stderr)
            _write(rows)  # after every row, so a long run leaves what it measured


def _earlier_rows(sets: list[str], sizes: list[int]) -> list[dict]:
    """Rows of the last results for the (set, size) pairs this run does not measure, so a partial re-run keeps the rest."""
    path = RESULTS / "scale.json"
    if not path.is_file():
        return []
    return [r for r in json.loads(path.read_text())["rows"] if not (r["set"] in sets and r["cells"] in sizes)]


def _write(rows: list[dict]) -> None:
    """benchmarks/results/scale.md and .json from the rows measured so far."""
    sets = list(dict.fromkeys(r["set"] for r in rows))
    exponents = {kind: {tool: _exponent([(r["cells"], r[tool]["seconds"]) for r in rows if r["set"] == kind and "error" not in r[tool]])
                        for tool in ("describe", "celltypist")} for kind in sets}
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only, Python {platform.python_version()}"
    load = os.getloadavg()[2]
    payload = {"machine": machine, "date": time.strftime("%Y-%m-%d"), "load_15min": round(load, 1), "rows": rows, "exponents": exponents}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(payload, indent=2) + "\n")
    text = f"# Scaling: describe vs CellTypist annotate\n\n{machine}, {payload['date']}; 15-minute load average {load:.1f} at the end.\n\n"
    text += _table(rows) + "\n\nGrowth exponent (slope of log time on log cells): " + "; ".join(
        f"{k}: describe {v['describe']}, CellTypist {v['celltypist']}" for k, v in exponents.items()) + "\n"
    text += "\n" + _goals(rows) + "\n"
    (RESULTS / "scale.md").write_text(text)
    print(text)

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_describe":
        print(json.dumps(run_describe(Path(sys.argv[2]), Path(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "_celltypist":
        print(json.dumps(run_celltypist(Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        main()
