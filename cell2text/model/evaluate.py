"""Grading generated descriptions as the Cell2Text paper does, plus the auxiliary head.

* Cell type read back from the text: the span after "consists of a" up to the first period,
  mapped through the ontology standardiser (exact when decoding was constrained).
* Accuracy and macro-F1 over CL ids; mean PageRank similarity (ours, symmetric, in [0, 1]) and
  the paper's score (log2 scale, 1 to ~13) between predicted and true terms.
* popV-style grades: exact / parent (prediction is an ancestor) / child / sibling (shares a
  parent) / other / none (no term named).
* Pathway overlap: Jaccard of the Hallmark pathways the text names vs the label's true top
  pathways (as the paper reports pathway agreement).
* Text similarity to the reference description (the training template for the true label,
  first phrasing): corpus BLEU (sacrebleu), mean ROUGE-L F1 (rouge-score), and mean cosine
  similarity of MiniLM embeddings.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter

import anndata as ad
import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from cell2text.data.genesets import load_gene_sets, pathway_title
from cell2text.model.targets import describe_target
from cell2text.tools.ontology import Ontology, load_ontology
from cell2text.tools.pagerank import pagerank_similarity

_SPAN = re.compile(r"consists of an? (.+?)(?:\.\s|\.$|$)")


def extract_cell_type(text: str, ontology: Ontology) -> str | None:
    """The CL id a description names in its first sentence, or None."""
    match = _SPAN.search(text)
    if not match:
        return None
    result = ontology.read_term(match.group(1), prefix="CL", min_score=0.0)
    return result.best.id if result is not None else None


def grade(predicted: str | None, true: str, ontology: Ontology) -> str:
    if predicted is None:
        return "none"
    if predicted == true:
        return "exact"
    if predicted in ontology.ancestors(true):
        return "parent"
    if predicted in ontology.descendants(true):
        return "child"
    if set(ontology.parents(predicted)) & set(ontology.parents(true)):
        return "sibling"
    return "other"


def named_pathways(text: str, titles: dict[str, str]) -> set[str]:
    lowered = text.lower()
    return {name for name, title in titles.items() if title in lowered}


def reference_texts(adata: ad.AnnData, true_ids: list[str], recipe: dict, ontology: Ontology | None = None) -> list[str]:
    """The reference description of each cell: the training template (first phrasing) for its true label."""
    ontology = ontology or load_ontology()
    tissue, disease = (adata.obs[k].astype(str).tolist() if k and k in adata.obs else [None] * adata.n_obs
                       for k in (recipe.get("tissue_key"), recipe.get("disease_key")))
    pathways = recipe.get("pathways", {})
    return [describe_target(ontology.term(t).label, ti, di, pathways.get(t, []), _FirstChoice())
            for t, ti, di in zip(true_ids, tissue, disease)]


class _FirstChoice(random.Random):
    """Always the first phrasing, so references are deterministic."""

    def choice(self, seq):  # noqa: D102
        return seq[0]


def text_similarity(texts: list[str], references: list[str]) -> dict:
    """BLEU, ROUGE-L and MiniLM cosine similarity of generated texts to their references."""
    import sacrebleu
    from rouge_score import rouge_scorer

    from cell2text.kb.embeddings import embedding_function

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    embed = embedding_function()
    hypothesis, reference = np.asarray(embed(texts)), np.asarray(embed(references))
    return {
        "bleu": float(sacrebleu.corpus_bleu(texts, [references]).score),
        "rouge_l": float(np.mean([scorer.score(r, t)["rougeL"].fmeasure for t, r in zip(texts, references)])),
        "embedding_similarity": float(np.mean(np.sum(hypothesis * reference, axis=1))),
    }


def label_scores(predicted: list[str | None], true_ids: list[str], ontology: Ontology | None = None) -> dict:
    """Accuracy, macro- and weighted F1, mean PPR similarity (ours) and the paper's PPR score of
    predicted CL ids against the true ones; a missing prediction scores 0 (ours) and 1 (paper)."""
    ontology = ontology or load_ontology()
    ours, paper = pagerank_similarity(ontology), pagerank_similarity(ontology, method="cell2text-paper")
    named = [p or "none" for p in predicted]
    labels = sorted(set(true_ids))
    return {
        "accuracy": float(accuracy_score(true_ids, named)),
        "macro_f1": float(f1_score(true_ids, named, average="macro", labels=labels, zero_division=0)),
        "weighted_f1": float(f1_score(true_ids, named, average="weighted", labels=labels, zero_division=0)),
        "mean_ppr_similarity": float(np.mean([ours.similarity(p, t) if p in ours.index else 0.0
                                              for p, t in zip(predicted, true_ids)])),
        "mean_paper_ppr_score": float(np.mean([paper.similarity(p, t) if p in paper.index else 1.0
                                               for p, t in zip(predicted, true_ids)])),
    }


def score_texts(texts: list[str], true_ids: list[str], true_pathways: list[list[str]] | None = None,
                ontology: Ontology | None = None) -> dict:
    """All text metrics for generated descriptions against the true CL ids (and pathways)."""
    ontology = ontology or load_ontology()
    predicted = [extract_cell_type(t, ontology) for t in texts]
    result = {
        "n": len(texts),
        **label_scores(predicted, true_ids, ontology),
        "named_a_term": float(np.mean([p is not None for p in predicted])),
        "grades": dict(Counter(grade(p, t, ontology) for p, t in zip(predicted, true_ids))),
        "predicted": predicted,
    }
    if true_pathways is not None:
        titles = {name: pathway_title(name).lower() for name in load_gene_sets("hallmark")}
        jaccard = []
        for text, truth in zip(texts, true_pathways):
            said, truth = named_pathways(text, titles), set(truth)
            jaccard.append(len(said & truth) / len(said | truth) if said | truth else 1.0)
        result["pathway_jaccard"] = float(np.mean(jaccard))
    return result


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """|accuracy - confidence| averaged over 10 equal-width confidence bins, weighted by bin size."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    return float(sum(abs(correct[which == b].mean() - confidence[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))


