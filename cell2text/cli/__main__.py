"""``python -m cell2text.cli``: the command line (torchrun uses this)."""

from cell2text.cli import app

app(prog_name="cell2text")
