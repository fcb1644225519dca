"""The cells a run trains on, and how they reach the model: whole in memory, or streamed from backed files.

Two kinds of input:

* the demo, or one file of any kind read into memory (``load_dataset``): cell types from
  ``--label-key`` (CL labels, CURIEs or names the standardiser maps), tissue and disease as free
  text, a stratified split (donor-disjoint with ``--donor-key``);
* CELLxGENE-schema ``.h5ad`` files, one or many. Each field of the schema's description
  (``FIELDS``) comes from ``obs[f"{field}_ontology_term_id"]``, labelled from the ontology (the
  file's own label column where the ontology has no such term); genes are aligned across files by
  Ensembl id (var_names, with symbols in ``var["feature_name"]``); files are opened backed
  (``anndata.read_h5ad(path, backed="r")``: obs and var in memory, expression on disk) and read a
  chunk of contiguous rows at a time, normalised like any input (``cell2text.data.io.prepare``).
  The split holds out whole donors (``donor_id``) or, without donors, whole files.

Training draws its batches through :class:`ChunkBatches`: one chunk at a time in shuffled order,
batches drawn from that chunk's training cells. Data that fits one chunk (the demo) is read once
and batches are drawn from all its cells, exactly as an in-memory loop would.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch

from cell2text.data.schema import CELL_TYPE_ID, DONOR_ID
from cell2text.errors import InputError

#: The description fields of the CELLxGENE schema, in text order; each is ``obs[f"{field}_ontology_term_id"]``.
FIELDS = ("cell_type", "tissue", "disease", "development_stage", "sex", "assay")
UNKNOWN = frozenset({"", "nan", "none", "na", "unknown"})  # CELLxGENE writes "unknown" where nothing was recorded
MAX_SAMPLE_CELLS = 20_000  # training cells read for the gene medians, pathways and temperature (all, if fewer)
IGNORE = -100  # the code of an unknown label: no loss


@dataclass
class CellData:
    """Cells with their labels; expression is read on demand (:meth:`read`)."""

    sources: list[ad.AnnData]  # one per file, in memory or backed
    names: list[str]  # display name of each source
    labels: dict[str, np.ndarray]  # field -> term id of every cell ("" = unknown); always has "cell_type"
    vocabulary: dict[str, dict[str, str]]  # field -> {term id: label} for every id seen
    groups: np.ndarray | None  # the unit the split holds out (donor or file) per cell; None = stratified by cell
    split_by: str  # what ``groups`` holds: "donor_id", "file", the donor key, or "cell"
    context: dict[str, np.ndarray] = field(default_factory=dict)  # demo-style targets: free-text tissue / disease
    genes: pd.Index | None = None  # CELLxGENE: Ensembl ids every file has (first file's order); None = as they are
    symbols: pd.Index | None = None  # their symbols (feature_name of the first file)
    schema: bool = False  # CELLxGENE fields: one head and one sentence per field

    @property
    def offsets(self) -> np.ndarray:
        """Position of each source's first cell; the last entry is the number of cells."""
        return np.cumsum([0] + [s.n_obs for s in self.sources])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def chunks(self, size: int) -> list[tuple[int, int]]:
        """``[start, stop)`` ranges of at most ``size`` cells, each inside one source."""
        offsets = self.offsets
        return [
            (int(a), int(min(a + size, offsets[i + 1]))) for i in range(len(self.sources)) for a in range(int(offsets[i]), int(offsets[i + 1]), size)
        ]

    def obs_names(self, positions: np.ndarray) -> list[str]:
        """The cells' names: obs names, prefixed by the file when there are several."""
        offsets = self.offsets
        which = np.searchsorted(offsets, positions, side="right") - 1
        prefix = len(self.sources) > 1
        return [
            f"{self.names[s]}/{self.sources[s].obs_names[p - offsets[s]]}" if prefix else str(self.sources[s].obs_names[p - offsets[s]])
            for s, p in zip(which, positions)
        ]

    def read(self, positions: np.ndarray) -> ad.AnnData:
        """The cells at ``positions`` (in that order), prepared: log-normalised; CELLxGENE cells aligned
        to ``genes`` (Ensembl var_names, symbols in ``var["feature_name"]``)."""
        positions = np.asarray(positions)
        if not self.schema:
            return self.sources[0][positions]
        unique, inverse = np.unique(positions, return_inverse=True)
        offsets, parts = self.offsets, []
        for i, source in enumerate(self.sources):
            rows = unique[(unique >= offsets[i]) & (unique < offsets[i + 1])] - offsets[i]
            if rows.size:
                parts.append(self._read_rows(source, rows, self.names[i]))
        cells = parts[0] if len(parts) == 1 else ad.concat(parts, merge="first")
        return cells[inverse]

    def _read_rows(self, source: ad.AnnData, rows: np.ndarray, name: str) -> ad.AnnData:
        from cell2text.data.io import prepare

        contiguous = rows[-1] - rows[0] + 1 == rows.size
        # species="human": one column per input gene, in order (units normalised, genes not mapped to another species' orthologs),
        # so the files' own Ensembl ids below stay aligned; a mouse model's genes are then matched as its symbols are written
        prepared = prepare(source, rows=slice(int(rows[0]), int(rows[-1]) + 1) if contiguous else rows, species="human")
        from_raw = prepared.uns["cell2text"]["preprocessing"]["source"] == "raw"
        prepared.var_names = (source.raw.var_names if from_raw else source.var_names).astype(str)
        prepared = prepared[:, self.genes].copy()
        prepared.var["feature_name"] = np.asarray(self.symbols)
        if len(self.sources) > 1:  # as obs_names() names them: unique across files
            prepared.obs_names = name + "/" + prepared.obs_names.astype(str)
        return prepared


