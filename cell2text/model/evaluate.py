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
  similarity of MiniLM embeddings (on the model's device).
* Models trained on CELLxGENE-schema data: every field's accuracy and macro-F1, read from its
  sentence in the text ("Tissue: lung.") and from its head (``fields`` in the result).

``evaluate_model`` grades an AnnData in memory; ``evaluate_cells`` reads held-out cells of
backed files a chunk at a time.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter

import anndata as ad
import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from cell2text.knowledge.genesets import load_gene_sets, pathway_title
from cell2text.knowledge.ontology import Ontology, load_ontology
from cell2text.knowledge.pagerank import pagerank_similarity
from cell2text.model.targets import describe_fields, describe_target, field_trigger

_SPAN = re.compile(r"consists of an? (.+?)(?:\.\s|\.$|$)")


def extract_cell_type(text: str, ontology: Ontology) -> str | None:
    """The CL id a description names in its first sentence, or None."""
    match = _SPAN.search(text)
    if not match:
        return None
    result = ontology.read_term(match.group(1), prefix="CL", min_score=0.0)
    return result.best.id if result is not None else None


def extract_field(text: str, field: str, labels: dict[str, str]) -> str | None:
    """The term id a description names in a CELLxGENE field's sentence ("Tissue: lung."), by the model's
    ``labels`` of that field (id -> label); None when the sentence is missing or names another label."""
    match = re.search(re.escape(field_trigger(field).strip()) + r" (.+?)\.(?:\s|$)", text)
    if not match:
        return None
    by_label = {label: term for term, label in labels.items()}
    return by_label.get(match.group(1))


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
    tissue, disease = (
        adata.obs[k].astype(str).tolist() if k and k in adata.obs else [None] * adata.n_obs
        for k in (recipe.get("tissue_key"), recipe.get("disease_key"))
    )
    pathways = recipe.get("pathways", {})
    return [describe_target(ontology.term(t).label, ti, di, pathways.get(t, []), _FirstChoice()) for t, ti, di in zip(true_ids, tissue, disease)]


class _FirstChoice(random.Random):
    """Always the first phrasing, so references are deterministic."""

    def choice(self, seq):
        """The first item, whatever the seed."""
        return seq[0]


def field_references(
    true_ids: list[str], fields: dict[str, list[str]], labels: dict[str, dict[str, str]], pathways: dict[str, list[str]]
) -> list[str]:
    """The reference description of each cell of a CELLxGENE-trained model: its true labels in the training sentences."""
    return [
        describe_fields(labels["cell_type"].get(t, t), {f: labels[f].get(v[i], "") for f, v in fields.items()}, pathways.get(t, []), _FirstChoice())
        for i, t in enumerate(true_ids)
    ]


def text_similarity(texts: list[str], references: list[str], device: str = "cpu") -> dict:
    """BLEU, ROUGE-L and MiniLM cosine similarity (MiniLM on ``device``) of generated texts to their references."""
    import sacrebleu
    from rouge_score import rouge_scorer

    from cell2text.kb.embeddings import embed

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    hypothesis, reference = embed(texts, device=device), embed(references, device=device)
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
        "mean_ppr_similarity": float(np.mean([ours.similarity(p, t) if p in ours.index else 0.0 for p, t in zip(predicted, true_ids)])),
        "mean_paper_ppr_score": float(np.mean([paper.similarity(p, t) if p in paper.index else 1.0 for p, t in zip(predicted, true_ids)])),
    }


def score_texts(texts: list[str], true_ids: list[str], true_pathways: list[list[str]] | None = None, ontology: Ontology | None = None) -> dict:
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
    return float(
        sum(abs(correct[which == b].mean() - confidence[which == b].mean()) * (which == b).mean() for b in range(bins) if (which == b).any())
    )


def evaluate_model(
    model,
    adata: ad.AnnData,
    true_ids: list[str],
    recipe: dict | None = None,
    batch_size: int | None = None,
    true_fields: dict[str, list[str]] | None = None,
) -> dict:
    """Generate for every cell of ``adata`` and grade the text and the heads; with speed figures.

    ``recipe`` (the checkpoint's ``train.json``) supplies the true pathways and the obs keys of
    tissue and disease for pathway overlap and the reference texts. ``true_fields``: the true term id
    of each CELLxGENE field per cell ("" where unknown), for a model trained on such data.
    """
    predictions = predict(model, *model.cell_inputs(adata), batch_size=batch_size)
    if model.config.fields:
        references = field_references(true_ids, true_fields or {}, _labels(model), (recipe or {}).get("pathways", {}))
    else:
        references = reference_texts(adata, true_ids, recipe) if recipe else None
    return grade_predictions(model, predictions, true_ids, true_fields or {}, recipe, references)


