"""Training targets: templated descriptions as in the Cell2Text paper, in several phrasings.

The first sentence is fixed, "This sample consists of a {CL label}.", so the cell type can be
constrained while decoding and read back exactly; tissue, disease and the group's most active
pathways follow in varied wording, so the model learns content rather than one string. The CL
definition is left to the knowledge base, which cites it, instead of being generated.

Models trained on CELLxGENE-schema files describe every field of the schema the data has, each in a
fixed sentence ("Tissue: lung.") so that it too can be constrained and read back (``describe_fields``).
"""

from __future__ import annotations

import random

from cell2text.knowledge.genesets import pathway_title

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


#: The description fields of CELLxGENE-schema data after the cell type, in text order: field -> sentence.
FIELD_SENTENCES = {
    "tissue": " Tissue: {}.",
    "disease": " Disease: {}.",
    "development_stage": " Development stage: {}.",
    "sex": " Sex: {}.",
    "assay": " Assay: {}.",
}


def field_trigger(field: str) -> str:
    """The text just before a field's value (" Tissue:"): where constrained decoding starts."""
    return FIELD_SENTENCES[field].split("{}")[0].rstrip()


def describe_target(label: str, tissue: str | None, disease: str | None, pathways: list[str], rng: random.Random) -> str:
    """One target text; ``rng`` picks the phrasing."""
    text = FIRST.format(label=label)
    if tissue and disease:
        text += rng.choice(CONTEXT).format(tissue=tissue, disease=disease)
    return text + _pathway_sentence(pathways, rng)


def describe_fields(label: str, fields: dict[str, str], pathways: list[str], rng: random.Random) -> str:
    """One target text for CELLxGENE-schema data: cell type, then each known field's fixed sentence, then pathways."""
    text = FIRST.format(label=label)
    text += "".join(FIELD_SENTENCES[f].format(fields[f]) for f in FIELD_SENTENCES if fields.get(f))
    return text + _pathway_sentence(pathways, rng)


def _pathway_sentence(pathways: list[str], rng: random.Random) -> str:
    if not pathways:
        return ""
    titles = [pathway_title(p).lower() for p in pathways]
    joined = titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]
    return rng.choice(PATHWAYS).format(pathways=joined)
