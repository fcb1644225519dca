"""Marker list -> cell type: cell2text's candidate search beside GPT-4, GPT-3.5, CellMarker 2.0, SingleR and ScType.

Data: ``../shared/benchmarks/gptcelltype_dev.csv`` (189 clusters from Hou & Ji, Nature Methods 2024:
each cluster's top-10 differential genes, the manual Cell Ontology label and every peer's answer
with its CL id). cell2text ranks CL terms for each gene list with
:func:`cell2text.tools.candidates.rank_cell_types` (human knowledge, the row's tissue as prior,
offline, no language model); its top-1 and every peer's CL ids are scored with the same rule
(``../shared/benchmarks/README.md``):

* **1** when the predicted CL term(s) are the manual one(s) (the same CL name);
* **0.5** when their broad types overlap, each side's broad types expanded by
  ``gptcelltype_broadtype_relations.csv``; the manual side's broad types are the table's, a
  predicted CL id's come from ``gptcelltype_broadtypes.csv`` (annotation text -> CL id -> broad
  type), or, for an id not in that table, from its nearest CL ancestor that is;
* **0** otherwise.

Also our top-3 (best agreement among the first three candidates) and the mean symmetric PPR
similarity of the top-1 to the manual term (rows with a manual CL id), for us and the peers.
The knowledge holds nothing from these rows.

Calibration: the top-1 candidate's ``confidence`` (its and its subtypes' share of every known
term's likelihood) binned against the observed agreement, with the expected calibration error
(ECE: the rows' mean |confidence - agreement| within a bin, weighted by the bin's rows), against
the paper's agreement and against full agreement; beside it the plain softmax of the returned
candidates' scores (the top-1's own share among them).

Then the cellconsensus source (:func:`cell2text.knowledge.markers.cellconsensus_rows`, off by
default) at every setting of ``GRID``, beside the shipped knowledge without it: on all rows, and
held out by tissue (7 folds) and by dataset (2 folds), where the setting is chosen on the other
folds' rows, so no figure rests on a choice made on the rows it scores. ``--skip-grid`` leaves the
grid out (about 5 minutes) and reports the shipped knowledge alone, held out the same way. Writes
``benchmarks/results/marker_annotation.md`` and ``.json``.

    .venv/bin/python benchmarks/marker_annotation.py [--skip-grid]
"""

from __future__ import annotations

import argparse
import collections
import itertools
import math
import time
from pathlib import Path

import pandas as pd
from _common import machine, write_results

from cell2text.errors import InputError
from cell2text.knowledge import MarkerKnowledge, load_markers
from cell2text.knowledge.markers import (
    CELLCONSENSUS_MIN_LISTS,
    CELLCONSENSUS_MIN_RELATIVE,
    CELLCONSENSUS_WEIGHT,
    cellconsensus_rows,
    with_rows,
)
from cell2text.tools.candidates import rank_cell_types
from cell2text.knowledge.ontology import Ontology, load_ontology
from cell2text.knowledge.pagerank import PageRankSimilarity, pagerank_similarity

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
PEERS = {"gpt4aug3": "GPT-4 (Aug 2023)", "gpt4mar23": "GPT-4 (Mar 2023)", "gpt3.5aug3": "GPT-3.5 (Aug 2023)",
         "CellMarker2.0": "CellMarker 2.0", "SingleR": "SingleR", "ScType": "ScType"}
#: The rows' tissue names as UBERON terms (the tissue prior).
TISSUES = {"Breast": "UBERON:0000310", "Esophagus": "UBERON:0001043", "Heart": "UBERON:0000948", "Lung": "UBERON:0002048",
           "Prostate": "UBERON:0002367", "Skeletal muscle": "UBERON:0001134", "Skin": "UBERON:0002097"}
BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # confidence bins of the reliability table
#: cellconsensus settings (weight factor, smallest relative weight, fewest pooled lists) the held-out figures choose
#: from; factors stay below candidates.DEFINING (0.75), cuts within the shipped table's (relative >= 0.1, every type).
GRID = [(factor, min_relative, min_lists) for factor in (0.05, 0.1, 0.25, 0.5) for min_relative in (0.1, 0.2, 0.3) for min_lists in (1, 3)]
A_PRIORI = (0.5, 0.1, 1)  # the curated table's "supportive" weight, the whole shipped table: chosen before any measurement
OPT_IN = (CELLCONSENSUS_WEIGHT, CELLCONSENSUS_MIN_RELATIVE, CELLCONSENSUS_MIN_LISTS)  # load_markers(cellconsensus=True)


