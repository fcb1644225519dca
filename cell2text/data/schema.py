"""The obs columns of the CELLxGENE dataset schema that cell2text reads, with the common non-schema spellings.

One home for these names: describe's metadata checks, the dataset summary, the chat and training
all read a dataset's own annotation, tissue, disease and donors through them. (How ``organism``
values spell each species is gene knowledge: :data:`cell2text.knowledge.genes.ORGANISM_NAMES`.)
"""

from __future__ import annotations

#: The authors' cell-type annotation (Cell Ontology ids).
CELL_TYPE_ID = "cell_type_ontology_term_id"

#: The schema's donor column, then the spellings other files use for it.
DONOR_ID = "donor_id"
DONOR_COLUMNS = (DONOR_ID, "donor", "individual", "patient", "subject")

#: Metadata a description may state, each read from its schema id column first, then a free-text column.
METADATA_COLUMNS = {
    "tissue": ("tissue_ontology_term_id", "tissue"),
    "disease": ("disease_ontology_term_id", "disease"),
}

#: The schema's disease id and label for healthy donors.
NORMAL = ("PATO:0000461", "normal")
