"""Shared pieces of the command line: the Typer app, console, error handling, common options."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from cell2text import __version__
from cell2text.errors import InputError

app = typer.Typer(help="Verified natural-language descriptions of single-cell RNA-seq data.", no_args_is_help=True)

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
DatasetArgument = Annotated[Optional[Path], typer.Argument(help="An .h5ad file, a .zarr store (AnnData layout), a 10x .h5 file or a 10x mtx folder.")]
SchedulerOption = Annotated[
    Optional[str],
    typer.Option(
        "--scheduler",
        help="Run the per-cell scan of large data on this dask.distributed scheduler (e.g. tcp://10.0.0.5:8786;"
        " workers must be able to read the file). Default: CELL2TEXT_SCHEDULER, else Dask in this process.",
    ),
]
DemoOption = Annotated[bool, typer.Option("--demo", help="Use the bundled pbmc68k_reduced demo dataset.")]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn bad input into one line on stderr and exit code 2, without a traceback."""
    try:
        yield
    except InputError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


@contextmanager
def finished_parts(written: dict[str, str], step: str) -> Iterator[None]:
    """A late output step: an unexpected error becomes one line naming what failed and what is already on disk, exit 2.

    Bad input (``InputError``) passes through to :func:`user_errors` as usual.
    """
    try:
        yield
    except InputError:
        raise
    except Exception as exc:  # any failure of a late step: the finished outputs stay, the user gets one line
        kept = ", ".join(written.values()) or "nothing yet"
        reason = str(exc).splitlines()[0][:160] if str(exc) else ""
        err_console.print(
            f"[bold red]error:[/] writing {step} failed ({type(exc).__name__}: {reason}). Already written: {kept}."
            " Please report this with the command you ran.",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=2) from None


def emit(payload: Any, as_json: bool, render: Any) -> None:
    """Print ``payload`` as JSON, or call ``render(payload)`` for the readable form."""
    if as_json:
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        render(payload)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cell2text {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = None,
) -> None:
    """Verified natural-language descriptions of single-cell RNA-seq data."""


def check_source(path: Optional[Path], demo: bool) -> None:
    """A command works on one dataset: a PATH or --demo."""
    if demo == (path is not None):
        raise InputError("pass either a dataset PATH or --demo, not both and not neither.")


def raw_dataset(path: Optional[Path], demo: bool) -> tuple[Any, str]:
    """The dataset as read (the agent prepares its own copy), and its display name."""
    from cell2text.data.demo import DEMO_NAME, load_demo
    from cell2text.data.io import read_dataset

    check_source(path, demo)
    return (load_demo(), DEMO_NAME) if demo else (read_dataset(path), path.name)


def progress_printer(quiet: bool):
    """A describe progress callback printing each finished step to stderr."""

    def report(node: str, step: str) -> None:
        if not quiet:
            err_console.print(f"[dim]-[/] {step}", highlight=False)

    return report


def use_scheduler(address: Optional[str]) -> None:
    """Make ``address`` (``--scheduler``) the Dask scheduler of this run (``Settings.scheduler``), once it answers;
    an unreachable one is an InputError. Without it, a ``CELL2TEXT_SCHEDULER`` already set is checked the same way."""
    import os

    from cell2text.config import get_settings
    from cell2text.tools.scan import check_scheduler

    address = address or get_settings().scheduler
    if address:
        check_scheduler(address)
        os.environ["CELL2TEXT_SCHEDULER"] = address
