"""The layers of docs/architecture.md hold: every cell2text import points down (or sideways within a layer)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cell2text"

#: Each top-level module or package of cell2text and its layer; an import may only reach the same or a lower one.
LAYERS = {
    "__init__": 0, "cache": 0, "config": 0, "errors": 0, "files": 0,
    "knowledge": 1,
    "data": 2, "kb": 2,
    "tools": 3,
    "model": 4,
    "agent": 5,
    "report": 6, "summary": 6, "doctor": 6, "ui": 7, "cli": 8, "__main__": 8,
}  # fmt: skip


def _imports(path: Path) -> set[str]:
    """The cell2text top-level names a module imports (absolute imports only; the package uses no relative ones)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cell2text"):
            parts = node.module.split(".")
            names |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("cell2text.")}
    return names


def test_every_import_points_down():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for name in _imports(path):
            if name == "__version__":
                continue
            if LAYERS[name] > LAYERS[own]:
                upward.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not upward, upward


def test_describe_never_imports_the_chat():
    offenders = [
        path.name
        for path in (PACKAGE / "agent" / "describe").glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cell2text.agent.chat")
    ]
    assert not offenders
