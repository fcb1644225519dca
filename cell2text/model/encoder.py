"""Expression encoders: a cell in, a sequence of cell-state vectors out, ``(B, T, d_encoder)``.

Both sit behind one interface (``forward(dense, tokens)``), chosen by ``config.encoder``:

* ``MLPEncoder``: the full log-expression vector through one hidden layer (T = 1). Measured best on a
  few hundred cells (FINDINGS: 0.879 accuracy alone vs 0.750 for gene tokens).
* ``GeneTransformerEncoder``: gene tokens in rank order (gene + rank-position embeddings) through
  a small transformer (T = top_k), the paper's design; it needs far more cells, or pretrained gene
  embeddings loaded into ``gene_embedding``.
"""

from __future__ import annotations

import torch
from torch import nn

from cell2text.model.config import Cell2TextConfig


class MLPEncoder(nn.Module):
    def __init__(self, config: Cell2TextConfig, n_genes: int) -> None:
        super().__init__()
        # one hidden layer: on 560 demo cells it beat two layers with LayerNorm by 0.04 accuracy
        # and 0.08 macro-F1 (head alone, same split and seed)
        self.net = nn.Sequential(nn.Linear(n_genes, config.d_encoder), nn.GELU(), nn.Dropout(config.dropout))

    def forward(self, dense: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(dense).unsqueeze(1)  # (B, 1, d_encoder)


class GeneTransformerEncoder(nn.Module):
    def __init__(self, config: Cell2TextConfig, n_genes: int) -> None:
        super().__init__()
        self.gene_embedding = nn.Embedding(n_genes + 1, config.d_encoder, padding_idx=0)
        self.rank_embedding = nn.Embedding(config.top_k_genes, config.d_encoder)
        layer = nn.TransformerEncoderLayer(
            config.d_encoder, config.n_heads, 4 * config.d_encoder, config.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.d_encoder)

    def forward(self, dense: torch.Tensor | None, tokens: torch.Tensor) -> torch.Tensor:
        ranks = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.gene_embedding(tokens) + self.rank_embedding(ranks)  # (B, k, d_encoder)
        x = self.blocks(x, src_key_padding_mask=tokens == 0)
        return self.norm(x)  # (B, k, d_encoder)


def build_encoder(config: Cell2TextConfig, n_genes: int) -> nn.Module:
    if config.encoder == "mlp":
        return MLPEncoder(config, n_genes)
    if config.encoder == "transformer":
        return GeneTransformerEncoder(config, n_genes)
    raise ValueError(f"unknown encoder '{config.encoder}' (use 'mlp' or 'transformer')")


def pool(states: torch.Tensor, tokens: torch.Tensor | None) -> torch.Tensor:
    """Mean over the valid positions of the encoder output: the cell embedding (B, d_encoder)."""
    if states.shape[1] == 1 or tokens is None:
        return states.mean(dim=1)
    mask = (tokens != 0).unsqueeze(-1).float()
    return (states * mask).sum(1) / mask.sum(1).clamp(min=1)
