"""AnnData in: read a dataset, find its gene symbols and its log-normalised expression, check the group key.

Every failure raises :class:`~cell2text.errors.InputError` with one line that names the problem
and the fix; nothing here writes to the input file.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from collections.abc import Iterable
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp

from cell2text.errors import InputError

#: var columns that hold gene symbols, in order of preference (CELLxGENE uses feature_name).
SYMBOL_COLUMNS = ("feature_name", "gene_symbols", "gene_symbol", "symbol", "gene_name", "gene_names")
_ENSEMBL = re.compile(r"^ENS[A-Z]*G\d{6,}")
_SAMPLE_ROWS = 2000  # cells inspected to tell counts from log-normalised data


def available_memory() -> int:
    """Bytes of memory available now (Linux: MemAvailable; elsewhere: free physical pages)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def read_dataset(path: str | Path, *, backed: bool | None = None) -> ad.AnnData:
    """Read an ``.h5ad`` file, a 10x ``.h5`` file or a 10x ``matrix.mtx`` folder.

    An ``.h5ad`` file stays on disk (opened ``backed="r"``, read later in chunks) when ``backed`` is
    True, or, by default, when it has more than ``Settings.in_memory_cells`` cells or is larger than
    a quarter of the memory available; otherwise it is loaded. 10x files are always loaded, so one
    that cannot fit is refused with the fix (convert it to .h5ad once).
    """
    from cell2text.config import get_settings

    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"'{path}' does not exist. Pass the path of an .h5ad file, a 10x .h5 file or a 10x mtx folder.")
    size = sum(f.stat().st_size for f in path.iterdir()) if path.is_dir() else path.stat().st_size
    try:
        if path.suffix != ".h5ad" and size * 3 > available_memory():
            msg = f"'{path.name}' ({size / 1e9:.1f} GB) would not fit in the memory available ({available_memory() / 1e9:.1f} GB) as a 10x file."
            raise InputError(msg + " Convert it to .h5ad once (scanpy: read_10x_h5(...).write_h5ad(...)): .h5ad files are read in chunks.")
        if path.is_dir():
            if not any(path.glob("matrix.mtx*")):
                raise InputError(f"folder '{path}' has no matrix.mtx(.gz). Pass a 10x mtx folder or an .h5ad file.")
            adata = sc.read_10x_mtx(path)
        elif path.suffix == ".h5ad":
            adata = ad.read_h5ad(path, backed="r")
            if backed is False or (backed is None and adata.n_obs <= get_settings().in_memory_cells
                                   and size * 4 <= available_memory()):
                on_disk, adata = adata, adata.to_memory()
                on_disk.file.close()
        elif path.suffix == ".h5":
            adata = sc.read_10x_h5(path)
        else:
            raise InputError(f"'{path.name}' is not a supported file type. Pass an .h5ad file, a 10x .h5 file or a 10x mtx folder.")
    except InputError:
        raise
    except Exception as exc:  # h5py/anndata raise many types for a damaged file
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise InputError(f"could not read '{path.name}' ({reason}). Check that the file is complete and of the type its name says.") from exc
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise InputError(f"'{path.name}' is empty ({adata.n_obs} cells x {adata.n_vars} genes). Pass a dataset with cells and genes.")
    return adata


def gene_symbols(var: pd.DataFrame) -> pd.Index:
    """Gene symbols for a var table: a symbol column if one exists (CELLxGENE: ``feature_name``), else var_names.

    Raises when var_names are Ensembl ids and no column maps them to symbols.
    """
    for column in SYMBOL_COLUMNS:
        if column in var.columns:
            symbols = var[column].astype(str)
            return pd.Index(np.where(symbols.isin(["", "nan", "None"]), var.index, symbols))
    names = pd.Index(var.index.astype(str))
    if len(names) and np.mean([bool(_ENSEMBL.match(n)) for n in names[:1000]]) > 0.5:
        msg = "genes are Ensembl ids and no var column holds gene symbols."
        msg += f" Add one (e.g. adata.var['feature_name']); looked for: {', '.join(SYMBOL_COLUMNS)}."
        raise InputError(msg)
    return names


def expression_kind(matrix: np.ndarray | sp.spmatrix) -> str:
    """What a cells x genes matrix holds: ``"counts"``, ``"log1p"`` (log-normalised) or ``"scaled"``.

    Counts are non-negative integers; scaled data (``sc.pp.scale``) has negative values;
    anything else non-negative is taken as log-normalised when its maximum is below 50.
    Judged on the first cells only, so it is cheap on large data.
    """
    sample = matrix[:_SAMPLE_ROWS]
    values = sample.data if sp.issparse(sample) else np.asarray(sample).ravel()
    if values.size == 0:
        return "log1p"
    if values.min() < 0:
        return "scaled"
    if np.all(np.mod(values, 1) == 0):
        return "counts"
    if values.max() > 50:
        return "unknown"
    return "log1p"


