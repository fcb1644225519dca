"""The documents of the knowledge base: ontology terms, gene sets and marker genes, each with citable metadata.

Every document carries ``curie`` (the ontology id or gene-set name), ``kind`` (cell_type | tissue |
disease | pathway | markers), ``label``, ``source`` (ontology release, gene-set library version or
marker knowledge version) and ``url``. A ``markers`` document lists one cell type's known marker
genes ("pulmonary alveolar type 2 cell: positive markers SFTPC, SFTPB, ..."), so retrieval and chat
can answer "which cell types express SFTPC".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import networkx as nx

from cell2text.knowledge import MarkerKnowledge, load_markers
from cell2text.knowledge.genesets import LIBRARIES, load_gene_sets, pathway_title
from cell2text.knowledge.ontology import Ontology

KINDS = {"CL": "cell_type", "UBERON": "tissue", "MONDO": "disease"}
MARKERS = "markers"  # the kind of marker documents
MAX_NEGATIVE = 6
#: Gene-set libraries indexed, with the version in their file name.
GENESET_VERSION = "MSigDB v7.5.1"
#: Document length drives build time (MiniLM attention is quadratic): keep the informative start.
MAX_SYNONYMS = 8
MAX_GENES = 12
#: For scope "cellxgene": MONDO terms at most this many is_a steps below "disease" (MONDO:0000001).
MONDO_DEPTH = 4


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    metadata: dict[str, str | int]


def term_document(ontology: Ontology, term_id: str) -> Document:
    """A term as text: label, definition, synonyms and parents."""
    term = ontology.term(term_id)
    parts = [f"{term.label}."]
    if term.definition:
        parts.append(term.definition)
    if term.synonyms:
        parts.append("Synonyms: " + "; ".join(term.synonyms[:MAX_SYNONYMS]) + ".")
    parents = [ontology.term(p).label for p in ontology.parents(term_id)]
    if parents:
        parts.append("Is a kind or part of: " + "; ".join(parents) + ".")
    metadata = {
        "curie": term.id,
        "kind": KINDS[term.prefix],
        "label": term.label,
        "source": f"{term.prefix} {ontology.versions[term.prefix]}",
        "url": term.url,
    }
    return Document(term.id, " ".join(parts), metadata)


def geneset_document(library: str, name: str, genes: list[str]) -> Document:
    """A gene set as text: readable title, name, library and its first genes."""
    title = pathway_title(name)
    text = f"{title}. Gene set {name} ({library}, {len(genes)} genes): {', '.join(genes[:MAX_GENES])}."
    metadata = {
        "curie": name,
        "kind": "pathway",
        "label": title,
        "source": f"{library} {GENESET_VERSION}",
        "url": f"https://www.gsea-msigdb.org/gsea/msigdb/human/geneset/{name}.html",
        "n_genes": len(genes),
    }
    return Document(f"geneset:{library}:{name}", text, metadata)


def marker_document(knowledge: MarkerKnowledge, ontology: Ontology, term_id: str) -> Document:
    """One cell type's known markers as text: strongest first (``MAX_GENES`` positive, ``MAX_NEGATIVE`` negative)."""
    term = ontology.term(term_id)
    positive = sorted(knowledge.positive(term_id).items(), key=lambda gw: (-gw[1], gw[0]))[:MAX_GENES]
    negative = sorted(knowledge.negative(term_id).items(), key=lambda gw: (-gw[1], gw[0]))[:MAX_NEGATIVE]
    parts = [f"{term.label}: marker genes"]
    if positive:
        parts.append(f"; positive markers (expressed): {', '.join(g for g, _ in positive)}")
    if negative:
        parts.append(f"; negative markers (not expressed): {', '.join(g for g, _ in negative)}")
    sources = ", ".join(sorted(set(knowledge.rows(term_id)["source"])))
    metadata = {
        "curie": term.id,
        "kind": MARKERS,
        "label": term.label,
        "source": f"cell2text markers {knowledge.version} ({sources})",
        "url": term.url,
        "n_genes": len(knowledge.positive(term_id)),
    }
    return Document(f"markers:{term.id}", "".join(parts) + ".", metadata)


def scoped_terms(ontology: Ontology, prefix: str, scope: str) -> list[str]:
    """Live terms of one ontology to index: all of them for scope "full"; for "cellxgene" all CL,
    the UBERON tissues/organs/systems CELLxGENE groups data by and their children, and MONDO
    diseases up to ``MONDO_DEPTH`` levels deep."""
    live = ontology.ids(prefix)
    if scope == "full" or prefix == "CL":
        return live
    if prefix == "UBERON":
        from cellxgene_ontology_guide.curated_ontology_term_lists import get_curated_ontology_term_list
        from cellxgene_ontology_guide.entities import CuratedOntologyTermList

        seeds = set()
        for name in (CuratedOntologyTermList.TISSUE_GENERAL, CuratedOntologyTermList.ORGAN, CuratedOntologyTermList.SYSTEM):
            seeds |= set(get_curated_ontology_term_list(name))
        keep = seeds | {c for s in seeds if s in ontology for c in ontology.children(s)}
    else:
        depths = nx.single_source_shortest_path_length(ontology.graph.reverse(copy=False), "MONDO:0000001", cutoff=MONDO_DEPTH)
        keep = set(depths)
    return [t for t in live if t in keep]


def documents(ontology: Ontology, scope: str = "cellxgene", knowledge: MarkerKnowledge | None = None) -> Iterator[Document]:
    """Every document of the knowledge base: terms, then gene sets, then marker genes (human knowledge by default)."""
    for prefix in ontology.prefixes:
        if prefix in KINDS:
            for term_id in scoped_terms(ontology, prefix, scope):
                yield term_document(ontology, term_id)
    for library in LIBRARIES:
        for name, genes in load_gene_sets(library).items():
            yield geneset_document(library, name, genes)
    knowledge = knowledge or load_markers("human", ontology=ontology)
    for term_id in knowledge.terms:
        if knowledge.positive(term_id):
            yield marker_document(knowledge, ontology, term_id)
