"""Figures for chat answers: a dot plot or violin plot for genes, a bar chart of a score per group.

Dot plots are scanpy's; violins and bars are drawn with matplotlib directly (scanpy's violin goes
through seaborn's density estimate, several times slower, which a chat answer cannot afford).

Each function draws one PNG at ``path`` (matplotlib's Agg backend, no display needed) and returns
the path as a string, for :attr:`cell2text.agent.chat.session.Answer.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anndata as ad
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import scanpy as sc

DPI = 110


def _saved(figure, path: Path) -> str:
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    return str(path)


def dot_plot(adata: ad.AnnData, genes: Sequence[str], groupby: str, path: Path, title: str | None = None) -> str:
    """Scanpy's dot plot: per group, the share of cells expressing each gene (size) and its mean expression (colour)."""
    plot = sc.pl.dotplot(adata, list(genes), groupby=groupby, title=title, show=False, return_fig=True)
    plot.make_figure()
    return _saved(plot.fig, path)


def violin_plot(values: Sequence[float], labels: Sequence[str], order: Sequence[str], title: str, path: Path) -> str:
    """One violin per label (in ``order``) of per-cell values, with each label's share of non-zero cells on top."""
    values, labels = np.asarray(values, dtype=float), np.asarray(labels, dtype=str)
    groups = [values[labels == label] for label in order]
    figure, axis = plt.subplots(figsize=(max(4.0, 0.55 * len(order) + 1.5), 3.6))
    shown = [g if g.std() > 0 else g + np.linspace(-1e-3, 1e-3, len(g)) for g in groups]  # a constant group has no density
    parts = axis.violinplot(shown, showmedians=True, widths=0.8)
    for body in parts["bodies"]:
        body.set_facecolor("#2980b9")
        body.set_alpha(0.6)
    for i, g in enumerate(groups, 1):
        axis.text(i, axis.get_ylim()[1], f"{(g > 0).mean():.0%}", ha="center", va="bottom", fontsize=7)
    axis.set_xticks(range(1, len(order) + 1), order, rotation=60, ha="right")
    axis.set_ylabel("log-normalised expression")
    axis.set_title(title, pad=14)
    return _saved(figure, path)


def bar_chart(
    labels: Sequence[str], values: Sequence[float], errors: Sequence[float], marked: Sequence[bool], title: str, ylabel: str, path: Path
) -> str:
    """Bars of ``values`` with error bars; ``marked`` bars (e.g. FDR <= 0.05 and higher than the rest) are coloured."""
    figure, axis = plt.subplots(figsize=(max(4.0, 0.55 * len(labels) + 1.5), 3.6))
    colours = ["#c0392b" if m else "#95a5a6" for m in marked]
    axis.bar(range(len(labels)), values, yerr=errors, color=colours, capsize=2)
    axis.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    axis.axhline(0, color="black", linewidth=0.6)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    return _saved(figure, path)
