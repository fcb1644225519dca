"""Projectors from encoder states to soft tokens of the language model (LLaVA-style builder)."""

from __future__ import annotations

import torch
from torch import nn

from cell2text.model.config import Cell2TextConfig


class MLPProjector(nn.Module):
    """Pooled cell embedding -> ``n_soft_tokens`` LM embeddings through two layers (mlp2x_gelu)."""

    def __init__(self, config: Cell2TextConfig) -> None:
        super().__init__()
        self.n_soft, self.d_lm = config.n_soft_tokens, config.d_lm
        self.net = nn.Sequential(nn.Linear(config.d_encoder, config.d_lm), nn.GELU(), nn.Linear(config.d_lm, config.n_soft_tokens * config.d_lm))

    def forward(self, states: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        return self.net(pooled).view(-1, self.n_soft, self.d_lm)  # (B, n_soft, d_lm)


class Resampler(nn.Module):
    """``n_soft_tokens`` learned queries cross-attending to the encoder states (Perceiver-style)."""

    def __init__(self, config: Cell2TextConfig) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(config.n_soft_tokens, config.d_encoder) * 0.02)
        self.attention = nn.MultiheadAttention(config.d_encoder, config.n_heads, batch_first=True)
        self.out = nn.Sequential(nn.LayerNorm(config.d_encoder), nn.Linear(config.d_encoder, config.d_lm))

    def forward(self, states: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        queries = self.queries.unsqueeze(0).expand(states.shape[0], -1, -1)  # (B, n_soft, d_encoder)
        attended, _ = self.attention(queries, states, states)
        return self.out(attended)  # (B, n_soft, d_lm)


def build_projector(config: Cell2TextConfig) -> nn.Module:
    if config.projector == "mlp2x_gelu":
        return MLPProjector(config)
    if config.projector == "resampler":
        return Resampler(config)
    raise ValueError(f"unknown projector '{config.projector}' (use 'mlp2x_gelu' or 'resampler')")