def evaluate_model(model, adata: ad.AnnData, true_ids: list[str], recipe: dict | None = None, batch_size: int = 32) -> dict:
    """Generate for every cell of ``adata`` and grade the text and the head; with speed figures.

    ``recipe`` (the checkpoint's ``train.json``) supplies the true pathways and the obs keys of
    tissue and disease for pathway overlap and the reference texts.
    """
    dense, tokens = model.cell_inputs(adata)
    start = time.perf_counter()
    texts = model.generate(dense, tokens, batch_size=batch_size)
    generate_s = time.perf_counter() - start
    new_tokens = sum(len(model.text_tokenizer(t, add_special_tokens=False).input_ids) for t in texts)
    start = time.perf_counter()
    probabilities = model.probabilities(dense, tokens)
    head_s = time.perf_counter() - start
    head = [model.config.labels[i] for i in probabilities.argmax(1)]
    correct = np.array([h == t for h, t in zip(head, true_ids)])
    true_pathways = [recipe["pathways"].get(t, []) for t in true_ids] if recipe else None
    result = score_texts(texts, true_ids, true_pathways)
    if recipe:
        result |= text_similarity(texts, reference_texts(adata, true_ids, recipe))
    result |= {
        **{f"head_{k}": v for k, v in label_scores(head, true_ids).items()},
        "head_ece": expected_calibration_error(probabilities.max(1), correct),
        "head_temperature": model.config.head_temperature,
        "generate_cells_per_s": len(texts) / generate_s,
        "generate_tokens_per_s": new_tokens / generate_s,
        "head_cells_per_s": len(texts) / max(head_s, 1e-9),
        "texts": texts,
        "head_predicted": head,
    }
    return result
