"""Run-time context of the describe graph: the data, the loaded resources and the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

import anndata as ad

from cell2text.agent.tools import Thresholds
from cell2text.kb.store import KnowledgeBase
from cell2text.model.model import Cell2Text
from cell2text.tools.ontology import Ontology
from cell2text.tools.pagerank import PageRankSimilarity


@dataclass(kw_only=True)
class DescribeContext:
    """What the nodes work with; passed once per run as the graph's ``context``."""

    adata: ad.AnnData  # prepared: log-normalised expression, gene symbols, groups in obs[groupby]
    groupby: str  # obs column with the groups to describe
    ontology: Ontology  # CL, UBERON, MONDO
    ppr: PageRankSimilarity  # PageRank similarity on CL
    model: Cell2Text  # drafts the descriptions and gives the head's probabilities
    kb: KnowledgeBase | None = None  # definitions; None leaves them out
    max_rounds: int = 2  # revise at most this many times, then finalise
    thresholds: Thresholds = field(default_factory=Thresholds)  # when evidence supports or contradicts
