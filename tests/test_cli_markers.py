"""``cell2text annotate-markers``: a gene list or a cluster file in, ranked CL terms out; bad input -> one line, exit 2."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cell2text.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_a_gene_list_readable_and_json():
    result = run("annotate-markers", "MS4A1, CD79A, CD79B, CD19", "-k", "2")
    assert result.exit_code == 0, result.output
    assert "1. B cell (CL:0000236)" in result.output and "supported" in result.output
    result = run("annotate-markers", "SFTPC", "SFTPB", "NAPSA", "--tissue", "lung", "--json")
    payload = json.loads(result.output)
    assert payload["tissue"] == "UBERON:0002048" and payload["species"] == "human"
    top = payload["results"][0]["candidates"][0]
    assert top["id"] == "CL:0002063" and {"genes_found", "negative_hits", "reason", "evidence"} <= set(top)


def test_a_subtype_gene_with_its_lineage_genes_gives_the_subtype():
    """'CD3E, CD3D, CD4, IL7R, CD40LG' is a CD4 T cell, not plain T cell; the answer says how sure it is."""
    payload = json.loads(run("annotate-markers", "CD3E, CD3D, CD4, IL7R, CD40LG", "--json").output)
    top = payload["results"][0]["candidates"][0]
    assert top["id"] == "CL:0000624", top  # CD4-positive, alpha-beta T cell
    assert 0 < top["confidence"] <= 1
    assert "confidence" in run("annotate-markers", "CD3E, CD3D, CD4, IL7R").output


def test_mouse_symbols_are_detected():
    payload = json.loads(run("annotate-markers", "Alb, Apoa1, Ttr", "--json").output)
    assert payload["species"] == "mouse" and payload["results"][0]["candidates"][0]["id"] == "CL:0000182"


def test_a_cluster_file_and_a_user_marker_table(tmp_path):
    clusters = tmp_path / "clusters.csv"
    clusters.write_text('cluster,genes\nc1,"MS4A1, CD79A, CD19"\nc2,"NOTAGENE1, NOTAGENE2"\n')
    payload = json.loads(run("annotate-markers", "--file", str(clusters), "--json").output)
    c1, c2 = payload["results"]
    assert c1["cluster"] == "c1" and c1["candidates"][0]["id"] == "CL:0000236"
    assert "none of the genes" in c2["error"]  # one cluster without known markers does not stop the others
    mine = tmp_path / "mine.tsv"
    mine.write_text("cell_type\tgene\nhepatocyte\tNOTAGENE1\nhepatocyte\tNOTAGENE2\n")
    payload = json.loads(run("annotate-markers", "--file", str(clusters), "--markers", str(mine), "--json").output)
    assert payload["results"][1]["candidates"][0]["id"] == "CL:0000182"  # the user's own markers are knowledge too


def test_top_takes_the_first_genes_of_a_cluster_list(tmp_path):
    """--top N cuts a cluster,genes row to its first N genes, as it cuts a FindAllMarkers table."""
    clusters = tmp_path / "clusters.csv"
    clusters.write_text('cluster,genes\nc1,"MS4A1, CD79A, CD19, GNLY, NKG7, KLRD1, KLRF1, NCAM1, PRF1, GZMB, GZMA, CD247"\n')
    everything = json.loads(run("annotate-markers", "--file", str(clusters), "--top", "20", "--json").output)["results"][0]
    first = json.loads(run("annotate-markers", "--file", str(clusters), "--top", "3", "--json").output)["results"][0]
    assert len(everything["genes"]) == 12 and first["genes"] == ["MS4A1", "CD79A", "CD19"]
    assert first["candidates"][0]["id"] == "CL:0000236"  # B cell
    assert all(set(c["genes_found"]) <= set(first["genes"]) for c in first["candidates"])  # the NK genes after the third are not used


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    unmappable = tmp_path / "bad.tsv"
    unmappable.write_text("cell_type\tgene\nfluffy cells\tMS4A1\n")
    unreadable = tmp_path / "binary.csv"
    unreadable.write_bytes(b"\xff\xfe\x00\x01" * 50)
    cases = [
        (["annotate-markers", ""], "no marker genes"),
        (["annotate-markers", "NOTAGENE1", "NOTAGENE2"], "none of the genes"),
        (["annotate-markers"], "either GENES or --file"),
        (["annotate-markers", "--file", str(tmp_path / "missing.csv")], "not found"),
        (["annotate-markers", "--file", str(unreadable)], "could not read"),
        (["annotate-markers", "MS4A1", "--markers", str(unmappable)], "fluffy cells"),
        (["annotate-markers", "MS4A1", "--tissue", "the moon"], "UBERON"),
        (["annotate-markers", "MS4A1", "--species", "cat"], "unknown species"),
    ]
    for args, problem in cases:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert problem in result.output and "Traceback" not in result.output, (args, result.output)
        assert result.output.strip().startswith("error:"), (args, result.output)
