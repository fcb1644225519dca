"""The Chroma knowledge base: definitions of ontology terms, gene sets and marker genes, retrieved by meaning.

Built on first use into ``<cache>/kb/`` (an embedded ``PersistentClient``), or kept on a shared
Chroma server when ``CELL2TEXT_KB_URL`` is set (``HttpClient``). The collection records a
fingerprint of what it was built from (ontology releases, gene-set version, marker knowledge
version, embedding model, scope); a knowledge base from another release is rebuilt, and a corrupt
one is wiped and rebuilt, each with a message saying so.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from cell2text.config import get_settings
from cell2text.errors import InputError
from cell2text.kb.documents import GENESET_VERSION, KINDS, MARKERS, Document, documents
from cell2text.kb.embeddings import BATCH, MODEL_NAME, embed, embedding_function
from cell2text.knowledge import load_markers
from cell2text.knowledge.ontology import Ontology, load_ontology

log = logging.getLogger(__name__)

SCHEMA = 1  # bump when the document format changes
SCOPES = ("cellxgene", "full")
ALL_KINDS = ("cell_type", "tissue", "disease", "pathway", MARKERS)
PRECOMPUTED = "vectors.npz"


@dataclass(frozen=True)
class Hit:
    """One retrieved document."""

    curie: str
    label: str
    kind: str
    score: float  # cosine similarity of query and document, in [-1, 1]
    text: str
    source: str
    url: str


def _forget_system(identifier: str) -> None:
    """Drop chromadb's cached client system for a path whose start failed, so a fresh one can open.

    chromadb keeps one system per path in a class-level cache and leaves a failed one there; its
    public ``clear_system_cache`` would drop every open client's system, so only this path's goes.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(identifier, None)
    SharedSystemClient._identifier_to_refcount.pop(identifier, None)


def digest(text: str) -> str:
    """A short content hash of a document's text: shipped vectors are reused only for the same text."""
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def shipped_embeddings(docs: list[Document]) -> tuple[np.ndarray, list[int]]:
    """Precomputed embeddings shipped with the package, in ``docs`` order, and the positions still to embed.

    ``scripts/precompute_kb.py`` writes them (``precomputed/vectors.npz``: ids, text digests,
    float16 vectors, model name) for the shipped releases and knowledge, so the first build takes
    seconds; a document whose text differs (another release, a changed marker table, a user's .obo)
    is embedded live.
    """
    vectors = np.zeros((len(docs), 384), dtype=np.float32)
    path = Path(str(files("cell2text.kb").joinpath("precomputed", PRECOMPUTED)))
    if not path.is_file():
        return vectors, list(range(len(docs)))
    with np.load(path, allow_pickle=False) as stored:
        if str(stored["model"]) != MODEL_NAME:
            return vectors, list(range(len(docs)))
        position = {(i, d): n for n, (i, d) in enumerate(zip(stored["ids"].tolist(), stored["digests"].tolist()))}
        found = [(k, position.get((doc.id, digest(doc.text)))) for k, doc in enumerate(docs)]
        hits = [(k, n) for k, n in found if n is not None]
        if hits:
            rows, columns = zip(*hits)
            vectors[list(rows)] = stored["vectors"][list(columns)].astype(np.float32)
    return vectors, [k for k, n in found if n is None]


