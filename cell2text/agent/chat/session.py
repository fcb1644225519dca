"""The dataset a conversation is about: its verified description (cached), what answers share, and the answer record.

A :class:`DatasetSession` holds the dataset and the verified describe result (computed once, then
cached on disk per dataset, groupby and model), and computes on first use what several answers
share: the prepared expression, per-cell Hallmark scores, the markers and candidate cell types of
every group. Answers judge evidence with the thresholds the describe run itself used
(:attr:`DatasetSession.thresholds`), so the chat and the report agree on what is "up". Every answer
function returns an :class:`Answer`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from cell2text import __version__
from cell2text.agent.describe import CLUSTER_KEY, Progress, describe, read_result
from cell2text.config import get_settings
from cell2text.data.io import prepare
from cell2text.errors import InputError
from cell2text.files import write_text
from cell2text.kb.store import KnowledgeBase
from cell2text.knowledge import detect_species, load_markers
from cell2text.knowledge.ontology import Ontology, load_ontology
from cell2text.knowledge.pagerank import pagerank_similarity
from cell2text.model.paths import model_path
from cell2text.tools import scan
from cell2text.tools.candidates import SCORING
from cell2text.tools.evidence import Thresholds
from cell2text.tools.groups import GroupEvidence

PATHWAY_KEY = "cell2text_pathways"  # obsm key of the per-cell Hallmark scores (the one the describe tools use)
#: obs columns that describe the experiment rather than the cells, in the order a comparison prefers them.
CONDITION_WORDS = ("condition", "treatment", "stim", "perturbation", "genotype", "time", "sample", "donor", "batch", "disease")
MAX_LEVELS = 30  # an obs column with more values than this is not offered as a condition or for counting


@dataclass
class Answer:
    """A chat answer: the text, the tool that produced it, its data, and the ids it cites."""

    text: str
    tool: str
    data: dict = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    group: str | None = None  # the group the answer is about (for "it" / "that cluster" follow-ups)
    plots: list[str] = field(default_factory=list)  # PNG files drawn for the answer (when the session has a plot folder)

    def to_dict(self) -> dict:
        return {"text": self.text, "tool": self.tool, "data": self.data, "ids": self.ids, "group": self.group, "plots": self.plots}


class DatasetSession:
    """The dataset a conversation is about, its resources and its (cached) verified description."""

    def __init__(
        self,
        adata: ad.AnnData,
        name: str,
        groupby: str | None = None,
        *,
        source: Path | None = None,
        ontology: Ontology | None = None,
        kb: KnowledgeBase | None = None,
        result: dict | None = None,
        plot_dir: str | Path | None = None,
    ) -> None:
        """``result``: a describe result already computed for ``adata`` (e.g. ``read_result(adata)``);
        ``plot_dir``: where answers save their figures (None: no figures)."""
        self.adata, self.name, self.source = adata, name, source
        self.plot_dir = Path(plot_dir) if plot_dir is not None else None
        self.groupby = result["groupby"] if result else groupby
        self.ontology = ontology or load_ontology()
        self._kb = kb
        self.ppr = pagerank_similarity(self.ontology, "CL")
        self._result: dict | None = result

    @classmethod
    def open(cls, path: str | Path | None, groupby: str | None = None, **kwargs) -> DatasetSession:
        """A session on the file at ``path``, or on the demo (groupby ``bulk_labels``) when None."""
        from cell2text.data.demo import DEMO_GROUPBY, DEMO_NAME, load_demo
        from cell2text.data.io import read_dataset

        if path is None:
            return cls(load_demo(), DEMO_NAME, groupby or DEMO_GROUPBY, **kwargs)
        path = Path(path)
        return cls(read_dataset(path), path.name, groupby, source=path, **kwargs)

    @property
    def kb(self) -> KnowledgeBase:
        if self._kb is None:
            self._kb = KnowledgeBase(ontology=self.ontology)
        return self._kb

    # ------------------------------------------------------------------ the verified description
    def _fingerprint(self) -> str:
        model = model_path()
        weights = Path(model) / "weights.safetensors"
        knowledge = load_markers(detect_species(self.adata, default="human"), ontology=self.ontology).version
        parts = [__version__, self.ontology.version, knowledge, repr(SCORING), str(self.groupby)]  # new markers or scoring: new answers
        parts.append(str(weights.stat().st_mtime_ns if weights.exists() else model))
        if self.source is not None:
            stat = self.source.stat()
            parts += [str(self.source.resolve()), str(stat.st_size), str(stat.st_mtime_ns)]
        else:
            parts += [self.name, str(self.adata.shape)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def result(self, progress: Progress | None = None) -> dict:
        """The verified describe result: from the cache, else computed now (about 20 s for the demo on CPU)."""
        if self._result is not None:
            return self._result
        cache = get_settings().cache_path("describe", f"{self._fingerprint()}.json")
        if cache.exists():
            stored = json.loads(cache.read_text())
            if CLUSTER_KEY in stored:
                self.adata.obs[CLUSTER_KEY] = stored[CLUSTER_KEY]
            self._result = stored["result"]
        else:
            describe(self.adata, self.groupby, kb=self.kb, progress=progress)
            self._result = read_result(self.adata)
            stored = {"result": self._result}
            if self.groupby is None:
                stored[CLUSTER_KEY] = self.adata.obs[CLUSTER_KEY].astype(str).tolist()
            write_text(cache, json.dumps(stored))
        self.groupby = self._result["groupby"]
        return self._result

    @functools.cached_property
    def work(self) -> ad.AnnData:
        """Prepared expression with the groups as a categorical column, for the marker and pathway tests.

        A large dataset (:func:`cell2text.tools.scan.out_of_core`) is never read whole: the answers
        work on the per-group sample describe tested on (:func:`cell2text.tools.scan.group_sample`).
        """
        groupby = self.result()["groupby"]
        work = scan.group_sample(self.adata, groupby) if scan.out_of_core(self.adata) else prepare(self.adata, groupby)
        work.obs[groupby] = work.obs[groupby].astype(str).astype("category")
        return work

    @property
    def groups(self) -> list[str]:
        return list(self.result()["groups"])

    @property
    def thresholds(self) -> Thresholds:
        """The evidence thresholds the describe run used (``result["params"]``): the answers judge by the same rules."""
        return Thresholds.from_params(self.result()["params"])

    @property
    def tissue(self) -> str | None:
        """The tissue the describe run took as context (UBERON id), if any."""
        return self.result().get("context", {}).get("tissue")

    def warm_up(self) -> None:
        """Compute now what answers share (describe result, the ontology's name indexes, Hallmark scores, every group's
        markers and candidate cell types), so questions are fast."""
        for prefix in ("CL", "UBERON", "MONDO"):
            self.ontology.standardise("cell", prefix, k=1)
        self.pathway_scores()
        for group in self.groups:
            try:
                self.candidates(group)
            except InputError:
                return  # a one-cell group: the marker answers say so when asked

    @functools.cached_property
    def evidence(self) -> GroupEvidence:
        """What the answers test on the groups, with the describe run's thresholds, tissue prior and marker knowledge
        (its ``--markers`` table too, while the file is there): the same evidence describe judged by, computed once."""
        context = self.result().get("context", {})
        extra = context.get("markers")
        knowledge = load_markers(
            detect_species(self.work, default="human"), extra=extra if extra and Path(extra).is_file() else None, ontology=self.ontology
        )
        return GroupEvidence(
            adata=self.work,
            groupby=self.groupby,
            ontology=self.ontology,
            ppr=self.ppr,
            knowledge=knowledge,
            thresholds=self.thresholds,
            tissue=self.tissue,
        )

    def candidates(self, group: str) -> list:
        """Cell types the group's markers point to, best first (:meth:`GroupEvidence.candidates`: at most ``MAX_CANDIDATES``)."""
        return self.evidence.candidates(group)

    def pathway_scores(self) -> pd.DataFrame:
        """Per-cell Hallmark scores (cells x gene sets, ``scanpy.tl.score_genes``), computed on first use."""
        return self.evidence.pathway_scores("hallmark", PATHWAY_KEY)

    def gene(self, symbol: str) -> str | None:
        """The dataset's spelling of a gene symbol (case-insensitive), or None when it is not measured."""
        return _upper_index(tuple(self.work.var_names)).get(symbol.upper())

    def expression(self, gene: str) -> np.ndarray:
        """Log-normalised expression of one measured gene in every cell."""
        column = self.work[:, gene].X
        return np.asarray(column.todense() if hasattr(column, "todense") else column, dtype=np.float64).ravel()

    def condition_columns(self) -> list[str]:
        """obs columns naming levels of the experiment (condition, donor, sample, ...), best first; each has 2..MAX_LEVELS values."""
        found = []
        for column in self.adata.obs.columns:
            name = str(column).lower()
            rank = next((i for i, word in enumerate(CONDITION_WORDS) if word in name), None)
            offered = 2 <= self.adata.obs[column].nunique() <= MAX_LEVELS
            if rank is not None and column != self.groupby and not name.endswith("_ontology_term_id") and offered:
                found.append((rank, str(column)))
        return [column for _, column in sorted(found)]

    def levels(self, column: str) -> pd.Series:
        """Cells per value of an obs column, in the column's order (categories) or by size."""
        values = self.adata.obs[column]
        counts = values.astype(str).value_counts()
        if isinstance(values.dtype, pd.CategoricalDtype):
            counts = counts.reindex([str(c) for c in values.cat.categories if str(c) in counts.index])
        return counts

    def column(self, name: str | None) -> str:
        """An obs column to group cells by (default: the groups column); raises with the columns for an unknown one."""
        name = name or self.groupby
        if name not in self.adata.obs.columns:
            raise InputError(f"there is no obs column '{name}'. Columns: {', '.join(map(str, self.adata.obs.columns))}.")
        return name

    def group(self, name: str) -> dict:
        """One group's result; raises with the list of valid groups for an unknown name."""
        groups = self.result()["groups"]
        if name not in groups:
            shown = ", ".join(list(groups)[:20]) + (", ..." if len(groups) > 20 else "")
            raise InputError(f"there is no group '{name}' in obs['{self.groupby}']. Groups: {shown}.")
        return groups[name]


@functools.lru_cache(maxsize=8)
def _upper_index(names: tuple[str, ...]) -> dict[str, str]:
    return {name.upper(): name for name in reversed(names)}  # the first spelling wins


def figure_path(session: DatasetSession, kind: str, *names: str) -> Path | None:
    """Where an answer's figure goes (``<plot_dir>/<kind>-<names>.png``), or None when the session draws none."""
    if session.plot_dir is None:
        return None
    session.plot_dir.mkdir(parents=True, exist_ok=True)
    slug = "-".join(re.sub(r"[^A-Za-z0-9]+", "_", n).strip("_") for n in names if n)[:80]
    return session.plot_dir / f"{kind}-{slug or 'all'}.png"
