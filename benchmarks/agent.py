"""The describe agent and the chat on the demo dataset: what verification and revision change, and how fast.

Describe (one run per condition, the shipped model, the real tools and knowledge base):

* per bulk label: the cell type the raw model's draft names and the one the agent ends with,
  each graded against the curated truth (exact / parent / child / sibling / other) with its
  PageRank similarity (ours, [0, 1]); the share of claims supported / contradicted / unverified
  in the drafts and after revision; whether every final claim has an id and evidence;
* the same with *swapped drafts*: each group gets the draft the model wrote for the next group
  (a stand-in for a confidently wrong language model), to measure what verification catches;
* end-to-end runtime of ``describe`` on the demo (10 groups), model load included, per node.

Chat: the question set of ``benchmarks/chat_questions.py`` (34 questions the router was written
against, and 12 held-out paraphrases): share answered as expected, latency p50/p95 after a
warm-up question.

Caveat: the shipped checkpoint was trained on 80% of these same cells (the held-out split is
in benchmarks/annotation.py); group means of mostly-training cells flatter the raw model.

    .venv/bin/python benchmarks/agent.py
"""

from __future__ import annotations

import statistics
import tempfile
import time

import numpy as np
from _common import machine, write_results
from chat_questions import HELD_OUT, QUESTIONS, check

from cell2text.agent.chat import Chat, DatasetSession
from cell2text.agent.describe import describe, read_result
from cell2text.agent.describe.claims import CLAIM_STATUSES
from cell2text.data.demo import demo_labels, load_demo
from cell2text.knowledge.ontology import load_ontology
from cell2text.knowledge.pagerank import pagerank_similarity
from cell2text.model.evaluate import grade


def run_describe(drafts: dict[str, str] | None = None) -> tuple[dict, dict[str, float]]:
    """One describe run on a fresh demo copy; returns the result and seconds per node (model load included)."""
    adata = load_demo()
    times: dict[str, float] = {}
    last = time.perf_counter()

    def progress(node: str, step: str) -> None:
        nonlocal last
        now = time.perf_counter()
        times[node] = times.get(node, 0.0) + now - last
        last = now

    start = time.perf_counter()
    describe(adata, "bulk_labels", drafts=drafts, progress=progress)
    times["total"] = time.perf_counter() - start
    return read_result(adata), times


def shares(groups: dict, key: str) -> dict[str, float]:
    claims = [c for g in groups.values() for c in g[key]]
    return {s: round(sum(c["status"] == s for c in claims) / len(claims), 3) for s in CLAIM_STATUSES} | {"n": len(claims)}


def score(result: dict, truth: dict[str, str], ontology, ppr) -> dict:
    rows = []
    for name, group in result["groups"].items():
        draft_type = next((c["id"] for c in group["draft_claims"] if c["kind"] == "cell_type"), None)
        final_type = group["cell_type_ontology_term_id"]
        rows.append(
            {
                "group": name,
                "truth": truth[name],
                "draft": draft_type,
                "draft_grade": grade(draft_type, truth[name], ontology),
                "draft_ppr": round(ppr.similarity(draft_type, truth[name]), 3) if draft_type else 0.0,
                "final": final_type,
                "final_status": group["status"],
                "final_grade": grade(final_type, truth[name], ontology),
                "final_ppr": round(ppr.similarity(final_type, truth[name]), 3) if final_type else 0.0,
            }
        )
    final_claims = [c for g in result["groups"].values() for c in g["claims"]]
    return {
        "rows": rows,
        "draft_exact": sum(r["draft_grade"] == "exact" for r in rows),
        "final_exact": sum(r["final_grade"] == "exact" for r in rows),
        "draft_mean_ppr": round(float(np.mean([r["draft_ppr"] for r in rows])), 3),
        "final_mean_ppr": round(float(np.mean([r["final_ppr"] for r in rows])), 3),
        "draft_claims": shares(result["groups"], "draft_claims"),
        "final_claims": shares(result["groups"], "claims"),
        "all_final_claims_have_id_and_evidence": all(c["id"] and c["evidence"] for c in final_claims),
    }


