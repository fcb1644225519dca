"""Knowledge-base benchmark: build time, query latency, and retrieval quality side by side with string matching.

Task: find the right Cell Ontology term for every live CL term that has synonyms, from
(a) one of its synonyms (chosen at random, seed 0), and (b) its definition with the words of its
label removed (text no index contains verbatim). Methods, same queries, one run:

* rapidfuzz on labels: ``process.extract(query, labels, scorer=WRatio)``, the plain baseline;
* cell2text standardiser (string only): exact / normalised / fuzzy on labels and synonyms;
* Chroma + MiniLM: the knowledge base alone (cell_type documents);
* standardiser + KB: the string step, with the KB's semantic step when it is unsure.

Note: synonyms are part of both the standardiser's index and the KB documents (first 8), so (a)
measures lookup of known names; (b) measures retrieval by meaning. Writes
``benchmarks/results/kb.md`` and ``kb.json``.

    .venv/bin/python benchmarks/kb.py
"""

from __future__ import annotations

import re
import tempfile
import time

import numpy as np
from _common import machine, write_results
from rapidfuzz import fuzz, process
from tqdm import tqdm

from cell2text.kb import KnowledgeBase
from cell2text.kb.embeddings import embed
from cell2text.knowledge.ontology import load_ontology

BATCH = 64


def strip_label(definition: str, label: str) -> str:
    words = {w for w in re.findall(r"[a-z0-9]+", label.lower()) if len(w) > 1}
    kept = [w for w in re.findall(r"\S+", definition) if re.sub(r"[^a-z0-9]", "", w.lower()) not in words]
    return " ".join(kept)


def accuracy(ranked: list[list[str]], truth: list[str]) -> tuple[float, float]:
    top1 = np.mean([r[:1] == [t] for r, t in zip(ranked, truth)])
    top5 = np.mean([t in r[:5] for r, t in zip(ranked, truth)])
    return float(top1), float(top5)


def main() -> None:
    ontology = load_ontology()
    rng = np.random.default_rng(0)
    terms = [t for t in ontology.ids("CL") if ontology.term(t).synonyms]
    synonym_queries = [ontology.term(t).synonyms[rng.integers(len(ontology.term(t).synonyms))] for t in terms]
    defined = [t for t in terms if ontology.term(t).definition]
    definition_queries = [strip_label(ontology.term(t).definition, ontology.term(t).label) for t in defined]
    tasks = {"synonym": (synonym_queries, terms), "definition without label words": (definition_queries, defined)}

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        kb = KnowledgeBase(path=tmp)
        n_docs = kb.build(progress=False)
        build_s = time.perf_counter() - start
        texts = kb.collection.get(where={"kind": "cell_type"}, limit=500, include=["documents"])["documents"]
        start = time.perf_counter()
        embed(texts, progress=False)
        embed_rate = len(texts) / (time.perf_counter() - start)

        latency = []
        for query in synonym_queries[:250]:
            start = time.perf_counter()
            kb.query(query, kind="cell_type", k=5)
            latency.append(1000 * (time.perf_counter() - start))

        labels = {t: ontology.term(t).label for t in ontology.ids("CL")}
        label_ids, label_texts = list(labels), list(labels.values())

        def rapidfuzz_rank(query: str) -> list[str]:
            return [label_ids[i] for _, _, i in process.extract(query, label_texts, scorer=fuzz.WRatio, limit=5)]

        def standardiser_rank(query: str) -> list[str]:
            return [c.id for c in ontology.standardise(query, k=5, min_score=0).candidates]

        def combined_rank(query: str) -> list[str]:
            return [c.id for c in kb.standardise(query, k=5).candidates]

        def kb_rank_all(queries: list[str]) -> list[list[str]]:
            ranked = []
            for start in range(0, len(queries), BATCH):
                result = kb.collection.query(query_texts=queries[start : start + BATCH], n_results=5, where={"kind": "cell_type"})
                ranked += [[m["curie"] for m in metas] for metas in result["metadatas"]]
            return ranked

        rows = []
        for task, (queries, truth) in tasks.items():
            for method, rank_all in (
                ("rapidfuzz WRatio on labels", lambda qs: [rapidfuzz_rank(q) for q in tqdm(qs, desc="rapidfuzz", leave=False)]),
                ("cell2text standardiser (string)", lambda qs: [standardiser_rank(q) for q in tqdm(qs, desc="standardiser", leave=False)]),
                ("Chroma + MiniLM (KB)", kb_rank_all),
                ("standardiser + KB semantic step", lambda qs: [combined_rank(q) for q in tqdm(qs, desc="combined", leave=False)]),
            ):
                start = time.perf_counter()
                ranked = rank_all(queries)
                seconds = time.perf_counter() - start
                top1, top5 = accuracy(ranked, truth)
                rows.append(
                    {
                        "task": task,
                        "method": method,
                        "queries": len(queries),
                        "top1": top1,
                        "top5": top5,
                        "ms_per_query": 1000 * seconds / len(queries),
                    }
                )
                print(rows[-1])

    report = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "ontology": ontology.version,
        "documents": n_docs,
        "build_s": build_s,
        "embed_docs_per_s": embed_rate,
        "query_latency_ms": {"p50": float(np.percentile(latency, 50)), "p95": float(np.percentile(latency, 95)), "n": len(latency)},
        "rows": rows,
    }
    lines = [
        "# Knowledge base: build, latency, retrieval of Cell Ontology terms",
        "",
        f"Machine: {report['machine']}. Date: {report['date']}. {ontology.version}.",
        f"Build of {n_docs:,} documents from the shipped embeddings: {build_s:.1f} s. "
        f"Live embedding (MiniLM, CPU): {embed_rate:.0f} documents/s, so a build without shipped vectors "
        f"(e.g. a user .obo) takes about {n_docs / embed_rate / 60:.0f} min.",
        f"Single query latency (k=5, cell_type filter, {len(latency)} queries): p50 {report['query_latency_ms']['p50']:.1f} ms, "
        f"p95 {report['query_latency_ms']['p95']:.1f} ms.",
        "",
        "| task | method | queries | top-1 | top-5 | ms/query |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['task']} | {r['method']} | {r['queries']:,} | {r['top1']:.3f} | {r['top5']:.3f} | {r['ms_per_query']:.1f} |")
    write_results("kb", report, lines)


if __name__ == "__main__":
    main()
