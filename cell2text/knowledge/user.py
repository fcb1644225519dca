"""A user's own marker table (``--markers FILE``), read into marker rows mapped to Cell Ontology ids.

Three formats, chosen by the file's suffix:

* ``.tsv`` / ``.csv`` / ``.txt``: columns ``cell_type`` and ``gene``, optionally ``sign`` (+ or -,
  default +) and ``weight`` (default 1.0);
* ``.gmt``: one line per cell type, ``name<TAB>description<TAB>gene...``; a gene may end in ``+``
  or ``-`` (pegasus style, ``CD3E+``, ``CD19-``);
* ``.json``: ``{"cell type": ["gene", ...]}`` or ``{"cell type": {"positive": [...], "negative": [...]}}``.

Each cell type is a CL id (``CL:0000236``) or a name the ontology standardiser maps with
confidence; names that map to no term, or only unsurely, are all named in one error.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from cell2text.errors import InputError
from cell2text.knowledge.ontology import Ontology

SUFFIXES = (".tsv", ".csv", ".txt", ".gmt", ".json")
COLUMNS = ["cell_type", "gene", "sign", "weight"]


def _fail(path: Path, problem: str) -> InputError:
    return InputError(f"marker file '{path.name}': {problem}. See 'cell2text annotate-markers --help' for the formats (TSV, GMT, JSON).")


def _split_sign(gene: str) -> tuple[str, str]:
    gene = gene.strip()
    if len(gene) > 1 and gene[-1] in "+-":
        return gene[:-1], gene[-1]
    return gene, "+"


def _read_table(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, UnicodeDecodeError) as exc:
        raise _fail(path, f"not a readable table ({type(exc).__name__})") from exc
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("cell_type", "gene") if c not in table.columns]
    if missing:
        raise _fail(path, f"no {' or '.join(missing)} column (found: {', '.join(table.columns)})")
    table["sign"] = table["sign"].str.strip() if "sign" in table.columns else "+"
    bad = sorted(set(table["sign"]) - {"+", "-"})
    if bad:
        raise _fail(path, f"sign must be + or -, found {', '.join(map(repr, bad))}")
    try:
        table["weight"] = table["weight"].astype(float) if "weight" in table.columns else 1.0
    except ValueError as exc:
        raise _fail(path, "the weight column holds a value that is not a number") from exc
    return table[COLUMNS]


def _read_gmt(path: Path) -> pd.DataFrame:
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise _fail(path, f"line {number} is not GMT (name<TAB>description<TAB>gene...)")
        for gene in fields[2:]:
            if gene.strip():
                rows.append((fields[0].strip(), *_split_sign(gene), 1.0))
    return pd.DataFrame(rows, columns=COLUMNS)


def _read_json(path: Path) -> pd.DataFrame:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise _fail(path, f"invalid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise _fail(path, 'JSON must be an object {"cell type": [genes]} or {"cell type": {"positive": [...], "negative": [...]}}')
    rows = []
    for name, value in data.items():
        if isinstance(value, list):
            rows += [(name, *_split_sign(str(g)), 1.0) for g in value]
        elif isinstance(value, dict) and set(value) <= {"positive", "negative"}:
            rows += [(name, str(g).strip(), "+", 1.0) for g in value.get("positive", [])]
            rows += [(name, str(g).strip(), "-", 1.0) for g in value.get("negative", [])]
        else:
            raise _fail(path, f'the value of \'{name}\' must be a list of genes or {{"positive": [...], "negative": [...]}}')
    return pd.DataFrame(rows, columns=COLUMNS)


def read_user_markers(path: str | Path, ontology: Ontology) -> pd.DataFrame:
    """The user's marker file as rows: cell_type (as written), cell_type_ontology_term_id, gene, sign, weight, basis.

    Raises InputError for a missing, unreadable or empty file, and for cell-type names the
    standardiser cannot map with confidence (all of them in one message).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"marker file '{path}' not found. Pass the path of a TSV, GMT or JSON marker table.")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise _fail(path, f"unknown format '{suffix or 'no suffix'}'; use one of {', '.join(SUFFIXES)}")
    try:
        table = _read_gmt(path) if suffix == ".gmt" else _read_json(path) if suffix == ".json" else _read_table(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot be read ({type(exc).__name__})") from exc
    table = table[(table["cell_type"].str.strip() != "") & (table["gene"].str.strip() != "")].copy()
    if table.empty:
        raise _fail(path, "holds no (cell type, gene) rows")
    table["cell_type"] = table["cell_type"].str.strip()
    table["gene"] = table["gene"].str.strip()
    mapped, unmapped = {}, []
    for name in dict.fromkeys(table["cell_type"]):
        result = ontology.standardise(name, prefix="CL")
        if result.best is None or result.unsure:
            hint = f" (closest: {result.best.label}, {result.best.id})" if result.best is not None else ""
            unmapped.append(f"'{name}'{hint}")
        else:
            mapped[name] = result.best.id
    if unmapped:
        msg = f"{len(unmapped)} cell type name(s) map to no Cell Ontology term with confidence: {'; '.join(unmapped)}"
        raise _fail(path, msg + ". Write a CL id (e.g. CL:0000236) or the exact CL name in their place")
    table["cell_type_ontology_term_id"] = table["cell_type"].map(mapped)
    table["basis"] = f"user table {path.name}: " + table["cell_type"]
    return table.reset_index(drop=True)
