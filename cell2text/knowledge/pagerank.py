"""Personalized PageRank (PPR) similarity between Cell Ontology terms.

The Cell2Text paper grades a predicted cell type by how close it sits to the true one on the Cell
Ontology graph, so that a near miss ("T cell" for "CD4-positive, alpha-beta T cell") scores high
and a far one ("hepatocyte") low. Two scores are offered, both computed for all terms at once.

``method="symmetric"`` (default, ours)
    Graph: the live terms of one ontology (CL by default), one undirected edge per parent link
    (is_a and part_of; the shipped cellxgene release does not separate them). Walk: from a
    term, follow a uniformly chosen edge with probability ``alpha`` (0.85), else jump back to
    the start term; an isolated term stays put. ``ppr_a`` is the stationary distribution of the
    walk started at ``a`` (networkx ``pagerank(G, alpha, personalization={a: 1})``). Score::

        sim(a, b) = sqrt( ppr_a(b) * ppr_b(a) / (ppr_a(a) * ppr_b(b)) )

    Each visit rate is normalised by the start term's own return rate, and the two directions
    are averaged geometrically. On an undirected graph ``ppr_a(b) / deg(b)`` is symmetric, so
    ``sim(a, b) = K_ab / sqrt(K_aa K_bb)`` with ``K = (D - alpha A)^-1`` positive definite: the
    score is a cosine in the walk's kernel, hence symmetric, ``sim(a, a) = 1`` and in [0, 1].
    A parent/child pair scores above siblings, which score above distant terms.

``method="cell2text-paper"`` (the paper's reference code, for comparable numbers)
    Graph: directed parent -> child edges between live terms (the paper uses CL ``is_a`` only;
    with the shipped cellxgene release, whose links are untyped, is_a and part_of together; with
    a user's .obo through pronto, is_a only). PageRank with ``alpha`` 0.9 personalised on the
    *predicted* term (walks only go down the hierarchy; a leaf jumps back to the start), and the
    *true* term scored as ``log2(ppr / 1e-4 + 1)`` where ``ppr >= 1e-4``, else 1. Not symmetric
    (an ancestor predicted for a descendant scores, the reverse scores 1), not normalised:
    ``score(a, a)`` is about 13, the floor is 1.

Both PPR matrices are exact solutions of the linear system, not power iterations, and are cached
on disk keyed by ontology release, method and alpha (:func:`pagerank_similarity`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg

from cell2text.config import get_settings
from cell2text.errors import InputError
from cell2text.files import atomic_path
from cell2text.knowledge.ontology import Ontology, load_ontology

Method = Literal["symmetric", "cell2text-paper"]
METHODS: tuple[str, ...] = ("symmetric", "cell2text-paper")
DEFAULT_ALPHA = {"symmetric": 0.85, "cell2text-paper": 0.9}
PAPER_FLOOR = 1e-4  # the paper's threshold below which a PPR value scores 1


def adjacency(ontology: Ontology, prefix: str = "CL", *, directed: bool = False) -> tuple[list[str], sp.csr_matrix]:
    """Live term ids of one ontology and their 0/1 adjacency matrix.

    ``directed=False``: symmetric, an edge per parent link. ``directed=True``: parent -> child
    (row = parent), restricted to is_a edges where the source types its edges.
    """
    ids = ontology.ids(prefix)
    index = {term_id: i for i, term_id in enumerate(ids)}
    rows, cols = [], []
    for child, parent, relation in ontology.graph.edges(data="relation"):
        if child in index and parent in index and (not directed or relation != "part_of"):
            rows.append(index[parent])
            cols.append(index[child])
    n = len(ids)
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    if not directed:
        matrix = matrix + matrix.T
    matrix.data[:] = 1.0  # duplicate links count once
    return ids, matrix


def ppr_undirected(adj: sp.csr_matrix, alpha: float) -> np.ndarray:
    """PPR of every source on an undirected graph: row ``a`` is ``ppr_a`` (dense, rows sum to 1).

    Solves ``K = (D - alpha A)^-1`` with ``ppr_a(b) = (1 - alpha) K_ab deg(b)``. Leaves (degree 1
    whose neighbour is not a leaf) and isolated terms, most of an ontology, are eliminated
    first: their rows of ``D - alpha A`` are unit rows, so the Schur complement on the other
    ("core") terms is the core block with ``alpha^2 * (number of leaf children)`` taken off the
    diagonal, and every entry of ``K`` is ``f_i f_j K_core[p_i, p_j]`` (+1 on a leaf's
    diagonal), where ``p`` is the term itself (core) or its neighbour (leaf) and ``f`` is 1,
    ``alpha`` or 0 (isolated). Only the small core is inverted densely.
    """
    n = adj.shape[0]
    deg = np.asarray(adj.sum(axis=1)).ravel()
    neighbour = np.full(n, -1)
    coo = adj.tocoo()
    neighbour[coo.row] = coo.col  # for degree-1 terms: their only neighbour
    leaf = (deg == 1) & (deg[neighbour] > 1)
    isolated = deg == 0
    core = ~(leaf | isolated)
    core_index = np.cumsum(core) - 1

    m_core = (sp.diags(deg) - alpha * adj)[core][:, core].toarray()
    leaf_children = np.bincount(neighbour[leaf], minlength=n)[core]
    m_core[np.diag_indices_from(m_core)] -= alpha**2 * leaf_children
    k_core = _spd_inverse(m_core)

    pick = np.where(core, core_index, np.where(leaf, core_index[neighbour], 0))
    factor = np.where(core, 1.0, np.where(leaf, alpha, 0.0))
    kernel = k_core[np.ix_(pick, pick)]
    kernel *= factor[:, None]
    kernel *= factor[None, :]
    kernel[np.diag_indices(n)] += leaf | isolated
    kernel *= np.maximum(deg, 1)[None, :]
    kernel /= kernel.sum(axis=1, keepdims=True)  # = (1 - alpha) K D, and e_a for isolated terms
    return kernel


def _spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix (Cholesky), both triangles filled."""
    factor, info = scipy.linalg.lapack.dpotrf(matrix, lower=1, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"matrix is not positive definite (dpotrf info {info})")
    inverse, info = scipy.linalg.lapack.dpotri(factor, lower=1, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"inversion failed (dpotri info {info})")
    return np.tril(inverse) + np.tril(inverse, -1).T