def open_cells(
    paths: list[str | Path],
    *,
    label_key: str = "cell_type",
    tissue_key: str | None = "tissue",
    disease_key: str | None = "disease",
    donor_key: str | None = None,
    adata: ad.AnnData | None = None,
    backed: bool = True,
) -> CellData:
    """The training cells: ``adata`` or the demo (no ``paths``), one file of any kind, or CELLxGENE-schema files.

    CELLxGENE files are opened backed unless ``backed=False`` (read whole; same cells, same batches).
    """
    from cell2text.data.demo import load_dataset
    from cell2text.data.io import read_dataset

    paths = [Path(p) for p in paths]
    if adata is None and paths and all(p.suffix == ".h5ad" for p in paths):
        sources = [read_dataset(p, backed=backed) for p in paths]
        if all(CELL_TYPE_ID in s.obs for s in sources):
            return _schema_cells(sources, [p.name for p in paths])
        if len(paths) > 1:
            missing = next(p.name for p, s in zip(paths, sources) if CELL_TYPE_ID not in s.obs)
            raise InputError(
                f"training on several files needs the CELLxGENE schema; '{missing}' has no "
                "obs['cell_type_ontology_term_id']. Add CL ids there, or train on one file with --label-key."
            )
    if len(paths) > 1:
        raise InputError("training on several files needs CELLxGENE-schema .h5ad files. Pass .h5ad files with obs['cell_type_ontology_term_id'].")
    if adata is None:
        adata, _, _ = load_dataset(paths[0] if paths else None, label_key)
    ids, names = label_ids(adata, label_key)
    context = {
        key: adata.obs[column].astype(str).to_numpy()
        for key, column in (("tissue", tissue_key), ("disease", disease_key))
        if column and column in adata.obs
    }
    groups = adata.obs[donor_key].astype(str).to_numpy() if donor_key else None
    return CellData([adata], [paths[0].name if paths else "demo"], {"cell_type": ids}, {"cell_type": names}, groups, donor_key or "cell", context)


def label_ids(adata: ad.AnnData, key: str) -> tuple[np.ndarray, dict[str, str]]:
    """CL id of every cell, and id -> CL label; raises naming the labels that do not map."""
    from cell2text.data.io import check_groupby
    from cell2text.knowledge.ontology import load_ontology

    ontology = load_ontology()
    values = check_groupby(adata, key).astype(str)
    paired = f"{key}_ontology_term_id"
    if paired in adata.obs:
        ids = adata.obs[paired].astype(str)
    else:
        mapping, bad = {}, []
        for value in values.unique():
            result = ontology.standardise(value)
            if result.unsure or result.best is None:
                bad.append(value)
            else:
                mapping[value] = result.best.id
        if bad:
            shown = ", ".join(bad[:8]) + (", ..." if len(bad) > 8 else "")
            raise InputError(
                f"labels of '{key}' that do not map to Cell Ontology terms: {shown}. Add obs['{paired}'] with CL ids, or rename them to CL labels."
            )
        ids = values.map(mapping)
    _check_cell_types(ids.unique(), paired)
    return ids.to_numpy(), {t: ontology.term(t).label for t in ids.unique()}


