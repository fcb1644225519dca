"""Cell2Text: expression encoder -> projector -> soft tokens inside the chat prompt of a causal LM (LoRA).

Reading order: the prompt is split at a placeholder (``PLACEHOLDER``, as LLaVA's image token);
``encode_cells`` runs encoder then projector; ``splice`` puts the soft tokens at the placeholder
(labels -100 there and on the prompt); the LM (loaded, PEFT-wrapped, never re-implemented) gets
``inputs_embeds``. An auxiliary head on the pooled cell embedding gives probabilities over the
training CL ids, which the agent uses as evidence.

    model = Cell2Text.from_pretrained("cell2text/model/checkpoint")
    texts = model.generate(*model.cell_inputs(adata))
"""

from __future__ import annotations

import functools
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file
from torch import nn

from cell2text.errors import InputError
from cell2text.model.config import Cell2TextConfig
from cell2text.model.constrained import OntologyConstraint
from cell2text.model.encoder import build_encoder, pool
from cell2text.model.lm import load_lm
from cell2text.model.projector import build_projector
from cell2text.model.tokenizer import GeneTokenizer

PLACEHOLDER = -200  # token id standing for the cell inside the prompt
CELL_TAG = "<cell>"
IGNORE = -100
FORMAT_VERSION = 1


# ---------------------------------------------------------------------------- splicing (pure functions)
def find_placeholder(ids: list[int]) -> int:
    if ids.count(PLACEHOLDER) != 1:
        raise ValueError("the prompt must contain exactly one cell placeholder")
    return ids.index(PLACEHOLDER)


