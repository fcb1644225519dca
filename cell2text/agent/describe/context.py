"""Run-time context of the describe graph: the data, the loaded resources and the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

import anndata as ad

from cell2text.agent.describe.checks import Thresholds
from cell2text.kb.store import KnowledgeBase
from cell2text.knowledge import MarkerKnowledge
from cell2text.knowledge.ontology import Ontology
from cell2text.knowledge.pagerank import PageRankSimilarity
from cell2text.model.fit import ModelFit
from cell2text.model.model import Cell2Text


@dataclass(kw_only=True)
class DescribeContext:
    """What the nodes work with; passed once per run as the graph's ``context``."""

    adata: ad.AnnData  # prepared: log-normalised expression, gene symbols, groups in obs[groupby]
    groupby: str  # obs column with the groups to describe
    ontology: Ontology  # CL, UBERON, MONDO
    ppr: PageRankSimilarity  # PageRank similarity on CL
    model: Cell2Text | None  # drafts the descriptions and gives the head's probabilities; None when it does not fit (see fit)
    fit: ModelFit  # the model's genes measured in the data; the draft node adds the groups' agreement and the weights
    knowledge: MarkerKnowledge  # marker knowledge in the data's species, with the user's own markers
    tissue: str | None = None  # UBERON id of the tissue the user gave (--tissue): the candidates' prior; else obs metadata
    kb: KnowledgeBase | None = None  # definitions; None leaves them out
    max_rounds: int = 2  # revise at most this many times, then finalise
    thresholds: Thresholds = field(default_factory=Thresholds)  # when evidence supports or contradicts
