"""Numba compilation of umap-learn and pynndescent cached on disk, so only a machine's first run pays for it.

scanpy's neighbours (umap's fuzzy simplicial set) and UMAP run numba-compiled functions; most of them are
declared without ``cache=True``, so every process compiled them again: ~9 s of the demo's describe and report
(neighbours 7.4 s -> 0.2 s, UMAP 2.2 s -> 1.2 s once cached). :func:`enable` turns numba's own on-disk cache on
for those functions (``Dispatcher.enable_caching``), under ``Settings.cache_dir/numba`` unless ``NUMBA_CACHE_DIR``
names another folder. Numba checks each cached function against its source file, so an upgrade recompiles.
"""

from __future__ import annotations

import os
import sys

PACKAGES = ("umap", "pynndescent")
_enabled = False


def enable() -> None:
    """Cache the compiled numba functions of every module of ``PACKAGES`` on disk (once per process)."""
    global _enabled
    if _enabled:
        return
    import numba
    import pynndescent  # noqa: F401  (imported for its modules)
    import umap  # noqa: F401
    from numba.core.registry import CPUDispatcher

    from cell2text.config import get_settings

    if not os.environ.get("NUMBA_CACHE_DIR"):
        numba.config.CACHE_DIR = str(get_settings().cache_path("numba", "functions").parent)
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in PACKAGES:
            for value in list(vars(module).values()):
                if isinstance(value, CPUDispatcher) and value.__module__ == name:
                    value.enable_caching()
    _enabled = True
