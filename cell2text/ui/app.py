"""The Gradio app: load the demo or an .h5ad, describe it step by step, look at the groups, chat, download.

Each browser session has its own state (:class:`UISession`: dataset, results, chat thread) and
its own temporary folder, removed when the session ends. Bad input shows a one-line error in the
page and leaves the session's earlier dataset and results as they were.
"""

from __future__ import annotations

import base64
import queue
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import pandas as pd

from cell2text.agent.chat import Chat, DatasetSession
from cell2text.agent.describe import describe, read_result
from cell2text.agent.describe.claims import CURIE_IN_TEXT
from cell2text.config import get_settings
from cell2text.data.io import prepare, read_dataset, write_h5ad_atomic
from cell2text.errors import InputError
from cell2text.knowledge.ontology import term_url
from cell2text.report.content import report_data
from cell2text.report.figures import embedding_png
from cell2text.report.writer import render_group_card, report_css, write_report_files

CHUNKED_STEPS = ("scan", "sample")  # describe's long chunked stages, which report progress with an ETA
MAX_GROUPS = 100
INTRO = """# cell2text
Verified natural-language descriptions of single-cell data. Load the demo or upload an `.h5ad`, pick the column
that holds your groups (clusters or cell types) and press **Describe**: the Cell2Text model drafts a description
of each group and an agent checks every claim against the Cell Ontology, marker genes, pathway activity and your
metadata before anything is shown. Then ask questions in the chat."""