def run_chat() -> dict:
    session = DatasetSession.open(None)
    session.result()
    with tempfile.TemporaryDirectory() as folder:
        chat = Chat(session, memory=f"{folder}/threads.sqlite")
        chat.ask("what cell types are here?", "warm-up")  # loads the sentence model
        out = {}
        for name, questions in (("tuned", QUESTIONS), ("held_out", HELD_OUT)):
            latencies, failures = [], []
            for entry in questions:
                start = time.perf_counter()
                answer = chat.ask(entry["q"], f"{name}-{entry['thread']}")
                latencies.append(time.perf_counter() - start)
                problems = check(entry, answer)
                if problems:
                    failures.append({"q": entry["q"], "problems": problems})
            out[name] = {
                "n": len(questions),
                "correct": len(questions) - len(failures),
                "failures": failures,
                "p50_ms": round(1000 * statistics.median(latencies), 1),
                "p95_ms": round(1000 * float(np.percentile(latencies, 95)), 1),
            }
        chat.close()
    return out


def main() -> None:
    ontology = load_ontology()
    ppr = pagerank_similarity(ontology, "CL")
    truth = demo_labels()["cell_type_ontology_term_id"].to_dict()

    plain, times = run_describe()
    names = list(plain["groups"])
    swapped_drafts = {name: plain["groups"][names[(i + 1) % len(names)]]["draft"] for i, name in enumerate(names)}
    swapped, _ = run_describe(swapped_drafts)
    report = {
        "machine": machine(),
        "describe": score(plain, truth, ontology, ppr),
        "swapped": score(swapped, truth, ontology, ppr),
        "times_s": {k: round(v, 2) for k, v in times.items()},
        "chat": run_chat(),
    }

    lines = [
        f"# Agent benchmark (demo, 10 bulk labels)\n\nMachine: {report['machine']}\n",
        "## Describe: raw model draft vs verified and revised\n",
        "| group | truth | draft | grade | PPR | final | status | grade | PPR |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["describe"]["rows"]:
        lines.append(
            f"| {r['group']} | {r['truth']} | {r['draft']} | {r['draft_grade']} | {r['draft_ppr']:.2f} | {r['final']} |"
            f" {r['final_status']} | {r['final_grade']} | {r['final_ppr']:.2f} |"
        )
    lines += [
        "",
        "| condition | exact draft -> final | mean PPR draft -> final "
        "| claims supported / unverified / contradicted: draft | final | final claims with id + evidence |",
        "|---|---|---|---|---|---|",
    ]
    for condition in ("describe", "swapped"):
        s = report[condition]
        d, f = s["draft_claims"], s["final_claims"]
        label = "model drafts" if condition == "describe" else "swapped drafts (each group gets another group's draft)"
        lines.append(
            f"| {label} | {s['draft_exact']}/10 -> {s['final_exact']}/10 | {s['draft_mean_ppr']:.3f} -> {s['final_mean_ppr']:.3f} |"
            f" {d['supported']:.0%} / {d['unverified']:.0%} / {d['contradicted']:.0%} (n={d['n']}) |"
            f" {f['supported']:.0%} / {f['unverified']:.0%} / {f['contradicted']:.0%} (n={f['n']}) |"
            f" {'yes' if s['all_final_claims_have_id_and_evidence'] else 'NO'} |"
        )
    t = report["times_s"]
    lines += [
        "",
        f"Describe runtime, end to end, model load included: **{t['total']:.1f} s** for 10 groups / 700 cells"
        f" (load {t.get('load', 0):.1f} s, the model writing beside the tests {sum(t.get(n, 0) for n in ('write', 'test', 'embed')):.1f} s,"
        f" draft {t.get('draft', 0):.1f} s, verify {t.get('verify', 0):.1f} s,"
        f" retrieve {t.get('retrieve', 0):.1f} s, revise {t.get('revise', 0):.1f} s).",
        "",
        "## Chat (embedded router, no external service)\n",
        "| question set | correct | latency p50 | p95 |",
        "|---|---|---|---|",
    ]
    for name, c in report["chat"].items():
        lines.append(f"| {name} | {c['correct']}/{c['n']} | {c['p50_ms']:.0f} ms | {c['p95_ms']:.0f} ms |")
    for name, c in report["chat"].items():
        for failure in c["failures"]:
            lines.append(f'\n- {name} miss: "{failure["q"]}": {"; ".join(failure["problems"])}')
    write_results("agent", report, lines)


if __name__ == "__main__":
    main()
