"""GroupEvidence on the demo: each group's evidence computed once, shared across tissue priors and threads, and the
same as the plain functions give."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from cell2text.errors import InputError
from cell2text.knowledge import load_markers
from cell2text.knowledge.pagerank import pagerank_similarity
from cell2text.tools.candidates import rank_cell_types
from cell2text.tools.groups import MAX_CANDIDATES, GroupEvidence, group_metadata
from cell2text.tools.markers import group_markers


@pytest.fixture
def evidence(demo, ontology):
    return GroupEvidence(
        adata=demo.copy(),
        groupby="bulk_labels",
        ontology=ontology,
        ppr=pagerank_similarity(ontology, "CL"),
        knowledge=load_markers("human", ontology=ontology),
    )


def test_each_answer_is_computed_once_and_equals_the_plain_functions(evidence, ontology):
    table = evidence.markers("CD19+ B")
    assert evidence.markers("CD19+ B") is table  # the same object: not computed again
    pd.testing.assert_frame_equal(table, group_markers(evidence.adata.copy(), "bulk_labels", "CD19+ B"))
    ranked = evidence.candidates("CD19+ B")
    assert evidence.candidates("CD19+ B") is ranked and len(ranked) <= MAX_CANDIDATES
    assert ranked[0].id == "CL:0000236"  # B cell
    plain = rank_cell_types(table, tissue="UBERON:0000178", k=MAX_CANDIDATES, knowledge=evidence.knowledge, ontology=ontology, ppr=evidence.ppr)
    assert [c.id for c in ranked] == [c.id for c in plain]  # the demo's tissue column (blood) is the prior
    assert evidence.check("CD19+ B", "CL:0000236").status == "supported"
    known = evidence.known_markers("CD19+ B", "CL:0000236")
    assert "MS4A1" in {m["gene"] for m in known.up} and evidence.known_markers("CD19+ B", "CL:0000236") is known
    active = evidence.pathways("CD14+ Monocyte", "hallmark", "cell2text_pathways")
    assert active.iloc[0]["auroc"] >= active.iloc[-1]["auroc"] and "HALLMARK_COMPLEMENT" in set(active["pathway"])


def test_a_tissue_prior_shares_what_does_not_depend_on_it(evidence):
    kidney = evidence.with_tissue("UBERON:0002113")
    assert kidney.markers("CD56+ NK") is evidence.markers("CD56+ NK")  # one DE table for both
    assert kidney.tissue_of("CD56+ NK") == "UBERON:0002113" and evidence.tissue_of("CD56+ NK") == "UBERON:0000178"
    assert kidney.candidates("CD56+ NK") is not evidence.candidates("CD56+ NK")  # ranked under each prior


def test_the_metadata_prior_and_errors(evidence, ontology):
    assert group_metadata(evidence.adata, "bulk_labels", "CD19+ B", "tissue", ontology)["id"] == "UBERON:0000178"
    adata = evidence.adata.copy()
    adata.obs["tiny"] = pd.Categorical(["one"] + ["rest"] * (adata.n_obs - 1))
    small = GroupEvidence(adata=adata, groupby="tiny", ontology=ontology, ppr=evidence.ppr, knowledge=evidence.knowledge)
    with pytest.raises(InputError, match="at least"):
        small.candidates("one")  # a group too small to test is said, not an empty list


def test_threads_asking_at_once_get_one_computation(evidence):
    results, errors = [], []

    def ask():
        try:
            results.append(evidence.candidates("CD14+ Monocyte"))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(r is results[0] for r in results)
