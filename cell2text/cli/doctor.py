"""``cell2text doctor``: check the installation and say what to run."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cell2text.cli.common import JsonOption, app, console, emit

_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


@app.command()
def doctor(
    deep: Annotated[
        bool, typer.Option("--deep", help="Also load the model and its LM, open the knowledge base, run the large-data neighbour step.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems (what make install runs).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Check the model, language model, knowledge base, ontology, device, chromium and versions; exit 1 if anything required fails."""
    from cell2text.doctor import run_checks

    checks = [c.to_dict() for c in run_checks(deep=deep)]
    payload = {"ok": all(c["status"] != "fail" for c in checks), "checks": checks}

    def render(p: dict) -> None:
        shown = [c for c in p["checks"] if not quiet or c["status"] != "ok"]
        if not shown:
            return
        table = Table(title="cell2text doctor")
        for column in ("check", "status", "found", "fix"):
            table.add_column(column)
        for c in shown:
            table.add_row(c["name"], f"[{_STYLE[c['status']]}]{c['status']}[/]", c["found"], c["fix"])
        console.print(table)

    emit(payload, as_json, render)
    if not payload["ok"]:
        raise typer.Exit(code=1)
