"""Model commands: ``train`` and ``evaluate``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from cell2text.cli.common import JsonOption, app, console, emit, user_errors
from cell2text.errors import InputError


@app.command("train")
def train_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint folder to write.")],
    data: Annotated[Optional[Path], typer.Option("--data", help="An .h5ad file to train on (default: the demo dataset).")] = None,
    label_key: Annotated[str, typer.Option("--label-key", help="obs column of cell types (CL labels, CURIEs or names).")] = "cell_type",
    tissue_key: Annotated[Optional[str], typer.Option("--tissue-key", help="obs column of tissues.")] = "tissue",
    disease_key: Annotated[Optional[str], typer.Option("--disease-key", help="obs column of diseases.")] = "disease",
    donor_key: Annotated[Optional[str], typer.Option("--donor-key", help="obs column of donors (donor-disjoint split).")] = None,
    encoder: Annotated[str, typer.Option("--encoder", help="'mlp' or 'transformer'.")] = "mlp",
    projector: Annotated[str, typer.Option("--projector", help="'mlp2x_gelu' or 'resampler'.")] = "mlp2x_gelu",
    lm_path: Annotated[Optional[str], typer.Option("--lm-path", help="Causal LM folder or cached hub id (default: bundled SmolLM2-135M).")] = None,
    stage1_steps: Annotated[int, typer.Option("--stage1-steps", min=0)] = 600,
    stage2_steps: Annotated[int, typer.Option("--stage2-steps", min=0)] = 150,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Train a Cell2Text model (encoder + head, then projector + LoRA) and save a checkpoint."""
    from cell2text.model.config import Cell2TextConfig
    from cell2text.model.train import TrainConfig, train

    with user_errors():
        if encoder not in ("mlp", "transformer") or projector not in ("mlp2x_gelu", "resampler"):
            raise InputError("unknown --encoder or --projector. Use mlp|transformer and mlp2x_gelu|resampler.")
        if data is not None and out.resolve() == data.resolve():
            raise InputError("refusing to write the checkpoint over the input file. Pass another --out.")
        config = TrainConfig(out=str(out), data=str(data) if data else None, label_key=label_key, tissue_key=tissue_key,
                             disease_key=disease_key, donor_key=donor_key, seed=seed, stage1_steps=stage1_steps,
                             stage2_steps=stage2_steps,
                             model=Cell2TextConfig(encoder=encoder, projector=projector, lm_path=lm_path))
        path = train(config, progress=not as_json)
        if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
            return
        payload = {"checkpoint": str(path), "size_mb": round(sum(f.stat().st_size for f in path.iterdir()) / 1e6, 1)}
        emit(payload, as_json, lambda p: console.print(f"Checkpoint written to [bold]{p['checkpoint']}[/] ({p['size_mb']} MB)"))


@app.command("evaluate")
def evaluate_command(
    model_path: Annotated[Optional[Path], typer.Option("--model", help="Checkpoint folder (default: the shipped one).")] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="An .h5ad file (default: the demo dataset).")] = None,
    label_key: Annotated[str, typer.Option("--label-key", help="obs column of the true cell types.")] = "cell_type",
    split: Annotated[str, typer.Option("--split", help="'test' (the checkpoint's held-out cells, when they are in the data) or 'all'.")] = "test",
    as_json: JsonOption = False,
) -> None:
    """Generate descriptions and grade them: cell-type accuracy / macro-F1, PPR similarity, grades, pathways, head."""
    from cell2text.model.evaluate import evaluate_model
    from cell2text.model.model import load_model
    from cell2text.model.train import _label_ids

    with user_errors():
        from cell2text.data.demo import load_dataset

        if split not in ("test", "all"):
            raise InputError(f"unknown --split '{split}'. Use 'test' or 'all'.")
        model, path = load_model(model_path)
        adata, name, _ = load_dataset(data, label_key)
        if split == "test" and (path / "split.json").is_file():
            held_out = json.loads((path / "split.json").read_text())["test"]
            present = adata.obs_names.intersection(held_out)
            if len(present) == 0:
                raise InputError("none of the checkpoint's held-out cells are in this data. Pass --split all.")
            adata = adata[present].copy()
        true_ids, _ = _label_ids(adata, label_key)
        recipe_file = path / "train.json"
        recipe = json.loads(recipe_file.read_text()) if recipe_file.is_file() else None
        result = evaluate_model(model, adata, list(true_ids), recipe)
        payload = {"model": str(path), "data": name, "split": split} | {k: v for k, v in result.items()
                                                                       if k not in ("texts", "predicted", "head_predicted")}
        payload["examples"] = [{"true": t, "text": x} for t, x in list(zip(true_ids, result["texts"]))[:5]]
        emit(payload, as_json, _render_evaluation)


def _render_evaluation(p: dict[str, Any]) -> None:
    console.print(f"[bold]{p['model']}[/] on {p['data']} ({p['split']}, {p['n']} cells)")
    console.print(f"  text: accuracy {p['accuracy']:.3f}, macro-F1 {p['macro_f1']:.3f}, mean PPR similarity "
                  f"{p['mean_ppr_similarity']:.3f}, paper PPR score {p['mean_paper_ppr_score']:.2f}, grades {p['grades']}")
    if "bleu" in p:
        console.print(f"  vs reference text: BLEU {p['bleu']:.1f}, ROUGE-L {p['rouge_l']:.3f}, MiniLM cosine "
                      f"{p['embedding_similarity']:.3f}, pathway Jaccard {p['pathway_jaccard']:.3f}")
    console.print(f"  head: accuracy {p['head_accuracy']:.3f}, macro-F1 {p['head_macro_f1']:.3f}, "
                  f"calibration error {p['head_ece']:.3f} (temperature {p['head_temperature']:.2f})")
    console.print(f"  speed: {p['generate_cells_per_s']:.1f} cells/s, {p['generate_tokens_per_s']:.0f} new tokens/s")
    for example in p["examples"][:3]:
        console.print(f"  e.g. [{example['true']}] {example['text']}", highlight=False)
