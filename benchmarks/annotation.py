"""Cell-type annotation on the demo dataset: Cell2Text (text and head) vs CellTypist, logistic regression, kNN.

Same held-out split for everyone: the checkpoint's ``split.json`` (stratified 80/20 by label,
seed 0: 560 train / 140 test cells of pbmc68k_reduced), same machine, one run. The peers train
on the training cells here; Cell2Text is the shipped checkpoint (``--train`` retrains it first
with the README's command). Metrics: accuracy, macro-F1, mean PageRank similarity (ours, [0, 1])
and the paper's PPR score (1 to ~13) between predicted and true CL ids; for Cell2Text also the
popV-style grades, pathway Jaccard, cells/s and new tokens/s, and peak memory.

    .venv/bin/pip install -e ".[bench]"      # celltypist 1.7.1 with scikit-learn<1.8
    .venv/bin/python benchmarks/annotation.py [--train]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import scanpy as sc
from _common import machine, write_results
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from cell2text.data.demo import load_demo
from cell2text.model.evaluate import evaluate_model, label_scores
from cell2text.model.model import SHIPPED_CHECKPOINT, Cell2Text


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def celltypist_run(train, test) -> tuple[list[str], float]:
    import celltypist

    def run():
        # pbmc68k_reduced is log-normalised, but not to 10,000 counts per cell: skip that check
        model = celltypist.train(train, labels="cell_type_ontology_term_id", feature_selection=False, n_jobs=1,
                                 use_SGD=False, check_expression=False)
        return list(celltypist.annotate(test, model=model).predicted_labels["predicted_labels"].astype(str))

    return timed(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="retrain the Cell2Text checkpoint first")
    args = parser.parse_args()
    if args.train:
        from cell2text.model.train import TrainConfig, train

        train(TrainConfig(out=str(SHIPPED_CHECKPOINT)))
    adata = load_demo()
    split = json.loads((SHIPPED_CHECKPOINT / "split.json").read_text())
    train_data, test_data = adata[split["train"]].copy(), adata[split["test"]].copy()
    truth = test_data.obs["cell_type_ontology_term_id"].astype(str).tolist()
    y_train = train_data.obs["cell_type_ontology_term_id"].astype(str).to_numpy()
    X_train = train_data.X.toarray()
    X_test = test_data.X.toarray()
    rows = []

    predicted, seconds = celltypist_run(train_data, test_data)
    rows.append({"method": "CellTypist 1.7.1 (trained here)", "seconds": seconds} | label_scores(predicted, truth))

    logistic, seconds = timed(lambda: LogisticRegression(max_iter=2000, C=1.0).fit(X_train, y_train).predict(X_test))
    rows.append({"method": "logistic regression (765 genes)", "seconds": seconds} | label_scores(list(logistic), truth))

    def knn():
        sc.pp.pca(train_data, n_comps=30, random_state=0)
        projected = (X_test - X_train.mean(0)) @ train_data.varm["PCs"]
        return KNeighborsClassifier(n_neighbors=15).fit(train_data.obsm["X_pca"], y_train).predict(projected)

    neighbours, seconds = timed(knn)
    rows.append({"method": "kNN (k=15) on 30 PCs", "seconds": seconds} | label_scores(list(neighbours), truth))

    model, load_s = timed(lambda: Cell2Text.from_pretrained(SHIPPED_CHECKPOINT))
    recipe = json.loads((SHIPPED_CHECKPOINT / "train.json").read_text())
    result, seconds = timed(lambda: evaluate_model(model, test_data, truth, recipe))
    rows.append({"method": "Cell2Text text (shipped checkpoint)", "seconds": seconds,
                 **{k: result[k] for k in ("accuracy", "macro_f1", "mean_ppr_similarity", "mean_paper_ppr_score")}})
    rows.append({"method": "Cell2Text auxiliary head", "seconds": float("nan")} | label_scores(result["head_predicted"], truth))
    for row in rows:
        print(row)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "n_train": len(split["train"]), "n_test": len(truth),
              "rows": rows, "cell2text": {k: v for k, v in result.items() if k not in ("texts", "predicted", "head_predicted")},
              "load_s": load_s, "peak_rss_mb": peak_mb, "examples": list(zip(truth[:10], result["texts"][:10]))}
    celltypist = rows[0]
    text = rows[3]
    goal_f1 = text["macro_f1"] >= celltypist["macro_f1"]
    goal_ppr = text["mean_ppr_similarity"] >= 0.95
    lines = [
        "# Cell-type annotation on the demo dataset (pbmc68k_reduced, held-out 20%)",
        "",
        f"Machine: {report['machine']}. Date: {report['date']}. Train {report['n_train']} / test {report['n_test']} cells "
        "(stratified, seed 0; the checkpoint's split.json).",
        "",
        "| method | accuracy | macro-F1 | mean PPR similarity | paper PPR score | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['method']} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {r['mean_ppr_similarity']:.3f} "
                     f"| {r['mean_paper_ppr_score']:.2f} | {r['seconds']:.1f} |")
    c = report["cell2text"]
    lines += [
        "",
        f"Goals: text macro-F1 >= CellTypist: **{'met' if goal_f1 else 'not met'}** ({text['macro_f1']:.3f} vs "
        f"{celltypist['macro_f1']:.3f}); mean PPR similarity >= 0.95: **{'met' if goal_ppr else 'not met'}** "
        f"({text['mean_ppr_similarity']:.3f}).",
        f"Cell2Text text: named a CL term in {c['named_a_term']:.0%} of cells; grades {c['grades']}; pathway Jaccard "
        f"{c['pathway_jaccard']:.3f}; against the reference text BLEU {c['bleu']:.1f}, ROUGE-L {c['rouge_l']:.3f}, "
        f"MiniLM cosine {c['embedding_similarity']:.3f}. Speed: {c['generate_cells_per_s']:.1f} cells/s, {c['generate_tokens_per_s']:.0f} new "
        f"tokens/s (greedy, batch 32, CPU); head {c['head_cells_per_s']:.0f} cells/s, expected calibration error "
        f"{c['head_ece']:.3f} (temperature {c['head_temperature']:.2f}); checkpoint load {load_s:.1f} s; "
        f"peak memory {peak_mb:.0f} MB.",
    ]
    write_results("annotation", report, lines)


if __name__ == "__main__":
    main()
