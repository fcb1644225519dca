"""Gene-set libraries (GMT) that ship with cell2text (marker knowledge lives in :mod:`cell2text.knowledge`).

Libraries by name: ``hallmark`` (MSigDB Hallmark v7.5.1, CC BY 4.0), ``reactome`` and
``wikipathways`` (from MSigDB C2:CP v7.5.1, CC0). Wherever a library name is accepted, a path to
the user's own ``.gmt`` file works too. Licences: ``genesets/README.md``.
"""

from __future__ import annotations

import functools
import re
from importlib.resources import files
from pathlib import Path

from cell2text.errors import InputError

LIBRARIES = {
    "hallmark": "hallmark.v7.5.1.gmt",
    "reactome": "reactome.v7.5.1.gmt",
    "wikipathways": "wikipathways.v7.5.1.gmt",
}
_PREFIXES = ("HALLMARK_", "REACTOME_", "WP_")
# Words kept upper-case in readable titles.
_ACRONYMS = {
    "TNFA",
    "NFKB",
    "KRAS",
    "MTORC1",
    "E2F",
    "G2M",
    "IL2",
    "STAT5",
    "IL6",
    "JAK",
    "STAT3",
    "TGF",
    "UV",
    "DNA",
    "RNA",
    "MYC",
    "P53",
    "PI3K",
    "AKT",
    "MTOR",
    "WNT",
    "ROS",
    "EMT",
    "UPR",
    "TCR",
    "BCR",
    "MHC",
    "ER",
    "ATP",
    "GPCR",
    "NK",
    "IFN",
    "HIV",
    "SARS",
    "COV",
    "TLR",
    "NOTCH",
    "HEDGEHOG",
}


def library_path(library: str | Path) -> Path:
    """The GMT file for a library name, or the user's own GMT path."""
    name = str(library)
    if name.lower() in LIBRARIES:
        return Path(str(files("cell2text.knowledge").joinpath("genesets", LIBRARIES[name.lower()])))
    path = Path(name).expanduser()
    if not path.is_file():
        raise InputError(f"gene-set library '{name}' not found. Use {', '.join(LIBRARIES)} or the path of a .gmt file.")
    return path


@functools.lru_cache(maxsize=16)
def _read_gmt(path: Path) -> dict[str, tuple[str, ...]]:
    sets: dict[str, tuple[str, ...]] = {}
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"could not read gene-set file '{path.name}' ({exc}). Pass a text .gmt file.") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.rstrip("\n").split("\t")
        genes = tuple(dict.fromkeys(g.strip() for g in fields[2:] if g.strip()))
        if len(fields) < 3 or not genes:
            msg = f"'{path.name}' line {number} is not GMT (name<TAB>description<TAB>gene...)."
            raise InputError(msg + " Fix the line or pass another file.")
        sets[fields[0]] = genes
    if not sets:
        raise InputError(f"'{path.name}' holds no gene sets. Pass a GMT file with one set per line.")
    return sets


def load_gene_sets(library: str | Path = "hallmark") -> dict[str, list[str]]:
    """Gene sets of a library as ``{set name: [genes]}``."""
    return {name: list(genes) for name, genes in _read_gmt(library_path(library)).items()}


def library_label(library: str | Path) -> str:
    """Short name of a library for tables and metadata ("hallmark", or the GMT file name)."""
    name = str(library)
    return name.lower() if name.lower() in LIBRARIES else Path(name).name


def pathway_title(name: str) -> str:
    """A readable title for a gene-set name: ``HALLMARK_TNFA_SIGNALING_VIA_NFKB`` -> "TNFA signaling via NFKB"."""
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    words = []
    for word in name.split("_"):
        keep = word in _ACRONYMS or bool(re.search(r"\d", word))
        words.append(word if keep else word.lower())
    title = " ".join(words)
    return title[:1].upper() + title[1:]