def cl_ids(value) -> list[str]:
    """CL ids of a cell (comma-separated, 'NA' and blanks dropped)."""
    return [] if pd.isna(value) else [v.strip() for v in str(value).split(",") if v.strip().startswith("CL:")]


class Scorer:
    """The paper's agreement rule, with broad types from its tables and the nearest-ancestor fallback."""

    def __init__(self, ontology: Ontology) -> None:
        self.ontology = ontology
        table = pd.read_csv(SHARED / "gptcelltype_broadtypes.csv", dtype=str)
        self.broad: dict[str, set[str]] = collections.defaultdict(set)
        for ids, types in zip(table["CLID"], table["type"]):
            if pd.isna(ids) or pd.isna(types):
                continue
            ids, types = [i.strip() for i in ids.split(",")], [t.strip() for t in types.split(",")]
            pairs = zip(ids, types) if len(ids) == len(types) else [(ids[0], t) for t in types] if len(ids) == 1 else []
            for term_id, broad in pairs:
                if term_id.startswith("CL:") and broad != "NA":
                    self.broad[term_id].add(broad)
        self.related: dict[str, set[str]] = collections.defaultdict(set)
        for a, b in pd.read_csv(SHARED / "gptcelltype_broadtype_relations.csv", header=None, dtype=str).itertuples(index=False):
            self.related[a].add(b)
            self.related[b].add(a)

    def broad_types(self, term_id: str) -> set[str]:
        """The table's broad types of a CL id, else those of its nearest ancestors that have some."""
        if term_id in self.broad:
            return self.broad[term_id]
        if term_id not in self.ontology:
            return set()
        level, seen = {term_id}, {term_id}
        while level:
            level = {p for t in level for p in self.ontology.parents(t)} - seen
            seen |= level
            found = set().union(*(self.broad[t] for t in level if t in self.broad))
            if found:
                return found
        return set()

    def expand(self, types: set[str]) -> set[str]:
        return types | {r for t in types for r in self.related[t]}

    def agreement(self, predicted: list[str], row: pd.Series) -> float:
        manual = cl_ids(row["manual_CLID"])
        if predicted and set(predicted) == set(manual):
            return 1.0
        theirs = set().union(*(self.broad_types(t) for t in predicted)) if predicted else set()
        ours = set() if pd.isna(row["manual_broadtype"]) else {t.strip() for t in str(row["manual_broadtype"]).split(",")}
        return 0.5 if self.expand(theirs) & self.expand(ours) else 0.0


def similarity(ppr: PageRankSimilarity, predicted: list[str], row: pd.Series) -> float | None:
    """Symmetric PPR similarity of the closest (predicted, manual) pair; None when the row has no manual CL id."""
    manual = [m for m in cl_ids(row["manual_CLID"]) if m in ppr.index]
    predicted = [p for p in predicted if p in ppr.index]
    if not manual:
        return None
    return max((ppr.similarity(p, m) for p in predicted for m in manual), default=0.0)


def evaluate(rows: pd.DataFrame, knowledge: MarkerKnowledge, ontology: Ontology, ppr: PageRankSimilarity,
             scorer: Scorer) -> tuple[pd.DataFrame, list[float]]:
    """cell2text's answer for every row with ``knowledge``: top-1 agreement, best of top-3, PPR similarity; and the timings."""
    records, timings = [], []
    for _, row in rows.iterrows():
        started = time.perf_counter()
        try:
            candidates = rank_cell_types(row["marker"], species="human", tissue=TISSUES[row["tissue"]], k=5, knowledge=knowledge,
                                         ontology=ontology, ppr=ppr)
        except InputError:  # none of the genes is a known marker: no answer, agreement 0
            candidates = []
        timings.append(time.perf_counter() - started)
        top = [c.id for c in candidates]
        usable = [c.score for c in candidates if c.status != "contradicted"]
        softmax = math.exp(candidates[0].score) / sum(math.exp(v) for v in usable) if usable and candidates[0].status != "contradicted" else 0.0
        records.append({"tissue": row["tissue"], "dataset": row["dataset"], "manual": row["manual_CLname"], "manual_id": row["manual_CLID"],
                        "cell2text": candidates[0].label if candidates else None, "cell2text_id": top[0] if top else None,
                        "cell2text_status": candidates[0].status if candidates else None,
                        "confidence": candidates[0].confidence if candidates else 0.0, "softmax_returned": softmax,
                        "agreement": scorer.agreement(top[:1], row),
                        "top3": max((scorer.agreement([t], row) for t in top[:3]), default=0.0),
                        "ppr": similarity(ppr, top[:1], row)})
    return pd.DataFrame(records, index=rows.index), timings


