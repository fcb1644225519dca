"""Marker knowledge: cell type -> positive and negative marker genes, with CL ids, species, tissue, weight and source.

:func:`load_markers` is the one loader (pegasus files, the Cell Ontology's own labels and
definitions, the curated table, a user's table); :mod:`cell2text.knowledge.genes` converts symbols
between human and mouse and reads CD antigen names.
"""

from cell2text.knowledge.genes import convert_genes, detect_species
from cell2text.knowledge.markers import MarkerKnowledge, load_markers

__all__ = ["MarkerKnowledge", "convert_genes", "detect_species", "load_markers"]
