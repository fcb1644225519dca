"""Model commands: ``train``, ``evaluate`` and ``model info``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from cell2text.cli.common import JsonOption, app, console, emit, user_errors
from cell2text.errors import InputError

model_app = typer.Typer(help="Inspect Cell2Text checkpoints.", no_args_is_help=True)
app.add_typer(model_app, name="model")

DataOption = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--data", help="Data files: CELLxGENE-schema .h5ad files (several: '--data a.h5ad b.h5ad'), or one file of any kind; default: the demo."
    ),
]
MoreData = Annotated[Optional[list[Path]], typer.Argument(hidden=True, help="Further data files after --data.")]


def _data_files(data: Optional[list[Path]], more: Optional[list[Path]]) -> list[Path]:
    """``--data a.h5ad b.h5ad``: click takes the first as the option and the rest as arguments."""
    if more and not data:
        raise InputError(f"unexpected argument '{more[0]}'. Pass data files after --data.")
    return [*(data or []), *(more or [])]


@app.command("train")
def train_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint folder to write.")],
    data: DataOption = None,
    more: MoreData = None,
    label_key: Annotated[
        str, typer.Option("--label-key", help="One non-schema file: obs column of cell types (CL labels, CURIEs or names).")
    ] = "cell_type",
    tissue_key: Annotated[Optional[str], typer.Option("--tissue-key", help="One non-schema file: obs column of tissues.")] = "tissue",
    disease_key: Annotated[Optional[str], typer.Option("--disease-key", help="One non-schema file: obs column of diseases.")] = "disease",
    donor_key: Annotated[Optional[str], typer.Option("--donor-key", help="One non-schema file: obs column of donors (donor-disjoint split).")] = None,
    encoder: Annotated[str, typer.Option("--encoder", help="'mlp' or 'transformer'.")] = "mlp",
    projector: Annotated[str, typer.Option("--projector", help="'mlp2x_gelu' or 'resampler'.")] = "mlp2x_gelu",
    lm_path: Annotated[Optional[str], typer.Option("--lm-path", help="Causal LM folder or cached hub id (default: bundled SmolLM2-135M).")] = None,
    stage1_steps: Annotated[int, typer.Option("--stage1-steps", min=0)] = 600,
    stage2_steps: Annotated[int, typer.Option("--stage2-steps", min=0)] = 150,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    chunk_cells: Annotated[int, typer.Option("--chunk-cells", min=64, help="Cells read and held at a time (files are streamed in chunks).")] = 4096,
    bf16: Annotated[bool, typer.Option("--bf16", help="bf16 autocast of the LM on CUDA (no gain measured for the 135M LM).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Train a Cell2Text model (encoder + heads, then projector + LoRA) and save a checkpoint with its model card."""
    from cell2text.model.config import Cell2TextConfig
    from cell2text.model.train import TrainConfig, train

    with user_errors():
        if encoder not in ("mlp", "transformer") or projector not in ("mlp2x_gelu", "resampler"):
            raise InputError("unknown --encoder or --projector. Use mlp|transformer and mlp2x_gelu|resampler.")
        files = _data_files(data, more)
        if any(out.resolve() == f.resolve() for f in files):
            raise InputError("refusing to write the checkpoint over an input file. Pass another --out.")
        config = TrainConfig(
            out=str(out),
            data=[str(f) for f in files],
            label_key=label_key,
            tissue_key=tissue_key,
            disease_key=disease_key,
            donor_key=donor_key,
            seed=seed,
            stage1_steps=stage1_steps,
            stage2_steps=stage2_steps,
            chunk_cells=chunk_cells,
            model=Cell2TextConfig(encoder=encoder, projector=projector, lm_path=lm_path, bf16=bf16),
        )
        path = train(config, progress=not as_json)
        if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
            return
        payload = {"checkpoint": str(path), "size_mb": round(sum(f.stat().st_size for f in path.iterdir()) / 1e6, 1)}
        emit(payload, as_json, lambda p: console.print(f"Checkpoint written to [bold]{p['checkpoint']}[/] ({p['size_mb']} MB)"))