def _check_cell_types(ids, column: str) -> None:
    from cell2text.knowledge.ontology import load_ontology

    ontology = load_ontology()
    for term_id in ids:
        if term_id not in ontology or ontology.term(term_id).obsolete:
            raise InputError(f"'{term_id}' in obs['{column}'] is not a live Cell Ontology id. Fix or drop those cells.")


def _schema_cells(sources: list[ad.AnnData], names: list[str]) -> CellData:
    fields = [f for f in FIELDS if all(f"{f}_ontology_term_id" in s.obs for s in sources)]
    labels, vocabulary = {}, {}
    for name in fields:
        values = pd.concat([s.obs[f"{name}_ontology_term_id"].astype(str) for s in sources], ignore_index=True)
        labels[name] = values.where(~values.str.lower().isin(UNKNOWN), "").to_numpy(dtype=object)
        shown = pd.concat([s.obs[name].astype(str) for s in sources], ignore_index=True) if all(name in s.obs for s in sources) else None
        vocabulary[name] = _term_labels(labels[name], shown)
    if not (labels["cell_type"] != "").any():
        raise InputError("no cell has a known cell_type_ontology_term_id. Pass files with CL ids for the cells.")
    _check_cell_types([t for t in vocabulary["cell_type"]], CELL_TYPE_ID)
    if all(DONOR_ID in s.obs for s in sources):
        groups = np.concatenate([(n + "/" + s.obs[DONOR_ID].astype(str)).to_numpy() for n, s in zip(names, sources)])
        split_by = DONOR_ID
    else:
        groups, split_by = np.concatenate([[n] * s.n_obs for n, s in zip(names, sources)]), "file"
    if len(set(groups[labels["cell_type"] != ""])) < 2:
        raise InputError("cannot hold out whole donors or files: one donor in one file. Add obs['donor_id'] with the donors, or pass several files.")
    genes, symbols = _common_genes(sources, names)
    return CellData(sources, names, labels, vocabulary, groups, split_by, genes=genes, symbols=symbols, schema=True)


def _common_genes(sources: list[ad.AnnData], names: list[str]) -> tuple[pd.Index, pd.Index]:
    """Ensembl ids in every file (first file's order) and their symbols (the first file's ``feature_name``)."""
    from cell2text.data.io import gene_symbols

    genes = pd.Index(sources[0].var_names.astype(str))
    for source in sources[1:]:
        genes = genes[genes.isin(source.var_names.astype(str))]
    if len(genes) == 0:
        raise InputError(f"the files share no gene ids ({', '.join(names)}). Pass files whose var_names are Ensembl ids of one species.")
    symbols = pd.Series(gene_symbols(sources[0].var), index=sources[0].var_names.astype(str))
    return genes, pd.Index(ad.utils.make_index_unique(pd.Index(symbols[genes].to_numpy())))


@functools.cache
def _schema_ontology():
    """The CELLxGENE schema's other ontologies (PATO, EFO, HsapDv, MmusDv), loaded once."""
    from cell2text.config import get_settings
    from cell2text.knowledge.ontology import Ontology

    return Ontology.from_cellxgene(("PATO", "EFO", "HsapDv", "MmusDv"), schema_version=get_settings().schema_version)


def _term_labels(ids: np.ndarray, shown: pd.Series | None) -> dict[str, str]:
    """{term id: label} for the known ids, sorted: the ontology's label, else the file's own, else the id."""
    from cell2text.knowledge.ontology import load_ontology

    pairs = pd.DataFrame({"id": ids, "label": shown if shown is not None else ids}).drop_duplicates("id")
    own = dict(zip(pairs["id"], pairs["label"]))
    result = {}
    for term_id in sorted(t for t in own if t != ""):
        label = own.get(term_id, term_id)
        for ontology in (load_ontology(), _schema_ontology()):
            try:
                label = ontology.term(term_id).label
                break
            except InputError:
                continue
        result[term_id] = label
    return result