def prepare(adata: ad.AnnData, groupby: str | None = None, *, rows: slice | np.ndarray | None = None) -> ad.AnnData:
    """A new AnnData with log-normalised expression in ``X`` and gene symbols as var_names.

    The expression comes from ``X`` when it is counts or log-normalised, else from ``.raw``
    (typical after ``sc.pp.scale``); counts are normalised the standard scanpy way
    (``normalize_total`` to 10,000 then ``log1p``). ``obs``, ``obsm`` and ``uns`` are kept.
    With ``groupby``, the column is checked and made categorical. ``rows`` (a slice or sorted
    positions) prepares only those cells, read from a backed file without loading the rest; the
    kind of expression is judged on the whole dataset's first cells, so every chunk is treated alike.

    Returns
    -------
    A new AnnData (the input is not modified) with ``uns["cell2text"]["preprocessing"]``:
    ``source`` ("X" or "raw"), ``detected`` (counts | log1p), ``normalised`` (bool),
    ``notes`` (sentences for the user saying what was done).
    """
    source, matrix, var = "X", adata.X, adata.var
    _check_integers(matrix[:_SAMPLE_ROWS])
    kind = expression_kind(matrix)
    notes: list[str] = []
    if kind in ("scaled", "unknown"):
        if adata.raw is None:
            msg = f"X looks {'scaled (negative values)' if kind == 'scaled' else 'neither counts nor log-normalised'} and there is no .raw."
            msg += " Pass counts or log-normalised expression (e.g. save the file before sc.pp.scale)."
            raise InputError(msg)
        source, matrix, var = "raw", adata.raw.X, adata.raw.var
        kind = expression_kind(matrix)
        if kind in ("scaled", "unknown"):
            raise InputError("neither X nor .raw holds counts or log-normalised expression. Pass unscaled data.")
        notes.append("X is scaled, so the expression was taken from .raw.")

    obs, obsm = adata.obs, {k: np.asarray(v) for k, v in adata.obsm.items()}
    if rows is not None:
        matrix, obs, obsm = matrix[rows], obs.iloc[rows], {k: v[rows] for k, v in obsm.items()}
    elif not (sp.issparse(matrix) or isinstance(matrix, np.ndarray)):
        matrix = matrix[:]  # a backed file's matrix, read whole
    _check_integers(matrix)
    result = ad.AnnData(
        X=sp.csr_matrix(matrix, dtype=np.float32) if sp.issparse(matrix) else np.asarray(matrix, dtype=np.float32),
        obs=obs.copy(),
        var=pd.DataFrame(index=gene_symbols(var)),
        obsm=obsm,
        uns=dict(adata.uns),
    )
    if sp.issparse(result.X):
        _same_index_dtype(result.X)
    if not result.var_names.is_unique:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result.var_names_make_unique()
        notes.append("Duplicate gene symbols were made unique (suffix -1, -2, ...).")
    if kind == "counts":
        empty = int((np.asarray(result.X.sum(1)).ravel() == 0).sum())
        if empty:
            notes.append(f"{empty:,} cells have no counts at all: they stay zero and take their group's annotation.")
        sc.pp.normalize_total(result, target_sum=1e4)
        sc.pp.log1p(result)
        notes.append("Raw counts were normalised to 10,000 per cell and log1p-transformed (scanpy).")
    if groupby is not None:
        check_groupby(result, groupby)
        result.obs[groupby] = result.obs[groupby].astype("category")
    result.uns["cell2text"] = {
        "preprocessing": {"source": source, "detected": kind, "normalised": kind == "counts", "notes": notes}
    }
    return result


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

    Raises when none is present, since every check that needs genes would then be empty.
    """
    wanted = list(dict.fromkeys(genes))
    by_upper = {name.upper(): name for name in adata.var_names}
    found = [by_upper[g.upper()] for g in wanted if g.upper() in by_upper]
    if wanted and not found:
        example = ", ".join(wanted[:3])
        msg = f"none of the {len(wanted)} genes needed by {what} ({example}, ...) is in the data."
        msg += " Use gene symbols as var_names or in var['feature_name'], for the same species."
        raise InputError(msg)
    return found


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


def _checked_tmp(path: Path, inputs: Iterable[str | Path]) -> Path:
    """The temporary sibling to write ``path`` through, after :func:`check_output_path`."""
    return check_output_path(path, inputs).with_name(f".{path.name}.tmp")


def write_text_atomic(path: str | Path, text: str, *, inputs: Iterable[str | Path] = ()) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename, never over an input file."""
    path = Path(path).expanduser()
    tmp = _checked_tmp(path, inputs)
    tmp.write_text(text)
    tmp.replace(path)
    return path


def write_h5ad_atomic(adata: ad.AnnData, path: str | Path, *, inputs: Iterable[str | Path] = ()) -> Path:
    """Write ``adata`` to a new ``.h5ad`` through a temporary file and a rename, never over an input file.

    A backed AnnData (a large file read in chunks) is written without loading its matrix.
    """
    path = check_output_path(path, inputs, suffix=".h5ad")
    tmp = _checked_tmp(path, inputs)
    try:
        if adata.isbacked:  # the matrix stays on disk: copy the file, then write the new obs and uns into the copy
            shutil.copyfile(adata.filename, tmp)
            copy = ad.read_h5ad(tmp, backed="r+")
            copy.obs, copy.uns = adata.obs, adata.uns
            copy.write()
            copy.file.close()
        else:
            adata.write_h5ad(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
