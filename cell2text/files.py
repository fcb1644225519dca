"""Atomic writes: every file or folder cell2text writes appears whole or not at all.

A reader (another process, a crashed run resumed, a user opening a report) never sees half a
file, and a failed write leaves what was there before. Callers write to the temporary path this
yields with whatever library writes their format (``np.save``, ``scipy.sparse.save_npz``,
``torch.save``, ``AnnData.write_h5ad``, ``save_pretrained``); the rename happens here.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same folder, same suffix, so writers that append a suffix do not; one per
    process and thread, so concurrent writers never share one); renamed onto ``path`` when the block ends without
    error, removed when it raises. A folder replaces the folder at ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{threading.get_ident()}.tmp{path.suffix}")
    _remove(tmp)
    try:
        yield tmp
        if tmp.is_dir() and path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        _remove(tmp)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