def ppr_directed(adj: sp.csr_matrix, alpha: float, max_depth: int = 100) -> sp.csr_matrix:
    """PPR of every source on a directed graph, as networkx computes it (sparse, rows sum to 1).

    networkx sends a dangling node's mass back to the personalisation (the source), so ``ppr_s``
    is row ``s`` of ``(I - alpha W)^-1`` rescaled to sum 1, ``W`` the out-degree-normalised
    adjacency. On a hierarchy walked downwards (a DAG) the inverse is the finite series
    ``sum_k (alpha W)^k``, as sparse as the ancestor relation; a graph with a cycle or deeper
    than ``max_depth`` falls back to a sparse LU solve.
    """
    n = adj.shape[0]
    out = np.asarray(adj.sum(axis=1)).ravel()
    step = (sp.diags(alpha / np.maximum(out, 1)) @ adj).tocsr()
    inverse = term = sp.identity(n, format="csr")
    for _ in range(max_depth):
        term = term @ step  # walks of one more step
        if term.nnz == 0:
            break
        inverse = inverse + term
    else:
        system = (sp.identity(n, format="csc") - step).tocsc()
        inverse = sp.csr_matrix(scipy.sparse.linalg.spsolve(system, sp.identity(n, format="csc")))
    return (sp.diags(1.0 / np.asarray(inverse.sum(axis=1)).ravel()) @ inverse).tocsr()


