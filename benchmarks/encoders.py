"""Which expression encoder? Stage 1 alone (encoder + classification head) on the demo split, seeds 0-2.

The same ``fit_head`` loop and encoder classes as ``cell2text train`` (600 steps of 32, AdamW 1e-3),
on the shipped checkpoint's split: the one-hidden-layer MLP over log-expression, and the gene-token
transformer (2 layers, d 256, rank-value encoding, top 64 genes; top 256 takes ~8 min a seed on
2 cores and scored lower in FINDINGS). Mean and spread over three seeds. Writes ``benchmarks/results/encoders.md``.

    .venv/bin/python benchmarks/encoders.py
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch
from _common import machine, write_results
from sklearn.metrics import accuracy_score, f1_score

from cell2text.data.demo import load_demo
from cell2text.model.cells import ChunkBatches, label_codes
from cell2text.model.config import Cell2TextConfig
from cell2text.model.encoder import build_encoder
from cell2text.model.paths import SHIPPED_CHECKPOINT
from cell2text.model.tokenizer import GeneTokenizer
from cell2text.model.train import EncoderClassifier, TrainConfig, fit_head

VARIANTS = {"MLP, log-expression (default)": {"encoder": "mlp"}, "transformer, top 64 genes by rank": {"encoder": "transformer", "top_k_genes": 64}}


def main() -> None:
    adata = load_demo()
    split = json.loads((SHIPPED_CHECKPOINT / "split.json").read_text())
    position = {name: i for i, name in enumerate(adata.obs_names)}
    train_pos = np.array([position[n] for n in split["train"]])
    test_pos = np.array([position[n] for n in split["test"]])
    ids = adata.obs["cell_type_ontology_term_id"].astype(str).to_numpy()
    labels = sorted(set(ids))
    codes = {"cell_type": label_codes(ids, labels)}
    genes = GeneTokenizer.fit(adata[train_pos])
    dense_np = genes.dense(adata)
    rows = []
    for name, options in VARIANTS.items():
        config = Cell2TextConfig(**options)
        dense = torch.from_numpy(dense_np)
        tokens = torch.from_numpy(genes.encode(dense_np, config.top_k_genes))
        scores, seconds = [], []
        for seed in (0, 1, 2):
            torch.manual_seed(seed)
            heads = torch.nn.ModuleDict({"cell_type": torch.nn.Linear(config.d_encoder, len(labels))})
            model = EncoderClassifier(build_encoder(config, len(genes)), heads)
            batches = ChunkBatches([(0, len(dense))], train_pos, lambda a, b, dense=dense, tokens=tokens: (dense[a:b], tokens[a:b]), seed)
            start = time.perf_counter()
            fit_head(model, batches, codes, TrainConfig(out=""), np.random.default_rng(seed), progress=False)
            seconds.append(time.perf_counter() - start)
            model.eval()
            with torch.no_grad():
                predicted = model(dense[test_pos], tokens[test_pos])["cell_type"].argmax(1).numpy()
            truth = codes["cell_type"][test_pos]
            scores.append((accuracy_score(truth, predicted), f1_score(truth, predicted, average="macro")))
        accuracy, macro = np.array(scores).T
        rows.append(
            {
                "encoder": name,
                "accuracy_mean": float(accuracy.mean()),
                "accuracy_sd": float(accuracy.std()),
                "macro_f1_mean": float(macro.mean()),
                "macro_f1_sd": float(macro.std()),
                "train_s": float(np.mean(seconds)),
            }
        )
        print(rows[-1])
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "rows": rows}
    lines = [
        "# Expression encoders alone (stage 1: encoder + head) on the demo split",
        "",
        f"Machine: {report['machine']}. Date: {report['date']}. 560 train / 140 test cells; 600 steps of 32; seeds 0, 1, 2.",
        "",
        "| encoder | accuracy (mean ± sd) | macro-F1 (mean ± sd) | train time |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['encoder']} | {r['accuracy_mean']:.3f} ± {r['accuracy_sd']:.3f} | "
            f"{r['macro_f1_mean']:.3f} ± {r['macro_f1_sd']:.3f} | {r['train_s']:.1f} s |"
        )
    write_results("encoders", report, lines)


if __name__ == "__main__":
    main()