def setting_name(factor: float, min_relative: float, min_lists: int) -> str:
    """A cellconsensus setting as the results name it."""
    return f"cellconsensus x{factor}, relative >= {min_relative}, lists >= {min_lists}"


def figures(result: pd.DataFrame) -> dict[str, float]:
    """Mean top-1 agreement, best of top-3, PPR similarity of some rows."""
    return {"top1": float(result["agreement"].mean()), "top3": float(result["top3"].mean()), "ppr": float(result["ppr"].dropna().mean())}


def reliability(confidence: pd.Series, agreement: pd.Series) -> dict:
    """Confidence binned against the observed agreement: per bin the rows, mean confidence, mean agreement and share of
    full agreement; the expected calibration error against the agreement and against full agreement."""
    bins = pd.cut(confidence, BINS, include_lowest=True, labels=[f"{low:.1f}-{high:.1f}" for low, high in itertools.pairwise(BINS)])
    rows = []
    for label, group in agreement.groupby(bins, observed=False):
        if len(group):
            rows.append({"bin": label, "rows": len(group),
                         "confidence": round(float(confidence[group.index].mean()), 3), "agreement": round(float(group.mean()), 3),
                         "full": round(float((group == 1).mean()), 3)})
    n = len(agreement)
    return {"bins": rows, "ece": round(sum(r["rows"] / n * abs(r["confidence"] - r["agreement"]) for r in rows), 3),
            "ece_full": round(sum(r["rows"] / n * abs(r["confidence"] - r["full"]) for r in rows), 3)}


