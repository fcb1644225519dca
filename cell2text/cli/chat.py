"""Conversation commands: ``ask``, ``chat`` and the Gradio ``ui``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cell2text.cli.common import (
    DatasetArgument,
    DemoOption,
    JsonOption,
    SchedulerOption,
    app,
    check_source,
    console,
    emit,
    err_console,
    progress_printer,
    use_scheduler,
    user_errors,
)
from cell2text.errors import InputError

ThreadOption = Annotated[str, typer.Option("--thread", "-t", help="Conversation id: questions in one thread remember each other.")]
PlotOption = Annotated[bool, typer.Option("--plot", help="Also draw a figure for gene and pathway-score answers (PNG, saved under --plot-dir).")]
PlotDirOption = Annotated[Path, typer.Option("--plot-dir", help="Folder for --plot figures (created if missing).")]
DEFAULT_PLOT_DIR = Path("cell2text-report") / "plots"


def _chat_for(path: Optional[Path], demo: bool, groupby: Optional[str], quiet: bool, plot_dir: Optional[Path] = None):
    from cell2text.agent.chat import Chat, DatasetSession

    check_source(path, demo)
    if plot_dir is not None and plot_dir.exists() and not plot_dir.is_dir():
        raise InputError(f"--plot-dir '{plot_dir}' is a file. Pass a folder for the figures.")
    session = DatasetSession.open(path, groupby)
    session.result(progress=progress_printer(quiet))  # describes the dataset once; later questions read the cache
    return Chat(session, plot_dir=plot_dir)


def _print_answer(answer: dict) -> None:
    console.print(answer["text"], highlight=False, markup=False)
    for figure in answer["plots"]:
        console.print(f"Figure: {figure}", highlight=False, markup=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, e.g. 'what cell types are here?'.")],
    path: DatasetArgument = None,
    demo: DemoOption = False,
    groupby: Annotated[Optional[str], typer.Option("--groupby", "-g", help="obs column with the groups; omitted: Leiden clusters.")] = None,
    thread: ThreadOption = "default",
    plot: PlotOption = False,
    plot_dir: PlotDirOption = DEFAULT_PLOT_DIR,
    scheduler: SchedulerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer one question about a dataset from the tools: cell types and which groups are a type, a group's evidence,
    markers and pathways, where a gene is expressed, two groups compared, conditions compared per group, metadata."""
    with user_errors():
        use_scheduler(scheduler)
        chat = _chat_for(path, demo, groupby, as_json, plot_dir if plot else None)
        answer = chat.ask(question, thread)
        emit(answer.to_dict(), as_json, _print_answer)


@app.command()
def chat(
    path: DatasetArgument = None,
    demo: DemoOption = False,
    groupby: Annotated[Optional[str], typer.Option("--groupby", "-g", help="obs column with the groups; omitted: Leiden clusters.")] = None,
    thread: ThreadOption = "default",
    plot: PlotOption = False,
    plot_dir: PlotDirOption = DEFAULT_PLOT_DIR,
    scheduler: SchedulerOption = None,
) -> None:
    """An interactive conversation about a dataset in the terminal (empty line, 'exit' or Ctrl-D to stop)."""
    with user_errors():
        use_scheduler(scheduler)
        session_chat = _chat_for(path, demo, groupby, False, plot_dir if plot else None)
        console.print(f"Chatting about [bold]{session_chat.session.name}[/] (thread '{thread}'). Try: what cell types are here?")
        while True:
            try:
                question = console.input("[bold cyan]you>[/] ").strip()
            except (EOFError, KeyboardInterrupt):
                break
            if question.lower() in ("", "exit", "quit"):
                break
            try:
                _print_answer(session_chat.ask(question, thread).to_dict())
            except InputError as exc:
                err_console.print(f"[bold red]error:[/] {exc}", highlight=False)


# ---------------------------------------------------------------------------- ui
@app.command()
def ui(
    path: DatasetArgument = None,
    demo: DemoOption = False,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on; the default serves this machine only.")] = "127.0.0.1",
    port: Annotated[Optional[int], typer.Option("--port", "-p", help="Port (default: 7860 or the next free one).")] = None,
    share: Annotated[bool, typer.Option("--share", help="Also open a public gradio.live link (off unless asked).")] = False,
    max_upload_mb: Annotated[
        Optional[float],
        typer.Option(
            "--max-upload-mb",
            help="Largest .h5ad a user may upload (default: CELL2TEXT_MAX_UPLOAD_MB or 500). Larger files: pass their PATH, read in place.",
        ),
    ] = None,
    scheduler: SchedulerOption = None,
) -> None:
    """Open the Gradio chat UI: describe a dataset step by step, browse the groups, chat, download the report."""
    from cell2text.ui.app import launch

    with user_errors():
        use_scheduler(scheduler)
        if demo and path is not None:
            raise InputError("pass either a dataset PATH or --demo, not both.")
        if path is not None and not path.exists():
            raise InputError(f"'{path}' does not exist. Pass an .h5ad file, a .zarr store, a 10x .h5 file or a 10x mtx folder.")
        if max_upload_mb is not None and max_upload_mb <= 0:
            raise InputError(f"--max-upload-mb must be positive, got {max_upload_mb}.")
        console.print(f"cell2text UI on http://{host}:{port or 7860} (Ctrl-C stops it){' with a public share link' if share else ''}")
        launch(path, demo, host=host, port=port, share=share, max_upload_mb=max_upload_mb)
