"""One configuration for the Cell2Text model, saved inside every checkpoint so it rebuilds the model."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Cell2TextConfig:
    # --- expression side
    encoder: str = "mlp"  # "mlp" (dense log-expression; best on small data) | "transformer" (gene tokens by rank)
    top_k_genes: int = 64  # gene tokens per cell for the transformer encoder (rank-value encoding)
    d_encoder: int = 256  # width of the cell embedding
    n_layers: int = 2  # transformer encoder layers
    n_heads: int = 4  # transformer encoder heads
    dropout: float = 0.2
    # --- projector and language model
    projector: str = "mlp2x_gelu"  # "mlp2x_gelu" | "resampler" (learned queries + cross-attention)
    n_soft_tokens: int = 8  # soft tokens the cell becomes inside the prompt
    lm_path: str | None = None  # causal LM: local path or hub id in the local cache; None = bundled SmolLM2-135M
    d_lm: int = 576  # hidden size of the LM (set from the LM when the model is built)
    lora_r: int = 8
    lora_alpha: int = 16
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    head_temperature: float = 1.0  # head logits are divided by it; fitted on held-out training cells (calibration)
    # --- labels: the training CL ids, in head order
    labels: list[str] = field(default_factory=list)
    label_names: list[str] = field(default_factory=list)  # the CL labels, same order
    # CELLxGENE description fields besides the cell type (tissue, disease, development_stage, sex, assay):
    # field -> {term id: label} in head order; each gets a head and a constrained sentence ("Tissue: lung.")
    fields: dict[str, dict[str, str]] = field(default_factory=dict)
    field_temperatures: dict[str, float] = field(default_factory=dict)  # each field head's fitted temperature
    # --- text
    prompt: str = "Describe this cell."
    max_new_tokens: int = 48
    constrained: bool = True  # the cell-type span may only spell a CL name (see constrain_to)
    constrain_to: str = "training"  # "training": the CL labels the model was trained on | "ontology": any live CL label or synonym
    # --- precision
    bf16: bool = False  # bf16 autocast of the LM on CUDA (training and generation); off: no gain measured for the 135M LM (FINDINGS)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Cell2TextConfig:
        return cls(**json.loads(Path(path).read_text()))
