"""Cell2Text end to end with the real SmolLM2-135M on the real demo data: train, save, load, generate, evaluate."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cell2text.errors import InputError
from cell2text.model.constrained import NameTrie, OntologyConstraint, Span
from cell2text.model.evaluate import extract_cell_type, grade, score_texts
from cell2text.model.model import (
    PLACEHOLDER,
    Cell2Text,
    find_placeholder,
    pad_left,
    splice,
)
from cell2text.model.paths import SHIPPED_CHECKPOINT
from cell2text.model.targets import describe_target
from cell2text.model.train import TrainConfig, split_cells, train


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "tiny"
    train(TrainConfig(out=str(out), stage1_steps=40, stage2_steps=3, stage2_batch=2), progress=False)
    return out


def test_splice_and_padding():
    embed = torch.nn.Embedding(10, 4)
    soft = torch.ones(3, 4)
    embeds, labels = splice(embed, [1, 2, PLACEHOLDER, 3], [-100, -100, -100, 3], soft)
    assert embeds.shape == (6, 4) and torch.equal(embeds[2:5], soft)
    assert labels == [-100, -100, -100, -100, -100, 3]
    batch, mask, padded = pad_left([(embeds, labels), (embeds[:4], labels[:4])])
    assert batch.shape == (2, 6, 4) and mask[1].tolist() == [0, 0, 1, 1, 1, 1]
    assert padded[1, :2].tolist() == [-100, -100]
    with pytest.raises(ValueError):
        find_placeholder([1, 2, 3])


def test_targets_vary_but_start_fixed():
    import random

    rng = random.Random(0)
    texts = {describe_target("B cell", "blood", "normal", ["HALLMARK_E2F_TARGETS"], rng) for _ in range(20)}
    assert len(texts) > 1
    assert all(t.startswith("This sample consists of a B cell.") and "e2f targets" in t for t in texts)


def test_split_is_stratified_and_seeded():
    labels = np.array(["a"] * 50 + ["b"] * 10)
    train_a, test_a = split_cells(labels, None, 0.2, 0)
    train_b, test_b = split_cells(labels, None, 0.2, 0)
    assert np.array_equal(test_a, test_b) and (labels[test_a] == "b").sum() == 2
    donors = np.array([f"d{i % 6}" for i in range(60)])
    train_d, test_d = split_cells(labels, donors, 0.34, 0)
    assert not set(donors[train_d]) & set(donors[test_d])


def test_train_save_load_round_trip(tiny, demo):
    files = {p.name for p in tiny.iterdir()}
    assert {"config.json", "genes.json", "weights.safetensors", "split.json", "train.json"} <= files
    split = json.loads((tiny / "split.json").read_text())
    assert len(split["train"]) == 560 and len(split["test"]) == 140
    model = Cell2Text.from_pretrained(tiny)
    again = Cell2Text.from_pretrained(tiny)
    dense, tokens = model.cell_inputs(demo[:4])
    np.testing.assert_allclose(model.probabilities(dense, tokens), again.probabilities(dense, tokens), rtol=1e-5)
    _, soft = model.encode_cells(dense, tokens)
    assert soft.shape == (4, model.config.n_soft_tokens, model.config.d_lm)
    logits, loss = model(dense, tokens, targets=["This sample consists of a B cell."] * 4)
    assert logits.shape == (4, 10) and torch.isfinite(loss)
    texts = model.generate(dense, tokens, max_new_tokens=8)
    assert len(texts) == 4 and all(isinstance(t, str) for t in texts)


def test_training_lowers_the_loss(demo):
    """A few optimiser steps on one batch lower the LM loss: gradients reach projector and LoRA."""
    model = Cell2Text.from_pretrained(SHIPPED_CHECKPOINT)
    dense, tokens = model.cell_inputs(demo[:4])
    targets = ["This sample consists of a hepatocyte. It is marked by bile acid metabolism activity."] * 4
    params = list(model.projector.parameters()) + [p for n, p in model.lm.named_parameters() if "lora_" in n]
    optimiser = torch.optim.AdamW(params, lr=1e-3)
    model.train()
    losses = []
    for _ in range(4):
        _, loss = model(dense, tokens, targets=targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_constraint_allows_only_ontology_names():
    from cell2text.model.lm import load_lm

    _, tokenizer = load_lm()
    trie = NameTrie(tokenizer, [Span(" consists of a", ["B cell", "T cell", "natural killer cell"])])
    prefix = tokenizer("This sample consists of a", add_special_tokens=False).input_ids
    scores = torch.zeros(1, len(tokenizer))
    masked = OntologyConstraint(trie)(torch.tensor([prefix]), scores.clone())
    allowed = torch.isfinite(masked[0]).nonzero().ravel().tolist()
    firsts = {tokenizer(" " + n, add_special_tokens=False).input_ids[0] for n in ["B cell", "T cell", "natural killer cell"]}
    assert set(allowed) == firsts
    done = prefix + tokenizer(" B cell.", add_special_tokens=False).input_ids
    assert torch.isfinite(OntologyConstraint(trie)(torch.tensor([done]), scores.clone())).all()  # free text after the name


def test_extraction_and_grades(ontology):
    assert extract_cell_type("This sample consists of a CD4-positive, alpha-beta T cell. It comes from blood.", ontology) == "CL:0000624"
    assert extract_cell_type("This sample consists of a B cell, CD19-positive. More.", ontology) == "CL:0001201"
    assert extract_cell_type("Nothing here.", ontology) is None
    assert grade("CL:0000084", "CL:0000624", ontology) == "parent"
    assert grade("CL:0000624", "CL:0000084", ontology) == "child"
    assert grade("CL:0000236", "CL:0000236", ontology) == "exact"
    assert grade(None, "CL:0000236", ontology) == "none"
    scores = score_texts(
        ["This sample consists of a B cell.", "This sample consists of a T cell."],
        ["CL:0000236", "CL:0000624"],
        [["HALLMARK_E2F_TARGETS"], []],
        ontology,
    )
    assert scores["accuracy"] == 0.5 and scores["grades"] == {"exact": 1, "parent": 1}
    assert 0.5 < scores["mean_ppr_similarity"] < 1


def test_bad_checkpoint(tmp_path, tiny):
    with pytest.raises(InputError, match="not a Cell2Text checkpoint"):
        Cell2Text.from_pretrained(tmp_path)
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny, broken)
    config = json.loads((broken / "config.json").read_text())
    config["d_encoder"] = 64
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="another cell2text model version"):
        Cell2Text.from_pretrained(broken)


def test_shipped_checkpoint_describes_known_groups(demo, ontology):
    """The checkpoint in the package names a CL term for each group; B cells and monocytes come out right."""
    model = Cell2Text.from_pretrained(SHIPPED_CHECKPOINT)
    size = sum(f.stat().st_size for f in SHIPPED_CHECKPOINT.iterdir())
    assert size < 25e6
    table = model.describe(demo, groupby="bulk_labels")
    assert len(table) == 10 and table["head_probability"].between(0, 1).all()
    named = {group: extract_cell_type(text, ontology) for group, text in table["text"].items()}
    assert all(term is not None for term in named.values()), table["text"].to_dict()
    assert named["CD19+ B"] == "CL:0000236"
    assert named["CD14+ Monocyte"] == "CL:0001054"
    assert table.loc["CD19+ B", "head_id"] == "CL:0000236"


def test_reference_texts_and_similarity(demo, ontology):
    from cell2text.model.evaluate import reference_texts, text_similarity

    recipe = {"tissue_key": "tissue", "disease_key": "disease", "pathways": {"CL:0000236": ["HALLMARK_E2F_TARGETS"]}}
    references = reference_texts(demo[:2], ["CL:0000236", "CL:0000623"], recipe, ontology)
    assert references[0] == (
        "This sample consists of a B cell. It comes from the blood of a donor with normal. Its most active pathways are e2f targets."
    )
    same = text_similarity(references, references)
    assert same["bleu"] == pytest.approx(100) and same["rouge_l"] == pytest.approx(1) and same["embedding_similarity"] > 0.99
    other = text_similarity(["A liver cell from a sick mouse.", "Nothing."], references)
    assert other["bleu"] < 10 and other["rouge_l"] < 0.5 and other["embedding_similarity"] < same["embedding_similarity"]


def test_resampler_projector_and_transformer_encoder():
    from cell2text.model.config import Cell2TextConfig
    from cell2text.model.encoder import build_encoder
    from cell2text.model.projector import build_projector

    config = Cell2TextConfig(encoder="transformer", projector="resampler", top_k_genes=16, d_lm=576)
    encoder, projector = build_encoder(config, 100), build_projector(config)
    tokens = torch.randint(1, 101, (3, 16))
    tokens[0, 10:] = 0  # padding
    states = encoder(None, tokens)
    assert states.shape == (3, 16, config.d_encoder)
    assert projector(states, states.mean(1)).shape == (3, config.n_soft_tokens, 576)
    with pytest.raises(ValueError, match="unknown projector"):
        build_projector(Cell2TextConfig(projector="qformer"))


def test_temperature_calibrates_an_overconfident_head():
    from cell2text.model.evaluate import expected_calibration_error
    from cell2text.model.train import fit_temperature

    rng = np.random.default_rng(0)
    y = torch.from_numpy(rng.integers(0, 4, 400))
    logits = torch.randn(400, 4)
    logits[torch.arange(400), y] += 1.5  # right about 70% of the time ...
    logits *= 6  # ... with near-certain confidence

    temperature = fit_temperature(logits, y)
    assert temperature > 2
    correct = (logits.argmax(1) == y).numpy()
    before = expected_calibration_error(torch.softmax(logits, 1).max(1).values.numpy(), correct)
    after = expected_calibration_error(torch.softmax(logits / temperature, 1).max(1).values.numpy(), correct)
    assert after < before / 2


def test_an_interrupted_lm_cache_is_rebuilt(tmp_path, monkeypatch):
    from cell2text.model.lm import DEFAULT_LM, load_lm

    monkeypatch.setenv("CELL2TEXT_CACHE", str(tmp_path))
    broken = tmp_path / "lm" / DEFAULT_LM
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("{}")  # what a run killed while saving leaves behind
    model, tokenizer = load_lm()
    assert (broken / "model.safetensors").is_file()
    assert model.config.model_type == "llama" and tokenizer.eos_token is not None


def test_format_1_checkpoint_loads_its_lora_weights():
    """The shipped checkpoint predates peft's adapter state (format 1): its LoRA weights must still load, not be
    silently dropped (peft ignores keys it does not know)."""
    from safetensors.torch import load_file

    from cell2text.model.paths import SHIPPED_CHECKPOINT

    stored = {k: v for k, v in load_file(SHIPPED_CHECKPOINT / "weights.safetensors").items() if "lora_" in k}
    assert stored and all(".default." in k for k in stored)  # written in format 1
    loaded = Cell2Text.from_pretrained(SHIPPED_CHECKPOINT).trainable_state()
    for key, value in stored.items():
        torch.testing.assert_close(loaded[key.replace(".default.", ".")], value)
