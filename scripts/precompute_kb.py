"""Precompute the knowledge-base embeddings for the shipped ontology releases (run by a developer).

The vectors (float16) go to ``cell2text/kb/precomputed/<fingerprint>.npz`` and ship with the
package, so a user's first ``cell2text kb build`` takes seconds; a KB over other releases is
embedded live. Re-run after upgrading cellxgene-ontology-guide, the gene sets or the model:

    .venv/bin/python scripts/precompute_kb.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from cell2text.kb.documents import documents
from cell2text.kb.store import KnowledgeBase, embed

OUT = Path(__file__).resolve().parents[1] / "cell2text" / "kb" / "precomputed"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(path=tmp)
        docs = list(documents(kb.ontology, kb.scope))
        vectors = embed([d.text for d in docs])
    for old in OUT.glob("*.npz"):
        old.unlink()
    target = OUT / f"{kb.fingerprint}.npz"
    np.savez_compressed(target, ids=np.array([d.id for d in docs]), vectors=vectors.astype(np.float16))
    print(f"{len(docs):,} documents -> {target} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
