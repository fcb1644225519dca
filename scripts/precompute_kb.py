"""Precompute the knowledge-base embeddings for the shipped releases and marker knowledge (run by a developer).

The vectors (float16) go to ``cell2text/kb/precomputed/vectors.npz`` with each document's id and
text digest and the model name, and ship with the package, so a user's first ``cell2text kb build``
takes seconds; a document whose text is not there (another release, a changed table) is embedded
live. Vectors already shipped for the same text are reused, so after a marker-table change only
the changed documents are embedded. Re-run after upgrading cellxgene-ontology-guide, the gene
sets, the marker tables or the model:

    .venv/bin/python scripts/precompute_kb.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from cell2text.kb.documents import documents
from cell2text.kb.embeddings import MODEL_NAME, embed
from cell2text.kb.store import (
    PRECOMPUTED,
    KnowledgeBase,
    digest,
    shipped_embeddings,
)

OUT = Path(__file__).resolve().parents[1] / "cell2text" / "kb" / "precomputed"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(path=tmp)
        docs = list(documents(kb.ontology, kb.scope, kb.knowledge))
    vectors, missing = shipped_embeddings(docs)
    if missing:
        vectors[missing] = embed([docs[i].text for i in missing], progress=True)
    for old in OUT.glob("*.npz"):
        old.unlink()
    target = OUT / PRECOMPUTED
    np.savez_compressed(
        target,
        ids=np.array([d.id for d in docs]),
        digests=np.array([digest(d.text) for d in docs]),
        vectors=vectors.astype(np.float16),
        model=np.array(MODEL_NAME),
    )
    print(f"{len(docs):,} documents ({len(missing):,} embedded now, the rest reused) -> {target} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
