"""Training targets: templated descriptions as in the Cell2Text paper, in several phrasings.

The first sentence is fixed, "This sample consists of a {CL label}.", so the cell type can be
constrained while decoding and read back exactly; tissue, disease and the group's most active
pathways follow in varied wording, so the model learns content rather than one string. The CL
definition is left to the knowledge base, which cites it, instead of being generated.
"""

from __future__ import annotations

import random

from cell2text.data.genesets import pathway_title

FIRST = "This sample consists of a {label}."
TRIGGER = " consists of a"
CONTEXT = [
    " It comes from the {tissue} of a donor with {disease}.",
    " The cells were taken from {tissue}; the donor's condition: {disease}.",
    " Its tissue of origin is {tissue}, and the disease context is {disease}.",
]
PATHWAYS = [
    " Its most active pathways are {pathways}.",
    " It is marked by {pathways} activity.",
    " Pathways enriched in it: {pathways}.",
]


def describe_target(label: str, tissue: str | None, disease: str | None, pathways: list[str], rng: random.Random) -> str:
    """One target text; ``rng`` picks the phrasing."""
    text = FIRST.format(label=label)
    if tissue and disease:
        text += rng.choice(CONTEXT).format(tissue=tissue, disease=disease)
    if pathways:
        titles = [pathway_title(p).lower() for p in pathways]
        joined = titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]
        text += rng.choice(PATHWAYS).format(pathways=joined)
    return text