def evaluate_cells(model, data, positions: np.ndarray, recipe: dict | None = None, chunk_cells: int = 4096, batch_size: int | None = None) -> dict:
    """:func:`evaluate_model` for cells of a ``CellData`` (backed files), read ``chunk_cells`` at a time."""
    parts = [
        predict(model, *model.cell_inputs(data.read(positions[a : a + chunk_cells])), batch_size=batch_size)
        for a in range(0, len(positions), chunk_cells)
    ]
    predictions = {
        "texts": [t for p in parts for t in p["texts"]],
        "heads": {f: np.concatenate([p["heads"][f] for p in parts]) for f in parts[0]["heads"]},
        **{k: sum(p[k] for p in parts) for k in ("generate_s", "head_s", "new_tokens")},
    }
    true_ids = [str(t) for t in data.labels["cell_type"][positions]]
    true_fields = {f: [str(v) for v in data.labels[f][positions]] for f in model.config.fields if f in data.labels}
    references = (
        field_references(true_ids, true_fields, _labels(model), (recipe or {}).get("pathways", {})) if model.config.fields else None
    )  # a demo-style model's references need obs columns: no text similarity
    return grade_predictions(model, predictions, true_ids, true_fields, recipe, references)


def predict(model, dense, tokens, batch_size: int | None = None) -> dict:
    """Texts and every head's probabilities for the cells, with the seconds each took and the new tokens."""
    start = time.perf_counter()
    texts = model.generate(dense, tokens, batch_size=batch_size)
    generate_s = time.perf_counter() - start
    new_tokens = sum(len(model.text_tokenizer(t, add_special_tokens=False).input_ids) for t in texts)
    start = time.perf_counter()
    heads = model.head_probabilities(dense, tokens)
    return {"texts": texts, "heads": heads, "generate_s": generate_s, "head_s": time.perf_counter() - start, "new_tokens": new_tokens}


def _labels(model) -> dict[str, dict[str, str]]:
    return {"cell_type": dict(zip(model.config.labels, model.config.label_names)), **model.config.fields}


def grade_predictions(
    model, predictions: dict, true_ids: list[str], true_fields: dict[str, list[str]], recipe: dict | None, references: list[str] | None
) -> dict:
    """Every metric of :func:`predict`'s output against the truth (see the module docstring)."""
    texts, probabilities = predictions["texts"], predictions["heads"]["cell_type"]
    head = [model.config.labels[i] for i in probabilities.argmax(1)]
    correct = np.array([h == t for h, t in zip(head, true_ids)])
    true_pathways = [recipe["pathways"].get(t, []) for t in true_ids] if recipe else None
    result = score_texts(texts, true_ids, true_pathways)
    if references is not None:
        result |= text_similarity(texts, references, model.device.type)
    result |= {
        **{f"head_{k}": v for k, v in label_scores(head, true_ids).items()},
        "head_ece": expected_calibration_error(probabilities.max(1), correct),
        "head_temperature": model.config.head_temperature,
        "generate_cells_per_s": len(texts) / predictions["generate_s"],
        "generate_tokens_per_s": predictions["new_tokens"] / predictions["generate_s"],
        "head_cells_per_s": len(texts) / max(predictions["head_s"], 1e-9),
        "texts": texts,
        "head_predicted": head,
    }
    if model.config.fields:
        result["fields"] = {"cell_type": _field_scores(result["predicted"], head, true_ids)}
        for name, labels in model.config.fields.items():
            truth = true_fields.get(name, [""] * len(texts))
            from_text = [extract_field(t, name, labels) for t in texts]
            from_head = [list(labels)[i] for i in predictions["heads"][name].argmax(1)]
            result["fields"][name] = _field_scores(from_text, from_head, truth)
    return result


def _field_scores(from_text: list[str | None], from_head: list[str], truth: list[str]) -> dict:
    """Accuracy and macro-F1 of a field from the text and from its head, over the cells whose truth is known."""
    known = [i for i, t in enumerate(truth) if t]
    if not known:
        return {"n": 0}
    y = [truth[i] for i in known]
    labels = sorted(set(y))

    def scores(predicted: list[str | None]) -> tuple[float, float]:
        named = [predicted[i] or "none" for i in known]
        return float(accuracy_score(y, named)), float(f1_score(y, named, average="macro", labels=labels, zero_division=0))

    (text_accuracy, text_f1), (head_accuracy, head_f1) = scores(from_text), scores(from_head)
    return {"n": len(known), "text_accuracy": text_accuracy, "text_macro_f1": text_f1, "head_accuracy": head_accuracy, "head_macro_f1": head_f1}
