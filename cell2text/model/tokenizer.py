"""Gene tokenizer: the model's gene vocabulary, and rank-value encoding of expression profiles.

Rank-value encoding (Geneformer): each gene's expression is divided by that gene's median over
the training cells (where expressed), so housekeeping genes do not dominate; the cell becomes
its ``top_k`` genes by that ratio, in rank order. The dense view aligns a cell's log-expression
to the vocabulary for the MLP encoder. Genes outside the vocabulary are dropped and counted.

A vocabulary fitted on CELLxGENE-schema data (Ensembl ids as var_names, symbols in
``var["feature_name"]``) keeps both: data is aligned by Ensembl id when its var_names are ids
(training files, whose symbols may differ between annotation releases), else by symbol (prepared data).
"""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import numpy as np
import scipy.sparse as sp

from cell2text.errors import InputError
from cell2text.knowledge.genes import current_symbol

PAD = 0  # token id 0 pads; gene i of the vocabulary is token i + 1
MIN_OVERLAP = 0.5  # a dataset must contain at least this share of the model's genes


class GeneTokenizer:
    def __init__(self, genes: list[str], medians: np.ndarray, ids: list[str] | None = None) -> None:
        self.genes = list(genes)  # gene symbols, unique
        self.medians = np.asarray(medians, dtype=np.float32)
        self.ids = list(ids) if ids is not None else None  # Ensembl ids, same order (CELLxGENE data), else None
        self.index = {g: i for i, g in enumerate(self.genes)}

    @classmethod
    def fit(cls, adata: ad.AnnData) -> GeneTokenizer:
        """Vocabulary = the genes of ``adata``; medians of each gene's non-zero expression.

        With ``var["feature_name"]`` (CELLxGENE), the symbols come from it and var_names are kept as the ids.
        """
        X = adata.X.tocsc() if sp.issparse(adata.X) else sp.csc_matrix(adata.X)
        medians = np.ones(adata.n_vars, dtype=np.float32)
        for j in range(adata.n_vars):
            values = X.data[X.indptr[j] : X.indptr[j + 1]]
            values = values[values > 0]
            if values.size:
                medians[j] = np.median(values)
        if "feature_name" in adata.var:
            from cell2text.data.io import gene_symbols

            symbols = ad.utils.make_index_unique(gene_symbols(adata.var))  # as prepare() names them
            return cls(list(symbols), medians, ids=list(map(str, adata.var_names)))
        return cls(list(map(str, adata.var_names)), medians)

    def __len__(self) -> int:
        return len(self.genes)

    def overlap(self, adata: ad.AnnData) -> tuple[np.ndarray, int]:
        """Column of each vocabulary gene in ``adata`` (-1 if absent) and how many are present.

        By symbol (a previous HGNC symbol of the vocabulary matches today's in the data), or by Ensembl id when the
        vocabulary has ids and they match more of the var_names.
        """
        position = {g: i for i, g in enumerate(map(str, adata.var_names))}
        # prepare() names genes by today's HGNC symbols; a vocabulary fitted on older files may use previous ones (IGJ -> JCHAIN)
        columns = np.array([position.get(g, position.get(current_symbol(g), -1)) for g in self.genes])
        if self.ids is not None:
            by_id = np.array([position.get(g, -1) for g in self.ids])
            if (by_id >= 0).sum() > (columns >= 0).sum():
                columns = by_id
        return columns, int((columns >= 0).sum())

    def dense(self, adata: ad.AnnData) -> np.ndarray:
        """Log-expression aligned to the vocabulary, (cells, genes); absent genes are 0."""
        columns, found = self.overlap(adata)
        if found < MIN_OVERLAP * len(self.genes):
            msg = f"only {found} of the model's {len(self.genes)} genes are in the data ({found / len(self.genes):.0%});"
            msg += f" at least {MIN_OVERLAP:.0%} are needed. Use gene symbols of the same species, or train on this data."
            raise InputError(msg)
        X = adata.X[:, np.maximum(columns, 0)]
        X = X.toarray() if sp.issparse(X) else np.array(X)
        X[:, columns < 0] = 0.0
        return X.astype(np.float32)

    def encode(self, dense: np.ndarray, top_k: int) -> np.ndarray:
        """Token ids (cells, top_k) of the top genes by expression / median, 0-padded."""
        ratio = dense / self.medians
        order = np.argsort(-ratio, axis=1, kind="stable")[:, :top_k]
        tokens = order + 1
        tokens[np.take_along_axis(ratio, order, axis=1) <= 0] = PAD
        return tokens.astype(np.int64)

    def save(self, path: str | Path) -> None:
        ids = {"ids": self.ids} if self.ids is not None else {}
        Path(path).write_text(json.dumps({"genes": self.genes, "medians": self.medians.tolist()} | ids) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> GeneTokenizer:
        data = json.loads(Path(path).read_text())
        return cls(data["genes"], np.array(data["medians"], dtype=np.float32), data.get("ids"))
