"""Where the model in force lives: the one resolution of ``--model`` / ``CELL2TEXT_MODEL`` / the shipped checkpoint.

Kept free of torch and transformers so that quick callers (``cell2text doctor``, the chat's cache
key) resolve the path without loading the model stack.
"""

from __future__ import annotations

from pathlib import Path

from cell2text.config import get_settings
from cell2text.errors import InputError

#: The checkpoint shipped in the package, trained on the demo dataset's training split (docs/model.md).
SHIPPED_CHECKPOINT = Path(__file__).parent / "checkpoint"
CHECKPOINT_FILES = ("config.json", "genes.json", "weights.safetensors")


def model_path(path: str | Path | None = None) -> Path:
    """The checkpoint folder in force, unchecked: ``path``, else ``CELL2TEXT_MODEL``, else the shipped checkpoint."""
    return Path(path).expanduser() if path else get_settings().model_path or SHIPPED_CHECKPOINT


def model_checkpoint(path: str | Path | None = None) -> Path:
    """:func:`model_path`, checked to hold a checkpoint (one line naming what is missing and the fix otherwise)."""
    path = model_path(path)
    missing = [name for name in CHECKPOINT_FILES if not (path / name).is_file()]
    if missing:
        raise InputError(f"'{path}' is not a Cell2Text checkpoint (missing {', '.join(missing)}). Pass a folder written by 'cell2text train'.")
    return path
