"""State of the describe graph: every field is keyed by group, so one run describes a whole dataset."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cell2text.agent.describe.claims import Claim
from cell2text.model.fit import ModelFit


@dataclass
class DescribeInput:
    """What a caller may pass in."""

    drafts: dict[str, str] = field(default_factory=dict)  # group -> a draft to use instead of the model's


@dataclass
class DescribeState(DescribeInput):
    """What the nodes read and write."""

    head: dict[str, dict[str, float]] = field(default_factory=dict)  # group -> label id -> mean per-cell probability
    probabilities: np.ndarray | None = None  # (cells, labels): each tested cell's head probabilities (None: the model did not run)
    written: dict[str, str] = field(default_factory=dict)  # group -> the model's description, before the head is weighed
    texts: dict[str, str] = field(default_factory=dict)  # group -> the current description
    claims: dict[str, list[Claim]] = field(default_factory=dict)  # group -> claims of the current text (verified after verify)
    first_claims: dict[str, list[Claim]] = field(default_factory=dict)  # group -> the draft's claims as first verified
    revisions: list[dict[str, list[Claim]]] = field(default_factory=list)  # per round: group -> verified claims with what revision did
    definitions: dict[str, dict] = field(default_factory=dict)  # id -> knowledge-base document
    candidates: dict[str, list[Claim]] = field(default_factory=dict)  # group -> cell types its markers propose, each verified
    round: int = 0  # revisions done so far
    model_fit: ModelFit | None = None  # how well the model fits the data, and its head's weight per group (set by draft)
    draft_source: dict[str, str] = field(default_factory=dict)  # group -> model | evidence | given: who wrote the draft
    umap: dict[str, np.ndarray] | None = None  # the report's UMAP of the tested cells (positions, coordinates); None: the data has its own
    tissue: dict | None = None  # inferred where neither the user nor obs says it (id, label, the groups that voted); None: not inferred
