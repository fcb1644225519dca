"""The Dask scan: the same describe in this process and on a local cluster of two worker processes, a worker killed
mid-run, lazily read .zarr stores, and an unreachable scheduler refused in one line.

The data are the demo's real cells, four copies (2,800 cells), written to .h5ad and .zarr files; the scan is forced
for every run by ``CELL2TEXT_IN_MEMORY_CELLS=0``. Each test that needs a cluster starts its own ``LocalCluster``.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from cell2text.agent.describe import describe, read_result
from cell2text.cli import app
from cell2text.data.io import prepare, read_dataset, reading
from cell2text.tools import scan

COPIES = 4
CHUNK = 300  # cells per block: ten blocks


@pytest.fixture(scope="module")
def files(demo, tmp_path_factory):
    """The demo four times over (unique cell names) as .h5ad and .zarr."""
    folder = tmp_path_factory.mktemp("scan")
    cells = ad.concat([demo] * COPIES, index_unique="-", merge="first")
    cells.obs = cells.obs[["bulk_labels"]]
    cells.obsm = {}
    cells.X = sp.csr_matrix(cells.X)
    cells.write_h5ad(folder / "cells.h5ad")
    cells.write_zarr(folder / "cells.zarr")
    return folder / "cells.h5ad", folder / "cells.zarr"


@pytest.fixture()
def scanned(monkeypatch):
    """Every describe below goes through the scan, in blocks of ``CHUNK`` cells."""
    monkeypatch.setenv("CELL2TEXT_IN_MEMORY_CELLS", "0")
    monkeypatch.setenv("CELL2TEXT_CHUNK_SIZE", str(CHUNK))


@pytest.fixture()
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local


def _outputs(adata: ad.AnnData) -> tuple[pd.DataFrame, dict]:
    """Every per-cell output of describe, and every per-group one (the result without its run time)."""
    columns = ["cell2text_cell_type", "cell2text_cell_type_ontology_term_id", "cell2text_status", "cell2text_confidence"]
    result = read_result(adata)
    result.pop("runtime_s")
    result["notes"] = [n for n in result["notes"] if "read in chunks" not in n]  # says where the scan ran
    return adata.obs[columns].copy(), result


def test_describe_in_process_and_on_a_local_cluster_gives_the_same_outputs(files, scanned, cluster, monkeypatch):
    h5ad, store = files
    here = read_dataset(store)  # .zarr, read lazily: X is a Dask array
    assert not isinstance(here.X, np.ndarray | sp.spmatrix) and scan.out_of_core(here)
    steps = []
    describe(here, "bulk_labels", max_rounds=1, progress=lambda node, step: steps.append((node, step)))
    assert any(node == "scan" and "2,800 of 2,800 cells" in step for node, step in steps)

    monkeypatch.setenv("CELL2TEXT_SCHEDULER", cluster.scheduler_address)
    there = read_dataset(h5ad)  # .h5ad, opened backed: each worker opens the file itself
    assert there.isbacked
    describe(there, "bulk_labels", max_rounds=1)
    assert any(f"on the Dask scheduler at {cluster.scheduler_address}" in n for n in read_result(there)["notes"])

    cells_here, groups_here = _outputs(here)
    cells_there, groups_there = _outputs(there)
    pd.testing.assert_frame_equal(cells_here.drop(columns="cell2text_confidence"), cells_there.drop(columns="cell2text_confidence"))
    # torch may sum in another order with another thread count (workers run one thread): the same to float32 precision
    np.testing.assert_allclose(cells_here["cell2text_confidence"], cells_there["cell2text_confidence"], rtol=1e-5, atol=1e-6)
    assert np.isfinite(cells_here["cell2text_confidence"]).mean() > 0.5
    assert groups_here == groups_there
    assert sum(g["n_cells"] for g in groups_here["groups"].values()) == 700 * COPIES
    pd.testing.assert_frame_equal(here.uns["cell2text"]["groups"], there.uns["cell2text"]["groups"])
    np.testing.assert_array_equal(here.uns["cell2text"]["umap"]["positions"], there.uns["cell2text"]["umap"]["positions"])


def test_a_worker_killed_mid_run_is_retried_and_the_scan_completes(demo, files, scanned, cluster, monkeypatch):
    h5ad, _ = files
    adata = read_dataset(h5ad)
    plan = reading(adata)
    _, clusters = scan.cluster_sample(adata, plan, n_cells=700, key="leiden", max_clusters=20)
    keep = scan.per_group_sample(adata.obs["bulk_labels"].astype(str).to_numpy(), 100)
    expected = scan.scan(adata, plan, clusters=clusters, keep=keep, chunk_size=20)  # in this process

    monkeypatch.setenv("CELL2TEXT_SCHEDULER", cluster.scheduler_address)
    with Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
    found: dict = {}
    running = threading.Thread(target=lambda: found.update(result=scan.scan(adata, plan, clusters=clusters, keep=keep, chunk_size=20)))
    running.start()

    def blocks(state: str) -> list:
        return [t for t in cluster.scheduler.tasks.values() if "cell2text-scan-" in str(t.key) and t.state == state]

    deadline = time.monotonic() + 120
    while not blocks("memory") and time.monotonic() < deadline:
        time.sleep(0.005)
    finished_before = len(blocks("memory"))
    os.kill(pids[0], signal.SIGKILL)  # one worker process dies mid-run; its nanny starts another
    running.join(timeout=300)
    assert 0 < finished_before < adata.n_obs // 20, "the worker was not killed mid-run"
    result = found["result"]
    np.testing.assert_array_equal(result.groups, expected.groups)
    assert (result.sample.X != expected.sample.X).nnz == 0
    assert list(result.sample.obs_names) == list(expected.sample.obs_names)


def test_a_zarr_store_read_lazily_is_prepared_like_the_loaded_file(files, demo, monkeypatch):
    _, store = files
    monkeypatch.setenv("CELL2TEXT_IN_MEMORY_CELLS", "1000")
    lazy = read_dataset(store)
    assert lazy.n_obs == 700 * COPIES and hasattr(lazy.X, "dask")
    whole = prepare(ad.read_zarr(store))
    keep = np.array([0, 5, 699, 700, 2799])
    sample = scan.read_rows(lazy, keep)
    np.testing.assert_array_equal(sample.X.toarray(), whole.X[keep].toarray())
    np.testing.assert_array_equal(sample.obs[scan.POSITION], keep)
    monkeypatch.setenv("CELL2TEXT_IN_MEMORY_CELLS", "50000")
    assert isinstance(read_dataset(store).X, sp.spmatrix | sp.sparray)  # small enough: loaded


def test_an_unreachable_scheduler_is_one_line_and_exit_2():
    runner = CliRunner()
    for command in (["describe", "--demo"], ["ask", "what cell types are here?", "--demo"]):
        result = runner.invoke(app, [*command, "--scheduler", "tcp://127.0.0.1:9"])
        assert result.exit_code == 2, result.output
        assert "could not reach the Dask scheduler at 'tcp://127.0.0.1:9'" in result.output and "Traceback" not in result.output
    assert "--scheduler" in runner.invoke(app, ["describe", "--help"]).output
    assert ".zarr" in runner.invoke(app, ["describe", "--help"]).output


def test_the_report_umap_draws_a_copy_of_the_tested_cells(demo):
    """describe's embed node runs beside the test node: it works on its own copy and leaves the tested cells as they are."""
    work = demo.copy()
    before = set(work.obsm) | set(work.uns) | set(work.obsp)
    cells = scan.umap_cells(work, max_cells=300, seed=0)
    drawn = scan.tested_umap(cells)
    assert set(work.obsm) | set(work.uns) | set(work.obsp) == before  # nothing written into work
    assert drawn["coordinates"].shape == (300, 2) and np.isfinite(drawn["coordinates"]).all()
    assert len(set(drawn["positions"])) == 300 and drawn["positions"].max() < work.n_obs
    np.testing.assert_array_equal(work.obs_names[drawn["positions"]], cells.obs_names)  # rows of the dataset
