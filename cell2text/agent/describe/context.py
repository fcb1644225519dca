"""Run-time context of the describe graph: the data's evidence, the model and the loaded resources."""

from __future__ import annotations

from dataclasses import dataclass

import anndata as ad

from cell2text.kb.store import KnowledgeBase
from cell2text.model.fit import ModelFit
from cell2text.model.model import Cell2Text
from cell2text.tools.groups import GroupEvidence


@dataclass(kw_only=True)
class DescribeContext:
    """What the nodes work with; passed once per run as the graph's ``context``."""

    #: The prepared data and its groups, the ontology and PageRank, the marker knowledge, the thresholds and the tissue
    #: prior; each group's markers, candidates and pathway tests computed once and shared by every node.
    evidence: GroupEvidence
    model: Cell2Text | None  # drafts the descriptions and gives the head's probabilities; None when it does not fit (see fit)
    fit: ModelFit  # the model's genes measured in the data; the draft node adds the groups' agreement and the weights
    kb: KnowledgeBase | None = None  # definitions; None leaves them out
    max_rounds: int = 2  # revise at most this many times, then finalise
    #: The tested cells the report's UMAP draws (:func:`cell2text.tools.scan.umap_cells`: a copy, taken before the
    #: graph runs, so the embed node never reads the AnnData the test node writes); None: the data has its own embedding.
    umap_cells: ad.AnnData | None = None

    def evidence_under(self, inferred: dict | None) -> GroupEvidence:
        """The run's evidence under its tissue prior: the one given (or each group's metadata), else the one the test
        node inferred (``DescribeState.tissue``)."""
        return self.evidence.with_tissue(inferred["id"]) if inferred is not None else self.evidence