def held_out(results: dict[str, pd.DataFrame], folds: pd.Series, choices: list[str]) -> dict:
    """Leave one fold out: the choice with the best mean top-1 agreement on the other folds' rows, scored on the fold.

    The figures are means over folds; ties go to the earlier choice.
    """
    per_fold = {}
    for fold in sorted(folds.unique()):
        train, test = folds != fold, folds == fold
        chosen = max(choices, key=lambda c: (results[c].loc[train, "agreement"].mean(), -choices.index(c)))
        per_fold[fold] = {"chosen": chosen, "rows": int(test.sum())} | figures(results[chosen].loc[test])
    means = {k: round(float(sum(f[k] for f in per_fold.values()) / len(per_fold)), 3) for k in ("top1", "top3", "ppr")}
    return means | {"folds": per_fold}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-grid", action="store_true", help="leave out the cellconsensus grid (about 5 minutes)")
    args = parser.parse_args()
    if not (SHARED / "gptcelltype_dev.csv").is_file():
        raise SystemExit(f"skipped: {SHARED / 'gptcelltype_dev.csv'} not found (evaluation data lives in ../shared, not in the repository)")
    rows = pd.read_csv(SHARED / "gptcelltype_dev.csv")
    ontology = load_ontology()
    ppr = pagerank_similarity(ontology, "CL")
    scorer = Scorer(ontology)
    start = time.perf_counter()
    knowledge = load_markers("human", ontology=ontology)
    load_s = time.perf_counter() - start

    table, timings = evaluate(rows, knowledge, ontology, ppr, scorer)
    for _, row in rows.iterrows():
        for peer in PEERS:
            if not pd.isna(row[f"{peer}_agreement"]):
                table.loc[row.name, peer] = scorer.agreement(cl_ids(row[f"{peer}_CLID"]), row)
                table.loc[row.name, f"{peer}_ppr"] = similarity(ppr, cl_ids(row[f"{peer}_CLID"]), row)

    # the shipped knowledge (without cellconsensus), and with it at every setting the held-out figures choose from
    results = {"without cellconsensus": table}
    grid_settings = [] if args.skip_grid else GRID
    for factor, min_relative, min_lists in grid_settings:
        extended = with_rows(knowledge, cellconsensus_rows(factor, min_relative=min_relative, min_lists=min_lists), ontology)
        results[setting_name(factor, min_relative, min_lists)] = evaluate(rows, extended, ontology, ppr, scorer)[0]
    grid = [setting_name(*setting) for setting in grid_settings]
    fixed = ["without cellconsensus", *([setting_name(*A_PRIORI), setting_name(*OPT_IN)] if grid else [])]
    comparison = {n: {"development": {k: round(v, 3) for k, v in figures(results[n]).items()},
                      "leave_one_tissue_out": held_out(results, rows["tissue"], [n]),
                      "leave_one_dataset_out": held_out(results, rows["dataset"], [n])} for n in fixed}
    if grid:
        comparison["cellconsensus, weight and cut chosen on the other folds"] = {
            "development": None, "leave_one_tissue_out": held_out(results, rows["tissue"], grid),
            "leave_one_dataset_out": held_out(results, rows["dataset"], grid)}
    grid_development = {name: round(float(results[name]["agreement"].mean()), 3) for name in grid}
    factors, cuts = list(dict.fromkeys(f for f, _, _ in grid_settings)), list(dict.fromkeys((r, n) for _, r, n in grid_settings))
    calibration = {"confidence": reliability(table["confidence"], table["agreement"]),
                   "softmax_returned": reliability(table["softmax_returned"], table["agreement"])}

    def summary(column: str, ppr_column: str) -> dict:
        scored = table[column].dropna()
        return {"rows": len(scored), "mean_agreement": round(float(scored.mean()), 3),
                "full": int((scored == 1).sum()), "partial": int((scored == 0.5).sum()),
                "mean_ppr": round(float(table.loc[scored.index, ppr_column].dropna().mean()), 3)}

    ours = summary("agreement", "ppr") | {"top3_mean_agreement": round(float(table["top3"].mean()), 3)}
    peers = {name: summary(peer, f"{peer}_ppr") | {"paper_mean_agreement": round(float(rows[f"{peer}_agreement"].mean()), 3)}
             for peer, name in PEERS.items()}
    on_99 = table[table["SingleR"].notna()]
    ours_99 = round(float(on_99["agreement"].mean()), 3)
    per_tissue = table.groupby("tissue")[["agreement", "gpt4aug3"]].mean().round(3)
    per_dataset = table.groupby("dataset")[["agreement", "gpt4aug3"]].mean().round(3)
    lines = [
        "# Marker list -> cell type (GPTCelltype development rows)",
        "",
        f"{len(rows)} marker lists (top-10 genes per cluster), 7 tissues; agreement with the manual CL label by the paper's rule,",
        "every method re-scored from its CL ids with the same code (`benchmarks/marker_annotation.py`). cell2text: offline,",
        f"no language model, the row's tissue as prior; {machine()}.",
        "",
        "| method | rows | mean agreement | full / partial | mean PPR similarity to the manual term | paper's own score |",
        "|---|---|---|---|---|---|",
        (f"| **cell2text candidates (top-1)** | {ours['rows']} | **{ours['mean_agreement']:.3f}** | {ours['full']} / {ours['partial']} |"
        f" {ours['mean_ppr']:.3f} | - |"),
        f"| cell2text candidates (best of top-3) | {ours['rows']} | {ours['top3_mean_agreement']:.3f} | - | - | - |",
    ]
    for name, peer in peers.items():
        lines.append(f"| {name} | {peer['rows']} | {peer['mean_agreement']:.3f} | {peer['full']} / {peer['partial']} | {peer['mean_ppr']:.3f} |"
                     f" {peer['paper_mean_agreement']:.3f} |")
    lines += [
        "",
        f"On the 99 rows SingleR and ScType ran on, cell2text's mean agreement is {ours_99:.3f}.",
        "",
        "Per tissue (mean agreement): " + "; ".join(f"{t} {r.agreement:.2f} (GPT-4 {r.gpt4aug3:.2f})" for t, r in per_tissue.iterrows()) + ".",
        "Per source: " + "; ".join(f"{d} {r.agreement:.3f} (GPT-4 {r.gpt4aug3:.3f}, {int((table['dataset'] == d).sum())} rows)"
                                   for d, r in per_dataset.iterrows())
        + " (the HCA lists are single-nucleus top genes, few of them textbook markers; the literature lists are the markers papers used).",
        "",
        (f"Knowledge: {len(knowledge.table):,} marker rows, {len(knowledge.terms):,} CL terms (version {knowledge.version}), loaded in"
        f" {load_s:.1f} s; ranking takes {1000 * sum(timings[1:]) / max(1, len(timings) - 1):.1f} ms per list after the first"
        f" ({timings[0]:.1f} s: indexing)."),
        "",
        "## Calibration of the top-1 confidence",
        "",
        "`confidence`: the top-1 term's and its subtypes' share of every known term's likelihood (exp score). Beside it, the plain",
        "softmax of the returned candidates' scores (the top-1's own share). Agreement by the paper's rule (1 / 0.5 / 0); full: agreement 1.",
        "",
        "| bin | rows | mean confidence | mean agreement | full agreement | softmax rows | softmax mean | its agreement | its full |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by_bin = {name: {r["bin"]: r for r in c["bins"]} for name, c in calibration.items()}
    for low, high in itertools.pairwise(BINS):
        key = f"{low:.1f}-{high:.1f}"
        ours_bin, plain = by_bin["confidence"].get(key), by_bin["softmax_returned"].get(key)
        cells = [f"{b['rows']} | {b['confidence']:.3f} | {b['agreement']:.3f} | {b['full']:.3f}" if b else "0 | - | - | -" for b in (ours_bin, plain)]
        lines.append(f"| {key} | {cells[0]} | {cells[1]} |")
    lines += [
        "",
        (f"Expected calibration error: confidence {calibration['confidence']['ece']:.3f} against the agreement,"
         f" {calibration['confidence']['ece_full']:.3f} against full agreement; softmax of the returned candidates"
         f" {calibration['softmax_returned']['ece']:.3f} / {calibration['softmax_returned']['ece_full']:.3f}."),
        "",
        "## The cellconsensus source, on the development rows and held out",
        "",
        "Development: all 189 rows. Leave one tissue out (7 folds) / one dataset out (2 folds: HCA, literature): a choice made",
        "from the data (cellconsensus's weight factor and cut) is made on the other folds' rows by mean top-1 agreement and",
        "scored on the held-out fold; figures are means over folds. Rows without a choice are scored the same way, fold by fold.",
        "The curated table was written while looking at all seven tissues, so 'without cellconsensus' is not truly held out.",
        "",
        "| knowledge | dev top-1 | dev top-3 | dev PPR | tissue-out top-1 | tissue-out top-3 | tissue-out PPR | dataset-out top-1 | dataset-out top-3 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    labels = {"without cellconsensus": " (shipped default)", setting_name(*A_PRIORI): " (a priori)",
              setting_name(*OPT_IN): " (load_markers(cellconsensus=True))"}
    for name, c in comparison.items():
        dev, tissue, dataset = c["development"], c["leave_one_tissue_out"], c["leave_one_dataset_out"]
        dev_cells = f"{dev['top1']:.3f} | {dev['top3']:.3f} | {dev['ppr']:.3f}" if dev else "- | - | -"
        lines.append(f"| {name}{labels.get(name, '')} | {dev_cells} | {tissue['top1']:.3f} | {tissue['top3']:.3f} | {tissue['ppr']:.3f} |"
                     f" {dataset['top1']:.3f} | {dataset['top3']:.3f} |")
    if grid:
        chosen = collections.Counter(f["chosen"] for f in comparison["cellconsensus, weight and cut chosen on the other folds"]
                                     ["leave_one_tissue_out"]["folds"].values())
        lines += [
            "",
            "Chosen in the tissue folds: " + "; ".join(f"{n} ({k}x)" for n, k in chosen.most_common()) + ".",
            "",
            "Development top-1 over the grid (weight factor x cut):",
            "",
            "| factor | " + " | ".join(f"relative >= {r}, lists >= {n}" for r, n in cuts) + " |",
            "|---|" + "---|" * len(cuts),
        ]
        for factor in factors:
            lines.append(f"| {factor} | " + " | ".join(f"{grid_development[setting_name(factor, r, n)]:.3f}" for r, n in cuts) + " |")
    if args.skip_grid:  # a quick look: the results files always hold a whole run
        print("\n".join(lines))
        return
    report = {"machine": machine(), "rows": len(rows), "cell2text": ours, "cell2text_on_99_rows": ours_99, "peers": peers,
              "per_tissue": per_tissue.to_dict(orient="index"), "per_dataset": per_dataset.to_dict(orient="index"), "knowledge_version": knowledge.version,
              "knowledge_rows": len(knowledge.table), "cellconsensus": comparison, "cellconsensus_grid_development_top1": grid_development,
              "calibration": calibration, "predictions": table.where(table.notna(), None).to_dict(orient="records")}
    write_results("marker_annotation", report, lines)


if __name__ == "__main__":
    main()
