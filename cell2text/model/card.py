"""The model card written beside every checkpoint: what it was trained on, what it knows, how well it did, where.

``model_card.json`` holds the facts (data files, cells, split, fields with their label vocabularies,
gene vocabulary, architecture, training settings and time, held-out metrics, machine, library
versions); ``MODEL_CARD.md`` is the same for a reader. ``cell2text evaluate --card`` adds the text
metrics of an evaluation; ``cell2text model info`` prints a card, or what a checkpoint without one
reveals of itself.
"""

from __future__ import annotations

import json
import os
import platform
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from cell2text.errors import InputError

CARD_JSON = "model_card.json"
CARD_MD = "MODEL_CARD.md"
_VERSIONED = ("cell2text", "torch", "transformers", "peft", "anndata", "scanpy")


def cpu_name() -> str:
    """The CPU model (Linux: /proc/cpuinfo), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def machine() -> dict:
    """CPU model and cores, GPUs (if any), Python and library versions."""
    import torch

    cpu = cpu_name()
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    versions = {}
    for package in _VERSIONED:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "gpus": gpus, "python": platform.python_version(), "versions": versions}


def training_card(model, data, config, recipe: dict, held_out: dict, timing: dict) -> dict:
    """The card of a checkpoint just trained (``model``, its ``CellData``, ``TrainConfig`` and recipe)."""
    labels = {"cell_type": dict(zip(model.config.labels, model.config.label_names)), **model.config.fields}
    trainable = sum(v.numel() for v in model.trainable_state().values())
    return {
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "data": {
            "files": list(config.data) or ["pbmc68k_reduced (demo)"],
            "schema": "CELLxGENE" if data.schema else "single AnnData",
            "cells": len(data),
            "n_train": recipe["n_train"],
            "n_test": recipe["n_test"],
            "split_by": data.split_by,
        },
        "fields": {name: {"n_labels": len(vocab), "labels": vocab} for name, vocab in labels.items()},
        "genes": {"n": len(model.genes), "aligned_by": "Ensembl id (symbols kept)" if model.genes.ids else "symbol"},
        "model": {
            "encoder": model.config.encoder,
            "projector": model.config.projector,
            "lm": model.config.lm_path or "SmolLM2-135M-Instruct (bundled)",
            "lora_r": model.config.lora_r,
            "n_soft_tokens": model.config.n_soft_tokens,
            "trainable_parameters": trainable,
            "temperatures": model.temperatures(),
            "constrained": model.config.constrained,
            "bf16": model.config.bf16,
        },
        "training": {
            "seed": config.seed,
            "stage1_steps": config.stage1_steps,
            "stage1_batch": config.stage1_batch,
            "stage2_steps": config.stage2_steps,
            "stage2_batch": config.stage2_batch,
            "processes": recipe["processes"],
            **timing,
        },
        "metrics": {"held_out_heads": held_out},
        "machine": machine(),
    }


def write_card(path: str | Path, card: dict) -> None:
    """Write ``model_card.json`` and ``MODEL_CARD.md`` into the checkpoint folder ``path``."""
    path = Path(path)
    (path / CARD_JSON).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    (path / CARD_MD).write_text(card_markdown(card))


def read_card(path: str | Path) -> dict:
    """The card of the checkpoint at ``path``; one built from its config, genes and recipe when it has none."""
    from cell2text.model.config import Cell2TextConfig

    path = Path(path)
    if not (path / "config.json").is_file() or not (path / "genes.json").is_file():
        raise InputError(f"'{path}' is not a Cell2Text checkpoint (no config.json / genes.json). Pass a folder written by 'cell2text train'.")
    if (path / CARD_JSON).is_file():
        return json.loads((path / CARD_JSON).read_text())
    config = Cell2TextConfig.load(path / "config.json")
    genes = json.loads((path / "genes.json").read_text())
    recipe = json.loads((path / "train.json").read_text()) if (path / "train.json").is_file() else {}
    labels = {"cell_type": dict(zip(config.labels, config.label_names)), **config.fields}
    return {
        "created": None,
        "data": {"files": recipe.get("data") or ["(not recorded)"], "n_train": recipe.get("n_train"), "n_test": recipe.get("n_test")},
        "fields": {name: {"n_labels": len(vocab), "labels": vocab} for name, vocab in labels.items()},
        "genes": {"n": len(genes["genes"]), "aligned_by": "Ensembl id (symbols kept)" if genes.get("ids") else "symbol"},
        "model": {"encoder": config.encoder, "projector": config.projector, "lm": config.lm_path or "SmolLM2-135M-Instruct (bundled)"},
        "metrics": {},
        "note": "no model card: built from config.json, genes.json and train.json",
    }


def add_evaluation(path: str | Path, evaluation: dict) -> None:
    """Record an evaluation's metrics in the checkpoint's card (written first if the checkpoint has none)."""
    card = read_card(path)
    card.setdefault("metrics", {})["evaluation"] = evaluation
    write_card(path, card)


def card_markdown(card: dict) -> str:
    """The card for a reader."""
    data, genes, model = card["data"], card["genes"], card["model"]
    lines = ["# Cell2Text model card", ""]
    if card.get("note"):
        lines += [f"_{card['note']}_", ""]
    lines += ["## Data", "", f"- Files: {', '.join(map(str, data['files']))}"]
    if data.get("schema"):
        lines.append(f"- Schema: {data['schema']}; {data.get('cells')} cells, split by {data.get('split_by')}")
    lines += [
        f"- Training cells: {data.get('n_train')}; held out: {data.get('n_test')}",
        f"- Gene vocabulary: {genes['n']} genes, aligned by {genes['aligned_by']}",
        "",
        "## Fields and label vocabularies",
        "",
    ]
    for name, field in card["fields"].items():
        shown = "; ".join(f"{label} ({term})" for term, label in list(field["labels"].items())[:30])
        more = f"; ... {field['n_labels'] - 30} more" if field["n_labels"] > 30 else ""
        lines.append(f"- **{name}** ({field['n_labels']} labels): {shown}{more}")
    lines += ["", "## Model", ""]
    lines += [f"- {key}: {value}" for key, value in model.items()]
    if card.get("training"):
        lines += ["", "## Training", ""] + [f"- {key}: {_number(value)}" for key, value in card["training"].items()]
    metrics = card.get("metrics", {})
    if metrics.get("held_out_heads"):
        lines += ["", "## Held-out cells, heads", "", "| field | cells | accuracy | macro-F1 |", "|---|---|---|---|"]
        lines += [f"| {name} | {m['n']} | {_number(m['accuracy'])} | {_number(m['macro_f1'])} |" for name, m in metrics["held_out_heads"].items()]
    if metrics.get("evaluation"):
        lines += ["", "## Evaluation (`cell2text evaluate --card`)", ""]
        lines += [f"- {key}: {_number(value)}" for key, value in metrics["evaluation"].items()]
    if card.get("machine"):
        m = card["machine"]
        lines += [
            "",
            "## Machine",
            "",
            f"- CPU: {m['cpu']}, {m['cores']} cores; GPU: {', '.join(m['gpus']) or 'none'}",
            f"- Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        ]
    if card.get("created"):
        lines += ["", f"Written {card['created']}."]
    return "\n".join(lines) + "\n"


def _number(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
