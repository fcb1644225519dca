"""``describe``: verified descriptions of every group of a dataset, written back scverse-style."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch

from cell2text import __version__
from cell2text.agent.describe.checks import head_mass, labels_under
from cell2text.agent.describe.claims import Claim
from cell2text.agent.describe.context import DescribeContext
from cell2text.agent.describe.graph import graph
from cell2text.agent.describe.state import DescribeState
from cell2text.config import Settings, get_settings
from cell2text.data.io import check_groupby, prepare
from cell2text.data.io import reading as reading_of
from cell2text.errors import InputError
from cell2text.kb.store import KnowledgeBase
from cell2text.knowledge import detect_species, load_markers
from cell2text.knowledge.genesets import LIBRARIES
from cell2text.knowledge.ontology import Ontology, load_ontology
from cell2text.knowledge.pagerank import pagerank_similarity
from cell2text.model.encoder import pool
from cell2text.model.fit import ModelFit, gene_fit
from cell2text.model.model import Cell2Text, load_model
from cell2text.model.paths import model_checkpoint
from cell2text.model.tokenizer import GeneTokenizer
from cell2text.tools import embedding, scan
from cell2text.tools.candidates import tissue_id
from cell2text.tools.evidence import Thresholds
from cell2text.tools.groups import GroupEvidence
from cell2text.tools.markers import MIN_GROUP_CELLS

CLUSTER_KEY = "cell2text_leiden"
MAX_GROUPS = 200  # describe drafts and verifies one text per group
STEPS = {
    "write": "Wrote each group's description with the Cell2Text model (and its head's probabilities for every cell)",
    "test": "Tested each group's markers, candidate cell types and pathways against the other cells",
    "embed": "Computed a UMAP of the tested cells for the report",
    "draft": "Drafted: the model's descriptions, its head weighed against the markers",
    "draft_evidence": "Drafted each group's cell type from its marker evidence (the Cell2Text model does not fit this data)",
    "extract": "Extracted the claims and mapped them to ontology ids",
    "verify": "Verified each claim (model head, PageRank, markers, pathways, metadata)",
    "retrieve": "Retrieved definitions from the knowledge base",
    "revise": "Revised: replaced contradicted claims, hedged unverified ones",
    "finalise": "Finalised: removed what is still contradicted",
}
Progress = Callable[[str, str], None]


def cluster(adata: ad.AnnData, *, resolution: float | None = None, seed: int = 0, key_added: str = CLUSTER_KEY) -> float:
    """Leiden clusters of a prepared AnnData in ``adata.obs[key_added]`` (PCA and neighbours computed if absent).

    Without a resolution, one that describe can use: at most ``MAX_GROUPS`` clusters of at least
    ``MIN_GROUP_CELLS`` cells each (:func:`cell2text.tools.embedding.leiden`). Returns the resolution used.
    """
    return embedding.leiden(adata, resolution=resolution, seed=seed, key_added=key_added, max_clusters=MAX_GROUPS, min_cluster_cells=MIN_GROUP_CELLS)


def _model_version(path: Path) -> str:
    weights = path / "weights.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12] if weights.is_file() else "unknown"
    return f"{path.name}@{digest}"


def check_groups(adata: ad.AnnData, groupby: str) -> pd.Series:
    """The groups of ``obs[groupby]`` as describe needs them, checked before any work: at most ``MAX_GROUPS``, each testable."""
    sizes = check_groupby(adata, groupby).astype(str).value_counts()
    if len(sizes) > MAX_GROUPS:
        msg = f"obs['{groupby}'] has {len(sizes):,} groups; describe writes and verifies a text per group and takes at most {MAX_GROUPS}."
        if groupby == CLUSTER_KEY:
            raise InputError(msg + " Leiden split these cells that finely: pass --groupby with your own clusters or cell types.")
        raise InputError(msg + " Pass a coarser key (clusters, cell types), or omit --groupby to cluster with Leiden.")
    small = sizes[sizes < MIN_GROUP_CELLS]
    if len(small):
        shown = ", ".join(f"'{g}' ({n})" for g, n in small.head(10).items()) + (", ..." if len(small) > 10 else "")
        msg = f"{len(small)} group(s) of obs['{groupby}'] have fewer than {MIN_GROUP_CELLS} cells, too few to test markers: {shown}."
        raise InputError(msg + " Merge them into other groups or drop their cells first.")
    return sizes


def _inputs(adata: ad.AnnData, groupby: str | None, report: Progress, **reading) -> tuple[ad.AnnData, str, list[str]]:
    """In memory: the whole dataset prepared (``reading``: :func:`prepare`'s layer and species), clustered with Leiden when there is no groupby."""
    work = prepare(adata, **reading)
    notes = list(work.uns["cell2text"]["preprocessing"]["notes"])
    if groupby is None:
        cluster(work)
        report("cluster", "No groupby key given: clustered the cells with Leiden (scanpy)")
        groupby = CLUSTER_KEY
        summary = embedding.leiden_summary(work.uns[CLUSTER_KEY]["params"])
        notes.append(f"No groupby key was given, so the cells were clustered with Leiden ({summary}) into obs['{CLUSTER_KEY}'].")
        check_groups(work, groupby)
    work.obs[groupby] = work.obs[groupby].astype(str).astype("category")
    return work, groupby, notes


class _Head:
    """The model's head alone (gene tokenizer, encoder, classifier, temperature): what :func:`cell2text.tools.scan.scan`
    sends to every Dask worker, without the language model. The same computation as :meth:`Cell2Text.probabilities`."""

    def __init__(self, model: Cell2Text) -> None:
        self.genes, self.encoder, self.head = model.genes, model.encoder, model.head
        self.top_k, self.temperature = model.config.top_k_genes, model.config.head_temperature

    @torch.no_grad()
    def __call__(self, prepared: ad.AnnData) -> np.ndarray:
        """(cells, labels) calibrated head probabilities of prepared cells."""
        self.encoder.eval()
        dense = self.genes.dense(prepared)
        tokens = torch.from_numpy(self.genes.encode(dense, self.top_k)).to(self.head.weight.device)
        logits = self.head(pool(self.encoder(torch.from_numpy(dense).to(tokens.device), tokens), tokens))  # (cells, labels)
        return torch.softmax(logits / self.temperature, dim=-1).cpu().numpy()


def _large_inputs(
    adata: ad.AnnData, groupby: str | None, model: Cell2Text | None, settings: Settings, report: Progress, reading: dict
) -> tuple[ad.AnnData, np.ndarray, np.ndarray, str, list[str]]:
    """Out of core (see :mod:`cell2text.tools.scan`): every cell's group and head probabilities in one Dask pass,
    and the per-group sample the graph tests markers and pathways on."""
    cap, chunk = settings.cells_per_group, settings.chunk_size
    where = f"on the Dask scheduler at {settings.scheduler}" if settings.scheduler else "with Dask in this process"
    notes = [
        (
            f"{adata.n_obs:,} cells: read in chunks of {chunk:,} cells {where}; each cell's head probabilities come from all cells,"
            f" marker genes and pathways were tested on at most {cap:,} randomly chosen cells per group (seed 0)."
        )
    ]
    plan = reading_of(adata, **reading)
    head = _Head(model) if model is not None else None
    if groupby is None:
        sample, clusters = scan.cluster_sample(adata, plan, n_cells=settings.cluster_cells, key=CLUSTER_KEY, max_clusters=MAX_GROUPS, progress=report)
        report("cluster", f"Clustered a random sample of {sample.n_obs:,} cells with Leiden (scanpy)")
        result = scan.scan(adata, plan, clusters=clusters, head=head, progress=report)
        groups, probabilities = result.groups, result.probabilities
        work = sample[scan.per_group_sample(sample.obs[CLUSTER_KEY].to_numpy(), cap)].copy()
        groupby = CLUSTER_KEY
        summary = embedding.leiden_summary(sample.uns[CLUSTER_KEY]["params"])
        notes.append(
            f"No groupby key was given: Leiden clusters ({summary}) of a random sample of {sample.n_obs:,} cells,"
            f" every other cell assigned to the nearest cluster centroid in the sample's PCA space; in obs['{CLUSTER_KEY}']."
        )
        check_groups(ad.AnnData(obs=pd.DataFrame({CLUSTER_KEY: groups})), CLUSTER_KEY)
    else:
        groups = adata.obs[groupby].astype(str).to_numpy()
        result = scan.scan(adata, plan, head=head, keep=scan.per_group_sample(groups, cap), progress=report)
        probabilities, work = result.probabilities, result.sample
    notes = list(work.uns["cell2text"]["preprocessing"]["notes"]) + notes
    work.obs[groupby] = work.obs[groupby].astype(str).astype("category")
    return work, groups, probabilities, groupby, notes


def describe(
    adata: ad.AnnData,
    groupby: str | None = None,
    *,
    model: Cell2Text | str | Path | None = None,
    use_model: bool = True,
    ontology: Ontology | None = None,
    kb: KnowledgeBase | None = None,
    drafts: dict[str, str] | None = None,
    max_rounds: int = 2,
    thresholds: Thresholds | None = None,
    species: str | None = None,
    tissue: str | None = None,
    markers: str | Path | None = None,
    layer: str | None = None,
    progress: Progress | None = None,
    copy: bool = False,
) -> ad.AnnData | None:
    """Describe each group of ``adata``, verify every claim, revise, and annotate.

    The Cell2Text model is one source of evidence, weighted by how well it fits the data
    (:mod:`cell2text.model.fit`): where it fits, it drafts each group's description and its head
    counts; where it does not (too few of its genes measured, its labels contradicted by the
    markers), the drafts come from the marker evidence and the head is not used. No dataset is
    refused because the model does not cover it.

    Parameters
    ----------
    adata
        Counts, CPM/TPM, log-normalised or scaled-with-.raw expression (or ``layer``); gene
        symbols, previous symbols or Ensembl ids, human or mouse (:func:`cell2text.data.io.prepare`
        maps them to human symbols and says what it did). Not modified beyond the keys below (and
        never on disk). Opened backed, or with more than ``Settings.in_memory_cells`` cells, it is
        described out of core (:mod:`cell2text.tools.scan`): read in chunks with Dask, never whole; every cell
        gets its own head probabilities, while markers and pathways are tested on at most
        ``Settings.cells_per_group`` cells per group (the result's notes say so).
    groupby
        obs column with the groups. None: Leiden clusters are computed first (``obs['cell2text_leiden']``).
    model
        A loaded model or a checkpoint folder (``cell2text train``); default ``CELL2TEXT_MODEL``, else the shipped one.
    use_model
        False: the evidence path alone, whatever the model's fit (to compare the two, or where the model is not wanted).
    ontology, kb
        Loaded resources; default the shipped ontologies and the local knowledge base.
    drafts
        group -> a draft to verify instead of the model's (another LM's text, or a test's).
    max_rounds
        Revise at most this many times.
    species, layer
        Passed to :func:`cell2text.data.io.prepare` (None: species detected; expression from X or .raw).
    tissue
        Tissue name or UBERON id: the prior of the candidate search (else each group's tissue metadata).
    markers
        The user's own marker table (:func:`cell2text.knowledge.load_markers` ``extra``), added to the knowledge.
    progress
        Called with (node name, readable step) as each step finishes: "cluster", "load", then
        the graph's nodes; out of core, the chunked stages "sample" and "scan" report every few
        seconds with an ETA.

    Returns
    -------
    ``adata.obs``: ``cell2text_cell_type`` (CL label), ``cell2text_cell_type_ontology_term_id``,
    ``cell2text_confidence`` (each cell's weighted head probability for its group's final type; NaN
    where the model was not used) and ``cell2text_status`` (that claim's status);
    ``adata.uns['cell2text']``: ``groups`` (DataFrame, one row per group), ``result`` (JSON: per
    group the draft and who wrote it, final text, definition, claims before and after revision with
    status and evidence; the model's fit, the context, ontology and parameters). Returns the AnnData when ``copy``.
    """
    if max_rounds < 1:
        raise InputError(f"max_rounds must be at least 1, got {max_rounds}.")
    adata = adata.copy() if copy else adata
    report = progress or (lambda node, step: None)
    started = time.perf_counter()
    settings = get_settings()
    if groupby is not None:
        check_groups(adata, groupby)
    ontology = ontology or load_ontology()
    tissue_term = tissue_id(tissue, ontology) if tissue else None
    reading = {"layer": layer, "species": species}
    out_of_core = scan.out_of_core(adata)
    if not out_of_core:
        work, groupby, notes = _inputs(adata, groupby, report, **reading)
        groups, probabilities = work.obs[groupby].to_numpy(), None  # the write node gives each cell's probabilities
    loaded, model_path = _model(model, prepare(adata, rows=slice(0, min(adata.n_obs, 50)), **reading) if out_of_core else work, use_model)
    fit, model = loaded
    if model is not None:
        report("load", "Loaded the Cell2Text model")
    if out_of_core:
        work, groups, probabilities, groupby, notes = _large_inputs(adata, groupby, model, settings, report, reading)
    if CLUSTER_KEY == groupby:
        adata.obs[CLUSTER_KEY] = pd.Categorical(groups)
    evidence = GroupEvidence(
        adata=work,
        groupby=groupby,
        ontology=ontology,
        ppr=pagerank_similarity(ontology, "CL"),
        knowledge=load_markers(detect_species(work, default="human"), extra=markers, ontology=ontology),
        thresholds=thresholds or Thresholds(),
        tissue=tissue_term,
    )
    context = DescribeContext(
        evidence=evidence,
        model=model,
        fit=fit,
        kb=kb if kb is not None else KnowledgeBase(ontology=ontology),
        max_rounds=max_rounds,
        umap_cells=scan.umap_cells(work) if embedding.embedding_key(adata) is None else None,
    )
    state = DescribeState(drafts=dict(drafts or {}))
    final: dict = {}
    for update in graph.stream(state, context=context, stream_mode="updates"):
        for node, values in update.items():
            final.update(values or {})
            if node in ("write", "embed") and not values:
                continue  # the model's genes are not measured (it did not run), or the data has its own embedding
            report(node, STEPS.get(node, node) if node != "draft" or final["model_fit"].used else STEPS["draft_evidence"])
    state = DescribeState(**final)
    tissue_from = "given" if tissue_term else None
    if state.tissue is not None:  # inferred by the test node
        context, tissue_from = replace(context, evidence=context.evidence_under(state.tissue)), "inferred"
        notes.append(
            f"No tissue was given or found in obs: the groups' clearest cell types ({'; '.join(state.tissue['groups'])}) point to"
            f" {state.tissue['label']} ({state.tissue['id']}), used as the tissue prior. Pass --tissue to set it."
        )
    if probabilities is None and state.model_fit.used:
        probabilities = state.probabilities  # the tested cells are every cell here
    notes = notes + [state.model_fit.reason]
    result = _result(
        state,
        context,
        groupby,
        notes,
        model_path,
        time.perf_counter() - started,
        sizes=pd.Series(groups).value_counts(),
        markers=markers,
        tissue_from=tissue_from,
    )
    _write_back(adata, groups, probabilities, result, ontology, work.uns["cell2text"]["preprocessing"])
    if state.umap is not None:  # the report draws the tested cells
        adata.uns["cell2text"]["umap"] = state.umap
    return adata if copy else None


def _model(model: Cell2Text | str | Path | None, prepared: ad.AnnData, use: bool) -> tuple[tuple[ModelFit, Cell2Text | None], Path | None]:
    """The model's gene fit on prepared data, and the model itself where its genes are measured and it is wanted (else not loaded)."""
    path = None if isinstance(model, Cell2Text) else model_checkpoint(model)
    fit = gene_fit(model.genes if isinstance(model, Cell2Text) else GeneTokenizer.load(path / "genes.json"), prepared)
    if not use:
        fit.used, fit.weight, fit.reason = False, 0.0, "The Cell2Text model was not used (asked for the evidence path alone)."
    if not fit.used:
        return (fit, None), path
    return (fit, model if isinstance(model, Cell2Text) else load_model(path)[0]), path


def _claims(claims: list[Claim]) -> list[dict]:
    return [c.to_dict() for c in claims]


def _result(
    state: DescribeState,
    ctx: DescribeContext,
    groupby: str,
    notes: list[str],
    model_path: Path | None,
    seconds: float,
    *,
    sizes: pd.Series,
    markers: str | Path | None,
    tissue_from: str | None,
) -> dict:
    groups = {}
    evidence = ctx.evidence
    tested = evidence.adata.obs[groupby].astype(str).value_counts()
    fit = state.model_fit
    for g, text in state.texts.items():
        cell_type = next((c for c in state.claims[g] if c.kind == "cell_type"), None)
        weight = fit.group_weight(g)
        confidence = weight * head_mass(state.head[g], cell_type.id, evidence.ontology) if cell_type and weight > 0 else None
        groups[g] = {
            "n_cells": int(sizes[g]),
            "n_cells_tested": int(tested[g]),
            "draft": state.drafts[g],
            "draft_source": state.draft_source[g],  # model | evidence | given
            "text": text,
            "cell_type": cell_type.label if cell_type else None,
            "cell_type_ontology_term_id": cell_type.id if cell_type else None,
            "status": cell_type.status if cell_type else None,
            "confidence": round(confidence, 3) if confidence is not None else None,
            "definition": state.definitions.get(cell_type.id) if cell_type else None,
            "claims": _claims(state.claims[g]),
            "draft_claims": _claims(state.first_claims[g]),
            "candidates": _claims(state.candidates.get(g, [])),  # cell types the group's markers proposed, each verified
            "rounds": [_claims(r[g]) for r in state.revisions],
            "head": dict(sorted(state.head[g].items(), key=lambda kv: -kv[1])),
            "head_weight": weight,
        }
    model = {
        "path": str(model_path) if model_path else "given",
        "version": _model_version(model_path) if model_path else "given",
        "labels": list(ctx.model.config.labels) if ctx.model is not None else [],
        "fit": fit.to_dict(),
    }
    return {
        "groupby": groupby,
        "groups": groups,
        "definitions": state.definitions,
        "rounds": state.round,
        "notes": notes,
        "model": model,
        "context": {
            "species": fit.species,
            "tissue": evidence.tissue,
            "tissue_label": evidence.ontology.term(evidence.tissue).label if evidence.tissue else None,
            "tissue_from": tissue_from,  # given (--tissue) | inferred (from the groups' clearest cell types) | None (obs, per group)
            "markers": str(markers) if markers else None,
            "knowledge": evidence.knowledge.version,
        },
        "ontology": evidence.ontology.version,
        "gene_sets": dict(LIBRARIES),
        "params": {"max_rounds": ctx.max_rounds, **vars(evidence.thresholds)},
        "cell2text_version": __version__,
        "runtime_s": round(seconds, 1),
    }


def _write_back(
    adata: ad.AnnData, groups: np.ndarray, probabilities: np.ndarray | None, result: dict, ontology: Ontology, preprocessing: dict
) -> None:
    """The result into ``adata.obs`` (each cell: its group's final type, status, its own confidence) and ``uns``.

    Every value is of a type h5ad stores (strings, floats with NaN for missing, the full result as one JSON string),
    whatever the group names and values are.
    """
    table = pd.DataFrame.from_dict(result["groups"], orient="index")
    table.index = table.index.astype(str)
    groups = np.asarray(groups).astype(str)
    cell_ids = table["cell_type_ontology_term_id"].reindex(groups).to_numpy()
    adata.obs["cell2text_cell_type"] = pd.Categorical(table["cell_type"].reindex(groups).to_numpy())
    adata.obs["cell2text_cell_type_ontology_term_id"] = pd.Categorical(cell_ids)
    adata.obs["cell2text_status"] = pd.Categorical(table["status"].reindex(groups).to_numpy())
    confidence = np.full(adata.n_obs, np.nan)
    if probabilities is not None:
        weights = table["head_weight"].reindex(groups).to_numpy(dtype=float)
        for term_id in {i for i in cell_ids if isinstance(i, str)}:
            mask = (cell_ids == term_id) & (weights > 0)  # a group where the head did not count has no head confidence
            confidence[mask] = weights[mask] * probabilities[mask][:, labels_under(term_id, result["model"]["labels"], ontology)].sum(1)
    adata.obs["cell2text_confidence"] = confidence
    flat = pd.DataFrame(
        {
            "n_cells": table["n_cells"].astype(int),
            "confidence": pd.to_numeric(table["confidence"], errors="coerce").astype(float),
            **{
                column: table[column].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
                for column in ("cell_type", "cell_type_ontology_term_id", "status", "text", "draft", "draft_source")
            },
        },
        index=pd.Index(table.index, name="group"),
    )
    adata.uns["cell2text"] = {
        "preprocessing": json.loads(json.dumps(preprocessing, default=_plain)),
        "groupby": str(result["groupby"]),
        "groups": flat,
        "result": json.dumps(result, ensure_ascii=False, default=_plain),
    }


def _plain(value: object) -> object:
    """JSON for what ``json`` cannot write itself: numpy scalars and arrays, paths, anything else as text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def read_result(adata: ad.AnnData) -> dict:
    """The full result :func:`describe` stored in ``adata.uns['cell2text']['result']``."""
    try:
        return json.loads(adata.uns["cell2text"]["result"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError("this AnnData holds no cell2text result. Run 'cell2text describe' on it first.") from exc