def split_cells(labels: np.ndarray, groups: np.ndarray | None, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train / test positions: stratified by label, or holding out whole groups (donors, files) when given."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    positions = np.arange(len(labels))
    if groups is not None:
        splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        train, test = next(splitter.split(positions, labels, groups=groups))
        return train, test
    counts = {label: (labels == label).sum() for label in set(labels)}
    stratify = labels if min(counts.values()) >= 2 else None
    return tuple(train_test_split(positions, test_size=test_size, stratify=stratify, random_state=seed))


def split_data(data: CellData, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train / test positions among the cells with a known cell type (:func:`split_cells`)."""
    labelled = np.flatnonzero(data.labels["cell_type"] != "")
    groups = data.groups[labelled] if data.groups is not None else None
    train, test = split_cells(data.labels["cell_type"][labelled], groups, test_size, seed)
    return labelled[train], labelled[test]


def label_codes(values: np.ndarray, vocabulary: list[str]) -> np.ndarray:
    """Head index of each value in ``vocabulary``; ``IGNORE`` for values outside it (unknown labels)."""
    codes = pd.Categorical(values, categories=vocabulary).codes.astype(np.int64)
    codes[codes < 0] = IGNORE
    return codes


def sample_positions(positions: np.ndarray, seed: int, limit: int = MAX_SAMPLE_CELLS) -> np.ndarray:
    """``positions`` as they are when there are at most ``limit``, else a seeded sorted sample of ``limit``."""
    if len(positions) <= limit:
        return positions
    return np.sort(np.random.default_rng(seed).choice(positions, limit, replace=False))


class ChunkBatches:
    """Batches of training cells drawn chunk by chunk: ``(positions, dense, tokens)`` on the model's device.

    A chunk (contiguous cells of one source, read by ``load``) stays for about one pass over its
    training cells (batches drawn with replacement), then the next chunk in a shuffled order,
    reshuffled every round. With one chunk (the demo) it is read once and every batch is
    ``rng.choice(positions, size)``, as a plain in-memory loop draws them.
    """

    def __init__(
        self, bounds: list[tuple[int, int]], positions: np.ndarray, load: Callable[[int, int], tuple[torch.Tensor, torch.Tensor]], seed: int
    ) -> None:
        self.chunks = [(a, b, positions[(positions >= a) & (positions < b)]) for a, b in bounds]
        self.chunks = [c for c in self.chunks if c[2].size]
        self.load = load
        self.order = np.random.default_rng(seed)  # chunk order, apart from the batch draws
        self.queue: list[int] = []
        self.current: int | None = None
        self.left = 0  # batches still to draw from the current chunk
        self.tensors: tuple[torch.Tensor, torch.Tensor] | None = None

    def draw(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        if self.tensors is None or (self.left == 0 and len(self.chunks) > 1):
            if not self.queue:
                self.queue = self.order.permutation(len(self.chunks)).tolist()
            self._enter(self.queue.pop(0), size)
        self.left -= 1
        start, _, positions = self.chunks[self.current]
        batch = rng.choice(positions, size)
        dense, tokens = self.tensors
        rows = torch.from_numpy(batch - start).to(dense.device)
        return batch, dense[rows], tokens[rows]

    def _enter(self, chunk: int, size: int, left: int | None = None) -> None:
        start, stop, positions = self.chunks[chunk]
        self.current, self.left = chunk, max(1, math.ceil(positions.size / size)) if left is None else left
        self.tensors = self.load(start, stop)

    def state(self) -> dict:
        """Where the draw stands, for a resumable snapshot."""
        return {"order": self.order.bit_generator.state, "queue": list(self.queue), "current": self.current, "left": self.left}

    def restore(self, state: dict, size: int) -> None:
        self.order.bit_generator.state = state["order"]
        self.queue = list(state["queue"])
        if state["current"] is not None:
            self._enter(state["current"], size, state["left"])
