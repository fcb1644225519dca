"""Scaling benchmark: ``describe`` on 100k to millions of cells, side by side with CellTypist's ``annotate``, in this
process and on a Dask ``LocalCluster``; and the demo's describe, the fixed cost every user pays.

    python benchmarks/scale.py                      # generate (once, into --data-dir) and measure every size
    python benchmarks/scale.py --sizes 100000 --sets wide
    python benchmarks/scale.py --sizes 1000000 --sets wide --modes 0 1 2   # in-process, LocalCluster of 1 and 2 workers
    python benchmarks/scale.py --demo               # only the demo's describe (cold and warm caches)

Data (generated here, sparse, on disk, log-normalised like a CELLxGENE ``X``):

- ``wide``: CellTypist's bundled sample (559 PBMCs x 32,786 genes, raw counts). Each new cell is
  a random source cell whose non-zero counts are redrawn from a Poisson with the same mean (so no
  two cells are equal), normalised to 10,000 and log1p-transformed. ``obs['source_cluster']`` is
  the Leiden cluster of the source cell (computed once on the 559 cells).
- ``demo``: the demo's 700 log-normalised cells x 765 genes, resampled the same way from
  ``expm1`` of their values; ``obs['source_cluster']`` is the demo's ``bulk_labels``.

Each measurement runs in a fresh process, so its peak memory (``ru_maxrss``) is its own:
``describe`` (grouped by ``source_cluster``; the report and the annotated file written too) records the wall time
and the peak memory so far at the end of each stage; CellTypist 1.7.1 (``celltypist.train`` on the demo's
560-cell training split, the same model for every size) runs ``annotate`` on the same file, in-process rows only.
Mode ``0`` runs describe's scan on Dask's threaded scheduler in the process; mode ``N`` starts a
``distributed.LocalCluster`` of N worker processes (one thread each) inside the measuring process and sets
``CELL2TEXT_SCHEDULER`` to it; each worker's peak memory is read from the worker itself. The scan's cost per chunk
(``Settings.chunk_size`` cells) is the scan stage's time over the number of chunks: the basis of the 10M / 100M
estimate in docs/scale.md. The growth exponent is the slope of log(time) on log(cells) over the in-process sizes.
A run keeps the earlier rows it does not measure; each row says when it was measured, on which machine, and the
1-minute load average before it (other work on the machine slows it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CHUNK = 20_000  # cells generated and written at a time


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB -> GB


# ------------------------------------------------------------------------------------------- data
def _sources(kind: str):
    """(counts-like source matrix as CSR, gene names, source cluster names)."""
    import anndata as ad
    import scanpy as sc
    import scipy.sparse as sp

    if kind == "demo":
        from cell2text.data.demo import load_demo

        demo = load_demo()
        return (
            sp.csr_matrix(np.expm1(demo.X.toarray() if sp.issparse(demo.X) else demo.X)),
            demo.var_names,
            demo.obs["bulk_labels"].astype(str).to_numpy(),
        )
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
        ad.io.write_elem(f, "obs", pd.DataFrame({"source_cluster": pd.Categorical(clusters[picks])}, index=[f"cell{i}" for i in range(n_cells)]))
        ad.io.write_elem(f, "var", pd.DataFrame(index=list(genes)))
        X = f.create_group("X")
        X.attrs.update({"encoding-type": "csr_matrix", "encoding-version": "0.1.0", "shape": (n_cells, len(genes))})
        data = X.create_dataset("data", shape=(0,), maxshape=(None,), dtype=np.float32, chunks=(1 << 20,))
        indices = X.create_dataset("indices", shape=(0,), maxshape=(None,), dtype=np.int32, chunks=(1 << 20,))
        indptr = [np.zeros(1, dtype=np.int64)]
        for start in range(0, n_cells, CHUNK):
            block = source[picks[start : start + CHUNK]].copy()
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
def run_describe(path: Path | None, out: Path, workers: int = 0, runs: int = 1) -> dict:
    """In this process: describe the file (None: the demo) grouped by source_cluster (the demo: bulk_labels), write the
    report and the annotated copy; with ``workers``, the scan runs on a LocalCluster of that many worker processes.
    With ``runs`` > 1, the same is done that many times in this process and the last is measured."""
    for _ in range(runs - 1):
        run_describe(path, out, workers)
        (out / "annotated.h5ad").unlink(missing_ok=True)
    from cell2text.agent.describe import describe
    from cell2text.config import get_settings
    from cell2text.data.io import read_dataset, write_h5ad_atomic
    from cell2text.report import write_report

    stages, started = [], time.perf_counter()
    last = [started]
    cluster = None
    if workers:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit=0)
        os.environ["CELL2TEXT_SCHEDULER"] = cluster.scheduler_address

    def mark(stage: str) -> None:
        now = time.perf_counter()
        if stages and stages[-1]["stage"] == stage:  # a chunked stage reporting progress: extend its row
            stages[-1]["seconds"] = round(stages[-1]["seconds"] + now - last[0], 2)
            stages[-1]["peak_gb"] = round(_peak_gb(), 2)
        else:
            stages.append({"stage": stage, "seconds": round(now - last[0], 2), "peak_gb": round(_peak_gb(), 2)})
        last[0] = now

    if path is None:
        from cell2text.data.demo import DEMO_GROUPBY, DEMO_NAME, load_demo

        adata, name, groupby, inputs = load_demo(), DEMO_NAME, DEMO_GROUPBY, []
    else:
        adata, name, groupby, inputs = read_dataset(path), path.name, "source_cluster", [path]
    mark("open")
    describe(adata, groupby, progress=lambda node, step: mark(node))
    write_report(adata, out / "report", name=name, formats=("html",), inputs=inputs)
    mark("report")
    write_h5ad_atomic(adata, out / "annotated.h5ad", inputs=inputs)
    mark("write")
    result = {
        "seconds": round(time.perf_counter() - started, 1),
        "peak_gb": round(_peak_gb(), 2),
        "stages": stages,
        "backed": bool(adata.isbacked),
        "groups": int(adata.obs[groupby].nunique()),
        "chunks": -(-adata.n_obs // get_settings().chunk_size),
    }
    if cluster is not None:
        from distributed import Client

        with Client(cluster) as client:
            result["worker_peak_gb"] = sorted(round(v, 2) for v in client.run(_peak_gb).values())
        cluster.close()
    return result


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
    celltypist.train(train, labels="bulk_labels", feature_selection=False, n_jobs=1, use_SGD=False, check_expression=False).write(str(model))


def _subprocess(*args: str, timeout: int, env: dict[str, str] | None = None) -> dict:
    """Run this script's hidden sub-command in a fresh process (``env`` added to its environment); its JSON, or the failure."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, __file__, *args], check=False, capture_output=True, text=True, timeout=timeout, env=os.environ | (env or {})
        )
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


