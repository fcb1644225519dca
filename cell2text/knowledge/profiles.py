"""Each marker source on its own: a cell type's markers as a TF-IDF profile, and a gene list's cosine to it.

The candidate search (:mod:`cell2text.tools.candidates`) scores a gene list against the pooled
knowledge. Beside it, each source family is scored alone here, so their votes can be weighed by
how well each predicts on lists it was not shaped by: ``curated`` (our table), ``pegasus``, ``CL``
(labels and definitions) and ``cellconsensus`` (the consensus of published marker lists, with its
per-gene weights), plus a user's table when given.

A gene's specificity is learned across all sources at once: ``idf(g) = log(1 + T / n(g))`` over
the ``T`` cell types any source knows, ``n(g)`` of them naming ``g`` as a positive marker (a gene
that marks many types counts little, whichever source names it). A type's profile in a source is
its own positive markers' weights times their idf, unit length; a gene list's vector is each gene's
rank weight times its idf. The cosine of the two is the source's vote for the type (0 to 1): the
plain TF-IDF method that scored alike on marker lists it had and had not seen.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from cell2text.knowledge.markers import MarkerKnowledge

#: Source families, in the order the fused score lists them.
FAMILIES = ("curated", "pegasus", "CL", "cellconsensus", "user")


def family(source: str) -> str:
    """The family of a row's source ('pegasus human lung (ortholog)' -> 'pegasus')."""
    return next((f for f in FAMILIES if source.startswith(f)), "user")


@dataclass(frozen=True, eq=False)
class SourceProfiles:
    """Per source family, the types' unit-length TF-IDF profiles; the genes' idf over every source."""

    genes: dict[str, int]  # gene -> column
    idf: np.ndarray  # (genes,)
    terms: dict[str, list[str]]  # family -> the CL ids of its rows, in row order
    matrices: dict[str, sparse.csr_matrix]  # family -> (terms, genes), unit rows

    def cosines(self, genes: Sequence[str], weights: Sequence[float]) -> dict[str, dict[str, tuple[float, tuple[str, ...]]]]:
        """family -> {term: (cosine of the weighted gene list to the term's profile, the list's genes in the profile)},
        for the terms with a cosine above 0."""
        columns = {self.genes[g]: (g, w) for g, w in zip(genes, weights) if g in self.genes}
        if not columns:
            return {f: {} for f in self.matrices}
        order = list(columns)
        query = np.array([columns[c][1] for c in order]) * self.idf[order]
        query /= np.linalg.norm(query)
        result = {}
        for name, matrix in self.matrices.items():
            part = matrix[:, order].tocsr()  # (terms, query genes)
            values = part @ query
            result[name] = {
                self.terms[name][i]: (float(values[i]), tuple(columns[order[j]][0] for j in part.indices[part.indptr[i] : part.indptr[i + 1]]))
                for i in np.flatnonzero(values > 0)
            }
        return result


@functools.lru_cache(maxsize=4)
def source_profiles(knowledge: MarkerKnowledge) -> SourceProfiles:
    """The TF-IDF profiles of every source family in ``knowledge`` (positive markers; a type's largest weight per gene)."""
    table = knowledge.table[knowledge.table["sign"] == "+"]
    table = table.assign(family=table["source"].map(family))
    best = table.groupby(["family", "cell_type_ontology_term_id", "gene"], sort=True)["weight"].max().reset_index()
    genes = {g: i for i, g in enumerate(sorted(set(best["gene"])))}
    carriers = best.groupby("gene")["cell_type_ontology_term_id"].nunique()
    n_terms = best["cell_type_ontology_term_id"].nunique()
    idf = np.array([math.log1p(n_terms / carriers[g]) for g in genes])
    terms, matrices = {}, {}
    for name, rows in best.groupby("family", sort=False):
        ids = sorted(set(rows["cell_type_ontology_term_id"]))
        position = {t: i for i, t in enumerate(ids)}
        columns = rows["gene"].map(genes).to_numpy()
        values = rows["weight"].to_numpy() * idf[columns]
        matrix = sparse.csr_matrix((values, (rows["cell_type_ontology_term_id"].map(position).to_numpy(), columns)), shape=(len(ids), len(genes)))
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        terms[name], matrices[name] = ids, sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)
    return SourceProfiles(genes, idf, terms, matrices)
