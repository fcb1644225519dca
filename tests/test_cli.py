"""The command line: exit codes, JSON shape, one-line errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cell2text import __version__
from cell2text.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_version_and_help():
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.output
    for command in ([], ["ontology"], ["inspect"], ["ontology", "lookup"], ["ontology", "similarity"], ["ontology", "neighbours"]):
        result = run(*command, "--help")
        assert result.exit_code == 0, command
        assert "Usage" in result.output


def test_lookup_json_shape():
    result = run("ontology", "lookup", "Tregs", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["term"]["id"] == "CL:0000815"
    assert payload["term"]["url"].endswith("CL_0000815")
    assert {"id", "label", "score", "method", "matched"} <= set(payload["candidates"][0])
    assert payload["unsure"] is False


def test_lookup_id_and_readable_output():
    result = run("ontology", "lookup", "CL:0000236")
    assert result.exit_code == 0
    assert "B cell" in result.output and "CL:0000236" in result.output


def test_lookup_other_ontology():
    payload = json.loads(run("ontology", "lookup", "lung", "--ontology", "UBERON", "--json").output)
    assert payload["term"]["id"] == "UBERON:0002048"


def test_similarity_json():
    payload = json.loads(run("ontology", "similarity", "CL:0000624", "T cell", "--json").output)
    assert payload["a"]["id"] == "CL:0000624" and payload["b"]["id"] == "CL:0000084"
    assert 0 < payload["similarity"] < 1 and payload["method"] == "symmetric"
    paper = json.loads(run("ontology", "similarity", "T cell", "CL:0000624", "-m", "cell2text-paper", "--json").output)
    assert paper["similarity"] > 1


def test_neighbours_json():
    result = run("ontology", "neighbours", "CL:0000624", "-k", "4", "--json")
    payload = json.loads(result.output)
    assert len(payload["neighbours"]) == 4
    assert all({"id", "label", "score"} <= set(n) for n in payload["neighbours"])


def test_inspect_demo_json_and_out(tmp_path):
    out = tmp_path / "summary.json"
    result = run("inspect", "--demo", "--json", "--out", str(out))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload == json.loads(out.read_text())
    assert payload["dataset"]["n_cells"] == 700 and payload["groupby"] == "bulk_labels"
    groups = {g["name"]: g for g in payload["groups"]}
    assert len(groups) == 10
    assert groups["CD14+ Monocyte"]["standardised"]["id"] == "CL:0001054"
    assert groups["CD14+ Monocyte"]["annotated"]["similarity"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ontology", "lookup", "CL:9999999"], "not a term of the loaded ontologies"),
        (["ontology", "lookup", "T cell", "--ontology", "GO"], "not loaded"),
        (["ontology", "similarity", "CL:0000003", "CL:0000084"], "not a live term"),
        (["ontology", "neighbours", "CL:0000624", "-m", "bogus"], "unknown PageRank method"),
        (["inspect"], "either a dataset PATH or --demo"),
        (["inspect", "/no/such/file.h5ad"], "does not exist"),
    ],
)
def test_bad_input_exit_2(args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_inspect_bad_groupby_and_outputs(tmp_path):
    import scanpy as sc

    data = tmp_path / "pbmc.h5ad"
    sc.datasets.pbmc68k_reduced().write_h5ad(data)
    result = run("inspect", str(data), "--groupby", "celltype")
    assert result.exit_code == 2
    assert "obs key 'celltype' not found. Available keys: bulk_labels" in result.output
    before = data.read_bytes()
    result = run("inspect", str(data), "--groupby", "louvain", "--out", str(data))
    assert result.exit_code == 2 and "refusing to overwrite the input" in result.output
    assert data.read_bytes() == before


def test_console_script_bad_file_is_one_line(tmp_path):
    """The installed entry point: a corrupt upload gives one stderr line, exit 2, no traceback."""
    bad = tmp_path / "corrupt.h5ad"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(2000))
    exe = Path(sys.executable).with_name("cell2text")
    proc = subprocess.run([str(exe), "inspect", str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: could not read 'corrupt.h5ad'"), proc.stderr
    assert proc.stdout == ""


def test_enrich_genes_json():
    result = run("enrich", "CD3E", "CD8A", "GZMB", "PRF1", "GNLY", "NKG7", "--json", "-n", "3")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["query"]["matched"] == 4 and len(payload["results"]) == 3  # GNLY, NKG7 are in no Hallmark set
    assert payload["results"][0]["pathway"] == "HALLMARK_ALLOGRAFT_REJECTION"


def test_enrich_demo_group_readable_and_prerank():
    result = run("enrich", "--demo", "--group", "CD14+ Monocyte")
    assert result.exit_code == 0, result.output
    assert "Complement" in result.output
    prerank = json.loads(run("enrich", "--demo", "--group", "CD14+ Monocyte", "--method", "prerank", "--json").stdout)
    assert {"nes", "fdr"} <= set(prerank["results"][0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["enrich", "NOTAGENE", "ALSONOT", "CD3E"], "only 1 of 3 genes"),
        (["enrich"], "either GENES or a dataset"),
        (["enrich", "--demo"], "--group is required"),
        (["enrich", "--demo", "--group", "Hepatocyte"], "has no cells"),
        (["enrich", "CD3E", "CD8A", "GZMB", "--library", "/no/such.gmt"], "not found"),
        (["enrich", "CD3E", "CD8A", "GZMB", "--method", "prerank"], "prerank needs a ranking"),
        (["kb", "query", "B cell", "--kind", "gene"], "unknown kind"),
    ],
)
def test_enrich_and_kb_bad_input(args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "--model", "/no/such/checkpoint"], "not a Cell2Text checkpoint"),
        (["train", "--out", "/tmp/never-written", "--label-key", "celltype"], "obs key 'celltype' not found"),
        (["train", "--out", "/tmp/never-written", "--data", "/no/such.h5ad"], "does not exist"),
        (["train", "--out", "/tmp/never-written", "--encoder", "cnn"], "unknown --encoder"),
        (["evaluate", "--split", "half"], "unknown --split"),
    ],
)
def test_model_commands_bad_input(args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not Path("/tmp/never-written").exists()


def test_evaluate_shipped_checkpoint_json():
    result = run("evaluate", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n"] == 140 and payload["split"] == "test"
    assert 0 <= payload["accuracy"] <= 1 and payload["named_a_term"] == 1.0
    assert {"exact"} <= set(payload["grades"])
    assert 0 <= payload["bleu"] <= 100 and 0 <= payload["rouge_l"] <= 1 and payload["pathway_jaccard"] > 0
