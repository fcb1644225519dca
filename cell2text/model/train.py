"""Train Cell2Text in two stages, LLaVA-style: first the expression side, then the language side.

Stage 1: encoder + classification heads (cell type; with CELLxGENE data also tissue, disease,
development stage, sex, assay) with cross-entropy, so the cell embedding carries the labels before
any text is involved. Stage 2: encoder and heads frozen; projector and LoRA adapters learn to turn
the embedding into the templated description (LM loss on the answer tokens only). A one-stage
recipe that trained everything together reached 0.63 text accuracy against 0.84 for two stages
(FINDINGS), hence this order.

    cell2text train --out runs/demo                                 # the shipped checkpoint's recipe
    torchrun --nproc_per_node 2 -m cell2text train --out runs/ddp  # data-parallel (gloo on CPU, nccl on GPU)
    cell2text train --data a.h5ad b.h5ad --out runs/atlas --stage2-steps 3000 \\
        --lm-path /models/Llama-3.2-1B-Instruct                      # CELLxGENE-schema files, streamed

Cells come from ``cells.py``: the demo or one file in memory, or CELLxGENE-schema files opened
backed and read a chunk at a time, the chunks in shuffled order (``ChunkBatches``); the split holds
out whole donors or files. An interrupted run continues from its last snapshot (every 25 stage-2
steps, beside ``--out``) when started again with the same ``--out``, and ends exactly as an
uninterrupted run would (CPU and CUDA random states included). Under torchrun every process joins
the group (its own GPU with ``set_device``), draws its own batches, and trains through
``DistributedDataParallel`` (bucketed gradient all-reduce); rank 0 writes the checkpoint and the
group is shut down on the way out, error or not. Everything is seeded; the split is saved with the
checkpoint (``split.json``) so evaluation uses the same held-out cells, and a model card
(``MODEL_CARD.md``, ``model_card.json``) describes what the checkpoint was trained on.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import torch
import torch.distributed as dist
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from cell2text.files import atomic_path
from cell2text.model.cells import (
    IGNORE,
    CellData,
    ChunkBatches,
    label_codes,
    open_cells,
    sample_positions,
    split_cells,
    split_data,
)
from cell2text.model.config import Cell2TextConfig
from cell2text.model.encoder import pool
from cell2text.model.lm import load_lm
from cell2text.model.model import Cell2Text, resolve_device
from cell2text.model.targets import describe_fields, describe_target
from cell2text.model.tokenizer import GeneTokenizer


@dataclass
class TrainConfig:
    out: str  # checkpoint folder to write
    data: list[str] = field(default_factory=list)  # .h5ad files: CELLxGENE-schema files (any number), or one file of any kind; empty = the demo
    label_key: str = "cell_type"  # one non-schema file: obs column of cell types (CL labels, CURIEs, or names the standardiser maps)
    tissue_key: str | None = "tissue"  # one non-schema file: obs column of tissues, if present
    disease_key: str | None = "disease"  # one non-schema file: obs column of diseases, if present
    donor_key: str | None = None  # one non-schema file: obs column of donors (donor-disjoint split); CELLxGENE: donor_id
    seed: int = 0
    test_size: float = 0.2
    stage1_steps: int = 600
    stage1_batch: int = 32
    stage1_lr: float = 1e-3
    stage2_steps: int = 150
    stage2_batch: int = 8
    projector_lr: float = 1e-3
    lora_lr: float = 1e-3
    warmup_steps: int = 10
    n_pathways: int = 2  # top pathways (Hallmark, per label, on training cells) in each target
    calibration_fraction: float = 0.1  # training cells held out of stage 1 to fit the heads' temperatures
    chunk_cells: int = 4096  # cells read and held at a time (the demo's 700 fit one chunk)
    backed: bool = True  # open CELLxGENE files backed (streamed); False reads them whole (same batches)
    snapshot_every: int = 25  # stage-2 steps between resumable snapshots ({out}.resume-rank{r}.pt); 0 = none
    resume: bool = True  # continue from a snapshot of an interrupted run with the same out
    model: Cell2TextConfig = field(default_factory=Cell2TextConfig)

    def __post_init__(self) -> None:
        if isinstance(self.data, (str, Path)):  # one path, as earlier versions took it
            self.data = [str(self.data)]
        self.data = [str(p) for p in self.data or []]


@contextmanager
def process_group() -> Iterator[tuple[int, int]]:
    """``(rank, world size)``; under torchrun, joins the process group (nccl on CUDA, after ``set_device``
    to this process's GPU; gloo on CPU) and leaves it on exit, also on error."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        yield 0, 1
        return
    cuda = resolve_device().type == "cuda"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield dist.get_rank(), world
    finally:
        dist.destroy_process_group()


def parallel(module: torch.nn.Module, world: int) -> torch.nn.Module:
    """``module`` wrapped for data-parallel training when there are several processes (gradients averaged
    in buckets during backward), else itself. Buffers are not re-broadcast every step: none is trained."""
    if world == 1:
        return module
    device = next(module.parameters()).device
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None, broadcast_buffers=False)


