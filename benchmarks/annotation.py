"""Cell-type annotation on the demo dataset: Cell2Text (text and head) vs CellTypist, logistic regression, kNN.

Seeds 0, 1 and 2: per seed, the Cell2Text checkpoint trained with that seed (seed 0 is the shipped
one; seeds 1 and 2 are those of ``cross_dataset_cells.py`` in ``--runs``, trained there or here
with ``--train``) and its own held-out split (``split.json``: stratified 80/20 by label, 560 train /
140 test cells of pbmc68k_reduced); the peers train on the same training cells, same machine,
one run; mean ± sd over the seeds. Metrics: accuracy, macro-F1, mean PageRank similarity (ours, [0, 1])
and the paper's PPR score (1 to ~13) between predicted and true CL ids; for Cell2Text also the
popV-style grades, pathway Jaccard, cells/s and new tokens/s, and peak memory.

    .venv/bin/pip install -e ".[bench]"      # celltypist 1.7.1 with scikit-learn<1.8
    .venv/bin/python benchmarks/annotation.py [--train] [--runs runs/cross_dataset_cells]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

import scanpy as sc
from _common import machine, write_results
from cross_dataset_cells import SEEDS, checkpoint
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from cell2text.data.demo import load_demo
from cell2text.model.evaluate import evaluate_model, label_scores
from cell2text.model.model import Cell2Text
from cell2text.model.paths import SHIPPED_CHECKPOINT


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def celltypist_run(train, test) -> tuple[list[str], float]:
    import celltypist

    def run():
        # pbmc68k_reduced is log-normalised, but not to 10,000 counts per cell: skip that check
        model = celltypist.train(train, labels="cell_type_ontology_term_id", feature_selection=False, n_jobs=1, use_SGD=False, check_expression=False)
        return list(celltypist.annotate(test, model=model).predicted_labels["predicted_labels"].astype(str))

    return timed(run)


METHODS = ("CellTypist 1.7.1 (trained here)", "logistic regression (765 genes)", "kNN (k=15) on 30 PCs", "Cell2Text text", "Cell2Text auxiliary head")
METRICS = ("accuracy", "macro_f1", "mean_ppr_similarity", "mean_paper_ppr_score")


def run_seed(adata, path) -> tuple[list[dict], dict, float]:
    """Every method on one checkpoint's split (its ``split.json``): rows in ``METHODS`` order, Cell2Text's full result,
    the checkpoint's load time."""
    split = json.loads((path / "split.json").read_text())
    train_data, test_data = adata[split["train"]].copy(), adata[split["test"]].copy()
    truth = test_data.obs["cell_type_ontology_term_id"].astype(str).tolist()
    y_train = train_data.obs["cell_type_ontology_term_id"].astype(str).to_numpy()
    X_train = train_data.X.toarray()
    X_test = test_data.X.toarray()
    rows = []

    predicted, seconds = celltypist_run(train_data, test_data)
    rows.append({"method": METHODS[0], "seconds": seconds} | label_scores(predicted, truth))

    logistic, seconds = timed(lambda: LogisticRegression(max_iter=2000, C=1.0).fit(X_train, y_train).predict(X_test))
    rows.append({"method": METHODS[1], "seconds": seconds} | label_scores(list(logistic), truth))

    def knn():
        sc.pp.pca(train_data, n_comps=30, random_state=0)
        projected = (X_test - X_train.mean(0)) @ train_data.varm["PCs"]
        return KNeighborsClassifier(n_neighbors=15).fit(train_data.obsm["X_pca"], y_train).predict(projected)

    neighbours, seconds = timed(knn)
    rows.append({"method": METHODS[2], "seconds": seconds} | label_scores(list(neighbours), truth))

    model, load_s = timed(lambda: Cell2Text.from_pretrained(path))
    recipe = json.loads((path / "train.json").read_text())
    result, seconds = timed(lambda: evaluate_model(model, test_data, truth, recipe))
    rows.append({"method": METHODS[3], "seconds": seconds, **{k: result[k] for k in METRICS}})
    rows.append({"method": METHODS[4], "seconds": float("nan")} | label_scores(result["head_predicted"], truth))
    result["n_train"], result["n_test"], result["truth"] = len(split["train"]), len(truth), truth
    return rows, result, load_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="retrain the shipped checkpoint first, and train missing seed checkpoints")
    parser.add_argument(
        "--runs",
        type=Path,
        default=Path("runs/cross_dataset_cells"),
        help="where the seed-1 and seed-2 checkpoints are (shared with cross_dataset_cells.py)",
    )
    args = parser.parse_args()
    if args.train:
        from cell2text.model.train import TrainConfig, train

        train(TrainConfig(out=str(SHIPPED_CHECKPOINT)))
    adata = load_demo()
    per_seed = {}
    for seed in SEEDS:
        per_seed[seed] = run_seed(adata, checkpoint(seed, args.runs, args.train))
        for row in per_seed[seed][0]:
            print(seed, row)
    rows = []
    for i, method in enumerate(METHODS):
        values = {k: [per_seed[seed][0][i][k] for seed in SEEDS] for k in (*METRICS, "seconds")}
        rows.append(
            {
                "method": method,
                **{f"{k}_mean": statistics.mean(v) for k, v in values.items()},
                **{f"{k}_sd": statistics.stdev(v) for k, v in values.items() if k != "seconds"},
            }
        )
    _, result, load_s = per_seed[0]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "seeds": list(SEEDS),
        "n_train": result["n_train"],
        "n_test": result["n_test"],
        "rows": rows,
        "per_seed": {seed: per_seed[seed][0] for seed in SEEDS},
        "cell2text_seed0": {k: v for k, v in result.items() if k not in ("texts", "predicted", "head_predicted", "truth")},
        "load_s": load_s,
        "peak_rss_mb": peak_mb,
        "examples": list(zip(result["truth"][:10], result["texts"][:10])),
    }
    celltypist, text = rows[0], rows[3]
    goal_f1 = text["macro_f1_mean"] >= celltypist["macro_f1_mean"]
    goal_ppr = text["mean_ppr_similarity_mean"] >= 0.95
    lines = [
        "# Cell-type annotation on the demo dataset (pbmc68k_reduced, held-out 20%), seeds 0, 1, 2",
        "",
        f"Machine: {report['machine']}. Date: {report['date']}. Per seed: the checkpoint of that seed (seed 0 is the shipped one)"
        f" and its own stratified split ({report['n_train']} train / {report['n_test']} test cells); every peer trained on the"
        " same training cells. Mean ± sd over the three seeds; time is the mean.",
        "",
        "| method | accuracy | macro-F1 | mean PPR similarity | paper PPR score | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['accuracy_mean']:.3f} ± {r['accuracy_sd']:.3f} | {r['macro_f1_mean']:.3f} ± {r['macro_f1_sd']:.3f}"
            f" | {r['mean_ppr_similarity_mean']:.3f} ± {r['mean_ppr_similarity_sd']:.3f}"
            f" | {r['mean_paper_ppr_score_mean']:.2f} ± {r['mean_paper_ppr_score_sd']:.2f} | {r['seconds_mean']:.1f} |"
        )
    c = report["cell2text_seed0"]
    lines += [
        "",
        f"Goals: text macro-F1 >= CellTypist: **{'met' if goal_f1 else 'not met'}** ({text['macro_f1_mean']:.4f} vs "
        f"{celltypist['macro_f1_mean']:.4f}, means over seeds); mean PPR similarity >= 0.95: **{'met' if goal_ppr else 'not met'}** "
        f"({text['mean_ppr_similarity_mean']:.3f}).",
        f"Cell2Text text, seed 0 (the shipped checkpoint): named a CL term in {c['named_a_term']:.0%} of cells; grades {c['grades']};"
        f" pathway Jaccard {c['pathway_jaccard']:.3f}; against the reference text BLEU {c['bleu']:.1f}, ROUGE-L {c['rouge_l']:.3f}, "
        f"MiniLM cosine {c['embedding_similarity']:.3f}. Speed: {c['generate_cells_per_s']:.1f} cells/s, {c['generate_tokens_per_s']:.0f} new "
        f"tokens/s (greedy, batch 32, CPU); head {c['head_cells_per_s']:.0f} cells/s, expected calibration error "
        f"{c['head_ece']:.3f} (temperature {c['head_temperature']:.2f}); checkpoint load {load_s:.1f} s; "
        f"peak memory {peak_mb:.0f} MB.",
        "",
        "Per seed (text / head macro-F1; CellTypist macro-F1): "
        + "; ".join(
            f"seed {seed}: {per_seed[seed][0][3]['macro_f1']:.3f} / {per_seed[seed][0][4]['macro_f1']:.3f}; {per_seed[seed][0][0]['macro_f1']:.3f}"
            for seed in SEEDS
        )
        + ".",
    ]
    write_results("annotation", report, lines)


if __name__ == "__main__":
    main()
