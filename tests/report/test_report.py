"""The report files from a described demo: the same content as HTML, Markdown and JSON."""

from __future__ import annotations

import json

import pytest

from cell2text.agent.describe import describe
from cell2text.errors import InputError
from cell2text.report import write_report
from cell2text.report.writer import render

PLANTED = "This sample consists of a hepatocyte. It comes from the liver of a donor with normal."


@pytest.fixture(scope="module")
def written(demo, tmp_path_factory):
    adata = demo.copy()
    describe(adata, "bulk_labels", drafts={"CD19+ B": PLANTED})
    out = tmp_path_factory.mktemp("report")
    return adata, write_report(adata, out, name="demo", formats=("html", "md"))


def test_html_is_self_contained_with_badges_links_and_removed_claims(written):
    _, files = written
    html = files["html"].read_text()
    assert "<link" not in html and "<script" not in html and 'src="http' not in html  # nothing to fetch
    assert html.count('src="data:image/png;base64,') == 1
    assert '<a class="claim-id supported" title="supported: head probability' in html
    assert "<del>cell type: hepatocyte</del>" in html and "contradicted, replaced by CL:0000236" in html
    assert 'href="http://purl.obolibrary.org/obo/UBERON_0000178"' in html
    assert "knowledge base</summary>" in html  # pathway documents retrieved by the agent


def test_markdown_and_json_carry_the_same_groups(written):
    adata, files = written
    report = json.loads(files["json"].read_text())
    markdown = files["md"].read_text()
    assert report["dataset"]["name"] == "demo" and markdown.startswith("# cell2text report: demo")
    assert [g["name"] for g in report["groups"]] == sorted(adata.obs["bulk_labels"].astype(str).unique())
    for group in report["groups"]:
        assert f"## {group['name']}" in markdown and group["text"] in markdown
    assert "~~cell_type: hepatocyte~~" in markdown
    assert report["methods"]["model"]["version"].startswith("checkpoint@")
    assert "figures" not in report


def test_bad_report_requests_are_refused(written, tmp_path):
    adata, files = written
    with pytest.raises(InputError, match="unknown report format 'pdf'"):
        write_report(adata, tmp_path, name="demo", formats=("pdf",))
    with pytest.raises(InputError, match="is a file, not a folder"):
        write_report(adata, files["html"], name="demo")
    with pytest.raises(InputError, match="refusing to overwrite the input file"):
        write_report(adata, files["json"].parent, name="demo", formats=("md",), inputs=(files["md"],))
    with pytest.raises(InputError, match="unknown report format"):
        render({}, "docx")
