"""AnnData in: read a dataset, find its gene symbols and its log-normalised expression, check the group key.

Every failure raises :class:`~cell2text.errors.InputError` with one line that names the problem
and the fix; nothing here writes to the input file.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import psutil
import scanpy as sc
import scipy.sparse as sp

from cell2text.errors import InputError
from cell2text.files import atomic_path, write_text
from cell2text.knowledge import genes as gene_tables

#: var columns that hold gene symbols, in order of preference (CELLxGENE uses feature_name).
SYMBOL_COLUMNS = ("feature_name", "gene_symbols", "gene_symbol", "symbol", "gene_name", "gene_names")
_SAMPLE_ROWS = 2000  # cells inspected to tell counts from log-normalised data


def available_memory() -> int:
    """Bytes of memory available now, without swapping (psutil, on every platform)."""
    return psutil.virtual_memory().available


def read_dataset(path: str | Path, *, backed: bool | None = None) -> ad.AnnData:
    """Read an ``.h5ad`` file, a ``.zarr`` store (AnnData's layout, as CELLxGENE and cloud pipelines write it), a 10x
    ``.h5`` file or a 10x ``matrix.mtx`` folder.

    An ``.h5ad`` file or ``.zarr`` store stays on disk when ``backed`` is True, or, by default, when it has more than
    ``Settings.in_memory_cells`` cells or is larger than a quarter of the memory available; otherwise it is loaded.
    On disk, an ``.h5ad`` file is opened ``backed="r"`` and a ``.zarr`` store is read lazily (:func:`read_zarr_lazy`);
    either way describe reads its cells in chunks with Dask (:mod:`cell2text.tools.scan`). 10x files are always
    loaded, so one that cannot fit is refused with the fix (convert it to .h5ad once).
    """
    from cell2text.config import get_settings

    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"'{path}' does not exist. Pass the path of an .h5ad file, a .zarr store, a 10x .h5 file or a 10x mtx folder.")
    zarr_store = _is_zarr(path)
    files = path.rglob("*") if zarr_store else path.iterdir() if path.is_dir() else [path]
    size = sum(f.stat().st_size for f in files if f.is_file())
    try:
        if path.suffix != ".h5ad" and not zarr_store and size * 3 > available_memory():
            msg = f"'{path.name}' ({size / 1e9:.1f} GB) would not fit in the memory available ({available_memory() / 1e9:.1f} GB) as a 10x file."
            raise InputError(msg + " Convert it to .h5ad once (scanpy: read_10x_h5(...).write_h5ad(...)): .h5ad files are read in chunks.")
        if zarr_store:
            adata = read_zarr_lazy(path)
            if backed is False or (backed is None and adata.n_obs <= get_settings().in_memory_cells and size * 4 <= available_memory()):
                adata = ad.read_zarr(path)
        elif path.is_dir():
            if not any(path.glob("matrix.mtx*")):
                raise InputError(f"folder '{path}' has no matrix.mtx(.gz). Pass a 10x mtx folder, a .zarr store or an .h5ad file.")
            adata = sc.read_10x_mtx(path)
        elif path.suffix == ".h5ad":
            adata = ad.read_h5ad(path, backed="r")
            if backed is False or (backed is None and adata.n_obs <= get_settings().in_memory_cells and size * 4 <= available_memory()):
                on_disk, adata = adata, adata.to_memory()
                on_disk.file.close()
        elif path.suffix == ".h5":
            adata = sc.read_10x_h5(path)
        else:
            raise InputError(f"'{path.name}' is not a supported file type. Pass an .h5ad file, a .zarr store, a 10x .h5 file or a 10x mtx folder.")
    except InputError:
        raise
    except Exception as exc:  # h5py/zarr/anndata raise many types for a damaged file
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise InputError(f"could not read '{path.name}' ({reason}). Check that the file is complete and of the type its name says.") from exc
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise InputError(f"'{path.name}' is empty ({adata.n_obs} cells x {adata.n_vars} genes). Pass a dataset with cells and genes.")
    return adata


def _is_zarr(path: Path) -> bool:
    """Whether ``path`` is a zarr store (v2 or v3): a folder named ``*.zarr`` or holding zarr's metadata."""
    return path.is_dir() and (path.suffix == ".zarr" or (path / "zarr.json").is_file() or (path / ".zattrs").is_file())


def read_zarr_lazy(path: str | Path) -> ad.AnnData:
    """An AnnData ``.zarr`` store with ``obs``, ``var``, ``uns`` and ``obsm`` in memory and every matrix (``X``, ``.raw``'s,
    the layers) a Dask array read lazily by anndata's own reader (``anndata.experimental.read_elem_lazy``), in chunks of
    ``Settings.chunk_size`` cells: nothing of the matrices is read until a chunk is computed."""
    import zarr
    from anndata.experimental import read_elem_lazy

    from cell2text.config import get_settings

    store = zarr.open(str(path), mode="r")
    chunks = (get_settings().chunk_size, -1)

    def lazy(key: str):
        return read_elem_lazy(store[key], chunks=chunks)

    def eager(key: str, default=None):
        return ad.io.read_elem(store[key]) if key in store else default

    adata = ad.AnnData(
        X=lazy("X"),
        obs=eager("obs"),
        var=eager("var"),
        uns=eager("uns", {}),
        obsm=eager("obsm", {}),
        layers={name: lazy(f"layers/{name}") for name in (store["layers"].keys() if "layers" in store else ())},
    )
    if "raw" in store and "X" in store["raw"]:  # anndata writes an absent .raw as an empty group
        adata.raw = ad.AnnData(X=lazy("raw/X"), var=eager("raw/var"))
    return adata


def lazy_matrix(matrix, chunk_size: int):
    """``matrix`` (cells x genes; in memory, backed in an ``.h5ad``, or Dask) as a Dask array of blocks of ``chunk_size``
    cells and every gene, read from disk by anndata's own lazy reader where it is on disk.

    A backed ``.h5ad`` matrix becomes tasks that each open the file by its path, so they run in any process that can
    read the path (a ``dask.distributed`` worker needs the file on a shared disk).
    """
    import dask.array as da
    from anndata.experimental import read_elem_lazy

    if isinstance(matrix, da.Array):
        return (
            matrix
            if matrix.chunks[0] == da.core.normalize_chunks((chunk_size, -1), matrix.shape)[0] and len(matrix.chunks[1]) == 1
            else matrix.rechunk((chunk_size, -1))
        )
    if sp.issparse(matrix) or isinstance(matrix, np.ndarray):
        return da.from_array(matrix, chunks=(chunk_size, -1), asarray=False)
    if getattr(matrix, "format", "csr") == "csc":
        raise InputError("X is stored by columns (CSC), so cells cannot be read in chunks. Save it as CSR (adata.X = adata.X.tocsr()).")
    return read_elem_lazy(getattr(matrix, "group", matrix), chunks=(chunk_size, -1))  # a sparse dataset's h5 group, or a dense dataset


def gene_symbols(var: pd.DataFrame) -> pd.Index:
    """Gene symbols for a var table, in the data's own species.

    A symbol column if one exists (CELLxGENE: ``feature_name``), else var_names; Ensembl ids
    (``ENSG...`` human, GENCODE v44; ``ENSMUSG...`` mouse, BioMart GRCm39; a version suffix
    ``.17`` is ignored) are replaced by their symbols, and an id without one stays as it is.
    """
    for column in SYMBOL_COLUMNS:
        if column in var.columns:
            symbols = var[column].astype(str)
            return pd.Index(np.where(symbols.isin(["", "nan", "None"]), var.index, symbols))
    names = pd.Index(var.index.astype(str))
    species = gene_tables.ensembl_species(names)
    if species is None:
        return names
    table = gene_tables.ensembl_symbols(species)
    return pd.Index([table.get(gene_tables.strip_version(n), n) for n in names])


def expression_kind(matrix: np.ndarray | sp.spmatrix) -> str:
    """What a cells x genes matrix holds, judged on its first ``_SAMPLE_ROWS`` cells (cheap on large data).

    * ``"counts"``: non-negative integers;
    * ``"linear"``: non-negative, non-integer, not logged (TPM, CPM, FPKM, counts divided by size factors);
    * ``"log1p"``: natural ``log(x + 1)`` of normalised counts (scanpy's ``log1p``, Seurat's LogNormalize);
    * ``"log2"``: ``log2(x + 1)`` of normalised counts;
    * ``"log"``: logged (maximum at most 50) but of unknown base: not derived from counts;
    * ``"scaled"``: has negative values (``sc.pp.scale``, z-scores);
    * ``"unknown"``: NaN or infinite values.

    The transform is found from the values themselves: un-logged with the right base (none for
    ``"linear"``), each cell's values derived from counts are whole multiples of the cell's smallest
    one (its 1-count genes). Without that structure, a maximum above 50 means linear, else logged.
    """
    sample = matrix[:_SAMPLE_ROWS]
    values = sample.data if sp.issparse(sample) else np.asarray(sample).ravel()
    if values.size == 0:
        return "log1p"
    if not np.isfinite(values).all():
        return "unknown"
    if values.min() < 0:
        return "scaled"
    if np.all(np.mod(values, 1) == 0):
        return "counts"
    logged = values.max() <= 50
    fits = {kind: _whole_multiples(sample, unlog) for kind, unlog in _UNLOG.items() if logged or kind == "linear"}
    best = max(fits, key=lambda kind: fits[kind])
    if fits[best] >= _WHOLE_MULTIPLES:
        return best
    return "log" if logged else "linear"


#: How each kind of matrix is un-logged back to linear values.
_UNLOG = {"linear": lambda v: v, "log1p": np.expm1, "log2": lambda v: np.exp2(v) - 1}
_WHOLE_MULTIPLES = 0.9  # median share of a cell's values that must be whole multiples of its smallest


def _whole_multiples(sample, unlog) -> float:
    """Median over cells (at most 200) of the share of values that are, once un-logged, within 0.05 of a whole
    multiple of the cell's smallest value; values equal to the smallest, and those above 100 times it, do not count.
    0 when no cell has 5 values that count."""
    sample = sp.csr_matrix(sample[:200])
    shares = []
    for i in range(sample.shape[0]):
        values = unlog(sample.data[sample.indptr[i] : sample.indptr[i + 1]].astype(np.float64))
        values = values[values > 0]
        if values.size == 0:
            continue
        ratios = values / values.min()
        ratios = ratios[(ratios > 1.5) & (ratios <= 100)]
        if ratios.size >= 5:
            shares.append(np.mean(np.abs(ratios - np.round(ratios)) < 0.05))
    return float(np.median(shares)) if shares else 0.0


#: Layers taken, in this order, when neither X nor .raw holds usable expression.
COUNT_LAYERS = ("counts", "raw_counts", "raw")
_USABLE = ("counts", "linear", "log1p", "log2", "log")
_UNUSABLE = {"scaled": "scaled (negative values)", "unknown": "unreadable (NaN or infinite values)"}


def prepare(
    adata: ad.AnnData, groupby: str | None = None, *, rows: slice | np.ndarray | None = None, layer: str | None = None, species: str | None = None
) -> ad.AnnData:
    """A new AnnData with natural log1p-normalised expression in ``X`` and human HGNC symbols as var_names.

    **Expression.** From ``layers[layer]`` when given, else from ``X`` when it is usable, else from
    ``.raw`` (typical after ``sc.pp.scale``), else from a layer named ``counts``, ``raw_counts`` or ``raw``.
    Its kind (:func:`expression_kind`) decides the rest: counts and linear values (TPM, CPM, FPKM)
    are normalised the standard scanpy way (``normalize_total`` to 10,000 over all measured genes,
    then ``log1p``); log2(x+1) is converted to natural log (times ln 2); natural log1p is kept as it
    is; a log of unknown base is taken as natural and said so. The kind is judged on the whole
    dataset's first cells, so every chunk (``rows``) is treated alike.

    **Genes.** Ensembl ids become symbols (:func:`gene_symbols`). Human genes keep one column each,
    renamed to today's HGNC symbol in HGNC case (``cd3e`` -> ``CD3E``, ``ACPP`` -> ``ACP3``); duplicates
    are made unique. Mouse genes are mapped to their human orthologs
    (:func:`cell2text.knowledge.genes.orthologs_of`: Ensembl 105, else the same symbol); the
    normalised values of mouse genes with one human ortholog are summed into it, a mouse gene with
    several human orthologs counts for each, and genes without one are dropped. The species is
    ``species`` when given, else :func:`cell2text.knowledge.genes.infer_species` on ``adata``.

    ``obs``, ``obsm`` and ``uns`` are kept. With ``groupby``, the column is checked and made
    categorical. ``rows`` (a slice or sorted positions) prepares only those cells, read from a
    backed file without loading the rest.

    Returns
    -------
    A new AnnData (the input is not modified) with ``var["cell2text_source_gene"]`` (the input
    gene name(s) behind each gene, ``;``-joined when several were summed) and
    ``uns["cell2text"]["preprocessing"]``: ``source`` (X | raw | layer:NAME), ``detected`` (the
    :func:`expression_kind`), ``normalised`` (bool: counts or linear values were normalised),
    ``species`` (human | mouse), ``species_from`` (how it was decided), ``genes`` (``identifiers``:
    symbols | Ensembl ids; ``mapping``; ``n_input``, ``n_kept``, ``n_dropped`` input genes and
    ``n_genes`` genes out) and ``notes`` (sentences for the user saying what was done).
    """
    plan = reading(adata, layer=layer, species=species)
    matrix, obs, obsm = plan_matrix(adata, plan), adata.obs, {k: np.asarray(v) for k, v in adata.obsm.items()}
    if rows is not None:
        matrix, obs, obsm = matrix[rows], obs.iloc[rows], {k: v[rows] for k, v in obsm.items()}
    result = prepare_matrix(plan, matrix, obs=obs, obsm=obsm, uns=dict(adata.uns))
    if groupby is not None:
        check_groupby(result, groupby)
        result.obs[groupby] = result.obs[groupby].astype("category")
    return result


@dataclass(frozen=True)
class Reading:
    """How :func:`prepare` reads a dataset, decided once on the whole dataset (its first cells) and applied to any rows.

    Small and picklable: the Dask scan (:mod:`cell2text.tools.scan`) sends it to every task, so every block of cells
    is prepared exactly like the whole dataset.
    """

    source: str  # X | raw | layer:NAME
    kind: str  # expression_kind of the source
    species: str  # human | mouse
    species_from: str  # how the species was decided
    genes: _GeneMap  # input genes -> human symbols
    notes: tuple[str, ...]  # what was decided, for the user


def reading(adata: ad.AnnData, *, layer: str | None = None, species: str | None = None) -> Reading:
    """The :class:`Reading` of ``adata``: its usable expression source and kind, its species and gene mapping."""
    source, _, var, kind, notes = _expression_source(adata, layer)
    if species is not None:
        species, species_from = gene_tables.check_species(species), "given"
    else:
        species, species_from = gene_tables.infer_species(adata)
        if species is None:
            species, species_from = "human", "assumed: " + species_from
            notes.append("The species could not be told from the data, so the genes were read as human symbols.")
    return Reading(source, kind, species, species_from, _map_genes(var, species), tuple(notes))


def plan_matrix(adata: ad.AnnData, plan: Reading):
    """The matrix ``plan`` reads from ``adata`` (X, .raw.X or a layer): in memory, backed on disk or a Dask array."""
    if plan.source == "X":
        return adata.X
    if plan.source == "raw":
        return adata.raw.X
    return adata.layers[plan.source.removeprefix("layer:")]


def prepare_matrix(plan: Reading, matrix, *, obs: pd.DataFrame | None = None, obsm: dict | None = None, uns: dict | None = None) -> ad.AnnData:
    """:func:`prepare` of the cells of ``matrix`` (rows of the source ``plan`` reads; in memory, backed or Dask), with
    their ``obs``/``obsm`` (default: none) and the dataset's ``uns``."""
    if not (sp.issparse(matrix) or isinstance(matrix, np.ndarray)):
        matrix = _in_memory(matrix)
    _check_integers(matrix)
    notes = list(plan.notes)
    result = ad.AnnData(
        X=sp.csr_matrix(matrix, dtype=np.float32, copy=True) if sp.issparse(matrix) else np.array(matrix, dtype=np.float32),
        obs=obs.copy() if obs is not None else None,
        obsm=obsm,
        uns=dict(uns or {}),
    )
    if sp.issparse(result.X):
        _same_index_dtype(result.X)
    mapping = plan.genes
    result = _to_log1p(result, plan.kind, plan.source, mapping.matrix, notes)
    result.var_names = pd.Index(mapping.names)
    result.var[gene_tables.SOURCE_GENE_COLUMN] = mapping.sources
    if not result.var_names.is_unique:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result.var_names_make_unique()
        notes.append("Duplicate gene symbols were made unique (suffix -1, -2, ...).")
    notes += mapping.notes
    result.uns["cell2text"] = {
        "preprocessing": {
            "source": plan.source,
            "detected": plan.kind,
            "normalised": plan.kind in ("counts", "linear"),
            "species": plan.species,
            "species_from": plan.species_from,
            "genes": mapping.record,
            "notes": notes,
        }
    }
    return result


def _in_memory(matrix):
    """A backed (h5py, zarr) or Dask matrix, read into memory."""
    if hasattr(matrix, "compute"):  # a Dask array
        return matrix.compute(scheduler="synchronous")
    return matrix[:]


def _expression_source(adata: ad.AnnData, layer: str | None) -> tuple[str, object, pd.DataFrame, str, list[str]]:
    """(source, matrix, var, kind, notes): the usable expression :func:`prepare` reads, or an InputError naming the fix."""
    if layer is not None:
        if layer not in adata.layers:
            shown = ", ".join(map(str, adata.layers.keys())) or "none"
            raise InputError(f"layer '{layer}' not found. Layers: {shown}. Pass one of them, or no layer to read X.")
        kind = _kind(adata.layers[layer])
        if kind not in _USABLE:
            raise InputError(f"layer '{layer}' looks {_UNUSABLE[kind]}. Pass a layer of counts or (log-)normalised expression.")
        return f"layer:{layer}", adata.layers[layer], adata.var, kind, []
    kind = _kind(adata.X)
    if kind in _USABLE:
        return "X", adata.X, adata.var, kind, []
    found = [f"X looks {_UNUSABLE[kind]}"]
    if adata.raw is not None:
        raw_kind = _kind(adata.raw.X)
        if raw_kind in _USABLE:
            return "raw", adata.raw.X, adata.raw.var, raw_kind, [f"X looks {_UNUSABLE[kind]}, so the expression was taken from .raw."]
        found.append(f".raw looks {_UNUSABLE[raw_kind]}")
    else:
        found.append("there is no .raw")
    for name in COUNT_LAYERS:
        if name in adata.layers:
            layer_kind = _kind(adata.layers[name])
            if layer_kind in _USABLE:
                note = f"X looks {_UNUSABLE[kind]}, so the expression was taken from layers['{name}']."
                return f"layer:{name}", adata.layers[name], adata.var, layer_kind, [note]
            found.append(f"layers['{name}'] looks {_UNUSABLE[layer_kind]}")
    msg = "; ".join(found) + ". Pass counts or (log-)normalised expression: save the file before sc.pp.scale,"
    raise InputError(msg + " or name the layer that holds it (layer=...).")


def _kind(matrix) -> str:
    """:func:`expression_kind` of a candidate source, after refusing overflowed integer counts."""
    head = matrix[:_SAMPLE_ROWS]
    if not (sp.issparse(head) or isinstance(head, np.ndarray)):
        head = _in_memory(head)
    _check_integers(head)
    return expression_kind(head)


def _to_log1p(result: ad.AnnData, kind: str, source: str, merge: sp.csr_matrix | None, notes: list[str]) -> ad.AnnData:
    """``result`` with ``X`` (of ``kind``) as natural log1p of values normalised to 10,000 per cell, its genes merged
    by ``merge`` (input genes x output genes, 0/1) when given; ``notes`` gets what was done. Changes ``result`` in place
    and returns it, or a new AnnData when genes were merged."""
    where = {"X": "X", "raw": ".raw"}.get(source, f"layers['{source.removeprefix('layer:')}']")
    if kind in ("counts", "linear"):
        empty = int((np.asarray(result.X.sum(1)).ravel() == 0).sum())
        if empty:
            notes.append(f"{empty:,} cells have no counts at all: they stay zero and take their group's annotation.")
        if kind == "counts":
            notes.append("Raw counts were normalised to 10,000 per cell and log1p-transformed (scanpy).")
        else:
            notes.append(
                f"{where} looks like TPM/CPM/FPKM (non-integer, max {result.X.max():,.0f}): rescaled to 10,000 per cell and log1p-transformed."
            )
        sc.pp.normalize_total(result, target_sum=1e4)
    elif kind == "log2":
        _values(result.X)[:] *= np.float32(np.log(2))
        notes.append(f"{where} looks log2(x+1)-transformed: converted to natural log (times ln 2), as scanpy's log1p writes it.")
    elif kind == "log":
        notes.append(
            f"{where} is logged but its base could not be told (its values do not come from counts): it was"
            " read as natural log1p, as scanpy writes it."
        )
    linear = kind in ("counts", "linear")
    if merge is not None:
        if not linear:
            np.expm1(_values(result.X), out=_values(result.X))
            linear = True
        merged = result.X @ merge  # (cells, output genes)
        result = ad.AnnData(
            X=sp.csr_matrix(merged) if sp.issparse(merged) else np.asarray(merged, dtype=np.float32),
            obs=result.obs,
            obsm=dict(result.obsm),
            uns=result.uns,
        )
    if linear:
        sc.pp.log1p(result)
    return result


def _values(X: np.ndarray | sp.csr_matrix) -> np.ndarray:
    """The stored values of a matrix, as a view to change in place."""
    return X.data if sp.issparse(X) else X


@dataclass
class _GeneMap:
    """How :func:`prepare` turns the input genes into human symbols."""

    names: list[str]  # output var names (human symbols), one per output gene
    sources: list[str]  # the input name(s) behind each output gene, ";"-joined
    matrix: sp.csr_matrix | None  # (input genes, output genes) 0/1 when genes are merged or dropped; None: renamed 1:1
    record: dict  # uns["cell2text"]["preprocessing"]["genes"]
    notes: list[str] = field(default_factory=list)


def _map_genes(var: pd.DataFrame, species: str) -> _GeneMap:
    """The input genes of ``var`` (of ``species``) as human symbols: renamed 1:1 for human, through orthologs for mouse."""
    names = list(var.index.astype(str))
    symbols = list(gene_symbols(var))
    by_id = not any(c in var.columns for c in SYMBOL_COLUMNS) and gene_tables.ensembl_species(names) is not None
    record = {"identifiers": "Ensembl ids" if by_id else "symbols", "n_input": len(names)}
    notes = []
    if by_id:
        named = sum(s != n for s, n in zip(symbols, names))
        table = "GENCODE v44" if species == "human" else "Ensembl GRCm39"
        notes.append(f"Genes are Ensembl ids: {named:,} of {len(names):,} were named by their gene symbol ({table}).")
    if species == "human":
        if gene_tables.SOURCE_GENE_COLUMN in var.columns:  # prepared before: keep the first input's names
            names = list(var[gene_tables.SOURCE_GENE_COLUMN].astype(str))
        human = gene_tables.hgnc_symbols(symbols)
        changed = [(s, h) for s, h in zip(symbols, human) if s != h]
        renamed = [f"{s} -> {h}" for s, h in changed if s.upper() != h.upper()]
        if renamed:
            notes.append(f"{len(renamed):,} previous HGNC symbols were renamed to today's ({_shorten(', '.join(renamed))}).")
        if len(changed) > len(renamed):
            s, h = next((s, h) for s, h in changed if s.upper() == h.upper())
            notes.append(f"{len(changed) - len(renamed):,} gene symbols were written in HGNC case (e.g. {s} -> {h}).")
        record.update(mapping="HGNC symbols", n_kept=len(human), n_dropped=0, n_genes=len(human))
        return _GeneMap(human, names, None, record, notes)
    columns: dict[str, int] = {}
    rows, cols, behind = [], [], {}
    kept = 0
    for i, symbol in enumerate(symbols):
        found = gene_tables.orthologs_of(symbol, "mouse", "human")
        kept += bool(found)
        for human in found:
            rows.append(i)
            cols.append(columns.setdefault(human, len(columns)))
            behind.setdefault(human, []).append(names[i])
    merge = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(names), len(columns)))
    record.update(
        mapping="mouse -> human orthologs (Ensembl 105, else the same symbol)", n_kept=kept, n_dropped=len(names) - kept, n_genes=len(columns)
    )
    notes.append(
        f"Mouse genes were mapped to their human orthologs (Ensembl 105): {kept:,} of {len(names):,} genes kept,"
        f" as {len(columns):,} human genes (mouse genes of one human gene summed); {len(names) - kept:,} without"
        " a human ortholog dropped."
    )
    return _GeneMap(list(columns), [";".join(behind[h]) for h in columns], merge, record, notes)


