"""The ``cell2text`` command line, one module per command group.

Every command prints a readable summary by default and machine-readable JSON with ``--json``;
bad input ends with one ``error: ...`` line naming the problem and the fix, and exit code 2.
``common`` holds the Typer app and shared helpers; importing a group module registers its commands.
"""

from cell2text.cli import chat, dataset, doctor, enrich, kb, markers, model, ontology  # noqa: F401  (registers the commands)
from cell2text.cli.common import app

__all__ = ["app"]
