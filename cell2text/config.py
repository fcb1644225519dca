"""Settings in one place: cache directory, model paths, device and offline flags.

Every value has a default and an environment variable (``CELL2TEXT_*``) that overrides it.
Code asks :func:`get_settings` instead of reading the environment itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_cache_dir


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def _env_int(name: str, default: int, *, minimum: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = int(value.replace("_", ""))
    except ValueError:
        number = minimum - 1
    if number < minimum:
        from cell2text.errors import InputError

        raise InputError(f"{name}={value!r} is not a whole number of at least {minimum}. Fix or unset it.")
    return number


@dataclass(frozen=True)
class Settings:
    """Run-time settings of cell2text."""

    # where computed artefacts live (PPR matrices, knowledge base, model caches); CELL2TEXT_CACHE
    cache_dir: Path = field(default_factory=lambda: Path(user_cache_dir("cell2text")))
    # a user's own Cell Ontology-style .obo file, loaded with pronto instead of the bundled CL/UBERON/MONDO;
    # CELL2TEXT_ONTOLOGY
    ontology_obo: Path | None = None
    # cellxgene schema version whose ontology releases to load (None = newest shipped); CELL2TEXT_SCHEMA_VERSION
    schema_version: str | None = None
    # a shared Chroma server for the knowledge base (e.g. http://kb.lab:8000); None = embedded, in the cache;
    # CELL2TEXT_KB_URL
    kb_url: str | None = None
    # a trained Cell2Text checkpoint directory; CELL2TEXT_MODEL
    model_path: Path | None = None
    # the causal language model: a local path or hub id already in the local HF cache; CELL2TEXT_LM
    lm_path: str | None = None
    # torch device: "auto" picks CUDA when present, else CPU; CELL2TEXT_DEVICE
    device: str = "auto"
    # an external LangChain chat model for `cell2text ask/chat`, "provider:model" as langchain's init_chat_model
    # takes it (e.g. "ollama:llama3.1", "openai:gpt-4o-mini"); None = the embedded router; CELL2TEXT_CHAT_MODEL
    chat_model: str | None = None
    # base URL of that model's endpoint (an OpenAI-compatible server, Ollama); CELL2TEXT_CHAT_BASE_URL
    chat_base_url: str | None = None
    # never reach a model hub at run time (sets HF_HUB_OFFLINE=1 where models load); CELL2TEXT_OFFLINE=0 lifts it
    offline: bool = True
    # datasets with more cells than this are described out of core: read in chunks, tested on a per-group
    # subsample; CELL2TEXT_IN_MEMORY_CELLS
    in_memory_cells: int = 50_000
    # cells per chunk when a dataset is read in chunks; CELL2TEXT_CHUNK_SIZE
    chunk_size: int = 20_000
    # out of core: at most this many cells of each group (a seeded random sample) for marker and pathway
    # tests and the report's UMAP; CELL2TEXT_CELLS_PER_GROUP
    cells_per_group: int = 1_000
    # largest .h5ad a user may upload in the UI, in MB (larger files: `cell2text ui PATH` reads them in place);
    # CELL2TEXT_MAX_UPLOAD_MB
    max_upload_mb: int = 500
    # out of core without a groupby key: Leiden runs on a random sample of this many cells; CELL2TEXT_CLUSTER_CELLS
    cluster_cells: int = 50_000
    # a dask.distributed scheduler (e.g. tcp://10.0.0.5:8786) on which describe's per-cell scan runs; None = Dask's
    # threaded scheduler in this process; CELL2TEXT_SCHEDULER (the CLI's --scheduler sets it)
    scheduler: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """Settings with every ``CELL2TEXT_*`` environment variable applied."""
        defaults = cls()
        return cls(
            cache_dir=_env_path("CELL2TEXT_CACHE") or defaults.cache_dir,
            ontology_obo=_env_path("CELL2TEXT_ONTOLOGY"),
            schema_version=os.environ.get("CELL2TEXT_SCHEMA_VERSION") or None,
            kb_url=os.environ.get("CELL2TEXT_KB_URL") or None,
            model_path=_env_path("CELL2TEXT_MODEL"),
            lm_path=os.environ.get("CELL2TEXT_LM") or None,
            device=os.environ.get("CELL2TEXT_DEVICE", defaults.device),
            chat_model=os.environ.get("CELL2TEXT_CHAT_MODEL") or None,
            chat_base_url=os.environ.get("CELL2TEXT_CHAT_BASE_URL") or None,
            offline=os.environ.get("CELL2TEXT_OFFLINE", "1") not in ("0", "false", "no"),
            in_memory_cells=_env_int("CELL2TEXT_IN_MEMORY_CELLS", defaults.in_memory_cells, minimum=0),
            chunk_size=_env_int("CELL2TEXT_CHUNK_SIZE", defaults.chunk_size, minimum=1),
            cells_per_group=_env_int("CELL2TEXT_CELLS_PER_GROUP", defaults.cells_per_group, minimum=2),
            max_upload_mb=_env_int("CELL2TEXT_MAX_UPLOAD_MB", defaults.max_upload_mb, minimum=1),
            cluster_cells=_env_int("CELL2TEXT_CLUSTER_CELLS", defaults.cluster_cells, minimum=100),
            scheduler=os.environ.get("CELL2TEXT_SCHEDULER") or None,
        )

    def cache_path(self, *parts: str) -> Path:
        """A path inside the cache directory, with its parent folder created."""
        path = self.cache_dir.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def get_settings() -> Settings:
    """The settings in force now (read from the environment on every call, so tests can monkeypatch it)."""
    return Settings.from_env()


def prepare_model_loading() -> None:
    """Before any model loads: no hub access when offline (the default), and no per-load progress bars or notices.

    Models ship in packages or the cache (DESIGN.md); the only way to reach a hub is CELL2TEXT_OFFLINE=0.
    """
    import warnings

    if get_settings().offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
