"""Data-parallel training under torchrun: 2 CPU processes (gloo).

* Stage 1 through ``DistributedDataParallel`` matches one process that averages the two ranks'
  gradients itself (same batches, dropout off): each rank's step uses both ranks' batches, and
  nothing else differs (a rank training on its own batches alone ends elsewhere).
* The whole ``cell2text train`` runs under torchrun, rank 0 alone writes and reports, the group
  shuts down cleanly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

SETUP = """
import numpy as np, torch
from cell2text.data.demo import load_demo
from cell2text.model.cells import ChunkBatches, label_codes
from cell2text.model.config import Cell2TextConfig
from cell2text.model.encoder import build_encoder
from cell2text.model.tokenizer import GeneTokenizer
from cell2text.model.train import EncoderClassifier, TrainConfig, fit_head, head_loss, process_group

STEPS = 15


def setup():
    adata = load_demo()
    genes = GeneTokenizer.fit(adata)
    dense = torch.from_numpy(genes.dense(adata))
    tokens = torch.from_numpy(genes.encode(genes.dense(adata), 64))
    ids = adata.obs["cell_type_ontology_term_id"].astype(str).to_numpy()
    codes = {"cell_type": label_codes(ids, sorted(set(ids)))}
    torch.manual_seed(0)
    config = Cell2TextConfig(dropout=0.0)
    heads = torch.nn.ModuleDict({"cell_type": torch.nn.Linear(config.d_encoder, 10)})
    return EncoderClassifier(build_encoder(config, len(genes)), heads), dense, tokens, codes
"""

RANK = (
    SETUP
    + """
import sys
classifier, dense, tokens, codes = setup()
with process_group() as (rank, world):
    batches = ChunkBatches([(0, len(dense))], np.arange(len(dense)), lambda a, b: (dense[a:b], tokens[a:b]), 0)
    fit_head(classifier, batches, codes, TrainConfig(out="", stage1_steps=STEPS), np.random.default_rng(rank), world, progress=False)
    if rank == 0:
        torch.save(classifier.state_dict(), sys.argv[1])
"""
)


def torchrun(*args: str) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc_per_node", "2", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_stage1_ddp_matches_averaged_gradients(tmp_path):
    script = tmp_path / "rank.py"
    script.write_text(RANK)
    proc = torchrun(str(script), str(tmp_path / "ddp.pt"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    ddp = torch.load(tmp_path / "ddp.pt")

    namespace: dict = {}
    exec(SETUP, namespace)  # the same model, data and steps, in this process
    classifier, dense, tokens, codes = namespace["setup"]()
    optimiser = torch.optim.AdamW(classifier.parameters(), lr=1e-3, weight_decay=0.01)
    draws = [np.random.default_rng(0), np.random.default_rng(1)]  # rank r draws with seed + r
    classifier.train()
    for _ in range(namespace["STEPS"]):
        optimiser.zero_grad()
        for draw in draws:
            batch = draw.choice(np.arange(len(dense)), 32)
            logits = classifier(dense[batch], tokens[batch])
            (namespace["head_loss"](logits, {"cell_type": torch.from_numpy(codes["cell_type"][batch])}) / len(draws)).backward()
        optimiser.step()
    reference = classifier.state_dict()
    assert set(ddp) == set(reference)
    for key in reference:
        torch.testing.assert_close(ddp[key], reference[key], rtol=0, atol=1e-5)
    untrained = namespace["setup"]()[0].state_dict()
    assert max(float((reference[k] - untrained[k]).abs().max()) for k in reference) > 1e-3  # training moved the weights


def test_torchrun_two_processes(tmp_path):
    out = tmp_path / "ddp"
    proc = torchrun("-m", "cell2text.cli", "train", "--out", str(out), "--stage1-steps", "10", "--stage2-steps", "2", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    payload = json.loads(proc.stdout[proc.stdout.index("{") :])  # rank 0 alone reports
    assert payload["checkpoint"] == str(out)
    assert proc.stdout.count('"checkpoint"') == 1
    assert json.loads((out / "train.json").read_text())["processes"] == 2
    assert (out / "weights.safetensors").is_file() and (out / "model_card.json").is_file()


def test_torchrun_bad_input_ends_every_rank(tmp_path):
    """An error inside training leaves the process group on the way out: both ranks end with the one-line error."""
    proc = torchrun("-m", "cell2text.cli", "train", "--out", str(tmp_path / "never"), "--label-key", "celltype")
    assert proc.returncode != 0 and not (tmp_path / "never").exists()
    assert proc.stderr.count("error: obs key 'celltype' not found") == 2  # torchrun then reports the failed ranks itself
