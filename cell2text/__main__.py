"""``python -m cell2text``: the command line."""

from cell2text.cli import app

app(prog_name="cell2text")