class UISession:
    """One browser session's data: never shared between sessions (a plain class: gradio copies dataclasses)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="cell2text-ui-"))  # this session's files, removed with it
        self.thread = uuid.uuid4().hex  # the chat thread of this browser session
        self.adata = None  # the dataset as read
        self.name = ""
        self.source: Path | None = None
        self.report: dict | None = None  # report_data of the last describe
        self.chat: Chat | None = None

    def close(self) -> None:
        if self.chat is not None:
            self.chat.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _cleanup(session: UISession | None) -> None:
    if session is not None:
        session.close()


def _error(message: str) -> str:
    return f"**error:** {message}" if message else ""


def _group_choices(adata) -> list[str]:
    """obs columns that look like groups: categorical or text with 2..MAX_GROUPS values."""
    choices = []
    for column in adata.obs.columns:
        values = adata.obs[column]
        if (isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object) and 1 < values.nunique() <= MAX_GROUPS:
            choices.append(str(column))
    return choices


def _dataset_loaded(session: UISession, default: str | None):
    choices = _group_choices(session.adata)
    value = default if default in choices else (choices[0] if choices else None)
    summary = (
        f"Loaded **{session.name}**: {session.adata.n_obs:,} cells × {session.adata.n_vars:,} genes."
        f" Pick the groups column{' (or none: Leiden clusters are computed)' if not choices else ''} and press Describe."
    )
    return gr.update(choices=choices, value=value), summary


def load_demo(session: UISession):
    """Load the bundled pbmc68k_reduced demo into this session."""
    from cell2text.data.demo import DEMO_GROUPBY, DEMO_NAME
    from cell2text.data.demo import load_demo as demo_data

    session.adata, session.name, session.source = demo_data(), DEMO_NAME, None
    session.report, session.chat = None, None
    dropdown, summary = _dataset_loaded(session, DEMO_GROUPBY)
    return session, dropdown, summary, ""


def _use(session: UISession, adata, name: str, source: Path | None):
    session.adata, session.name, session.source = adata, name, source
    session.report, session.chat = None, None
    dropdown, summary = _dataset_loaded(session, None)
    return session, dropdown, summary, ""


def load_upload(path: str | None, session: UISession, max_mb: float | None = None):
    """Check and load an uploaded file; on any problem show the error and keep the session as it was.

    ``max_mb`` defaults to the configured upload limit (``CELL2TEXT_MAX_UPLOAD_MB``).
    """
    max_mb = get_settings().max_upload_mb if max_mb is None else max_mb
    if not path:
        return session, gr.update(), gr.update(), ""
    upload = Path(path)
    try:
        if upload.suffix.lower() != ".h5ad":
            raise InputError(f"'{upload.name}' is not an .h5ad file. Upload an AnnData .h5ad (e.g. a CELLxGENE download).")
        size_mb = upload.stat().st_size / 1e6
        if size_mb > max_mb:
            raise InputError(f"'{upload.name}' is {size_mb:.0f} MB; the limit is {max_mb:.0f} MB. Subsample it or run 'cell2text describe' locally.")
        adata = read_dataset(upload)
        _check_usable(adata)
    except InputError as exc:
        return session, gr.update(), gr.update(), _error(str(exc))
    kept = session.folder / upload.name
    shutil.copyfile(upload, kept)
    return _use(session, adata, upload.name, kept)


def _check_usable(adata) -> None:
    """Expression and gene symbols usable? Judged on the first cells, so a large file is not read whole; raises with the fix."""
    prepare(adata, rows=slice(0, min(adata.n_obs, 1000)))


def load_file(path: str | Path, session: UISession):
    """Load the dataset named on the command line (.h5ad, 10x .h5 or mtx folder), read in place."""
    try:
        adata = read_dataset(path)
        _check_usable(adata)
    except InputError as exc:
        return session, gr.update(), gr.update(), _error(str(exc))
    return _use(session, adata, Path(path).name, Path(path))


def run_describe(groupby: str | None, session: UISession) -> Iterator[tuple]:
    """Describe the session's dataset, streaming each step; then show the results and offer the downloads."""
    nothing = (gr.update(),) * 5
    if session.adata is None:
        yield session, "", _error("no dataset loaded. Press 'Load demo' or upload an .h5ad file first."), *nothing
        return
    # a failed run leaves the loaded dataset untouched; a large file read in chunks is opened again rather than copied
    adata = read_dataset(session.source, backed=True) if session.adata.isbacked else session.adata.copy()
    steps: queue.Queue = queue.Queue()
    outcome: dict = {}

    def work() -> None:
        try:
            describe(adata, groupby or None, progress=lambda node, step: steps.put((node, step)))
            outcome["ok"] = True
        except InputError as exc:
            outcome["error"] = str(exc)
        except Exception as exc:  # shown in the page rather than lost in the server log
            outcome["error"] = f"describe failed ({type(exc).__name__}: {exc}). Check the data, or run 'cell2text describe' for details."
        steps.put(None)

    threading.Thread(target=work, daemon=True).start()
    log: list[str] = []
    last = None
    while (item := steps.get()) is not None:
        node, step = item
        if node == last and node in CHUNKED_STEPS:
            log[-1] = f"… {step}"  # a long chunked stage updates its own line with the ETA
        else:
            log.append(f"{'…' if node in CHUNKED_STEPS else '✓'} {step}")
        last = node
        yield session, "\n".join(log), "", *nothing
    if "error" in outcome:
        yield session, "\n".join(log), _error(outcome["error"]), *nothing
        return
    inputs = [session.source] if session.source else []
    session.report = report_data(adata, name=session.name, figures={"embedding": embedding_png(adata)})
    files = write_report_files(session.report, session.folder / "report", formats=("html",), inputs=inputs)
    files["h5ad"] = write_h5ad_atomic(adata, session.folder / "annotated.h5ad", inputs=inputs)
    session.adata = adata
    session.chat = Chat(
        DatasetSession(adata, session.name, result=read_result(adata)), memory=session.folder / "chat.sqlite", plot_dir=session.folder / "plots"
    )
    image = session.folder / "embedding.png"
    image.write_bytes(base64.b64decode(session.report["figures"]["embedding"]))
    table = pd.DataFrame(
        [
            {
                "group": g["name"],
                "cells": g["n_cells"],
                "cell type": g["cell_type"],
                "id": g["cell_type_ontology_term_id"],
                "status": g["status"],
                "confidence": g["confidence"],
            }
            for g in session.report["groups"]
        ]
    )
    names = [g["name"] for g in session.report["groups"]]
    log.append(f"Done: {len(names)} groups described. Open the Groups tab, ask in the Chat tab, or download the report.")
    yield (
        session,
        "\n".join(log),
        "",
        str(image),
        table,
        gr.update(choices=names, value=names[0]),
        show_group(names[0], session),
        gr.update(value=[str(files["html"]), str(files["json"]), str(files["h5ad"])]),
    )


def show_group(name: str | None, session: UISession) -> str:
    """The HTML card of one group, as in the report."""
    if not name or session.report is None:
        return ""
    group = next((g for g in session.report["groups"] if g["name"] == name), None)
    return render_group_card(group) if group else ""


def _linked(text: str) -> str:
    return CURIE_IN_TEXT.sub(lambda m: f"[{m.group(1)}]({term_url(m.group(1))})", text)