def _shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to about ``limit`` characters at a comma, with ", ..." when cut."""
    return text if len(text) <= limit else text[: text.rfind(",", 0, limit)] + ", ..."


def _same_index_dtype(X: sp.csr_matrix) -> None:
    """Give ``indices`` and ``indptr`` one integer type, in place: files often mix int32 indices with an int64
    indptr, which scipy's in-place routines (``eliminate_zeros``, used by scanpy's marker test) refuse."""
    if X.indices.dtype != X.indptr.dtype:
        dtype = np.promote_types(X.indices.dtype, X.indptr.dtype)
        X.indices, X.indptr = X.indices.astype(dtype), X.indptr.astype(dtype)


def _check_integers(matrix) -> None:
    """Refuse integer data with negative values: counts that overflowed their integer type wrap around below zero."""
    values = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    if np.issubdtype(values.dtype, np.signedinteger) and values.size and values.min() < 0:
        msg = f"X holds negative integers ({values.dtype}, minimum {values.min()}): counts that overflowed their integer type."
        raise InputError(msg + " Save the counts as float32 or int64 and read the file again.")


def check_groupby(adata: ad.AnnData, key: str) -> pd.Series:
    """The obs column ``key``, checked: it exists and has at least one non-empty group."""
    if key not in adata.obs.columns:
        available = ", ".join(map(str, adata.obs.columns)) or "none"
        raise InputError(f"obs key '{key}' not found. Available keys: {available}. Pass one of them as --groupby.")
    column = adata.obs[key]
    if column.isna().all():
        raise InputError(f"obs key '{key}' has no values (all missing). Pass a column that assigns cells to groups.")
    if column.nunique(dropna=True) > max(100, adata.n_obs // 2):
        raise InputError(f"obs key '{key}' has {column.nunique()} distinct values, too many to be groups. Pass a cluster or cell-type column.")
    return column


def check_group(adata: ad.AnnData, key: str, group: str) -> np.ndarray:
    """Boolean mask of the cells in one group; raises for an unknown or empty group."""
    column = check_groupby(adata, key).astype(str)
    mask = (column == str(group)).to_numpy()
    if not mask.any():
        groups = sorted(column.dropna().unique())
        shown = ", ".join(groups[:20]) + (", ..." if len(groups) > 20 else "")
        raise InputError(f"group '{group}' has no cells in obs['{key}']. Groups: {shown}.")
    return mask


def find_genes(adata: ad.AnnData, genes: Iterable[str], *, what: str = "this step") -> list[str]:
    """The genes of ``genes`` present in ``adata`` (case-insensitive), in the data's spelling.

    A gene the data does not name as written is looked up by today's HGNC symbol (``ACPP`` -> ``ACP3``)
    and by its 1:1 human ortholog (``Cd8b1`` -> ``CD8B``), as :func:`prepare` names genes.
    Raises when none is present, since every check that needs genes would then be empty.
    """
    wanted = list(dict.fromkeys(genes))
    by_upper = {name.upper(): name for name in adata.var_names}
    found = [_data_name(gene, by_upper) for gene in wanted]
    found = list(dict.fromkeys(name for name in found if name is not None))
    if wanted and not found:
        example = ", ".join(wanted[:3])
        msg = f"none of the {len(wanted)} genes needed by {what} ({example}, ...) is in the data."
        msg += " Use gene symbols as var_names or in var['feature_name'], for the same species."
        raise InputError(msg)
    return found


def _data_name(gene: str, by_upper: dict[str, str]) -> str | None:
    """The data's name of ``gene`` (``by_upper``: upper-case var name -> var name): as written, else as today's HGNC
    symbol, else as its 1:1 human ortholog; None when the data has none of them."""
    if gene.upper() in by_upper:
        return by_upper[gene.upper()]
    for name in (gene_tables.hgnc_symbols([gene])[0], gene_tables.convert_gene(gene, "mouse", "human")):
        if name and name.upper() in by_upper:
            return by_upper[name.upper()]
    return None


def check_output_path(path: str | Path, inputs: Iterable[str | Path] = (), *, suffix: str | None = None) -> Path:
    """``path`` as an output: refused when it is an input file, its folder is missing or its suffix is wrong.

    Commands call it before long work, so a bad output path fails at once rather than after it.
    """
    path = Path(path).expanduser()
    if suffix is not None and path.suffix != suffix:
        raise InputError(f"'{path.name}' does not end in {suffix}. Pass an output path like annotated{suffix}.")
    if any(path.resolve() == Path(p).expanduser().resolve() for p in inputs):
        raise InputError(f"refusing to overwrite the input file '{path}'. Pass a different output path.")
    if not path.parent.is_dir():
        raise InputError(f"output folder '{path.parent}' does not exist. Create it or pass another --out path.")
    return path


def write_text_atomic(path: str | Path, text: str, *, inputs: Iterable[str | Path] = ()) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`cell2text.files.write_text`), never over an input file."""
    return write_text(check_output_path(Path(path).expanduser(), inputs), text)


def _writable_columns(frame: pd.DataFrame) -> None:
    """Object columns mixing strings with other values (ints, None) as text, in place: h5ad stores object columns as strings only."""
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object and not values.map(lambda v: isinstance(v, str)).all():
            frame[column] = values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))


def write_h5ad_atomic(adata: ad.AnnData, path: str | Path, *, inputs: Iterable[str | Path] = ()) -> Path:
    """Write ``adata`` to a new ``.h5ad`` through a temporary file and a rename, never over an input file.

    A backed AnnData (a large file read in chunks) is written without loading its matrix. obs/var object columns that
    mix strings with other values are turned into text first (in place), since h5ad cannot store them otherwise.
    """
    path = check_output_path(path, inputs, suffix=".h5ad")
    _writable_columns(adata.obs)
    _writable_columns(adata.var)
    with atomic_path(path) as tmp:
        if adata.isbacked:  # the matrix stays on disk: copy the file, then write the new obs and uns into the copy
            shutil.copyfile(adata.filename, tmp)
            copy = ad.read_h5ad(tmp, backed="r+")
            copy.obs, copy.uns = adata.obs, adata.uns
            copy.write()
            copy.file.close()
        else:
            adata.write_h5ad(tmp)
    return path
