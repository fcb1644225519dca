"""How well the Cell2Text model fits a dataset: the weight its head gets as evidence.

The model is one source of evidence among others (marker knowledge, DE, pathways, the ontology).
A model trained on one tissue, species or gene panel says little about another, so its head
counts only as much as it fits the data:

* **genes**: the share of the model's genes the data measures (after identifiers and mouse genes
  were mapped to human symbols by :func:`cell2text.data.io.prepare`). Below ``MIN_GENES`` the
  model is not run at all: its inputs would be mostly zeros.
* **agreement**: for each group, whether the marker knowledge supports the head's own top label
  on the group's DE table (1 supported, 0.5 weak, 0 contradicted:
  :meth:`cell2text.tools.groups.GroupEvidence.check`); the dataset's agreement is the mean over
  groups. A PBMC model on blood agrees on nearly every group; on pancreas islets it names
  monocytes and B cells that the islet cells' markers contradict.
* **certainty**: 1 - the normalised entropy of the group's mean head probabilities; stated, not
  weighed again (the head's probability of a claim already carries it).

``fit = genes x agreement``. The head's weight is ``min(1, fit / FULL_FIT)`` and 0 below
``MIN_FIT``: where the model fits (three quarters of its genes measured and its labels agreeing
with the markers), its head counts fully, as before; where it does not, describe runs on the
evidence path alone and says why. A group whose markers contradict the head's top label gets
weight 0 for that group. The constants are set a priori, not fitted to any dataset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import anndata as ad
import numpy as np

from cell2text.model.tokenizer import GeneTokenizer
from cell2text.tools.groups import GroupEvidence

MIN_GENES = 0.5  # below this share of its genes measured, the model is not run
MIN_FIT = 0.3  # below this fit, the head gets no weight: describe runs on the evidence path alone
FULL_FIT = 0.75  # at or above this fit, the head counts fully
AGREEMENT = {"supported": 1.0, "weak": 0.5, "contradicted": 0.0}  # the markers' verdict on the head's top label


@dataclass
class GroupFit:
    """The head on one group."""

    top: str  # the head's top label (CL id)
    probability: float  # its mean probability over the group's cells
    certainty: float  # 1 - normalised entropy of the group's mean probabilities (1: one label, 0: uniform)
    markers: str  # supported | weak | contradicted: the marker knowledge on the top label
    weight: float  # the head's weight in this group


@dataclass
class ModelFit:
    """The model against one dataset; ``weight`` scales its head as evidence (0: not used)."""

    genes_found: int  # model genes the data measures
    genes_total: int  # genes the model knows
    species: str | None  # the data's species as prepare() decided it (the model's genes are human symbols)
    agreement: float | None = None  # mean marker agreement with the head's top label over groups (None: not measured)
    weight: float = 0.0  # the head's weight over the dataset
    used: bool = False  # whether the model drafted and its head counted
    reason: str = ""  # one sentence for the report
    groups: dict[str, GroupFit] = field(default_factory=dict)

    @property
    def gene_share(self) -> float:
        return self.genes_found / self.genes_total if self.genes_total else 0.0

    @property
    def fit(self) -> float | None:
        return None if self.agreement is None else self.gene_share * self.agreement

    def group_weight(self, group: str) -> float:
        """The head's weight in one group (the dataset's, or 0 where the markers contradict its label)."""
        found = self.groups.get(group)
        return found.weight if found is not None else self.weight

    def to_dict(self) -> dict:
        record = asdict(self)
        record |= {"gene_share": round(self.gene_share, 3), "fit": None if self.fit is None else round(self.fit, 3)}
        return record


def gene_fit(genes: GeneTokenizer, adata: ad.AnnData) -> ModelFit:
    """The genes part of the fit, from the model's gene vocabulary and a prepared AnnData's var names (cheap:
    no weights loaded); ``used`` False below ``MIN_GENES``."""
    _, found = genes.overlap(adata)
    species = adata.uns.get("cell2text", {}).get("preprocessing", {}).get("species")
    fit = ModelFit(found, len(genes), species)
    if fit.gene_share < MIN_GENES:
        fit.reason = (
            f"The Cell2Text model was not used: the data measures {found:,} of its {len(genes):,} genes"
            f" ({fit.gene_share:.0%}, at least {MIN_GENES:.0%} needed); cell types come from marker evidence alone."
        )
    else:
        fit.used, fit.weight = True, 1.0
    return fit


def group_fit(head: dict[str, float], evidence: GroupEvidence, group: str) -> GroupFit:
    """The head on one group: its top label, certainty, and the markers' verdict on that label (:meth:`GroupEvidence.check`;
    weight filled later)."""
    labels, values = list(head), np.asarray(list(head.values()), dtype=float)
    top = labels[int(values.argmax())]
    p = values / values.sum() if values.sum() > 0 else values
    entropy = float(-(p[p > 0] * np.log(p[p > 0])).sum() / np.log(len(p))) if len(p) > 1 else 0.0
    return GroupFit(top, round(float(values.max()), 3), round(1.0 - entropy, 3), evidence.check(group, top).status, 0.0)


def weigh(fit: ModelFit, groups: dict[str, GroupFit]) -> ModelFit:
    """The head's weight from the genes and the groups' agreement; the reason the report states."""
    fit.groups = groups
    fit.agreement = round(float(np.mean([AGREEMENT[g.markers] for g in groups.values()])), 3) if groups else 1.0
    value = fit.fit or 0.0
    fit.weight = 0.0 if value < MIN_FIT else round(min(1.0, value / FULL_FIT), 3)
    fit.used = fit.weight > 0
    for g in groups.values():
        g.weight = 0.0 if g.markers == "contradicted" else fit.weight
    numbers = (
        f"{fit.gene_share:.0%} of its {fit.genes_total:,} genes measured, its top label supported by the markers"
        f" in {fit.agreement:.0%} of the groups (fit {value:.2f})"
    )
    if not fit.used:
        fit.reason = (
            f"The Cell2Text model was not used: {numbers}, below {MIN_FIT}; cell types come from marker evidence"
            " alone (marker knowledge, DE, ontology)."
        )
    elif fit.weight < 1:
        fit.reason = f"The Cell2Text model's head counted at weight {fit.weight:.2f}: {numbers}."
    else:
        fit.reason = f"The Cell2Text model fits this data: {numbers}."
    return fit
