"""Chat tools: answers about one dataset, built only from tool results, each citing its ids and numbers.

A :class:`DatasetSession` holds the dataset a conversation is about and the verified describe
result (computed once, then cached on disk per dataset, groupby and model), and computes on first
use what several answers share: the prepared expression, per-cell Hallmark scores, the markers of
every group. Every ``answer_*`` function is a plain function returning an :class:`Answer`; the
embedded chat routes to them, and an external chat model calls them as tools. This module holds
the answers about one group or one term; ``answers_groups`` (across groups), ``answers_genes``
(genes), ``answers_data`` (metadata) and ``condition_graph`` (between conditions) hold the rest.
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
from scipy import stats

from cell2text import __version__
from cell2text.agent.describe.claims import Claim
from cell2text.agent.describe import CLUSTER_KEY, Progress, describe, read_result
from cell2text.agent.describe.checks import Thresholds, active_pathways, verify_cell_type
from cell2text.config import get_settings
from cell2text.data.io import prepare
from cell2text.errors import InputError
from cell2text.kb.store import KnowledgeBase
from cell2text.model.model import SHIPPED_CHECKPOINT
from cell2text.tools import scan
from cell2text.tools.enrichment import score_pathways
from cell2text.tools.markers import group_markers, rank_markers
from cell2text.knowledge.ontology import Ontology, load_ontology
from cell2text.knowledge.pagerank import common_parent, pagerank_similarity

CANNOT_TELL = "I can't tell from this data."
PATHWAY_KEY = "cell2text_pathways"  # obsm key of the per-cell Hallmark scores (the one the describe tools use)
#: obs columns that describe the experiment rather than the cells, in the order a comparison prefers them.
CONDITION_WORDS = ("condition", "treatment", "stim", "perturbation", "genotype", "time", "sample", "donor", "batch", "disease")
N_CANDIDATES = 10  # cell types the candidate search proposes per group
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

    def __init__(self, adata: ad.AnnData, name: str, groupby: str | None = None, *, source: Path | None = None,
                 ontology: Ontology | None = None, kb: KnowledgeBase | None = None, result: dict | None = None,
                 plot_dir: str | Path | None = None) -> None:
        """``result``: a describe result already computed for ``adata`` (e.g. ``read_result(adata)``);
        ``plot_dir``: where answers save their figures (None: no figures)."""
        self.adata, self.name, self.source = adata, name, source
        self.plot_dir = Path(plot_dir) if plot_dir is not None else None
        self.groupby = result["groupby"] if result else groupby
        self.ontology = ontology or load_ontology()
        self._kb = kb
        self.ppr = pagerank_similarity(self.ontology, "CL")
        self._result: dict | None = result
        self._candidates: dict[str, list] = {}

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
        model = get_settings().model_path or SHIPPED_CHECKPOINT
        weights = Path(model) / "weights.safetensors"
        parts = [__version__, self.ontology.version, str(self.groupby), str(weights.stat().st_mtime_ns if weights.exists() else model)]
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
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps(stored))
            tmp.replace(cache)
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

    def warm_up(self) -> None:
        """Compute now what answers share (describe result, the ontology's name indexes, Hallmark scores, every group's
        markers and candidate cell types), so questions are fast."""
        for prefix in ("CL", "UBERON", "MONDO"):
            self.ontology.standardise("cell", prefix, k=1)
        self.pathway_scores()
        markers = self.work.uns.get("cell2text_markers")
        if markers is None or markers["params"]["groupby"] != self.groupby:
            try:
                rank_markers(self.work, self.groupby)
            except InputError:
                return  # a one-cell group: the marker answers say so when asked
        for group in self.groups:
            self.candidates(group)

    def candidates(self, group: str) -> list:
        """Cell types the group's markers point to (:func:`cell2text.tools.candidates.rank_group`, top ``N_CANDIDATES``), cached."""
        from cell2text.knowledge import detect_species
        from cell2text.tools.candidates import rank_group

        if group not in self._candidates:
            species = detect_species(self.work, default="human")
            self._candidates[group] = rank_group(self.work, self.groupby, group, species=species, k=N_CANDIDATES,
                                                 ontology=self.ontology, ppr=self.ppr)
        return self._candidates[group]

    def pathway_scores(self) -> pd.DataFrame:
        """Per-cell Hallmark scores (cells x gene sets, ``scanpy.tl.score_genes``), computed on first use."""
        if PATHWAY_KEY not in self.work.obsm:
            score_pathways(self.work, "hallmark", key_added=PATHWAY_KEY)
        return self.work.obsm[PATHWAY_KEY]

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
            if rank is not None and column != self.groupby and not name.endswith("_ontology_term_id") and 2 <= self.adata.obs[column].nunique() <= MAX_LEVELS:
                found.append((rank, str(column)))
        return [column for _, column in sorted(found)]

    def levels(self, column: str) -> pd.Series:
        """Cells per value of an obs column, in the column's order (categories) or by size."""
        values = self.adata.obs[column]
        counts = values.astype(str).value_counts()
        if isinstance(values.dtype, pd.CategoricalDtype):
            counts = counts.reindex([str(c) for c in values.cat.categories if str(c) in counts.index])
        return counts

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


