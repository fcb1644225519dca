"""Devices: every tensor created where it is used, no host copies while decoding, and (on a GPU) the CUDA paths.

On the CPU, "created where it is used" is checked with the default device set to ``meta``: any
tensor created without an explicit device lands there, and mixing it with the model's CPU tensors
fails just as a CPU tensor mixed with CUDA ones did (the ``fit_temperature`` crash on an H100).
Tests marked ``gpu`` need CUDA and are skipped without it.
"""

from __future__ import annotations

import functools
import random
from contextlib import contextmanager
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from cell2text.model.constrained import NameTrie, OntologyConstraint, Span
from cell2text.model.lm import token_ids
from cell2text.model.model import Cell2Text
from cell2text.model.paths import SHIPPED_CHECKPOINT
from cell2text.model.targets import TRIGGER
from cell2text.model.train import fit_temperature

gpu = pytest.mark.gpu


@contextmanager
def default_device(device: str):
    """Tensors created without a device go to ``device`` for the duration."""
    torch.set_default_device(device)
    try:
        yield
    finally:
        torch.set_default_device(None)


class HostCopies(TorchFunctionMode):
    """Records every call that copies tensor data to the host (a device sync on a GPU)."""

    NAMES: ClassVar[set[str]] = {
        "tolist",
        "item",
        "__bool__",
        "cpu",
        "numpy",
        "__int__",
        "__float__",
        "__index__",
        "nonzero",
        "masked_select",
        "unique",
    }

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        boolean_index = name == "__getitem__" and isinstance(args[1], torch.Tensor) and args[1].dtype == torch.bool
        if name in self.NAMES or boolean_index:
            self.calls.append(name)
        return func(*args, **(kwargs or {}))


