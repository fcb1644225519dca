"""Resources derived from shipped data, built once per machine instead of once per process.

The ontology with its name indexes, the organs each cell type names, the marker sources' profiles:
each costs a second or more to build, in every process that describes or answers anything, and
depends only on versioned inputs and on the code that builds it. :func:`cached` pickles each under
``<cache>/derived/`` keyed by those versions and by a digest of the building modules' source
(:func:`source_digest`), so a new release of the data, or an edited module, builds it again. A
file that cannot be read is built again and replaced (written atomically). The files are this
program's own: pickle runs code when it loads, so never point ``CELL2TEXT_CACHE`` at files from
elsewhere.
"""

from __future__ import annotations

import hashlib
import inspect
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from cell2text.config import get_settings
from cell2text.files import atomic_path

T = TypeVar("T")


def source_digest(*sources: ModuleType | Path) -> str:
    """A digest of modules' source and data files' bytes: part of a cache key, so an edited module or a new data file
    builds the resources derived from it again."""
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.read_bytes() if isinstance(source, Path) else inspect.getsource(source).encode())
    return digest.hexdigest()[:16]


def cached(name: str, key: Iterable[str], build: Callable[[], T]) -> T:
    """``build()``, or what it returned for the same ``key`` before, from ``<cache>/derived/<name>-<digest of key>.pkl``."""
    digest = hashlib.sha256("\x1f".join(key).encode()).hexdigest()[:16]
    path = get_settings().cache_path("derived", f"{name}-{digest}.pkl")
    if path.is_file():
        try:
            with path.open("rb") as handle:
                return pickle.load(handle)
        except Exception:  # a truncated or unreadable file: build it again
            pass
    value = build()
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return value