def _mode(row: dict) -> str:
    workers = row.get("workers", 0)
    mode = "in-process" if workers == 0 else f"LocalCluster, {workers} worker{'s' if workers > 1 else ''}"
    return mode + (f" ({row['note']})" if row.get("note") else "")


def _scan_seconds(describe: dict) -> float | None:
    """Seconds of the scan stage (every cell read, prepared, its head probabilities computed)."""
    seconds = [s["seconds"] for s in describe.get("stages", []) if s["stage"] == "scan"]
    return round(sum(seconds), 1) if seconds else None


def _table(rows: list[dict]) -> str:
    lines = [
        (
            "| data | cells | genes | file GB | mode | describe total | scan | s per chunk | describe peak GB | worker peak GB |"
            " CellTypist annotate | CellTypist peak GB | ratio | machine | load before |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d, c = r["describe"], r.get("celltypist")
        ours = f"{d['seconds']:.0f} s" if "error" not in d else f"failed: {d['error']}"
        theirs = "-" if c is None else f"{c['seconds']:.0f} s" if "error" not in c else f"failed: {c['error']}"
        ratio = f"{d['seconds'] / c['seconds']:.1f}x" if c and "error" not in d and "error" not in c else "-"
        scan = _scan_seconds(d)
        per_chunk = f"{scan / d['chunks']:.1f}" if scan and d.get("chunks") else "-"
        workers = ", ".join(map(str, d.get("worker_peak_gb", []))) or "-"
        lines.append(
            f"| {r['set']} | {r['cells']:,} | {r['genes']:,} | {r['file_gb']:.2f} | {_mode(r)} | {ours} | "
            f"{f'{scan:.0f} s' if scan else '-'} | {per_chunk} | {d.get('peak_gb', '-')} | {workers} | {theirs} | "
            f"{c.get('peak_gb', '-') if c else '-'} | {ratio} | {r.get('machine', '-')} | {r.get('load_before', '-')} |"
        )
    lines += ["", "Stages of describe (seconds; peak GB so far):", ""]
    for r in rows:
        if "stages" in r["describe"]:
            stages = ", ".join(f"{s['stage']} {s['seconds']:.1f} s ({s['peak_gb']} GB)" for s in r["describe"]["stages"])
            lines.append(f"- {r['set']} {r['cells']:,} {_mode(r)}: {stages}")
    return "\n".join(lines)


def _goals(rows: list[dict]) -> str:
    """The issue's goals, each met / not met / not measured."""
    wide = {r["cells"]: r for r in rows if r["set"] == "wide" and r.get("workers", 0) == 0}
    lines = ["Goals:"]
    mid = wide.get(100_000)
    if mid and "error" not in mid["describe"] and "error" not in mid["celltypist"]:
        ratio = mid["describe"]["seconds"] / mid["celltypist"]["seconds"]
        lines.append(f"- 100k cells (wide) within 3x CellTypist's annotate: {'met' if ratio <= 3 else 'not met'} ({ratio:.1f}x)")
    else:
        lines.append("- 100k cells (wide) within 3x CellTypist's annotate: not measured")
    demo = [r for r in rows if r["set"] == "pbmc68k demo" and "error" not in r["describe"]]
    for r in demo:
        seconds = r["describe"]["seconds"]
        lines.append(f"- the demo's describe in-process under 10 s ({r['note']}): {'met' if seconds < 10 else 'not met'} ({seconds:.1f} s)")
    if not demo:
        lines.append("- the demo's describe in-process under 10 s: not measured")
    return "\n".join(lines)


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1e9:.0f} GB"


def _row(
    kind: str, cells: int, genes: int, file_gb: float, workers: int, describe: dict, celltypist: dict | None, load: float, note: str = ""
) -> dict:
    """One measurement; ``load`` is the 1-minute load average before it (other work on the machine)."""
    return {
        "set": kind,
        "cells": cells,
        "genes": genes,
        "file_gb": file_gb,
        "workers": workers,
        "note": note,
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
        "machine": _machine(),
        "load_before": load,
        "describe": describe,
        "celltypist": celltypist,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--sets", nargs="+", default=["wide", "demo"], choices=["wide", "demo"])
    parser.add_argument("--modes", type=int, nargs="+", default=[0], help="0: in-process; N: a LocalCluster of N workers.")
    parser.add_argument("--demo", action="store_true", help="Measure the demo's describe in-process (a cold then a warm cache).")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "cell2text-scale")
    parser.add_argument("--timeout", type=int, default=3600, help="Seconds each measurement may take.")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    rows = _earlier_rows(args)
    if args.demo:
        cache = args.data_dir / "cache-demo"
        shutil.rmtree(cache, ignore_errors=True)  # the first run fills it (numba, PageRank, model copies), the second reads it
        # a fresh process with cold then warm disk caches; then a second describe in one process (the UI, the chat, a notebook)
        for note, runs in (("cold cache", 1), ("warm cache", 1), ("warm cache, second describe in the same process", 2)):
            out = args.data_dir / "out_demo"
            out.mkdir(exist_ok=True)
            (out / "annotated.h5ad").unlink(missing_ok=True)
            load = round(os.getloadavg()[0], 1)
            describe = _subprocess("_describe", "-", str(out), "0", str(runs), timeout=args.timeout, env={"CELL2TEXT_CACHE": str(cache)})
            rows.append(_row("pbmc68k demo", 700, 765, 0.0, 0, describe, None, load, note))
            _write(rows)
    model = args.data_dir / "celltypist_demo.pkl"
    if args.sizes and not model.is_file():
        train_celltypist(model)
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
            for workers in args.modes:
                out = args.data_dir / f"out_{kind}_{n}_{workers}"
                out.mkdir(exist_ok=True)
                (out / "annotated.h5ad").unlink(missing_ok=True)
                load = round(os.getloadavg()[0], 1)
                describe = _subprocess("_describe", str(path), str(out), str(workers), timeout=args.timeout)
                (out / "annotated.h5ad").unlink(missing_ok=True)  # as large as the input: its writing was measured, it is not kept
                celltypist = _subprocess("_celltypist", str(path), str(model), timeout=args.timeout) if workers == 0 else None
                rows.append(_row(kind, n, genes, round(path.stat().st_size / 1e9, 2), workers, describe, celltypist, load))
                print(json.dumps(rows[-1]), file=sys.stderr)
                _write(rows)  # after every row, so a long run leaves what it measured


def _key(row: dict) -> tuple:
    return row["set"], row["cells"], row.get("workers", 0), row.get("note", "")


def _earlier_rows(args: argparse.Namespace) -> list[dict]:
    """Rows of the last results that this run does not measure again, so a partial re-run keeps the rest."""
    path = RESULTS / "scale.json"
    if not path.is_file():
        return []
    measured = {(kind, n, w) for kind in args.sets for n in args.sizes for w in args.modes}
    return [
        r
        for r in json.loads(path.read_text())["rows"]
        if (r["set"], r["cells"], r.get("workers", 0)) not in measured and not (args.demo and r["set"] == "pbmc68k demo")
    ]


def _write(rows: list[dict]) -> None:
    """benchmarks/results/scale.md and .json from the rows measured so far."""
    rows.sort(key=lambda r: (r["set"] != "pbmc68k demo", r["set"] != "wide", r["cells"], r.get("workers", 0), r.get("note", "")))
    sets = [s for s in dict.fromkeys(r["set"] for r in rows) if s != "pbmc68k demo"]
    exponents = {
        kind: {
            tool: _exponent(
                [
                    (r["cells"], r[tool]["seconds"])
                    for r in rows
                    if r["set"] == kind and r.get("workers", 0) == 0 and r.get(tool) and "error" not in r[tool]
                ]
            )
            for tool in ("describe", "celltypist")
        }
        for kind in sets
    }
    load = os.getloadavg()[2]
    payload = {"machine": _machine(), "date": time.strftime("%Y-%m-%d"), "load_15min": round(load, 1), "rows": rows, "exponents": exponents}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(payload, indent=2) + "\n")
    text = (
        f"# Scaling: describe vs CellTypist annotate, in-process and on Dask\n\n{payload['machine']}, CPU only, Python "
        f"{platform.python_version()}, {payload['date']}; 15-minute load average {load:.1f} at the end.\n\n"
    )
    text += (
        _table(rows)
        + "\n\nGrowth exponent, in-process (slope of log time on log cells): "
        + "; ".join(f"{k}: describe {v['describe']}, CellTypist {v['celltypist']}" for k, v in exponents.items())
        + "\n"
    )
    text += "\n" + _goals(rows) + "\n"
    (RESULTS / "scale.md").write_text(text)
    print(text)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_describe":
        source = None if sys.argv[2] == "-" else Path(sys.argv[2])
        print(json.dumps(run_describe(source, Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) > 5 else 1)))
    elif len(sys.argv) > 1 and sys.argv[1] == "_celltypist":
        print(json.dumps(run_celltypist(Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        main()
