"""``cell2text describe``, ``ask`` and ``chat`` on the demo: outputs, JSON, one-line errors with exit code 2."""

from __future__ import annotations

import json

import anndata as ad
from typer.testing import CliRunner

from cell2text.cli import app

runner = CliRunner()


def run(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def test_help_of_every_agent_command():
    for command in ("describe", "ask", "chat"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output, command


def test_describe_writes_json_markdown_and_annotated_h5ad(tmp_path):
    out, annotated = tmp_path / "report", tmp_path / "annotated.h5ad"
    result = run("describe", "--demo", "--out", str(out), "--format", "md", "--write", str(annotated), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["groups"]["CD19+ B"]["cell_type_ontology_term_id"] == "CL:0000236"
    assert set(payload["written"]) == {"json", "md", "h5ad"}
    report = json.loads((out / "report.json").read_text())
    assert len(report["groups"]) == 10 and report["claims"]["final"]["contradicted"] == 0
    assert "| CD19+ B | 95 | B cell | [CL:0000236](http://purl.obolibrary.org/obo/CL_0000236)" in (out / "report.md").read_text()
    assert "cell2text_cell_type" in ad.read_h5ad(annotated).obs
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave nothing behind


def test_describe_refuses_bad_outputs_before_working(tmp_path, demo):
    source = tmp_path / "input.h5ad"
    demo.write_h5ad(source)
    before = source.read_bytes()
    for args, message in (
        (["-g", "bulk_labels", "--write", str(source)], "refusing to overwrite the input file"),
        (["-g", "bulk_labels", "--write", str(tmp_path / "out.csv")], "does not end in .h5ad"),
        (["-g", "bulk_labels", "--out", str(tmp_path / "r"), "--format", "pdf"], "unknown report format 'pdf'"),
        (["-g", "nope"], "obs key 'nope' not found"),
    ):
        result = run("describe", str(source), *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
    assert source.read_bytes() == before


def test_ask_answers_with_ids_and_remembers_the_thread():
    first = run("ask", "--demo", "describe CD56+ NK", "--thread", "cli", "--json")
    assert first.exit_code == 0, first.output
    assert "CL:0000623" in json.loads(first.stdout)["ids"]
    follow_up = run("ask", "--demo", "which markers separate it from the rest?", "--thread", "cli", "--json")
    assert json.loads(follow_up.stdout)["group"] == "CD56+ NK"
    readable = run("ask", "--demo", "what is a plasmacytoid dendritic cell?")
    assert readable.exit_code == 0 and "CL:0000784" in readable.stdout


def test_chat_session_in_the_terminal():
    result = run("chat", "--demo", "--thread", "terminal", input="what cell types are here?\nhow similar are CD4 and CD8 T cells?\nexit\n")
    assert result.exit_code == 0, result.output
    assert "CL:0000236" in result.stdout and "PageRank similarity" in result.stdout


def test_ask_bad_input_exits_2():
    assert run("ask", "hello").exit_code == 2  # neither a path nor --demo
    result = run("ask", "--demo", "")
    assert result.exit_code == 2 and "empty question" in result.output
