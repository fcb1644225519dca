"""Cell2Text: expression encoder -> projector -> soft tokens inside the chat prompt of a causal LM (LoRA).

Reading order: the prompt is split at a placeholder (``PLACEHOLDER``, as LLaVA's image token);
``encode_cells`` runs encoder then projector; ``splice`` puts the soft tokens at the placeholder
(labels -100 there and on the prompt); the LM (loaded, PEFT-wrapped, never re-implemented) gets
``inputs_embeds``. An auxiliary head on the pooled cell embedding gives probabilities over the
training CL ids, which the agent uses as evidence; a model trained on CELLxGENE-schema data has one
head per description field (tissue, disease, ...) beside it.

On CUDA: TF32 matmuls, generation batches sized from free memory, an optional bf16 autocast of the
LM (``config.bf16``); on the CPU everything runs in float32, 32 cells per generation batch.

    model = Cell2Text.from_pretrained("cell2text/model/checkpoint")
    texts = model.generate(*model.cell_inputs(adata))
"""

from __future__ import annotations

import functools
from contextlib import nullcontext
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch
from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from cell2text.errors import InputError
from cell2text.files import atomic_path
from cell2text.model.config import Cell2TextConfig
from cell2text.model.constrained import NameTrie, OntologyConstraint, Span
from cell2text.model.encoder import build_encoder, pool
from cell2text.model.lm import load_lm, token_ids
from cell2text.model.paths import CHECKPOINT_FILES, model_checkpoint
from cell2text.model.projector import build_projector
from cell2text.model.targets import TRIGGER, field_trigger
from cell2text.model.tokenizer import GeneTokenizer

PLACEHOLDER = -200  # token id standing for the cell inside the prompt
CELL_TAG = "<cell>"
IGNORE = -100
FORMAT_VERSION = 2  # 2: LoRA weights as peft's adapter state (see _read_weights for 1)
TRAINED_PARTS = ("encoder", "head", "field_heads", "projector")  # modules saved whole in a checkpoint
CPU_GENERATION_BATCH = 32  # cells per generate() batch on the CPU (the shipped checkpoint's measured setting)
MAX_GENERATION_BATCH = 1024  # on CUDA, at most this many (measured: one batch of 140 ran 3.4x faster than 32s)


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
    after = embed(torch.tensor(ids[at + 1 :], dtype=torch.long, device=device))
    embeds = torch.cat([before, soft, after])  # (L - 1 + n_soft, d_lm)
    return embeds, labels[:at] + [IGNORE] * soft.shape[0] + labels[at + 1 :]