def overconfident(n: int = 400, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    y = torch.from_numpy(rng.integers(0, 4, n))
    logits = torch.from_numpy(rng.standard_normal((n, 4)).astype(np.float32))
    logits[torch.arange(n), y] += 1.5  # right about 70% of the time ...
    return (logits * 6).to(device), y.to(device)  # ... with near-certain confidence


def test_temperature_fit_runs_on_the_logits_device():
    """The crash at the end of stage 1 on CUDA: the temperature was created on the default device."""
    logits, y = overconfident()
    with default_device("meta"):
        temperature = fit_temperature(logits, y)
    assert temperature > 2


@pytest.fixture(scope="module")
def shipped():
    return Cell2Text.from_pretrained(SHIPPED_CHECKPOINT)


def test_model_creates_its_tensors_where_it_uses_them(shipped, demo):
    """Loss, heads and constrained generation with the default device elsewhere: nothing lands there."""
    dense, tokens = shipped.cell_inputs(demo[:3])
    with default_device("meta"):
        _, loss = shipped(dense, tokens, targets=["This sample consists of a B cell."] * 3)
        heads = shipped.head_probabilities(dense, tokens)
        texts = shipped.generate(dense, tokens, max_new_tokens=8)
    assert loss.device.type == "cpu" and torch.isfinite(loss)
    assert heads["cell_type"].shape == (3, 10)
    assert all(t.startswith("This sample consists of a") for t in texts)


def test_constraint_copies_nothing_to_the_host(shipped):
    """Decoding steps stay on the device: no .tolist()/.item()/boolean indexing per token."""
    trie = shipped.constraint().trie
    prefix = shipped.text_tokenizer("This sample consists of a", add_special_tokens=False).input_ids
    ids = torch.tensor([prefix, prefix])
    processor = OntologyConstraint(trie)
    processor(ids[:, :-1], torch.zeros(2, len(shipped.text_tokenizer)))  # the first call may replay
    with HostCopies() as mode:
        for _ in range(3):
            scores = processor(ids, torch.zeros(2, len(shipped.text_tokenizer)))
            ids = torch.cat([ids, scores.argmax(1, keepdim=True)], 1)
    assert mode.calls == []


def _reference_allowed(sequence: list[int], trigger: list[int], names: list[list[int]], enders: list[int]) -> list[int] | None:
    """The constraint as first written (a walk over the whole sequence per step, on the host), kept as the reference."""
    n = len(trigger)
    starts = [i + n for i in range(len(sequence) - n + 1) if sequence[i : i + n] == trigger]
    if not starts:
        return None
    root: dict = {}
    for name in names:
        node = root
        for token in name:
            node = node.setdefault(token, {})
        node[-1] = {}
    node = root
    for token in sequence[starts[-1] :]:
        if token not in node:
            return None
        node = node[token]
    allowed = [t for t in node if t != -1]
    return allowed + enders if -1 in node else allowed


def test_constraint_matches_the_reference_walk(shipped):
    """On random mixtures of trigger, names (whole and cut), enders and other tokens, the on-device state
    machine allows exactly what the host walk allows, step by step and when replaying from scratch."""
    tokenizer = shipped.text_tokenizer
    encode = functools.partial(token_ids, tokenizer)
    names = ["B cell", "B cell, CD19-positive", "T cell", "natural killer cell", "CD4-positive, alpha-beta T cell"]
    trie = NameTrie(tokenizer, [Span(TRIGGER, names)])
    reference = {"trigger": encode(TRIGGER), "names": [encode(" " + n) for n in names], "enders": [encode(".")[0], encode(",")[0]]}
    pieces = [encode(TRIGGER)] + [encode(" " + n) for n in names] + [encode("."), encode(","), encode(" hello"), encode(" cell")]
    rng, vocabulary = random.Random(0), len(tokenizer)
    for _ in range(40):
        rows = []
        for _ in range(3):
            row: list[int] = []
            for _ in range(rng.randint(0, 6)):
                piece = rng.choice(pieces)
                row += piece[: rng.randint(1, len(piece))] if rng.random() < 0.3 else piece
            rows.append(row)
        length = max(map(len, rows))
        rows = [[rng.randrange(vocabulary)] * (length - len(r)) + r for r in rows]
        ids = torch.tensor(rows)
        stepwise = OntologyConstraint(trie)
        for t in range(length + 1):
            for scores, fresh in (
                (stepwise(ids[:, :t], torch.zeros(3, vocabulary)), False),
                (OntologyConstraint(trie)(ids[:, :t], torch.zeros(3, vocabulary)), True),
            ):
                for row in range(3):
                    expected = _reference_allowed(rows[row][:t], **reference)
                    allowed = torch.isfinite(scores[row]).nonzero().ravel().tolist()
                    assert allowed == (sorted(set(expected)) if expected else list(range(vocabulary))), (t, row, fresh)


def test_fields_are_constrained_after_their_trigger(shipped):
    tokenizer = shipped.text_tokenizer
    trie = NameTrie(tokenizer, [Span(TRIGGER, ["B cell"]), Span(" Tissue:", ["blood", "lung"], (".",))])
    ids = torch.tensor([tokenizer("This sample consists of a B cell. Tissue:", add_special_tokens=False).input_ids])
    allowed = torch.isfinite(OntologyConstraint(trie)(ids, torch.zeros(1, len(tokenizer)))[0]).nonzero().ravel().tolist()
    assert allowed == sorted({tokenizer(" " + n, add_special_tokens=False).input_ids[0] for n in ("blood", "lung")})


def test_generation_batch_follows_the_device(shipped):
    assert shipped.generation_batch_size(140) == 32  # the CPU setting the shipped metrics were measured with


# ---------------------------------------------------------------------------- on a GPU
@gpu
def test_temperature_fit_on_cuda():
    logits, y = overconfident(device="cuda")
    assert fit_temperature(logits, y) > 2


@gpu
def test_cuda_generation_batches_and_syncs(demo):
    model = Cell2Text.from_pretrained(SHIPPED_CHECKPOINT, device="cuda")
    assert model.generation_batch_size(140) == 140  # all cells in one batch when memory allows
    dense, tokens = model.cell_inputs(demo[:140])
    cpu = Cell2Text.from_pretrained(SHIPPED_CHECKPOINT, device="cpu")
    ids = torch.tensor([model.text_tokenizer("This sample consists of a", add_special_tokens=False).input_ids] * 4, device="cuda")
    processor = model.constraint()
    processor(ids[:, :-1], torch.zeros(4, len(model.text_tokenizer), device="cuda"))
    torch.cuda.set_sync_debug_mode("error")  # any device-to-host sync raises
    try:
        processor(ids, torch.zeros(4, len(model.text_tokenizer), device="cuda"))
    finally:
        torch.cuda.set_sync_debug_mode(0)
    same = sum(a == b for a, b in zip(model.generate(dense, tokens), cpu.generate(dense, tokens)))
    assert same >= 0.95 * 140  # TF32 may flip a near-tie; the cell type is read the same