def chat_reply(message: str, history: list, session: UISession) -> Iterator[tuple]:
    """Answer from the chat agent (this session's thread), streamed line by line, ids linked to their pages; then its figures."""
    history = list(history or [])
    message = (message or "").strip()
    if not message:
        yield history, ""
        return
    history.append({"role": "user", "content": message})
    if session.chat is None:
        history.append({"role": "assistant", "content": "Load a dataset and press **Describe** first: answers come from its verified results."})
        yield history, ""
        return
    try:
        answer = session.chat.ask(message, session.thread)
        text, figures = _linked(answer.text), answer.plots
    except InputError as exc:
        text, figures = f"error: {exc}", []
    history.append({"role": "assistant", "content": ""})
    for line in text.splitlines(keepends=True):
        history[-1] = {"role": "assistant", "content": history[-1]["content"] + line}
        yield history, ""
    for figure in figures:  # a dot plot, violin or bar chart, shown in the chat
        history.append({"role": "assistant", "content": {"path": figure, "alt_text": Path(figure).stem}})
        yield history, ""


def build_app(preload: str | Path | None = None, demo: bool = False, *, max_upload_mb: float | None = None) -> gr.Blocks:
    max_upload_mb = max_upload_mb or get_settings().max_upload_mb
    """The Blocks app; ``preload`` (a path) or ``demo`` loads a dataset when a page opens."""
    with gr.Blocks(title="cell2text", delete_cache=(3600, 3600), fill_width=True) as app:
        session = gr.State(UISession, delete_callback=_cleanup, time_to_live=6 * 3600)
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                demo_button = gr.Button("Load demo (PBMC 68k, 700 cells)", elem_id="load-demo")
                # any file is accepted by the browser and checked on the server, so a wrong one gets a clear error
                upload = gr.File(label=f"…or upload an .h5ad (up to {max_upload_mb:.0f} MB)", type="filepath", elem_id="upload")
                groupby = gr.Dropdown(label="Groups column (obs)", choices=[], allow_custom_value=False, elem_id="groupby")
                describe_button = gr.Button("Describe", variant="primary", elem_id="describe")
            with gr.Column(scale=2):
                summary = gr.Markdown("No dataset loaded yet.", elem_id="summary")
                error = gr.Markdown("", elem_id="error")
                steps = gr.Textbox(label="Progress (the agent's steps)", lines=10, interactive=False, elem_id="steps")
        with gr.Tabs():
            with gr.Tab("Overview", id="overview"):
                image = gr.Image(label="Cells coloured by verified cell type", type="filepath", elem_id="embedding", interactive=False)
                table = gr.Dataframe(label="All groups", elem_id="groups-table", interactive=False)
            with gr.Tab("Groups", id="groups"):
                group_select = gr.Dropdown(label="Group", choices=[], elem_id="group-select")
                card = gr.HTML(elem_id="group-card")
            with gr.Tab("Chat", id="chat"):
                chatbot = gr.Chatbot(label="Ask about this dataset", height=420, elem_id="chatbot")
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="e.g. why do you call CD56+ NK natural killer cells?", show_label=False, scale=5, elem_id="question"
                    )
                    send = gr.Button("Ask", scale=1, elem_id="ask")
            with gr.Tab("Downloads", id="downloads"):
                downloads = gr.File(label="Report (HTML, JSON) and annotated .h5ad", file_count="multiple", interactive=False, elem_id="downloads")

        loaded = [session, groupby, summary, error]
        demo_button.click(load_demo, [session], loaded)
        # after each upload the field is emptied again, ready for the next file whatever happened
        upload.upload(lambda path, s: load_upload(path, s, max_upload_mb), [upload, session], loaded).then(lambda: None, None, upload)
        describe_button.click(run_describe, [groupby, session], [session, steps, error, image, table, group_select, card, downloads])
        group_select.change(show_group, [group_select, session], card)
        question.submit(chat_reply, [question, chatbot, session], [chatbot, question])
        send.click(chat_reply, [question, chatbot, session], [chatbot, question])
        if demo:
            app.load(load_demo, [session], loaded)
        elif preload is not None:
            app.load(lambda s: load_file(preload, s), [session], loaded)
    return app


def launch(
    preload: str | Path | None = None,
    demo: bool = False,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    max_upload_mb: float | None = None,
    block: bool = True,
) -> gr.Blocks:
    """Start the app on ``host:port`` (loopback by default; ``share`` opens a public Gradio link only when asked)."""
    max_upload_mb = max_upload_mb or get_settings().max_upload_mb
    app = build_app(preload, demo, max_upload_mb=max_upload_mb)
    app.queue(default_concurrency_limit=1)  # one describe at a time on a 2-core machine; sessions stay separate
    app.launch(
        server_name=host,
        server_port=port,
        share=share,
        max_file_size=f"{max_upload_mb:g}mb",
        css=report_css(),
        prevent_thread_lock=not block,
        show_error=True,
        quiet=not block,
    )
    return app