class KnowledgeBase:
    """A Chroma collection of ontology terms and gene sets.

    Parameters
    ----------
    path
        Folder of the embedded database (default ``<cache>/kb``); ignored with ``url``.
    url
        A Chroma server (``http://host:port``); default ``CELL2TEXT_KB_URL``.
    ontology
        The ontology to index (default :func:`load_ontology`).
    scope
        "cellxgene" (all CL, the UBERON/MONDO terms CELLxGENE data uses, all gene sets) or "full".
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        url: str | None = None,
        ontology: Ontology | None = None,
        scope: str = "cellxgene",
    ) -> None:
        if scope not in SCOPES:
            raise InputError(f"unknown knowledge-base scope '{scope}'. Use one of: {', '.join(SCOPES)}.")
        settings = get_settings()
        self.ontology = ontology or load_ontology()
        self.knowledge = load_markers("human", ontology=self.ontology)  # the marker documents
        self.scope = scope
        self.url = url or settings.kb_url
        self.path = None if self.url else Path(path) if path else settings.cache_dir / "kb"
        self.fingerprint = self._fingerprint()
        self.name = f"cell2text-{scope}"
        self.messages: list[str] = []  # what happened on open/build, for the user
        self._client = self._connect()
        self._collection = None

    def _fingerprint(self) -> str:
        parts = [f"schema {SCHEMA}", self.ontology.version, GENESET_VERSION, f"markers {self.knowledge.version}", MODEL_NAME, self.scope]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def _connect(self):
        import chromadb

        if self.url:
            parsed = urlparse(self.url if "//" in self.url else f"http://{self.url}")
            if not parsed.hostname:
                raise InputError(f"knowledge-base URL '{self.url}' has no host. Use http://HOST:PORT.")
            return chromadb.HttpClient(host=parsed.hostname, port=parsed.port or 8000, ssl=parsed.scheme == "https")
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            client = chromadb.PersistentClient(path=str(self.path))
            client.list_collections()
            return client
        except Exception as exc:  # a damaged sqlite file or index: the cache is ours to rebuild
            self.messages.append(f"The knowledge base in {self.path} could not be opened ({type(exc).__name__}); it was wiped and will be rebuilt.")
            log.warning(self.messages[-1])
            _forget_system(str(self.path))
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(self.path))

    # ------------------------------------------------------------------ building
    def _existing(self):
        try:
            return self._client.get_collection(self.name, embedding_function=embedding_function())
        except Exception:  # chromadb raises NotFoundError (or ValueError in older versions)
            return None

    def is_current(self) -> bool:
        """True when a complete collection built from the same releases exists."""
        collection = self._existing()
        metadata = (collection.metadata or {}) if collection is not None else {}
        return metadata.get("fingerprint") == self.fingerprint and metadata.get("complete") == "yes"

    def build(self, *, force: bool = False, progress: bool = True) -> int:
        """Build the collection if it is missing, stale or ``force``; returns the number of documents."""
        if not force and self.is_current():
            self._collection = self._existing()
            return self._collection.count()
        if self._existing() is not None:
            reason = "as asked (--force)" if force else "because it was built from other releases or is incomplete"
            self.messages.append(f"Rebuilding the knowledge base {reason}.")
            self._client.delete_collection(self.name)
        docs = list(documents(self.ontology, self.scope, self.knowledge))
        collection = self._client.create_collection(
            self.name,
            embedding_function=embedding_function(),
            metadata={
                "hnsw:space": "cosine",
                "fingerprint": self.fingerprint,
                "complete": "no",
                "ontology": self.ontology.version,
                "genesets": GENESET_VERSION,
                "markers": self.knowledge.version,
                "model": MODEL_NAME,
            },
        )
        vectors, missing = shipped_embeddings(docs)
        if missing:
            vectors[missing] = embed([docs[i].text for i in missing], progress=progress)
        for start in range(0, len(docs), BATCH * 8):
            batch = slice(start, start + BATCH * 8)
            collection.add(
                ids=[d.id for d in docs[batch]],
                documents=[d.text for d in docs[batch]],
                metadatas=[d.metadata for d in docs[batch]],
                embeddings=vectors[batch],
            )
        metadata = dict(collection.metadata)
        metadata["complete"] = "yes"
        metadata.pop("hnsw:space", None)  # fixed at creation; chromadb refuses to modify it
        collection.modify(metadata=metadata)
        self._collection = collection
        self.messages.append(
            f"Built the knowledge base: {len(docs):,} documents ({self.ontology.version}; {GENESET_VERSION}; markers {self.knowledge.version})."
        )
        return len(docs)

    @property
    def collection(self):
        """The collection, built on first use."""
        if self._collection is None:
            self.build()
        return self._collection

    # ------------------------------------------------------------------ reading
    def query(self, text: str, *, kind: str | None = None, k: int = 5) -> list[Hit]:
        """The ``k`` documents closest in meaning to ``text``, optionally of one kind."""
        if not text or not text.strip():
            raise InputError("empty query. Pass some text, e.g. 'cells that kill virus-infected cells'.")
        if kind is not None and kind not in ALL_KINDS:
            raise InputError(f"unknown kind '{kind}'. Use one of: {', '.join(ALL_KINDS)}.")
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}.")
        result = self.collection.query(query_texts=[text.strip()], n_results=k, where={"kind": kind} if kind else None)
        hits = []
        for metadata, distance, document in zip(result["metadatas"][0], result["distances"][0], result["documents"][0]):
            hits.append(
                Hit(
                    str(metadata["curie"]),
                    str(metadata["label"]),
                    str(metadata["kind"]),
                    round(1.0 - float(distance), 4),
                    document,
                    str(metadata["source"]),
                    str(metadata["url"]),
                )
            )
        return hits

    def get(self, curie: str) -> Hit | None:
        """The document of one term or gene set (by CURIE or gene-set name), if indexed."""
        result = self.collection.get(where={"curie": curie}, limit=1, include=["metadatas", "documents"])
        if not result["ids"]:
            return None
        metadata, document = result["metadatas"][0], result["documents"][0]
        return Hit(curie, str(metadata["label"]), str(metadata["kind"]), 1.0, document, str(metadata["source"]), str(metadata["url"]))

    def semantic_candidates(self, text: str, prefix: str, k: int) -> list[tuple[str, float, str]]:
        """``(term id, cosine similarity, matched label)`` for :meth:`Ontology.standardise`'s semantic step."""
        if prefix not in KINDS:
            return []
        return [(hit.curie, hit.score, hit.label) for hit in self.query(text, kind=KINDS[prefix], k=k)]

    def standardise(self, text: str, prefix: str = "CL", k: int = 5):
        """The ontology standardiser with this knowledge base as its semantic step."""
        return self.ontology.standardise(text, prefix=prefix, k=k, semantic=self.semantic_candidates)