class EncoderClassifier(torch.nn.Module):
    """Encoder + heads (what stage 1 trains): logits of every head, by field."""

    def __init__(self, encoder: torch.nn.Module, heads: torch.nn.ModuleDict) -> None:
        super().__init__()
        self.encoder, self.heads = encoder, heads

    def forward(self, dense: torch.Tensor, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = pool(self.encoder(dense, tokens), tokens)  # (B, d_encoder)
        return {name: head(pooled) for name, head in self.heads.items()}  # each (B, n_labels)


def head_loss(logits: dict[str, torch.Tensor], y: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of the cell-type head plus each field head's over the cells whose label is known."""
    loss = F.cross_entropy(logits["cell_type"], y["cell_type"])  # every training cell has a cell type
    for name in logits:
        if name != "cell_type":
            known = (y[name] != IGNORE).sum().clamp(min=1)  # no host sync: a batch may know none
            loss = loss + F.cross_entropy(logits[name], y[name], ignore_index=IGNORE, reduction="sum") / known
    return loss


def fit_head(
    classifier: EncoderClassifier,
    batches: ChunkBatches,
    codes: dict[str, np.ndarray],
    config: TrainConfig,
    rng: np.random.Generator,
    world: int = 1,
    progress: bool = True,
) -> list[torch.nn.Parameter]:
    """Stage 1: train the encoder and heads with cross-entropy on batches drawn by ``batches``; returns their parameters.

    ``codes``: head index of every cell's label per field (``IGNORE`` where unknown).
    """
    classifier.train()
    parameters = list(classifier.parameters())
    optimiser = torch.optim.AdamW(parameters, lr=config.stage1_lr, weight_decay=0.01)
    step = parallel(classifier, world)
    for _ in tqdm(range(config.stage1_steps), desc="stage 1: encoder + heads", disable=not progress):
        batch, dense, tokens = batches.draw(rng, config.stage1_batch)
        y = {name: torch.from_numpy(codes[name][batch]).to(dense.device) for name in classifier.heads}
        loss = head_loss(step(dense, tokens), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return parameters


def fit_temperature(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The temperature minimising the head's negative log-likelihood on held-out cells (Guo et al. 2017).

    The temperature lives on the logits' device (a GPU run crashed when it was created on the CPU).
    """
    log_t = torch.zeros(1, requires_grad=True, device=logits.device)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def nll() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    optimiser.step(nll)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def train(config: TrainConfig, *, adata: ad.AnnData | None = None, progress: bool = True) -> Path:
    """Train and save a checkpoint (with its model card) to ``config.out``; returns its path.

    ``adata``: train on this in-memory AnnData instead of ``config.data`` (labels from ``label_key``).
    """
    # before joining the process group: transformers saves only on rank 0 once torch.distributed is
    # up, which would leave other ranks' first-time copy of the bundled LM incomplete
    lm, text_tokenizer = load_lm(config.model.lm_path)
    with process_group() as (rank, world):
        return _train(config, adata, lm, text_tokenizer, rank, world, progress and rank == 0)


def _train(config: TrainConfig, adata: ad.AnnData | None, lm, text_tokenizer, rank: int, world: int, progress: bool) -> Path:
    from cell2text.tools.enrichment import score_pathways, top_pathways

    started = time.perf_counter()
    rng = random.Random(config.seed + rank)  # target phrasings
    batches = np.random.default_rng(config.seed + rank)  # each process its own batches
    torch.manual_seed(config.seed)  # the same initial weights in every process
    data = open_cells(
        config.data,
        label_key=config.label_key,
        tissue_key=config.tissue_key,
        disease_key=config.disease_key,
        donor_key=config.donor_key,
        adata=adata,
        backed=config.backed,
    )
    cell_ids = data.labels["cell_type"]
    train_pos, test_pos = split_data(data, config.test_size, config.seed)

    # ---- the training cells' labels per field, and a sample of them for gene medians and pathways
    vocabulary = {name: sorted(set(data.labels[name][train_pos]) - {""}) for name in data.labels}
    names = {name: {t: data.vocabulary[name][t] for t in ids} for name, ids in vocabulary.items()}
    codes = {name: label_codes(data.labels[name], ids) for name, ids in vocabulary.items()}
    sampled = sample_positions(train_pos, config.seed)
    sample = data.read(sampled).copy()
    sample.obs["_label"] = cell_ids[sampled]
    symbolic = sample.copy()
    if data.schema:
        symbolic.var_names = sample.var["feature_name"].astype(str)
    score_pathways(symbolic)
    pathways = top_pathways(symbolic, "_label", n=config.n_pathways)

    def target(position: int) -> str:
        return _target(data, names, pathways, position, rng)

    # ---- model
    model_config = config.model
    model_config.labels, model_config.label_names = vocabulary["cell_type"], list(names["cell_type"].values())
    model_config.fields = {f: labels for f, labels in names.items() if f != "cell_type" and labels}
    if data.schema:  # room for every field's sentence (measured on a sample of targets, apart from the phrasing RNG)
        probe = random.Random(0)
        longest = max(len(text_tokenizer(_target(data, names, pathways, p, probe)).input_ids) for p in sample_positions(train_pos, config.seed, 1000))
        model_config.max_new_tokens = max(model_config.max_new_tokens, longest + 8)
    device = resolve_device()
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    model = Cell2Text(model_config, GeneTokenizer.fit(sample), lm, text_tokenizer).to(device)
    del sample, symbolic

    def load(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        dense, tokens = model.cell_inputs(data.read(np.arange(start, stop)))
        return dense.to(device), tokens.to(device)

    bounds = data.chunks(config.chunk_cells)
    classifier = EncoderClassifier(model.encoder, model.heads())

    # ---- stage 1: encoder + heads, then their temperatures on held-out training cells
    # (skipped when resuming: the snapshot holds its result)
    snapshot_file = Path(f"{config.out}.resume-rank{rank}.pt")
    snapshot = (
        torch.load(snapshot_file, weights_only=False, map_location="cpu")  # RNG states must stay CPU tensors
        if config.resume and snapshot_file.is_file()
        else None
    )
    if snapshot is None:
        fit_pos, calibration_pos = train_pos, None
        if config.calibration_fraction > 0:
            inner_fit, inner_calibration = split_cells(cell_ids[train_pos], None, config.calibration_fraction, config.seed)
            fit_pos, calibration_pos = train_pos[inner_fit], sample_positions(train_pos[inner_calibration], config.seed)
        stage1 = fit_head(classifier, ChunkBatches(bounds, fit_pos, load, config.seed + rank), codes, config, batches, world, progress)
        if calibration_pos is not None:
            model.config.head_temperature, model.config.field_temperatures = _fit_temperatures(
                classifier, *model.cell_inputs(data.read(calibration_pos)), codes, calibration_pos
            )
    else:
        model.load_trainable_state(snapshot["weights"])
        stage1 = list(classifier.parameters())
    stage1_s = time.perf_counter() - started

    # ---- stage 2: projector + LoRA, encoder and heads frozen
    for parameter in stage1:
        parameter.requires_grad_(False)
    model.encoder.eval()
    lora = [p for n, p in model.lm.named_parameters() if "lora_" in n]
    optimiser = torch.optim.AdamW(
        [{"params": model.projector.parameters(), "lr": config.projector_lr}, {"params": lora, "lr": config.lora_lr}], weight_decay=0.0
    )
    scheduler = get_linear_schedule_with_warmup(optimiser, config.warmup_steps, config.stage2_steps)  # the paper's schedule
    sampler = ChunkBatches(bounds, train_pos, load, config.seed + rank)
    start = 0
    if snapshot is not None:
        optimiser.load_state_dict(snapshot["optimiser"])
        scheduler.load_state_dict(snapshot["scheduler"])
        batches.bit_generator.state = snapshot["batches"]
        rng.setstate(snapshot["phrasing"])
        torch.set_rng_state(snapshot["torch"])
        if device.type == "cuda" and snapshot.get("cuda") is not None:
            torch.cuda.set_rng_state(snapshot["cuda"], device)
        sampler.restore(snapshot["sampler"], config.stage2_batch)
        start = snapshot["step"]
    model.projector.train()
    model.lm.train()
    step_model = parallel(model, world)
    bar = tqdm(range(start, config.stage2_steps), desc="stage 2: projector + LoRA", disable=not progress, initial=start, total=config.stage2_steps)
    trainable = [p for group in optimiser.param_groups for p in group["params"]]
    for step in bar:
        batch, dense, tokens = sampler.draw(batches, config.stage2_batch)
        _, loss = step_model(dense, tokens, targets=[target(p) for p in batch])
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimiser.step()
        scheduler.step()
        if progress:
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if config.snapshot_every and (step + 1) % config.snapshot_every == 0 and step + 1 < config.stage2_steps:
            _save_snapshot(snapshot_file, step + 1, model, optimiser, scheduler, batches, rng, sampler)
    timing = {
        "stage1_s": stage1_s,
        "stage2_s": time.perf_counter() - started - stage1_s,
        "device": str(device),
        "stage2_last_loss": float(loss.item()) if config.stage2_steps > start else None,
    }

    out = Path(config.out)
    if rank == 0:
        model.save_pretrained(out)
        if data.schema:
            held_out = sorted(set(data.groups[test_pos]))
            split = {"by": data.split_by, "files": data.names, "test_groups": held_out, "n_train": len(train_pos), "n_test": len(test_pos)}
        else:
            split = {"train": data.obs_names(train_pos), "test": data.obs_names(test_pos)}
        (out / "split.json").write_text(json.dumps(split) + "\n")
        recipe = asdict(config) | {"model": None, "pathways": pathways, "n_train": len(train_pos), "n_test": len(test_pos), "processes": world}
        (out / "train.json").write_text(json.dumps(recipe, indent=2) + "\n")
        from cell2text.model.card import training_card, write_card

        held_out_metrics = _held_out_heads(model, data, test_pos, config)
        write_card(out, training_card(model, data, config, recipe, held_out_metrics, timing))
    snapshot_file.unlink(missing_ok=True)
    if world > 1:
        dist.barrier()
    return out


def _target(data: CellData, names: dict[str, dict[str, str]], pathways: dict[str, list[str]], position: int, rng: random.Random) -> str:
    """The description a training cell is taught: CELLxGENE fields in fixed sentences, or the demo's phrasings."""
    label_id = data.labels["cell_type"][position]
    if data.schema:
        known = {f: names[f][data.labels[f][position]] for f in names if f != "cell_type" and data.labels[f][position] in names[f]}
        return describe_fields(names["cell_type"][label_id], known, pathways.get(label_id, []), rng)
    tissue, disease = (data.context[k][position] if k in data.context else None for k in ("tissue", "disease"))
    return describe_target(names["cell_type"][label_id], tissue, disease, pathways.get(label_id, []), rng)


def _fit_temperatures(
    classifier: EncoderClassifier, dense: torch.Tensor, tokens: torch.Tensor, codes: dict[str, np.ndarray], positions: np.ndarray
) -> tuple[float, dict[str, float]]:
    """Each head's temperature on the calibration cells whose label it knows: (cell type, {field: temperature})."""
    classifier.eval()
    device = next(classifier.parameters()).device
    with torch.no_grad():
        logits = classifier(dense.to(device), tokens.to(device))
    temperatures = {}
    for name, values in logits.items():
        y = torch.from_numpy(codes[name][positions]).to(device)
        known = y != IGNORE
        temperatures[name] = fit_temperature(values[known], y[known]) if bool(known.any()) else 1.0
    return temperatures.pop("cell_type"), temperatures


def _held_out_heads(model: Cell2Text, data: CellData, test_pos: np.ndarray, config: TrainConfig) -> dict:
    """Accuracy and macro-F1 of every head on (up to 20,000 of) the held-out cells, for the model card."""
    from sklearn.metrics import accuracy_score, f1_score

    positions = sample_positions(test_pos, config.seed)
    predicted: dict[str, list[str]] = {}
    for start in range(0, len(positions), config.chunk_cells):
        chunk = positions[start : start + config.chunk_cells]
        for name, probabilities in model.head_probabilities(*model.cell_inputs(data.read(chunk))).items():
            labels = model.config.labels if name == "cell_type" else list(model.config.fields[name])
            predicted.setdefault(name, []).extend(labels[i] for i in probabilities.argmax(1))
    result = {}
    for name, guesses in predicted.items():
        truth = data.labels[name][positions]
        known = truth != ""
        truth, guesses = truth[known].astype(str), np.asarray(guesses)[known]
        result[name] = {
            "n": int(known.sum()),
            "accuracy": float(accuracy_score(truth, guesses)) if known.any() else None,
            "macro_f1": float(f1_score(truth, guesses, average="macro", labels=sorted(set(truth)), zero_division=0)) if known.any() else None,
        }
    return result


def _save_snapshot(
    path: Path, step: int, model: Cell2Text, optimiser, scheduler, batches: np.random.Generator, rng: random.Random, sampler: ChunkBatches
) -> None:
    """Everything stage 2 needs to continue exactly where it stopped (weights, optimiser, every RNG, the chunk draw)."""
    cuda = torch.cuda.get_rng_state(model.device) if model.device.type == "cuda" else None
    state = {
        "step": step,
        "weights": model.trainable_state(),
        "optimiser": optimiser.state_dict(),
        "scheduler": scheduler.state_dict(),
        "batches": batches.bit_generator.state,
        "phrasing": rng.getstate(),
        "torch": torch.get_rng_state(),
        "cuda": cuda,
        "sampler": sampler.state(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
