"""The Chroma knowledge base: real Chroma in a temp dir, real MiniLM embeddings, real ontology and gene sets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cell2text.errors import InputError
from cell2text.kb import KnowledgeBase
from cell2text.kb.documents import documents
from cell2text.kb.embeddings import embed
from cell2text.kb.store import shipped_embeddings


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    kb = KnowledgeBase(path=tmp_path_factory.mktemp("kb"))
    kb.build(progress=False)
    return kb


def test_built_with_citable_metadata(kb, ontology):
    kinds = ("cell_type", "tissue", "disease", "pathway", "markers")
    counts = {kind: len(kb.collection.get(where={"kind": kind}, include=[])["ids"]) for kind in kinds}
    assert counts["cell_type"] == len(ontology.ids("CL"))
    assert counts["pathway"] == 50 + 1615 + 664
    assert counts["markers"] == len([t for t in kb.knowledge.terms if kb.knowledge.positive(t)]) > 500
    assert counts["tissue"] > 1000 and counts["disease"] > 3000
    hit = kb.get("CL:0000236")
    assert hit.label == "B cell" and hit.kind == "cell_type"
    assert hit.source == f"CL {ontology.versions['CL']}" and hit.url.endswith("CL_0000236")
    assert hit.text.startswith("B cell.")


@pytest.mark.parametrize(
    ("synonym", "expected"),
    [("B lymphocyte", "CL:0000236"), ("NK cell", "CL:0000623"), ("hepatic cell", "CL:0000182"), ("regulatory T-lymphocyte", "CL:0000815")],
)
def test_known_synonyms_find_their_term(kb, synonym, expected):
    assert expected in [h.curie for h in kb.query(synonym, kind="cell_type", k=5)]


def test_query_by_meaning(kb):
    hits = kb.query("cells that kill virus-infected cells", kind="cell_type", k=5)
    assert "CL:0000623" in [h.curie for h in hits]  # natural killer cell
    assert all(-1 <= h.score <= 1 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    pathways = kb.query("type I interferon response to viruses", kind="pathway", k=3)
    assert any("INTERFERON" in h.curie for h in pathways)
    assert kb.query("liver", kind="tissue", k=1)[0].curie == "UBERON:0002107"


def test_semantic_step_of_the_standardiser(kb, ontology):
    plain = ontology.standardise("cells that kill virus-infected cells")
    assert plain.best is None or plain.best.id != "CL:0000623"
    result = kb.standardise("cells that kill virus-infected cells")
    assert result.best.id == "CL:0000623" and result.best.method == "semantic"
    assert result.unsure  # meaning alone never claims certainty here
    assert kb.standardise("Tregs").best.id == "CL:0000815"  # string matches still come first


def test_marker_documents_answer_which_cell_types_express_a_gene(kb):
    hits = kb.query("which cell types express SFTPC", kind="markers", k=5)
    assert "CL:0002063" in [h.curie for h in hits]  # pulmonary alveolar type 2 cell
    assert all(h.kind == "markers" and "SFTPC" in h.text for h in hits[:1])
    # MiniLM reads gene lists loosely (tools.candidates.rank_cell_types is exact): B cell is near the top, not first
    assert "CL:0000236" in [h.curie for h in kb.query("cell type with markers MS4A1, CD79A, CD19", kind="markers", k=5)]


def test_shipped_embeddings_match_the_model(kb):
    docs = list(documents(kb.ontology, kb.scope, kb.knowledge))
    shipped, missing = shipped_embeddings(docs)
    assert missing == [], f"{len(missing)} documents have no precomputed embedding: run scripts/precompute_kb.py"
    rng = np.random.default_rng(0)
    sample = rng.choice(len(docs), 24, replace=False)
    live = embed([docs[i].text for i in sample], progress=False)
    cosine = np.sum(live * shipped[sample], axis=1) / np.linalg.norm(shipped[sample], axis=1)
    assert cosine.min() > 0.999


def test_reused_when_current_rebuilt_when_stale(kb):
    again = KnowledgeBase(path=kb.path)
    assert again.is_current()
    assert again.build(progress=False) == kb.collection.count()
    assert again.messages == []
    collection = again.collection
    metadata = {k: v for k, v in collection.metadata.items() if k != "hnsw:space"}
    collection.modify(metadata={**metadata, "fingerprint": "from-another-release"})
    stale = KnowledgeBase(path=kb.path)
    assert not stale.is_current()
    stale.build(progress=False)
    assert any("Rebuilding" in m for m in stale.messages)
    assert stale.is_current()


def test_corrupt_kb_is_wiped_and_rebuilt(tmp_path):
    (tmp_path / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    kb = KnowledgeBase(path=tmp_path)
    assert any("wiped" in m for m in kb.messages)
    kb.build(progress=False)
    assert kb.query("B cell", kind="cell_type", k=1)[0].curie == "CL:0000236"


def test_bad_queries(kb):
    with pytest.raises(InputError, match="empty query"):
        kb.query("   ")
    with pytest.raises(InputError, match="unknown kind"):
        kb.query("B cell", kind="gene")
    with pytest.raises(InputError, match="unknown knowledge-base scope"):
        KnowledgeBase(path=kb.path, scope="everything")


def test_persists_across_processes(kb, tmp_path):
    """Another process opens the same KB (no rebuild) and answers through the CLI."""
    import os

    cache = Path(os.environ["CELL2TEXT_CACHE"])
    exe = Path(sys.executable).with_name("cell2text")
    build = subprocess.run([str(exe), "kb", "build", "--json"], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    assert json.loads(build.stdout)["location"] == str(cache / "kb")
    second = subprocess.run([str(exe), "kb", "build", "--json"], capture_output=True, text=True, timeout=600)
    assert json.loads(second.stdout)["messages"] == ["The knowledge base is current."]
    query = subprocess.run(
        [str(exe), "kb", "query", "B lymphocyte", "--kind", "cell_type", "-k", "3", "--json"], capture_output=True, text=True, timeout=600
    )
    assert query.returncode == 0, query.stderr
    assert "CL:0000236" in [h["curie"] for h in json.loads(query.stdout)["hits"]]
    empty = subprocess.run([str(exe), "kb", "query", " "], capture_output=True, text=True, timeout=600)
    assert empty.returncode == 2 and "empty query" in empty.stderr and "Traceback" not in empty.stderr