def pad_left(samples: list[tuple[torch.Tensor, list[int]]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-pad a batch (generation continues at the right end): embeds, attention mask, labels."""
    length = max(e.shape[0] for e, _ in samples)
    d, device = samples[0][0].shape[1], samples[0][0].device
    embeds = torch.zeros(len(samples), length, d, device=device)
    mask = torch.zeros(len(samples), length, dtype=torch.long, device=device)
    labels = torch.full((len(samples), length), IGNORE, dtype=torch.long, device=device)
    for row, (e, lab) in enumerate(samples):
        embeds[row, length - e.shape[0] :] = e
        mask[row, length - e.shape[0] :] = 1
        labels[row, length - len(lab) :] = torch.tensor(lab, dtype=torch.long, device=device)
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
        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, target_modules=config.lora_targets, lora_dropout=0.05, task_type="CAUSAL_LM")
        self.lm = get_peft_model(lm, lora)
        # one head per CELLxGENE field besides the cell type (none for the demo recipe)
        self.field_heads = nn.ModuleDict({name: nn.Linear(config.d_encoder, len(labels)) for name, labels in config.fields.items()})
        self._trie: NameTrie | None = None
        self._answers: dict[str, list[int]] = {}  # tokenised target texts, reused across steps

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

    def heads(self) -> nn.ModuleDict:
        """Every head by field: ``cell_type`` (``self.head``) and the CELLxGENE fields, the same modules."""
        return nn.ModuleDict({"cell_type": self.head, **self.field_heads})

    def temperatures(self) -> dict[str, float]:
        """Each head's calibration temperature, by field."""
        return {"cell_type": self.config.head_temperature, **self.config.field_temperatures}

    def lm_precision(self):
        """The context the LM runs in: bf16 autocast on CUDA when ``config.bf16``, else plain float32."""
        if self.config.bf16 and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    # --- text
    @functools.cached_property
    def prompt_ids(self) -> list[int]:
        """The chat prompt with one placeholder where the cell goes."""
        messages = [{"role": "user", "content": f"{CELL_TAG} {self.config.prompt}"}]
        text = self.text_tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        before, after = text.split(CELL_TAG)
        return token_ids(self.text_tokenizer, before) + [PLACEHOLDER] + token_ids(self.text_tokenizer, after)

    def answer_ids(self, target: str) -> list[int]:
        """The tokens of a target text and the end-of-text token (tokenised once per distinct text)."""
        if target not in self._answers:
            self._answers[target] = self.text_tokenizer(target + self.text_tokenizer.eos_token, add_special_tokens=False).input_ids
        return self._answers[target]

    def _batch(self, soft: torch.Tensor, targets: list[str] | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        prompt = self.prompt_ids
        embed = self.lm.get_input_embeddings()
        samples = []
        for row in range(soft.shape[0]):
            ids, labels = list(prompt), [IGNORE] * len(prompt)
            if targets is not None:
                answer = self.answer_ids(targets[row])
                ids, labels = ids + answer, labels + answer
            samples.append(splice(embed, ids, labels, soft[row]))
        return pad_left(samples)

    def forward(self, dense: torch.Tensor, tokens: torch.Tensor, targets: list[str] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Head logits; with ``targets`` also the LM loss on the answer tokens (stage 2)."""
        pooled, soft = self.encode_cells(dense, tokens)
        logits = self.head(pooled)
        if targets is None:
            return logits, None
        embeds, mask, labels = self._batch(soft, targets)
        with self.lm_precision():
            loss = self.lm(inputs_embeds=embeds, attention_mask=mask, labels=labels).loss  # float32 (upcast inside)
        return logits, loss

    def constraint(self) -> OntologyConstraint:
        """A fresh decoding constraint (it follows one generate call): the cell type spells a training label
        (or any live CL label or synonym), each CELLxGENE field one of its training labels."""
        if self._trie is None:
            names = list(self.config.label_names)
            if self.config.constrain_to == "ontology":
                from cell2text.knowledge.ontology import load_ontology

                ontology = load_ontology()
                names += [n for t in ontology.ids("CL") for n in (ontology.term(t).label, *ontology.term(t).synonyms)]
            spans = [Span(TRIGGER, names)]
            spans += [Span(field_trigger(f), list(labels.values()), (".",)) for f, labels in self.config.fields.items()]
            self._trie = NameTrie(self.text_tokenizer, spans)
        return OntologyConstraint(self._trie)

    def generation_batch_size(self, cells: int) -> int:
        """Cells per generate batch: 32 on the CPU; on CUDA as many as half the free memory holds
        (KV cache, logits and prefill activations per cell, float32), at most ``MAX_GENERATION_BATCH``."""
        if self.device.type != "cuda":
            return CPU_GENERATION_BATCH
        lm = self.lm.config
        head_dim = getattr(lm, "head_dim", None) or lm.hidden_size // lm.num_attention_heads
        kv_heads = getattr(lm, "num_key_value_heads", None) or lm.num_attention_heads
        length = len(self.prompt_ids) - 1 + self.config.n_soft_tokens + self.config.max_new_tokens
        per_cell = 4 * (
            2 * lm.num_hidden_layers * kv_heads * head_dim * length  # KV cache
            + 4 * lm.vocab_size  # logits and the processors' copies, one step
            + 4 * length * max(lm.hidden_size, getattr(lm, "intermediate_size", 0))
        )  # prefill activations
        free, _ = torch.cuda.mem_get_info(self.device)
        return int(max(1, min(cells, MAX_GENERATION_BATCH, free // 2 // per_cell)))

    @torch.no_grad()
    def generate(self, dense: torch.Tensor, tokens: torch.Tensor, *, batch_size: int | None = None, max_new_tokens: int | None = None) -> list[str]:
        """Greedy descriptions, one per row, batched (``batch_size``, default from the device), KV-cached;
        constrained spans if configured."""
        self.eval()
        batch_size = batch_size or self.generation_batch_size(dense.shape[0])
        texts: list[str] = []
        for start in range(0, dense.shape[0], batch_size):
            _, soft = self.encode_cells(dense[start : start + batch_size], tokens[start : start + batch_size])
            embeds, mask, _ = self._batch(soft, None)
            with self.lm_precision():
                out = self.lm.generate(
                    inputs_embeds=embeds,
                    attention_mask=mask,
                    do_sample=False,
                    max_new_tokens=max_new_tokens or self.config.max_new_tokens,
                    logits_processor=[self.constraint()] if self.config.constrained else [],
                    pad_token_id=self.text_tokenizer.pad_token_id,
                )
            texts += [t.strip() for t in self.text_tokenizer.batch_decode(out, skip_special_tokens=True)]
        return texts

    @torch.no_grad()
    def probabilities(self, dense: torch.Tensor, tokens: torch.Tensor) -> np.ndarray:
        """Head probabilities (cells, labels), temperature-calibrated."""
        self.eval()
        return torch.softmax(self.classify(dense, tokens) / self.config.head_temperature, dim=-1).cpu().numpy()

    @torch.no_grad()
    def head_probabilities(self, dense: torch.Tensor, tokens: torch.Tensor) -> dict[str, np.ndarray]:
        """Every head's calibrated probabilities (cells, labels), by field (``cell_type`` as :meth:`probabilities`)."""
        self.eval()
        dense, tokens = dense.to(self.device), tokens.to(self.device)
        pooled = pool(self.encoder(dense, tokens), tokens)
        temperatures = self.temperatures()
        return {field: torch.softmax(head(pooled) / temperatures.get(field, 1.0), dim=-1).cpu().numpy() for field, head in self.heads().items()}

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
        return pd.DataFrame(
            {
                "text": self.generate(dense, tokens),
                "head_label": [self.config.label_names[i] for i in best],
                "head_id": [self.config.labels[i] for i in best],
                "head_probability": probabilities.max(1),
            },
            index=index,
        )

    # --- checkpoints
    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Everything this project trains: encoder, heads, projector, LoRA (peft's own adapter state; the base LM is
        referenced, not copied), each key prefixed with its part's name."""
        state = {f"{part}.{k}": v for part in TRAINED_PARTS for k, v in getattr(self, part).state_dict().items()}
        state |= {f"lm.{k}": v for k, v in get_peft_model_state_dict(self.lm).items()}
        return {k: v.detach().contiguous() for k, v in state.items()}

    def save_pretrained(self, path: str | Path) -> Path:
        """Write config, genes and trainable weights to the folder ``path``, replacing it whole (atomically)."""
        with atomic_path(path) as tmp:
            tmp.mkdir(parents=True)
            self.config.save(tmp / "config.json")
            self.genes.save(tmp / "genes.json")
            save_file(self.trainable_state(), tmp / "weights.safetensors", metadata={"format_version": str(FORMAT_VERSION)})
        return Path(path)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | None = None) -> Cell2Text:
        path = Path(path)
        files = [model_checkpoint(path) / name for name in CHECKPOINT_FILES]
        config = Cell2TextConfig.load(files[0])
        model = cls(config, GeneTokenizer.load(files[1]))
        try:
            model.load_trainable_state(_read_weights(files[2]))
        except ValueError as exc:
            raise InputError(f"'{path}' was written by another cell2text model version. Retrain it with 'cell2text train'.") from exc
        return model.to(resolve_device(device)).eval()

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load what :meth:`trainable_state` returned; ValueError when keys or shapes differ."""
        expected = self.trainable_state()
        if set(state) != set(expected) or any(state[k].shape != expected[k].shape for k in state):
            raise ValueError("trainable state does not match this model")
        for part in TRAINED_PARTS:
            getattr(self, part).load_state_dict(_part(state, part))
        set_peft_model_state_dict(self.lm, _part(state, "lm"))


def _part(state: dict[str, torch.Tensor], part: str) -> dict[str, torch.Tensor]:
    """The entries of one part of a trainable state, without the part's prefix."""
    return {k.removeprefix(f"{part}."): v for k, v in state.items() if k.startswith(f"{part}.")}


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint's weights in today's format. Format 1 (before peft's adapter state was used) named LoRA
    weights with peft's adapter name ``.default``; they are renamed, so older checkpoints keep working."""
    with safe_open(path, framework="pt") as handle:
        version = int((handle.metadata() or {}).get("format_version", 1))
    state = load_file(path)
    if version == 1:
        state = {k.replace(".default.", ".") if k.startswith("lm.") else k: v for k, v in state.items()}
    return state


def load_model(path: str | Path | None = None) -> tuple[Cell2Text, Path]:
    """The model in force (:func:`model_checkpoint`), loaded."""
    path = model_checkpoint(path)
    return Cell2Text.from_pretrained(path), path


def resolve_device(device: str | None = None) -> torch.device:
    """``device``, else ``CELL2TEXT_DEVICE``; "auto" is CUDA when present, else CPU.

    On CUDA this also allows TF32 matmuls (Ampere and later: float32 range, ~3 decimal digits,
    several times the fp32 throughput); CPU arithmetic is untouched.
    """
    from cell2text.config import get_settings

    name = device or get_settings().device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device