@app.command("evaluate")
def evaluate_command(
    model_path: Annotated[Optional[Path], typer.Option("--model", help="Checkpoint folder (default: the shipped one).")] = None,
    data: DataOption = None,
    more: MoreData = None,
    label_key: Annotated[str, typer.Option("--label-key", help="One non-schema file: obs column of the true cell types.")] = "cell_type",
    split: Annotated[str, typer.Option("--split", help="'test' (the checkpoint's held-out cells, when they are in the data) or 'all'.")] = "test",
    batch_size: Annotated[
        Optional[int], typer.Option("--batch-size", min=1, help="Cells per generation batch (default: 32 on CPU, from free memory on CUDA).")
    ] = None,
    max_cells: Annotated[
        Optional[int], typer.Option("--max-cells", min=1, help="Grade a seeded sample of at most this many cells (large held-out sets).")
    ] = None,
    card: Annotated[bool, typer.Option("--card", help="Also record these metrics in the checkpoint's model card.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Generate descriptions and grade them: cell-type accuracy / macro-F1, PPR similarity, grades, pathways, heads;
    every field's accuracy / macro-F1 for a model trained on CELLxGENE-schema files."""
    from cell2text.model.model import load_model

    with user_errors():
        if split not in ("test", "all"):
            raise InputError(f"unknown --split '{split}'. Use 'test' or 'all'.")
        files = _data_files(data, more)
        model, path = load_model(model_path)
        recipe_file = path / "train.json"
        recipe = json.loads(recipe_file.read_text()) if recipe_file.is_file() else None
        held_out = json.loads((path / "split.json").read_text()) if (path / "split.json").is_file() and split == "test" else None
        result, name, truth = _evaluate(model, files, label_key, held_out, recipe, batch_size, max_cells)
        payload = {"model": str(path), "data": name, "split": split} | {
            k: v for k, v in result.items() if k not in ("texts", "predicted", "head_predicted")
        }
        payload["examples"] = [{"true": t, "text": x} for t, x in list(zip(truth, result["texts"]))[:5]]
        if card:
            from cell2text.model.card import add_evaluation

            add_evaluation(path, {k: v for k, v in payload.items() if k != "examples"})
        emit(payload, as_json, _render_evaluation)


def _evaluate(
    model, files: list[Path], label_key: str, held_out: dict | None, recipe: dict | None, batch_size: int | None, max_cells: int | None
) -> tuple[dict, str, list[str]]:
    """Evaluate on CELLxGENE-schema files (streamed), or on the demo / one file in memory; (result, data name, truth)."""
    import numpy as np

    from cell2text.model.cells import open_cells, sample_positions
    from cell2text.model.evaluate import evaluate_cells, evaluate_model

    data = open_cells(files, label_key=label_key)
    name = ", ".join(data.names) if files else "pbmc68k_reduced (demo)"
    positions = np.flatnonzero(data.labels["cell_type"] != "")
    if held_out is not None:
        if "test_groups" in held_out and data.groups is not None:
            positions = positions[np.isin(data.groups[positions], held_out["test_groups"])]
        elif "test" in held_out:
            positions = positions[np.isin(data.obs_names(positions), held_out["test"])]
        if len(positions) == 0:
            raise InputError("none of the checkpoint's held-out cells are in this data. Pass --split all.")
    if max_cells:
        positions = sample_positions(positions, seed=0, limit=max_cells)
    truth = [str(t) for t in data.labels["cell_type"][positions]]
    if data.schema:
        return evaluate_cells(model, data, positions, recipe, batch_size=batch_size), name, truth
    adata = data.read(positions).copy()
    return evaluate_model(model, adata, truth, recipe, batch_size=batch_size), name, truth


def _render_evaluation(p: dict[str, Any]) -> None:
    console.print(f"[bold]{p['model']}[/] on {p['data']} ({p['split']}, {p['n']} cells)")
    console.print(
        f"  text: accuracy {p['accuracy']:.3f}, macro-F1 {p['macro_f1']:.3f}, mean PPR similarity "
        f"{p['mean_ppr_similarity']:.3f}, paper PPR score {p['mean_paper_ppr_score']:.2f}, grades {p['grades']}"
    )
    if "bleu" in p:
        console.print(
            f"  vs reference text: BLEU {p['bleu']:.1f}, ROUGE-L {p['rouge_l']:.3f}, MiniLM cosine "
            f"{p['embedding_similarity']:.3f}, pathway Jaccard {p['pathway_jaccard']:.3f}"
        )
    console.print(
        f"  head: accuracy {p['head_accuracy']:.3f}, macro-F1 {p['head_macro_f1']:.3f}, "
        f"calibration error {p['head_ece']:.3f} (temperature {p['head_temperature']:.2f})"
    )
    for field, f in p.get("fields", {}).items():
        if f["n"]:
            console.print(
                f"  {field}: text accuracy {f['text_accuracy']:.3f} / macro-F1 {f['text_macro_f1']:.3f}, "
                f"head {f['head_accuracy']:.3f} / {f['head_macro_f1']:.3f} ({f['n']} cells)"
            )
    console.print(f"  speed: {p['generate_cells_per_s']:.1f} cells/s, {p['generate_tokens_per_s']:.0f} new tokens/s")
    for example in p["examples"][:3]:
        console.print(f"  e.g. [{example['true']}] {example['text']}", highlight=False)


@model_app.command("info")
def info_command(
    path: Annotated[
        Optional[Path], typer.Argument(help="Checkpoint folder (default: the model in force: CELL2TEXT_MODEL, else the shipped one).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """What a checkpoint was trained on and knows: data, fields and labels, genes, architecture, metrics, machine."""
    from cell2text.model.card import read_card
    from cell2text.model.paths import model_path

    with user_errors():
        path = model_path(path)
        card = read_card(path)
        emit({"checkpoint": str(path)} | card, as_json, _render_card)


def _render_card(card: dict[str, Any]) -> None:
    data, genes, model = card["data"], card["genes"], card["model"]
    console.print(f"[bold]{card['checkpoint']}[/]" + (f"  ({card['note']})" if card.get("note") else ""))
    console.print(
        f"  data: {', '.join(map(str, data['files']))}; {data.get('n_train')} training / {data.get('n_test')} held-out cells"
        + (f", split by {data['split_by']}" if data.get("split_by") else ""),
        highlight=False,
    )
    console.print(f"  genes: {genes['n']}, aligned by {genes['aligned_by']}", highlight=False)
    console.print(f"  model: {model['encoder']} encoder, {model['projector']} projector, LM {model['lm']}", highlight=False)
    for name, field in card["fields"].items():
        shown = ", ".join(list(field["labels"].values())[:6]) + (", ..." if field["n_labels"] > 6 else "")
        console.print(f"  {name} ({field['n_labels']} labels): {shown}", highlight=False)
    metrics = card.get("metrics", {})
    for name, m in metrics.get("held_out_heads", {}).items():
        if m.get("accuracy") is not None:
            console.print(f"  held-out head, {name}: accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f} ({m['n']} cells)")
    evaluation = metrics.get("evaluation")
    if evaluation:
        console.print(
            f"  evaluation ({evaluation.get('data')}, {evaluation.get('split')}, {evaluation.get('n')} cells): text accuracy "
            f"{evaluation['accuracy']:.3f}, macro-F1 {evaluation['macro_f1']:.3f}; head {evaluation['head_accuracy']:.3f} / "
            f"{evaluation['head_macro_f1']:.3f}",
            highlight=False,
        )
    if card.get("machine"):
        m = card["machine"]
        console.print(
            f"  trained on: {m['cpu']}, {m['cores']} cores, GPU {', '.join(m['gpus']) or 'none'}; torch {m['versions'].get('torch')}", highlight=False
        )
