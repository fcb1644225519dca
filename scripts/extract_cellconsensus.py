"""Extract cellconsensus's consensus marker weights into a compact table cell2text ships.

Run once by a developer (it needs the package registry); the outputs are committed as data, the
package is never imported or installed, and nothing is downloaded at run time:

    .venv/bin/python scripts/extract_cellconsensus.py [path/to/cellconsensus-1.2.0-py3-none-any.whl]

Without a path the wheel is fetched with ``pip download --no-deps cellconsensus==1.2.0``.

Source: ``cellconsensus/data/consensus_cache_full.pkl`` inside the wheel (MIT, Copyright (c) 2026
Antoine de Mathelin and tansey-lab): ``consensus`` maps 1,375 CL ids to {HGNC symbol: weight}
aggregated from many published marker lists (``n_sources`` per type), human only, no tissue. The
file is a pickle: it is read with :class:`PlainUnpickler`, which builds dicts, lists, strings and
numbers only and refuses anything that would import or call code, and then checked field by field.

A type's consensus pools the lists of its subtypes too ("T cell" ranks CD8A first), while
cell2text gives a type's markers to all its subtypes. So, per type:

* ``weight`` = the gene's weight over the type's largest weight (its relative weight, 0-1];
* a gene is kept when its relative weight is at least ``MIN_RELATIVE`` and no descendant type
  (in the shipped Cell Ontology) accounts for ``SUBTYPE_SHARE`` or more of its weight here (CD8A
  stays with CD8 T cells; CD3D, CD3E stay with T cells);
* at most ``TOP_GENES`` genes per type, by weight;
* the root terms (cell, eukaryotic cell, ...) are left out: their consensus pools every list.

``SUBTYPE_SHARE`` was set a priori (without the rule the development marker lists fall from 0.70 to
0.28-0.35 top-1). The table keeps the loosest cut the benchmark compares (``MIN_RELATIVE``, every
type); ``cell2text.knowledge.markers`` cuts it further with the setting chosen on held-out tissues.

Into ``cell2text/knowledge/data/``: ``cellconsensus_markers.tsv.gz`` (columns
``cell_type_ontology_term_id``, ``cell_type`` as cellconsensus names it, ``gene``, ``weight``,
``sources``: how many of its lists the type's consensus pooled) and ``LICENSE.cellconsensus.txt``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

from cell2text.knowledge.ontology import Ontology, load_ontology

KNOWLEDGE = Path(__file__).resolve().parents[1] / "cell2text" / "knowledge" / "data"
PACKAGE = "cellconsensus==1.2.0"
CACHE = "cellconsensus/data/consensus_cache_full.pkl"
LICENSE = "cellconsensus-1.2.0.dist-info/licenses/LICENSE"
MIN_RELATIVE = 0.1  # a gene weighing less than this share of the type's top gene is noise from one or two lists
SUBTYPE_SHARE = 0.5  # a gene one descendant carries this much of belongs to that descendant
TOP_GENES = 100  # per type: the scoring divides by a type's marker mass, so longer lists only dilute
ROOTS = frozenset({"CL:0000000", "CL:0000003", "CL:0000255", "CL:0000548"})  # cell, native, eukaryotic, animal cell


class PlainUnpickler(pickle.Unpickler):
    """Unpickles plain data only: every global (class, function) is refused, so nothing runs."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing {module}.{name}: the cache should hold plain dicts, strings and numbers only")


def read_cache(data: bytes) -> dict[str, dict]:
    """The cache's ``consensus``, ``n_sources`` and ``ct_info``, after checking every value's type.

    Raises ``pickle.UnpicklingError`` for anything but plain data and ``ValueError`` when the
    structure is not the expected one (so a changed cache fails loudly, not silently).
    """
    cache = PlainUnpickler(io.BytesIO(data)).load()
    if not isinstance(cache, dict) or not {"consensus", "n_sources", "ct_info"} <= cache.keys():
        raise ValueError("unexpected cache: want a dict with 'consensus', 'n_sources' and 'ct_info'")
    consensus, sources, info = cache["consensus"], cache["n_sources"], cache["ct_info"]
    for term, genes in consensus.items():
        if not (isinstance(term, str) and term.startswith("CL:") and isinstance(genes, dict)):
            raise ValueError(f"unexpected consensus entry {term!r}: want 'CL:...' -> {{gene: weight}}")
        if not all(isinstance(g, str) and type(w) in (float, int) and w > 0 for g, w in genes.items()):
            raise ValueError(f"unexpected weights for {term}: want gene symbol -> positive number")
        if type(sources.get(term)) is not int or not isinstance(info.get(term, {}).get("name"), str):
            raise ValueError(f"{term} lacks an integer n_sources or a name in ct_info")
    return {"consensus": consensus, "n_sources": sources, "ct_info": info}


def marker_table(cache: dict[str, dict], ontology: Ontology) -> pd.DataFrame:
    """The kept (type, gene, relative weight) rows, by the rules in the module docstring."""
    consensus = cache["consensus"]
    rows = []
    for term in sorted(set(consensus) - ROOTS):
        genes = consensus[term]
        top = max(genes.values())
        below = [consensus[d] for d in ontology.descendants(term) if d in consensus] if term in ontology else []
        kept = [
            (g, w)
            for g, w in sorted(genes.items(), key=lambda item: (-item[1], item[0]))
            if w >= MIN_RELATIVE * top and all(sub.get(g, 0.0) < SUBTYPE_SHARE * w for sub in below)
        ][:TOP_GENES]
        rows += [
            {
                "cell_type_ontology_term_id": term,
                "cell_type": cache["ct_info"][term]["name"],
                "gene": g,
                "weight": round(w / top, 3),
                "sources": cache["n_sources"][term],
            }
            for g, w in kept
        ]
    return pd.DataFrame(rows)


def fetch_wheel(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", PACKAGE, "-d", str(folder)], check=True)
    return next(folder.glob("cellconsensus-*.whl"))


def extract(wheel: Path, ontology: Ontology) -> pd.DataFrame:
    """Write the table and the licence from ``wheel``; return the table."""
    with zipfile.ZipFile(wheel) as archive:
        cache = read_cache(archive.read(CACHE))
        licence = archive.read(LICENSE).decode()
    table = marker_table(cache, ontology)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    header = f"cellconsensus_markers.tsv.gz is extracted from {wheel.name} (sha256 {digest}), {CACHE}.\n\n"
    (KNOWLEDGE / "LICENSE.cellconsensus.txt").write_text(header + licence)
    with gzip.GzipFile(KNOWLEDGE / "cellconsensus_markers.tsv.gz", "wb", mtime=0) as handle:  # mtime 0: same input, same bytes
        handle.write(table.to_csv(sep="\t", index=False).encode())
    return table


def main() -> None:
    ontology = load_ontology()
    if len(sys.argv) > 1:
        table = extract(Path(sys.argv[1]), ontology)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            table = extract(fetch_wheel(Path(tmp)), ontology)
    print(
        f"cellconsensus_markers.tsv.gz: {len(table):,} rows, {table['cell_type_ontology_term_id'].nunique():,} CL types,"
        f" {table['gene'].nunique():,} genes"
    )


if __name__ == "__main__":
    main()
