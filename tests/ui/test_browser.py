"""The Gradio app and the HTML report in a real chromium: load, describe, browse, chat, download, bad uploads.

Screenshots of the main screens go to a temporary folder, or to the folder in
``CELL2TEXT_SCREENSHOTS`` (``CELL2TEXT_SCREENSHOTS=docs make test`` refreshes the README's images),
so a test run leaves the checkout as it was.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest
from playwright.sync_api import expect

DESCRIBE_TIMEOUT = 240_000  # ms: model load and describe on a 2-core CPU


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go: ``CELL2TEXT_SCREENSHOTS`` when set, else a temporary folder."""
    return Path(os.environ["CELL2TEXT_SCREENSHOTS"]) if os.environ.get("CELL2TEXT_SCREENSHOTS") else tmp_path_factory.mktemp("screens")


@pytest.fixture(scope="module")
def server():
    from cell2text.ui.app import launch

    port = free_port()
    app = launch(host="127.0.0.1", port=port, block=False, max_upload_mb=50)
    yield f"http://127.0.0.1:{port}"
    app.close()


@pytest.fixture(scope="module")
def page(browser, server):
    """One browser session that loads the demo and describes it; the tests below continue in it."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(server)
    page.get_by_text("No dataset loaded yet.").wait_for()
    page.locator("#load-demo").click()
    page.get_by_text("Loaded pbmc68k_reduced (demo)").wait_for()
    page.locator("#describe").click()
    page.wait_for_function("document.querySelector('#steps textarea').value.includes('Done: 10 groups described')", timeout=DESCRIBE_TIMEOUT)
    yield page
    context.close()


def test_describe_shows_each_step_the_embedding_and_the_groups(page, shots):
    steps = page.locator("#steps textarea").input_value()
    for step in ("Loaded the Cell2Text model", "Drafted", "Verified each claim", "Retrieved definitions", "Revised", "Finalised"):
        assert step in steps
    assert steps.index("Drafted") < steps.index("Verified each claim") < steps.index("Revised") < steps.index("Finalised")
    table = page.locator("#groups-table")
    table.get_by_text("CL:0000236").first.wait_for()
    assert "natural killer cell" in table.inner_text()
    assert page.locator("#embedding img").evaluate("img => img.complete && img.naturalWidth > 0")
    page.screenshot(path=str(shots / "ui_describe.png"), full_page=True)


def test_a_group_card_shows_claims_with_evidence_and_links(page, shots):
    page.get_by_role("tab", name="Groups").click()
    card = page.locator("#group-card")
    card.get_by_text("CD14-positive monocyte").first.wait_for()
    assert card.locator("a[href='http://purl.obolibrary.org/obo/CL_0001054']").count() >= 1
    assert card.locator(".status.supported").count() >= 3
    card.locator("summary", has_text="evidence").first.click()
    assert "head" in card.locator("details[open]").first.inner_text()
    page.screenshot(path=str(shots / "ui_groups.png"), full_page=True)


def test_the_chat_answers_from_the_tools_and_cites_cl_ids(page, shots):
    page.get_by_role("tab", name="Chat").click()
    page.locator("#question textarea").fill("why do you call CD56+ NK natural killer cells?")
    page.locator("#ask").click()
    answer = page.locator("#chatbot").get_by_text(re.compile("CL:0000623")).first
    answer.wait_for(timeout=60_000)
    link = page.locator("#chatbot a[href='http://purl.obolibrary.org/obo/CL_0000623']")
    assert link.count() >= 1
    page.locator("#question textarea").fill("and which pathways are active in it?")
    page.locator("#ask").click()
    page.locator("#chatbot").get_by_text(re.compile("HALLMARK_")).first.wait_for(timeout=60_000)  # "it" = CD56+ NK
    page.screenshot(path=str(shots / "ui_chat.png"), full_page=True)


def test_the_chat_shows_a_plot_for_a_gene_question(page, shots):
    page.get_by_role("tab", name="Chat").click()
    page.locator("#question textarea").fill("where is GNLY expressed?")
    page.locator("#ask").click()
    page.locator("#chatbot").get_by_text(re.compile(r"GNLY is highest in CD56\+ NK")).first.wait_for(timeout=60_000)
    figure = page.locator("#chatbot img[src*='dotplot-GNLY']").first
    figure.wait_for(timeout=60_000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 200", arg=figure.element_handle(), timeout=30_000)
    figure.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "ui_chat_plot.png"), full_page=True)


def test_the_report_downloads(page, tmp_path):
    page.get_by_role("tab", name="Downloads").click()
    link = page.locator("#downloads a[download='report.html']")
    link.wait_for()
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "report.html"
    download.value.save_as(saved)
    assert "cell2text report: pbmc68k_reduced (demo)" in saved.read_text()
    assert page.locator("#downloads a[download='annotated.h5ad']").count() == 1


def test_bad_uploads_show_an_error_and_lose_nothing(page, tmp_path):
    page.get_by_role("tab", name="Chat").click()
    wrong = tmp_path / "cells.csv"
    wrong.write_text("gene,cell\nCD3E,1\n")
    corrupt = tmp_path / "broken.h5ad"
    corrupt.write_bytes(b"this is not an HDF5 file")
    for path, message in ((wrong, "is not an .h5ad file"), (corrupt, "broken.h5ad")):
        with page.expect_file_chooser() as chooser:
            page.locator("#upload button.upload-container").click()
        chooser.value.set_files(str(path))
        page.locator("#error").get_by_text(message).wait_for(timeout=30_000)
        assert "error:" in page.locator("#error").inner_text()
    assert "Loaded pbmc68k_reduced (demo)" in page.locator("#summary").inner_text()  # the good dataset is still loaded
    page.locator("#question textarea").fill("what cell types are here?")
    page.locator("#ask").click()
    page.locator("#chatbot").get_by_text(re.compile("CL:0000451")).first.wait_for(timeout=60_000)
    assert not page.errors


def test_sessions_do_not_share_data(browser, server, page):
    other = browser.new_context().new_page()
    other.goto(server)
    other.get_by_text("No dataset loaded yet.").wait_for()
    other.get_by_role("tab", name="Chat").click()
    other.locator("#question textarea").fill("what cell types are here?")
    other.locator("#ask").click()
    other.locator("#chatbot").get_by_text("Load a dataset and press").wait_for(timeout=30_000)
    other.context.close()


def test_the_html_report_renders_offline_without_errors(browser, tmp_path, page, shots):
    from cell2text.agent.describe import describe
    from cell2text.data.demo import load_demo
    from cell2text.report import write_report

    adata = load_demo()
    describe(adata, "bulk_labels")
    report = write_report(adata, tmp_path / "report", name="demo", formats=("html",))["html"]
    context = browser.new_context(offline=True)
    view = context.new_page()
    problems = []
    view.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    view.on("pageerror", lambda error: problems.append(str(error)))
    view.on("request", lambda request: problems.append(f"request {request.url}") if not request.url.startswith(("file:", "data:")) else None)
    view.goto(report.as_uri(), wait_until="load")
    expect(view).to_have_title("cell2text report: demo")
    assert view.locator("img").evaluate_all("images => images.length > 0 && images.every(i => i.complete && i.naturalWidth > 0)")
    assert view.locator("#groups tr").count() == 11
    assert view.locator("a[href^='http://purl.obolibrary.org/obo/CL_']").count() >= 10
    assert not problems
    view.screenshot(path=str(shots / "report.png"))
    view.locator("#group-2").screenshot(path=str(shots / "report_card.png"))
    context.close()
