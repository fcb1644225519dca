"""Personalized PageRank on the real Cell Ontology: properties, the networkx cross-check, the paper's score."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from cell2text.errors import InputError
from cell2text.knowledge.pagerank import adjacency, compute_pagerank, pagerank_similarity

CD4_T, T_CELL, B_CELL, HEPATOCYTE = "CL:0000624", "CL:0000084", "CL:0000236", "CL:0000182"


@pytest.fixture(scope="module")
def symmetric(ontology):
    return pagerank_similarity(ontology, method="symmetric")


@pytest.fixture(scope="module")
def paper(ontology):
    return pagerank_similarity(ontology, method="cell2text-paper")


@pytest.mark.parametrize("method", ["symmetric", "cell2text-paper"])
def test_matches_networkx_to_1e6(ontology, method):
    """Every row is networkx's pagerank(personalization={source: 1}) on the same graph."""
    result = compute_pagerank(ontology, method=method)
    ids, adj = adjacency(ontology, directed=method == "cell2text-paper")
    graph = nx.from_scipy_sparse_array(adj, create_using=nx.DiGraph if method == "cell2text-paper" else nx.Graph)
    rng = np.random.default_rng(0)
    sources = list(rng.choice(len(ids), 12, replace=False))
    sources += [ids.index(CD4_T), ids.index("CL:0000000")]
    isolated = [i for i in range(len(ids)) if graph.degree(i) == 0]
    sources += isolated[:1]
    for s in sources:
        expected = nx.pagerank(graph, alpha=result.alpha, personalization={int(s): 1.0}, tol=1e-12, max_iter=5000)
        expected = np.array([expected[i] for i in range(len(ids))])
        row = result.ppr[s] if method == "symmetric" else result.ppr[s].toarray().ravel()
        np.testing.assert_allclose(row, expected, atol=1e-6, rtol=0)


def test_symmetric_properties(symmetric):
    rng = np.random.default_rng(1)
    for term in rng.choice(symmetric.ids, 20, replace=False):
        row = symmetric.row(term)
        assert row[symmetric.index[term]] == pytest.approx(1.0)
        assert np.all(row >= 0) and np.all(row <= 1 + 1e-12)
        other = rng.choice(symmetric.ids)
        assert symmetric.similarity(term, other) == pytest.approx(symmetric.similarity(other, term))


def test_symmetric_ordering_example(symmetric):
    assert symmetric.similarity(CD4_T, T_CELL) > symmetric.similarity(CD4_T, B_CELL) > symmetric.similarity(CD4_T, HEPATOCYTE)


def test_parent_above_sibling_above_distant(ontology, symmetric):
    """Over 300 random terms: a parent outranks a sibling, a sibling outranks an unrelated term (>= 99%)."""
    rng = np.random.default_rng(2)
    parent_wins = sibling_wins = pairs = 0
    for term in rng.choice(symmetric.ids, 300, replace=False):
        related = ontology.ancestors(term) | ontology.descendants(term)
        for parent in ontology.parents(term):
            siblings = [s for s in ontology.children(parent) if s != term and s in symmetric.index]
            for sibling in siblings[:3]:
                distant = rng.choice(symmetric.ids)
                if distant in related or distant in (term, sibling):
                    continue
                pairs += 1
                parent_wins += symmetric.similarity(term, parent) > symmetric.similarity(term, sibling)
                sibling_wins += symmetric.similarity(term, sibling) > symmetric.similarity(term, distant)
    assert pairs > 300
    assert parent_wins / pairs >= 0.99
    assert sibling_wins / pairs >= 0.99


def test_neighbours(symmetric, ontology):
    neighbours = symmetric.neighbours(CD4_T, k=10)
    assert len(neighbours) == 10
    scores = [s for _, s in neighbours]
    assert scores == sorted(scores, reverse=True)
    assert CD4_T not in [n for n, _ in neighbours]
    assert all(0 < s < 1 for s in scores)
    # the close neighbourhood of CD4 T cells is made of CD4 T cell kinds
    labels = [ontology.term(n).label for n, _ in neighbours[:5]]
    assert sum("CD4" in label for label in labels) >= 3, labels


def test_paper_score(paper):
    """log2(ppr / 1e-4 + 1), floor 1; personalised on the predicted term, walking down the hierarchy."""
    self_score = paper.similarity(CD4_T, CD4_T)
    assert 10 < self_score < 14
    assert paper.similarity(T_CELL, CD4_T) > 1  # predicted ancestor reaches the true descendant
    assert paper.similarity(CD4_T, T_CELL) == 1.0  # not the other way round
    assert paper.similarity(CD4_T, HEPATOCYTE) == 1.0
    visits = paper.ppr[paper.index[T_CELL], paper.index[CD4_T]]
    assert paper.similarity(T_CELL, CD4_T) == pytest.approx(np.log2(visits / 1e-4 + 1))
    row = paper.row(T_CELL)
    assert row.min() >= 1.0


def test_disk_cache_round_trip(ontology, symmetric, paper):
    from cell2text.config import get_settings
    from cell2text.knowledge.pagerank import _cached

    files = sorted(p.name for p in (get_settings().cache_dir / "pagerank").glob("*.np[yz]"))  # dense .npy, sparse .npz
    assert any("symmetric" in f for f in files) and any("cell2text-paper" in f for f in files)
    assert all(ontology.versions["CL"] in f for f in files)
    _cached.cache_clear()  # the next call reads the files back
    again = pagerank_similarity(ontology, method="symmetric")
    assert again is not symmetric
    np.testing.assert_array_equal(again.ppr, symmetric.ppr)
    again_paper = pagerank_similarity(ontology, method="cell2text-paper")
    assert (again_paper.ppr != paper.ppr).nnz == 0


def test_bad_input(ontology, symmetric):
    with pytest.raises(InputError, match="not a live term"):
        symmetric.similarity("CL:0000003", CD4_T)  # obsolete
    with pytest.raises(InputError, match="unknown PageRank method"):
        compute_pagerank(ontology, method="pagerank-ish")
    with pytest.raises(InputError, match="alpha"):
        compute_pagerank(ontology, alpha=1.5)
