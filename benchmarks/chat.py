"""The chat on three datasets: does each question get the right tool and a supported answer, and how fast.

Question sets (``benchmarks/chat_questions_heldout.py``, written before the new intents were built
and never used to tune them; ``benchmarks/chat_questions_tuned.py``, developed against; and the
earlier demo set of ``benchmarks/chat_questions.py``), over:

* ``demo``: pbmc68k_reduced, groups ``bulk_labels``;
* ``pbmc3k``: ``../shared/data/pbmc3k_seurat.h5ad``, groups ``cell_type`` (skipped with a message when absent);
* ``conditions``: the demo split into control / stimulated with a planted interferon shift
  (``benchmarks/conditions.py``), written to an .h5ad and read as a user's file.

Per question: correct (the expected tool, group, ids, text and main finding: ``chat_questions.check``),
a figure where one is expected, and **unsupported statements**: an id the answer cites or names that
is not an ontology term, a gene set or a measured gene; a group it names as found that the expected
answer does not have; text it must not say; a refusal that still cites ids. Latency per question
after warm-up: each dataset is described (or read from the describe cache), its shared results
computed (``DatasetSession.warm_up``: Hallmark scores, markers and candidate cell types of every
group) and one question with a figure asked, before the timed questions; warm-up times are
reported separately. Figures are drawn for every answer that has one (as ``--plot`` does).

    .venv/bin/python benchmarks/chat.py
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from _common import machine, write_results
from chat_questions import HELD_OUT as EARLIER_HELD_OUT
from chat_questions import QUESTIONS as EARLIER
from chat_questions import check, check_plot
from chat_questions_heldout import HELD_OUT
from chat_questions_tuned import TUNED
from conditions import make_conditions

from cell2text.agent.chat import Chat, DatasetSession
from cell2text.agent.chat.prompts import CANNOT_TELL
from cell2text.agent.describe.claims import CURIE_IN_TEXT
from cell2text.knowledge.genesets import LIBRARIES, load_gene_sets

PBMC3K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pbmc3k_seurat.h5ad"
GENE_SET = re.compile(r"\b(?:HALLMARK|REACTOME|WP)_[A-Z0-9_]+\b")


def open_sessions(folder: Path) -> tuple[dict[str, DatasetSession], dict[str, dict]]:
    """The three datasets, described and warmed up; seconds spent per dataset."""
    conditions = folder / "conditions.h5ad"
    make_conditions().write_h5ad(conditions)
    sources = {"demo": (None, None), "conditions": (conditions, "bulk_labels")}
    if PBMC3K.exists():
        sources["pbmc3k"] = (PBMC3K, "cell_type")
    else:
        print(f"skipping pbmc3k: {PBMC3K} not found (evaluation data lives in ../shared)")
    sessions, times = {}, {}
    for name, (path, groupby) in sources.items():
        start = time.perf_counter()
        session = DatasetSession.open(path, groupby)
        session.result()
        described = time.perf_counter() - start
        session.warm_up()
        sessions[name] = session
        times[name] = {"describe_or_cache_s": round(described, 1), "warm_up_s": round(time.perf_counter() - start - described, 1)}
    return sessions, times


def unsupported(entry: dict, answer, session: DatasetSession, gene_sets: set[str]) -> list[str]:
    """Statements the tools do not support (see the module docstring)."""
    problems = []
    for curie in set(CURIE_IN_TEXT.findall(answer.text)) | {i for i in answer.ids if CURIE_IN_TEXT.fullmatch(i)}:
        if not curie.startswith("PATO:") and curie not in session.ontology:
            problems.append(f"unknown id {curie}")
    for name in set(GENE_SET.findall(answer.text)) | {i for i in answer.ids if GENE_SET.fullmatch(i)}:
        if name not in gene_sets:
            problems.append(f"unknown gene set {name}")
    for gene in answer.ids:
        if not CURIE_IN_TEXT.fullmatch(gene) and not GENE_SET.fullmatch(gene) and gene not in session.work.var_names:
            problems.append(f"cites {gene}, not a measured gene")
    problems += [f"says {s!r}" for s in entry.get("not_says", []) if s.lower() in answer.text.lower()]
    if answer.tool == "find_cell_type" and isinstance(entry.get("top"), list):
        problems += [f"calls {g} a match" for g in set(answer.data.get("top") or []) - set(entry["top"])]
    if answer.tool == "cannot_tell" and (answer.ids or CANNOT_TELL not in answer.text):
        problems.append("a refusal that states something")
    return problems


def run_set(name: str, questions: list[dict], chats: dict[str, Chat], gene_sets: set[str]) -> dict:
    latencies, failures, flagged, per_dataset, timed = [], [], [], Counter(), []
    for entry in questions:
        dataset = entry.get("dataset", "demo")
        if dataset not in chats:
            continue
        chat = chats[dataset]
        start = time.perf_counter()
        answer = chat.ask(entry["q"], f"{name}-{entry['thread']}")
        latencies.append(time.perf_counter() - start)
        timed.append({"q": entry["q"], "dataset": dataset, "tool": answer.tool, "ms": round(1000 * latencies[-1], 1)})
        problems = check(entry, answer) + check_plot(entry, answer)
        wrong = unsupported(entry, answer, chat.session, gene_sets)
        per_dataset[dataset, "n"] += 1
        per_dataset[dataset, "correct"] += not problems
        if problems:
            failures.append({"q": entry["q"], "dataset": dataset, "problems": problems})
        if wrong:
            flagged.append({"q": entry["q"], "dataset": dataset, "unsupported": wrong})
    n = len(latencies)
    return {
        "n": n,
        "correct": n - len(failures),
        "unsupported": len(flagged),
        "failures": failures,
        "flagged": flagged,
        "per_dataset": {d: {"n": per_dataset[d, "n"], "correct": per_dataset[d, "correct"]} for d in dict.fromkeys(d for d, _ in per_dataset)},
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p95_ms": round(1000 * float(np.percentile(latencies, 95)), 1),
        "max_ms": round(1000 * max(latencies), 1),
        "slowest": sorted(timed, key=lambda t: -t["ms"])[:8],
    }


def main() -> None:
    load_before = os.getloadavg()[0]
    gene_sets = {n for library in LIBRARIES for n in load_gene_sets(library)}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        sessions, warm = open_sessions(folder)
        chats = {name: Chat(session, memory=folder / "threads.sqlite", plot_dir=folder / "plots" / name) for name, session in sessions.items()}
        for name, chat in chats.items():  # loads the sentence model, draws a first figure
            start = time.perf_counter()
            chat.ask(f"where is {chat.session.work.var_names[0]} expressed?", "warm-up")
            warm[name]["first_question_s"] = round(time.perf_counter() - start, 1)
        sets = {"held_out": HELD_OUT, "tuned": TUNED, "earlier (issue 6, demo)": EARLIER + EARLIER_HELD_OUT}
        results = {name: run_set(name, questions, chats, gene_sets) for name, questions in sets.items()}
        for chat in chats.values():
            chat.close()
    report = {"machine": machine(), "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)], "warm_up": warm, "sets": results}

    lines = [
        (
            f"# Chat benchmark (embedded router, no external service)\n\nMachine: {report['machine']}; load average"
            f" {report['load_average'][0]} at the start, {report['load_average'][1]} at the end (other jobs shared the CPU).\n"
        ),
        "| question set | questions | correct | unsupported statements | latency p50 | p95 | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['n']} | {r['correct']}/{r['n']} ({r['correct'] / r['n']:.0%}) | {r['unsupported']} |"
            f" {r['p50_ms']:.0f} ms | {r['p95_ms']:.0f} ms | {r['max_ms']:.0f} ms |"
        )
    lines += ["", "Per dataset (correct / questions):", "", "| question set | " + " | ".join(sessions) + " |", "|---|" + "---|" * len(sessions)]
    for name, r in results.items():
        cells = [f"{r['per_dataset'][d]['correct']}/{r['per_dataset'][d]['n']}" if d in r["per_dataset"] else "-" for d in sessions]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Warm-up per dataset (not in the latencies):",
        "",
        "| dataset | describe (or its cache) | warm_up() | first question |",
        "|---|---|---|---|",
    ]
    lines += [f"| {d} | {w['describe_or_cache_s']} s | {w['warm_up_s']} s | {w['first_question_s']} s |" for d, w in warm.items()]
    for name, r in results.items():
        for failure in r["failures"]:
            lines.append(f'\n- {name} miss [{failure["dataset"]}]: "{failure["q"]}": {"; ".join(failure["problems"])}')
        for flag in r["flagged"]:
            lines.append(f'\n- {name} unsupported [{flag["dataset"]}]: "{flag["q"]}": {"; ".join(flag["unsupported"])}')
    write_results("chat", report, lines)


if __name__ == "__main__":
    main()