def splice(embed: nn.Embedding, ids: list[int], labels: list[int], soft: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """One sample: token embeddings with the soft tokens at the placeholder; labels -100 there."""
    at = find_placeholder(ids)
    device = embed.weight.device
    before = embed(torch.tensor(ids[:at], dtype=torch.long, device=device))
    after = embed(torch.tensor(ids[at + 1:], dtype=torch.long, device=device))
    embeds = torch.cat([before, soft, after])  # (L - 1 + n_soft, d_lm)
    return embeds, labels[:at] + [IGNORE] * soft.shape[0] + labels[at + 1:]


def pad_left(samples: list[tuple[torch.Tensor, list[int]]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-pad a batch (generation continues at the right end): embeds, attention mask, labels."""
    length = max(e.shape[0] for e, _ in samples)
    d, device = samples[0][0].shape[1], samples[0][0].device
    embeds = torch.zeros(len(samples), length, d, device=device)
    mask = torch.zeros(len(samples), length, dtype=torch.long, device=device)
    labels = torch.full((len(samples), length), IGNORE, dtype=torch.long, device=device)
    for row, (e, lab) in enumerate(samples):
        embeds[row, length - e.shape[0]:] = e
        mask[row, length - e.shape[0]:] = 1
        labels[row, length - len(lab):] = torch.tensor(lab, dtype=torch.long, device=device)
    return embeds, mask, labels


# ---------------------------------------------------------------------------- the model
class Cell2Text(nn.Module):
    def __init__(self, config: Cell2TextConfig, genes: GeneTokenizer, lm=None, text_tokenizer=None) -> None:
        super().__init__()
        if not config.labels:
            raise ValueError("config.labels (the training CL ids) must be set")
        if lm is None:
            lm, text_tokenizer = load_lm(config.lm_path)
        config.d_lm = lm.config.hidden_size
        self.config, self.genes, self.text_tokenizer = config, genes, text_tokenizer
        self.encoder = build_encoder(config, len(genes))
        self.head = nn.Linear(config.d_encoder, len(config.labels))
        self.projector = build_projector(config)
        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, target_modules=config.lora_targets,
                          lora_dropout=0.05, task_type="CAUSAL_LM")
        self.lm = get_peft_model(lm, lora)
        self._constraint: OntologyConstraint | None = None

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    # --- cells
    def cell_inputs(self, adata: ad.AnnData) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dense, tokens)`` for every cell of a prepared AnnData (log-normalised, gene symbols)."""
        dense = self.genes.dense(adata)
        tokens = self.genes.encode(dense, self.config.top_k_genes)
        return torch.from_numpy(dense), torch.from_numpy(tokens)

    def encode_cells(self, dense: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cell embedding (B, d_encoder) and soft tokens (B, n_soft, d_lm)."""
        dense, tokens = dense.to(self.device), tokens.to(self.device)
        states = self.encoder(dense, tokens)  # (B, T, d_encoder)
        pooled = pool(states, tokens)  # (B, d_encoder)
        return pooled, self.projector(states, pooled)

    def classify(self, dense: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Head logits over ``config.labels`` (B, n_labels)."""
        dense, tokens = dense.to(self.device), tokens.to(self.device)
        return self.head(pool(self.encoder(dense, tokens), tokens))

    # --- text
    @functools.cached_property
    def prompt_ids(self) -> list[int]:
        """The chat prompt with one placeholder where the cell goes."""
        messages = [{"role": "user", "content": f"{CELL_TAG} {self.config.prompt}"}]
        text = self.text_tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        before, after = text.split(CELL_TAG)
        encode = lambda s: self.text_tokenizer(s, add_special_tokens=False).input_ids  # noqa: E731
        return encode(before) + [PLACEHOLDER] + encode(after)

    def _batch(self, soft: torch.Tensor, targets: list[str] | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        prompt = self.prompt_ids
        embed = self.lm.get_input_embeddings()
        samples = []
        for row in range(soft.shape[0]):
            ids, labels = list(prompt), [IGNORE] * len(prompt)
            if targets is not None:
                answer = self.text_tokenizer(targets[row] + self.text_tokenizer.eos_token, add_special_tokens=False).input_ids
                ids, labels = ids + answer, labels + answer
            samples.append(splice(embed, ids, labels, soft[row]))
        return pad_left(samples)

    def forward(self, dense: torch.Tensor, tokens: torch.Tensor,
                targets: list[str] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Head logits; with ``targets`` also the LM loss on the answer tokens (stage 2)."""
        pooled, soft = self.encode_cells(dense, tokens)
        logits = self.head(pooled)
        if targets is None:
            return logits, None
        embeds, mask, labels = self._batch(soft, targets)
        return logits, self.lm(inputs_embeds=embeds, attention_mask=mask, labels=labels).loss

    def constraint(self) -> OntologyConstraint:
        """The decoding constraint: the training labels, or every live CL label and synonym."""
        if self._constraint is None:
            names = list(self.config.label_names)
            if self.config.constrain_to == "ontology":
                from cell2text.tools.ontology import load_ontology

                ontology = load_ontology()
                names += [n for t in ontology.ids("CL") for n in (ontology.term(t).label, *ontology.term(t).synonyms)]
            self._constraint = OntologyConstraint(self.text_tokenizer, names)
        return self._constraint

    @torch.no_grad()
    def generate(self, dense: torch.Tensor, tokens: torch.Tensor, *, batch_size: int = 32,
                 max_new_tokens: int | None = None) -> list[str]:
        """Greedy descriptions, one per row, batched, KV-cached; constrained cell-type span if configured."""
        self.eval()
        texts: list[str] = []
        processors = [self.constraint()] if self.config.constrained else []
        for start in range(0, dense.shape[0], batch_size):
            _, soft = self.encode_cells(dense[start:start + batch_size], tokens[start:start + batch_size])
            embeds, mask, _ = self._batch(soft, None)
            out = self.lm.generate(inputs_embeds=embeds, attention_mask=mask, do_sample=False,
                                   max_new_tokens=max_new_tokens or self.config.max_new_tokens,
                                   logits_processor=processors, pad_token_id=self.text_tokenizer.pad_token_id)
            texts += [t.strip() for t in self.text_tokenizer.batch_decode(out, skip_special_tokens=True)]
        return texts

    @torch.no_grad()
    def probabilities(self, dense: torch.Tensor, tokens: torch.Tensor) -> np.ndarray:
        """Head probabilities (cells, labels), temperature-calibrated."""
        self.eval()
        return torch.softmax(self.classify(dense, tokens) / self.config.head_temperature, dim=-1).cpu().numpy()

    def describe(self, adata: ad.AnnData, groupby: str | None = None) -> pd.DataFrame:
        """Text and head probabilities per cell, or per group of ``groupby`` (mean expression of the group)."""
        dense, tokens = self.cell_inputs(adata)
        index = adata.obs_names
        if groupby is not None:
            from cell2text.data.io import check_groupby

            groups = check_groupby(adata, groupby).astype(str).to_numpy()
            index = pd.Index(sorted(set(groups)), name=groupby)
            dense = torch.stack([dense[torch.from_numpy(groups == g)].mean(0) for g in index])
            tokens = torch.from_numpy(self.genes.encode(dense.numpy(), self.config.top_k_genes))
        probabilities = self.probabilities(dense, tokens)
        best = probabilities.argmax(1)
        return pd.DataFrame({
            "text": self.generate(dense, tokens),
            "head_label": [self.config.label_names[i] for i in best],
            "head_id": [self.config.labels[i] for i in best],
            "head_probability": probabilities.max(1),
        }, index=index)

    # --- checkpoints
    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Everything this project trains: encoder, head, projector, LoRA (the base LM is referenced, not copied)."""
        state = {f"encoder.{k}": v for k, v in self.encoder.state_dict().items()}
        state |= {f"head.{k}": v for k, v in self.head.state_dict().items()}
        state |= {f"projector.{k}": v for k, v in self.projector.state_dict().items()}
        state |= {f"lm.{k}": v for k, v in self.lm.state_dict().items() if "lora_" in k}
        return {k: v.detach().contiguous() for k, v in state.items()}

    def save_pretrained(self, path: str | Path) -> Path:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        self.config.save(tmp / "config.json")
        self.genes.save(tmp / "genes.json")
        save_file(self.trainable_state(), tmp / "weights.safetensors", metadata={"format_version": str(FORMAT_VERSION)})
        if path.exists():
            import shutil

            shutil.rmtree(path)
        tmp.replace(path)
        return path

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | None = None) -> Cell2Text:
        path = Path(path)
        files = [path / "config.json", path / "genes.json", path / "weights.safetensors"]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise InputError(f"'{path}' is not a Cell2Text checkpoint (missing {', '.join(missing)}). Pass a folder written by 'cell2text train'.")
        config = Cell2TextConfig.load(files[0])
        model = cls(config, GeneTokenizer.load(files[1]))
        try:
            model.load_trainable_state(load_file(files[2]))
        except ValueError as exc:
            raise InputError(f"'{path}' was written by another cell2text model version. Retrain it with 'cell2text train'.") from exc
        return model.to(resolve_device(device)).eval()

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load what :meth:`trainable_state` returned; ValueError when keys or shapes differ."""
        expected = self.trainable_state()
        if set(state) != set(expected) or any(state[k].shape != expected[k].shape for k in state):
            raise ValueError("trainable state does not match this model")
        self.encoder.load_state_dict({k[8:]: v for k, v in state.items() if k.startswith("encoder.")})
        self.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})
        self.projector.load_state_dict({k[10:]: v for k, v in state.items() if k.startswith("projector.")})
        self.lm.load_state_dict({k[3:]: v for k, v in state.items() if k.startswith("lm.")}, strict=False)


#: The checkpoint shipped in the package, trained on the demo dataset's training split (README).
SHIPPED_CHECKPOINT = Path(__file__).parent / "checkpoint"


def load_model(path: str | Path | None = None) -> tuple[Cell2Text, Path]:
    """The model in force: ``path``, else ``CELL2TEXT_MODEL``, else the shipped checkpoint."""
    from cell2text.config import get_settings

    path = Path(path) if path else get_settings().model_path or SHIPPED_CHECKPOINT
    return Cell2Text.from_pretrained(path), path


def resolve_device(device: str | None = None) -> torch.device:
    """``device``, else ``CELL2TEXT_DEVICE``; "auto" is CUDA when present, else CPU."""
    from cell2text.config import get_settings

    name = device or get_settings().device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)