@dataclass
class PageRankSimilarity:
    """PPR of every term of one ontology, and the similarity scores derived from it.

    ``ppr[i, j]`` is the visit rate of term ``ids[j]`` by the walk personalised on ``ids[i]``.
    """

    ids: list[str]
    ppr: np.ndarray | sp.csr_matrix
    method: str
    alpha: float
    version: str  # ontology release the matrix was computed on

    def __post_init__(self) -> None:
        self.index = {term_id: i for i, term_id in enumerate(self.ids)}

    def _position(self, term_id: str) -> int:
        if term_id not in self.index:
            msg = f"'{term_id}' is not a live term of the ontology graph ({self.version})."
            msg += " Pass a current CURIE (obsolete ids: see 'cell2text ontology lookup ID')."
            raise InputError(msg)
        return self.index[term_id]

    def row(self, term_id: str) -> np.ndarray:
        """Scores of ``term_id`` against every term (``ids`` order).

        symmetric: ``sim(term, x)``; cell2text-paper: ``score(predicted=term, true=x)``.
        """
        i = self._position(term_id)
        if self.method == "symmetric":
            diagonal = np.diagonal(self.ppr)
            return np.sqrt(self.ppr[i] * self.ppr[:, i] / (diagonal[i] * diagonal))
        visits = self.ppr[i].toarray().ravel()
        return np.where(visits >= PAPER_FLOOR, np.log2(visits / PAPER_FLOOR + 1), 1.0)

    def similarity(self, a: str, b: str) -> float:
        """Score of ``b`` seen from ``a`` (for cell2text-paper: ``a`` predicted, ``b`` true)."""
        return float(self.row(a)[self._position(b)])

    def neighbours(self, term_id: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` terms scoring highest against ``term_id`` (itself excluded), best first."""
        scores = self.row(term_id)
        scores[self._position(term_id)] = -np.inf
        top = np.argsort(-scores, kind="stable")[: max(0, min(k, len(scores) - 1))]
        return [(self.ids[j], float(scores[j])) for j in top]


def common_parent(ontology: Ontology, a: str, b: str, ppr: PageRankSimilarity) -> str:
    """The most specific CL term both ``a`` and ``b`` are (is_a / part_of): deepest, then PPR-closest to both."""
    shared = ({a} | ontology.ancestors(a)) & ({b} | ontology.ancestors(b))
    shared = {t for t in shared if t.startswith("CL:")}
    if not shared:
        return "CL:0000000"  # "cell"
    return max(sorted(shared), key=lambda t: (len(ontology.ancestors(t)), min(ppr.similarity(t, a), ppr.similarity(t, b))))


def compute_pagerank(ontology: Ontology, prefix: str = "CL", method: Method = "symmetric", alpha: float | None = None) -> PageRankSimilarity:
    """Compute (without the disk cache) the PPR of every live term of ``prefix``."""
    if method not in METHODS:
        raise InputError(f"unknown PageRank method '{method}'. Use one of: {', '.join(METHODS)}.")
    alpha = DEFAULT_ALPHA[method] if alpha is None else alpha
    if not 0 < alpha < 1:
        raise InputError(f"alpha must lie strictly between 0 and 1, got {alpha}.")
    directed = method == "cell2text-paper"
    ids, adj = adjacency(ontology, prefix, directed=directed)
    ppr = ppr_directed(adj, alpha) if directed else ppr_undirected(adj, alpha)
    return PageRankSimilarity(ids, ppr, method, alpha, f"{prefix} {ontology.versions[prefix]}")


def pagerank_similarity(
    ontology: Ontology | None = None,
    prefix: str = "CL",
    method: Method = "symmetric",
    alpha: float | None = None,
) -> PageRankSimilarity:
    """PPR similarity for all terms, read from the disk cache or computed and stored there.

    The cache file (``<cache>/pagerank/``) is keyed by ontology release, method and alpha, so a
    new release or a user's .obo never reuses a stale matrix.
    """
    ontology = ontology or load_ontology()
    alpha = DEFAULT_ALPHA.get(method, 0.5) if alpha is None else alpha
    return _cached(ontology, prefix, method, alpha)


@functools.lru_cache(maxsize=4)
def _cached(ontology: Ontology, prefix: str, method: str, alpha: float) -> PageRankSimilarity:
    if prefix not in ontology.versions:
        raise InputError(f"ontology '{prefix}' is not loaded. Use one of: {', '.join(ontology.prefixes)}.")
    version = ontology.versions[prefix]
    name = f"{prefix}-{version}-{method}-alpha{alpha:g}".replace("/", "_")
    dense = method == "symmetric"  # the symmetric matrix is dense; the directed ones are sparse
    path = get_settings().cache_path("pagerank", f"{name}.{'npy' if dense else 'npz'}")
    ids = ontology.ids(prefix)  # the matrix's row and column order
    if path.exists():
        ppr = np.load(path, allow_pickle=False) if dense else sp.load_npz(path).tocsr()
        if ppr.shape == (len(ids), len(ids)):
            return PageRankSimilarity(ids, ppr, method, alpha, f"{prefix} {version}")
    result = compute_pagerank(ontology, prefix, method, alpha)  # type: ignore[arg-type]
    with atomic_path(path) as tmp:
        if dense:
            np.save(tmp, result.ppr)
        else:
            sp.save_npz(tmp, result.ppr)
    return result