def auroc_test(values: np.ndarray, inside: np.ndarray, outside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Are ``values`` (cells x features) higher in the ``inside`` cells than the ``outside`` ones?

    Mann-Whitney U per feature: AUROC (``U / (n_in n_out)``; 0.5 no difference, 1 every inside
    cell higher) and the two-sided p-value.
    """
    u, pval = stats.mannwhitneyu(values[inside], values[outside], alternative="two-sided", axis=0)
    return u / (inside.sum() * outside.sum()), np.nan_to_num(pval, nan=1.0)


def fdr(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values."""
    return stats.false_discovery_control(np.nan_to_num(np.asarray(pvalues, dtype=float), nan=1.0))


def figure_path(session: DatasetSession, kind: str, *names: str) -> Path | None:
    """Where an answer's figure goes (``<plot_dir>/<kind>-<names>.png``), or None when the session draws none."""
    if session.plot_dir is None:
        return None
    session.plot_dir.mkdir(parents=True, exist_ok=True)
    slug = "-".join(re.sub(r"[^A-Za-z0-9]+", "_", n).strip("_") for n in names if n)[:80]
    return session.plot_dir / f"{kind}-{slug or 'all'}.png"


# --------------------------------------------------------------------------- answers
def _term(ontology: Ontology, term_id: str) -> str:
    return f"{ontology.term(term_id).label} ({term_id})"


def head_confidence(group: dict) -> str:
    """A group's head probability for its final type, or why there is none (the model did not count for it)."""
    if group.get("confidence") is None:
        return "from marker evidence (the model's head did not count here)"
    return f"head probability {group['confidence']:.2f}"


def answer_cell_types(session: DatasetSession) -> Answer:
    """Which cell types are in the dataset: the verified cell type of every group."""
    result = session.result()
    lines, ids = [], []
    for name, g in result["groups"].items():
        if g["cell_type_ontology_term_id"]:
            ids.append(g["cell_type_ontology_term_id"])
            lines.append(f"- {name} ({g['n_cells']} cells): {g['cell_type']} ({g['cell_type_ontology_term_id']}), {g['status']},"
                         f" {head_confidence(g)}")
        else:
            lines.append(f"- {name} ({g['n_cells']} cells): no cell type could be verified")
    text = f"{len(result['groups'])} groups in obs['{result['groupby']}'] of {session.name}:\n" + "\n".join(lines)
    return Answer(text, "cell_types", {"groups": {n: {k: g[k] for k in ("cell_type", "cell_type_ontology_term_id", "status", "confidence", "n_cells")}
                                                 for n, g in result["groups"].items()}}, list(dict.fromkeys(ids)))


def answer_describe_group(session: DatasetSession, group: str) -> Answer:
    """The verified description of one group, with the knowledge-base definition of its cell type."""
    g = session.group(group)
    text = f"{group}: {g['text']}"
    if g["definition"]:
        d = g["definition"]
        text += f"\nDefinition of {d['label']} ({d['id']}, {d['source']}): {d['text']}"
    ids = [c["id"] for c in g["claims"] if c["id"] and ":" in c["id"]]
    return Answer(text, "describe_group", {"group": group, "text": g["text"], "claims": g["claims"]}, ids, group)


def _evidence_lines(claim: dict) -> list[str]:
    lines = []
    for record in claim["evidence"]:
        source = record.get("source", "")
        if source == "model head":
            lines.append(f"model head: {record['probability']:.2f} for this type (top {record['top_label']} {record['top_probability']:.2f},"
                         f" second {record['second_label']} {record['second_probability']:.2f}, margin {record['margin']:.2f})")
        elif source == "markers":
            if record["score"] is not None:
                lines.append(f"known markers: {record['score']:.0%} agree; up: {', '.join(record['up']) or 'none'};"
                             f" not up: {', '.join(record['not_up']) or 'none'}")
            else:
                lines.append("known markers: none of this type's markers is measured or known")
        elif source == "PageRank":
            near = ", ".join(f"{n['label']} ({n['id']}, {n['similarity']:.2f})" for n in record["neighbours"][:3])
            lines.append(f"PageRank: similarity to the model's top label {record['similarity_to_top']:.2f}; nearest terms {near}")
        else:
            lines.append(", ".join(f"{k} {v}" for k, v in record.items() if k != "source") + f" [{source}]")
    return lines


def answer_explain(session: DatasetSession, group: str, cell_type: str | None = None) -> Answer:
    """Why a group is (or is not) called a cell type: the evidence behind the cell-type claim."""
    g = session.group(group)
    final = next((c for c in g["claims"] if c["kind"] == "cell_type"), None)
    wanted = session.ontology.read_term(cell_type, "CL") if cell_type else None
    if cell_type and wanted is None:
        return Answer(f"'{cell_type}' matches no Cell Ontology term, so I can't check it. {CANNOT_TELL}", "explain", {}, [], group)
    if wanted is not None and final is not None and wanted.best.id in session.ontology.ancestors(final["id"]):
        text = (f"{group} is called {_term(session.ontology, final['id'])}, a kind of {_term(session.ontology, wanted.best.id)}"
                f" ({final['status']}: {final['reason']}).\n- " + "\n- ".join(_evidence_lines(final)))
        return Answer(text, "explain", {"group": group, "claim": final}, [final["id"], wanted.best.id], group)
    if wanted is not None and (final is None or wanted.best.id != final["id"]):
        claim = verify_cell_type(Claim("cell_type", cell_type, wanted.best.id), adata=session.work, groupby=session.groupby, group=group,
                                 head=g["head"], ontology=session.ontology, ppr=session.ppr, thresholds=Thresholds(),
                                 head_weight=g.get("head_weight", 1.0), tissue=session.result().get("context", {}).get("tissue"))
        called = f"I call {group} {_term(session.ontology, final['id'])}" if final else f"I do not assign {group} a verified cell type"
        text = (f"{called}, not {_term(session.ontology, claim.id)}. Checked now, that claim is {claim.status}: {claim.reason}.\n- "
                + "\n- ".join(_evidence_lines(claim.to_dict())))
        return Answer(text, "explain", {"group": group, "claim": claim.to_dict()}, [i for i in (claim.id, final and final["id"]) if i], group)
    if final is None:
        return Answer(f"No cell type claim about {group} survived verification. {CANNOT_TELL}", "explain", {}, [], group)
    text = f"{group} is called {_term(session.ontology, final['id'])} ({final['status']}: {final['reason']}).\n- " + "\n- ".join(_evidence_lines(final))
    return Answer(text, "explain", {"group": group, "claim": final}, [final["id"]], group)


def answer_pathways(session: DatasetSession, group: str, n: int = 5) -> Answer:
    """The pathways most active in a group against the rest (Hallmark, per-cell scores, AUROC and BH FDR)."""
    session.group(group)
    top = active_pathways(session.work, session.groupby, group, n)
    if top.empty:
        return Answer(f"No Hallmark pathway is significantly more active in {group} than in the other cells (FDR <= 0.05). {CANNOT_TELL}"
                      " More cells in the group, or a larger gene panel, would help.", "pathways", {"group": group, "pathways": []}, [], group)
    rows = [f"- {r.title} ({r.pathway}): AUROC {r.auroc:.2f}, FDR {r.fdr:.2g}" for r in top.itertuples()]
    text = f"Pathways most active in {group} vs the other cells (Hallmark, per-cell scores, Mann-Whitney):\n" + "\n".join(rows)
    data = {"group": group, "pathways": top[["pathway", "title", "auroc", "fdr"]].to_dict("records")}
    return Answer(text, "pathways", data, top["pathway"].tolist(), group)


def answer_markers(session: DatasetSession, group: str, n: int = 8) -> Answer:
    """The genes that best separate a group from the rest (Wilcoxon), with effect sizes."""
    g = session.group(group)
    table = group_markers(session.work, session.groupby, group)
    top = table[(table["pval_adj"] <= 0.05) & (table["logfc"] > 0)].head(n)
    if top.empty:
        return Answer(f"No gene is significantly up in {group} against the rest. {CANNOT_TELL}", "markers", {"group": group, "markers": []}, [], group)
    rows = [f"- {r.gene}: log2FC {r.logfc:.2f}, adj. p {r.pval_adj:.2g}, in {r.pct_in:.0%} vs {r.pct_out:.0%} of cells" for r in top.itertuples()]
    lead = f"Genes separating {group}" + (f" ({g['cell_type']}, {g['cell_type_ontology_term_id']})" if g["cell_type"] else "")
    data = {"group": group, "markers": top[["gene", "logfc", "pval_adj", "pct_in", "pct_out"]].to_dict("records")}
    return Answer(lead + " from the other cells (Wilcoxon):\n" + "\n".join(rows), "markers", data, top["gene"].tolist(), group)


def answer_similarity(session: DatasetSession, first: str, second: str) -> Answer:
    """How close two cell types are in the Cell Ontology: PageRank similarity and their common parent."""
    terms = [session.ontology.read_term(t, "CL") for t in (first, second)]
    missing = [t for t, r in zip((first, second), terms) if r is None]
    if missing:
        return Answer(f"'{missing[0]}' matches no Cell Ontology term. {CANNOT_TELL} Try the full name or a CL id.", "similarity", {}, [])
    a, b = (r.best.id for r in terms)
    score = session.ppr.similarity(a, b)
    parent = common_parent(session.ontology, a, b, session.ppr)
    text = (f"{_term(session.ontology, a)} and {_term(session.ontology, b)}: PageRank similarity {score:.3f} on the Cell Ontology"
            f" (1 = same term; a parent and child score about 0.2, unrelated types about 0). Their closest common parent is"
            f" {_term(session.ontology, parent)}.")
    return Answer(text, "similarity", {"a": a, "b": b, "similarity": round(score, 4), "common_parent": parent}, [a, b, parent])


def answer_define(session: DatasetSession, term: str) -> Answer:
    """The definition of a cell type, tissue, disease or pathway, from the knowledge base."""
    for prefix in ("CL", "UBERON", "MONDO"):
        found = session.ontology.read_term(term, prefix, min_score=0.85)
        if found is not None and not found.unsure:
            hit = session.kb.get(found.best.id)
            if hit is not None:
                text = f"{hit.label} ({hit.curie}): {hit.text}\nSource: {hit.source}, {hit.url}"
                return Answer(text, "define", {"id": hit.curie, "label": hit.label, "definition": hit.text, "url": hit.url}, [hit.curie])
    hits = session.kb.query(term, k=1)
    if hits and hits[0].score >= 0.55:
        hit = hits[0]
        text = f"Closest match in the knowledge base (similarity {hit.score:.2f}): {hit.label} ({hit.curie}): {hit.text}\nSource: {hit.source}"
        return Answer(text, "define", {"id": hit.curie, "label": hit.label, "definition": hit.text, "score": hit.score}, [hit.curie])
    answer = cannot_tell(term)
    answer.text = f"Nothing in the knowledge base (Cell Ontology, UBERON, MONDO, gene sets) matches '{term}'. " + answer.text
    return answer


def answer_evidence(session: DatasetSession, group: str, claim: str | None = None) -> Answer:
    """The evidence for each claim about a group, or for the one claim matching ``claim`` (id, gene, words)."""
    g = session.group(group)
    claims = g["claims"]
    if claim:
        needle = claim.lower().strip()
        chosen = [c for c in claims if needle in {str(c["id"]).lower(), str(c["label"]).lower()}
                  or (c["label"] and c["label"].lower() in needle) or (c["id"] and c["id"].lower() in needle)]
        claims = chosen or claims
    blocks = []
    for c in claims:
        lines = _evidence_lines(c) if c["kind"] == "cell_type" else []
        blocks.append(f"- {c['kind']} {c['label'] or c['text']} ({c['id']}): {c['status']}, {c['reason']}" + "".join(f"\n    {line}" for line in lines))
    removed = [c for r in g["rounds"] for c in r if c["action"].startswith(("removed", "replaced", "generalised"))]
    text = f"Evidence for the claims about {group}:\n" + "\n".join(blocks)
    if removed:
        text += "\nRevised away from the draft:\n" + "\n".join(f"- {c['kind']} '{c['text']}': {c['action']} ({c['reason']})" for c in removed)
    return Answer(text, "evidence", {"group": group, "claims": claims, "revised": removed}, [c["id"] for c in claims if c["id"]], group)


def answer_summary(session: DatasetSession) -> Answer:
    """What the dataset is: cells, genes, groups, metadata columns."""
    result = session.result()
    meta = [c for c in ("tissue", "disease", "donor_id", "assay", "organism", "sex") if c in session.adata.obs.columns]
    text = (f"{session.name}: {session.adata.n_obs:,} cells x {session.adata.n_vars:,} genes, {len(result['groups'])} groups in"
            f" obs['{result['groupby']}']. Metadata columns: {', '.join(meta) or 'none of tissue/disease/donor'}."
            + ("".join(f"\nNote: {n}" for n in result["notes"])))
    return Answer(text, "summary", {"n_cells": int(session.adata.n_obs), "n_genes": int(session.adata.n_vars), "groups": list(result["groups"])}, [])


CAN_ANSWER = ("which cell types are here and which groups are a given type (e.g. 'which groups are T cells?'), describe a group,"
              " why a group is called a cell type, the evidence for a claim, which groups are uncertain, a group's active pathways"
              " or marker genes, which group has the highest score of a Hallmark pathway, where a gene is expressed, the genes"
              " separating two groups, the genes of a gene set that are up, what changes between two levels of a condition"
              " within each group, cells per metadata value, the metadata columns, how similar two cell types are in the Cell"
              " Ontology, and what a term means")


def cannot_tell(question: str, lead: str = "") -> Answer:
    """The honest answer to a question no tool covers: what can be answered instead."""
    text = (f"{lead + ' ' if lead else ''}{CANNOT_TELL} I can answer from the tools: {CAN_ANSWER}."
            " Naming a group, a gene or a pathway (e.g. 'where is CD8A expressed?') helps.")
    return Answer(text, "cannot_tell", {"question": question}, [])
