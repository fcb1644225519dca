"""Chat answers across all groups: the cell types here, which group has the most of a pathway, which groups are a cell
type, which are uncertain.

Every function takes the :class:`DatasetSession` and plain arguments (names or free text, so an
external chat model can call it as a tool) and returns an :class:`Answer` with the numbers and the
test behind each statement (the rulebook's tests and thresholds, :mod:`cell2text.tools.evidence`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cell2text.agent.chat.about_group import head_confidence
from cell2text.agent.chat.plots import bar_chart
from cell2text.agent.chat.session import PATHWAY_KEY, Answer, DatasetSession, figure_path
from cell2text.agent.chat.vocabulary import find_pathways, groups_under
from cell2text.agent.describe.checks import head_mass, verify_cell_type
from cell2text.agent.describe.claims import Claim
from cell2text.errors import InputError
from cell2text.knowledge.genesets import pathway_title
from cell2text.tools.evidence import auroc_test, fdr, is_active
from cell2text.tools.groups import MAX_CANDIDATES
from cell2text.tools.markers import MIN_GROUP_CELLS

SHOWN = 10  # rows of a ranking shown in the text (all are in the data)
_STATUS_ORDER = {"supported": 0, "unverified": 1, "contradicted": 2}


def level_activity(values: np.ndarray, labels: pd.Series, levels: list[str]) -> pd.DataFrame:
    """Each level of ``labels`` against all other cells on one per-cell score.

    Returns level, n_cells, mean, sem, auroc, pval, fdr (BH over the levels tested), most active
    first; levels with fewer than ``MIN_GROUP_CELLS`` cells (or rest) are left out.
    """
    labels = labels.astype(str).to_numpy()
    rows = []
    for level in levels:
        inside = labels == level
        if inside.sum() < MIN_GROUP_CELLS or (~inside).sum() < MIN_GROUP_CELLS:
            continue
        auroc, pval = auroc_test(values[:, None], inside, ~inside)
        chosen = values[inside]
        rows.append(
            {
                "level": level,
                "n_cells": int(inside.sum()),
                "mean": float(chosen.mean()),
                "sem": float(chosen.std(ddof=1) / np.sqrt(len(chosen))),
                "auroc": float(auroc[0]),
                "pval": float(pval[0]),
            }
        )
    table = pd.DataFrame(rows, columns=["level", "n_cells", "mean", "sem", "auroc", "pval"])
    table["fdr"] = fdr(table["pval"]) if len(table) else []
    return table.sort_values(["auroc", "level"], ascending=[False, True]).reset_index(drop=True)


def answer_cell_types(session: DatasetSession) -> Answer:
    """Which cell types are in the dataset: the verified cell type of every group."""
    result = session.result()
    lines, ids = [], []
    for name, g in result["groups"].items():
        if g["cell_type_ontology_term_id"]:
            ids.append(g["cell_type_ontology_term_id"])
            lines.append(
                f"- {name} ({g['n_cells']} cells): {g['cell_type']} ({g['cell_type_ontology_term_id']}), {g['status']}, {head_confidence(g)}"
            )
        else:
            lines.append(f"- {name} ({g['n_cells']} cells): no cell type could be verified")
    text = f"{len(result['groups'])} groups in obs['{result['groupby']}'] of {session.name}:\n" + "\n".join(lines)
    return Answer(
        text,
        "cell_types",
        {
            "groups": {
                n: {k: g[k] for k in ("cell_type", "cell_type_ontology_term_id", "status", "confidence", "n_cells")}
                for n, g in result["groups"].items()
            }
        },
        list(dict.fromkeys(ids)),
    )


def answer_rank_pathway(session: DatasetSession, pathway: str, by: str | None = None) -> Answer:
    """Which group (or value of another obs column, e.g. condition) has the highest activity of a Hallmark pathway.

    Per-cell scores (``scanpy.tl.score_genes`` over the set's measured genes); each group against
    all other cells by Mann-Whitney U, AUROC as effect size, BH FDR over the groups.
    """
    names = find_pathways(pathway)
    if not names:
        return Answer(
            f"'{pathway}' names no Hallmark gene set, so there is no score to rank by. Name a Hallmark pathway"
            " (e.g. interferon alpha response, hypoxia, G2M checkpoint).",
            "rank_pathway",
            {"pathways": {}, "top": None},
            [],
        )
    column = session.column(by)
    scores = session.pathway_scores()
    labels = session.work.obs[column]
    levels = list(session.levels(column).index)
    kind = "group" if column == session.groupby else "value"
    rules = session.thresholds
    blocks, data, plots = [], {}, []
    for name in names:
        title = f"{pathway_title(name)} ({name})"
        if name not in scores.columns:
            blocks.append(f"{title}: fewer than 5 of its genes are measured here, so it has no score.")
            continue
        table = level_activity(scores[name].to_numpy(), labels, levels)
        table["active"] = is_active(table["auroc"], table["fdr"], rules)
        significant = table[table["active"]]
        lead = (
            f"Highest: {significant.iloc[0]['level']}."
            if len(significant)
            else f"No {kind} of obs['{column}'] scores significantly higher than the other cells (FDR <= {rules.max_fdr})."
        )
        n_genes = session.work.uns[PATHWAY_KEY]["n_genes"][name]
        rows = [
            f"{i + 1}. {r.level} ({r.n_cells} cells): AUROC {r.auroc:.2f}, FDR {r.fdr:.2g}, mean score {r.mean:.3f}"
            for i, r in enumerate(table.head(SHOWN).itertuples())
        ]
        more = f"\n... and {len(table) - SHOWN} more (in the data)" if len(table) > SHOWN else ""
        blocks.append(
            f"{title}, per-cell scores over its {n_genes} measured genes; each {kind} of obs['{column}'] against the"
            f" other cells (Mann-Whitney U, BH FDR over {len(table)} {kind}s). {lead}\n" + "\n".join(rows) + more
        )
        data[name] = table.drop(columns="active").round(4).to_dict("records")
        path = figure_path(session, "pathway", name, column)
        if path is not None and len(table):
            ordered = table.sort_values("mean", ascending=False)
            plots.append(
                bar_chart(
                    ordered["level"].tolist(),
                    ordered["mean"].tolist(),
                    ordered["sem"].tolist(),
                    ordered["active"].tolist(),
                    f"{pathway_title(name)} per {column}",
                    "mean score (± s.e.m.)",
                    path,
                )
            )
    first = data.get(names[0], [])
    top = next((r["level"] for r in first if is_active(r["auroc"], r["fdr"], rules)), None)
    group = top if column == session.groupby else None
    return Answer("\n\n".join(blocks), "rank_pathway", {"pathways": data, "by": column, "top": top}, names, group, plots)


# --------------------------------------------------------------------------- which groups are a cell type
def _checked(session: DatasetSession, term_id: str, label: str) -> list[dict]:
    """The claim "group is ``term_id``" looked for in every group, best evidence first.

    The candidate search over the marker knowledge (cached per group) and the model head run on
    every group; full verification (:func:`verify_cell_type`: head, defining and known markers,
    candidates, PageRank) on the groups where either makes the claim plausible: the term or a
    subtype among the group's candidates, or head probability >= the run's ``max_contradicted``.
    The claim holds where verification supports it.
    """
    thresholds = session.thresholds
    checks = []
    for name, g in session.result()["groups"].items():
        try:
            candidates = session.candidates(name)
        except InputError:
            continue  # a group too small to test
        rank, candidate = next(
            ((i + 1, c) for i, c in enumerate(candidates) if c.id == term_id or term_id in session.ontology.ancestors(c.id)), (None, None)
        )
        head = head_mass(g["head"], term_id, session.ontology)
        check = {
            "group": name,
            "head": round(head, 3),
            "candidate": {"rank": rank, **candidate.to_dict()} if candidate else None,
            "best_candidate": {
                "id": candidates[0].id,
                "label": candidates[0].label,
                "similarity": round(session.ppr.similarity(term_id, candidates[0].id), 3),
            }
            if candidates
            else None,
            "status": "not proposed",
            "reason": "neither the candidate search nor the model head proposes it",
            "holds": False,
        }
        if candidate is not None or head >= thresholds.max_contradicted:
            claim = verify_cell_type(
                Claim("cell_type", label, term_id), session.evidence, name, head=g["head"], head_weight=g.get("head_weight", 1.0)
            )
            check.update(status=claim.status, reason=claim.reason, holds=claim.status == "supported")
        checks.append(check)
    strength = {"supported": 0, "weak": 1, "contradicted": 2}
    return sorted(
        checks,
        key=lambda c: (
            not c["holds"],
            strength[c["candidate"]["status"]] if c["candidate"] else 3,
            _STATUS_ORDER.get(c["status"], 3),
            -c["head"],
            -(c["best_candidate"]["similarity"] if c["best_candidate"] else 0),
        ),
    )  # then the closest in CL


def _check_line(check: dict) -> str:
    found = check["candidate"]
    if found is not None:
        search = (
            f"candidate search: {found['label']} ({found['id']}) ranked {found['rank']}, {found['status']}"
            f" (markers found: {', '.join(found['genes_found'][:5]) or 'none'})"
        )
    elif check["best_candidate"] is not None:
        best = check["best_candidate"]
        search = (
            f"candidate search: not among its top {MAX_CANDIDATES} (best: {best['label']}, {best['id']};"
            f" PageRank similarity to the term {best['similarity']:.3f})"
        )
    else:
        search = "candidate search: no known marker among the group's genes"
    return f"{check['group']}: {search}; model head {check['head']:.2f}; verification: {check['status']} ({check['reason']})"


def answer_find_cell_type(session: DatasetSession, cell_type: str) -> Answer:
    """Which groups are a given cell type: the verified annotations at or below its Cell Ontology term.

    When no group is annotated so, every group is searched (candidate search over the marker
    knowledge, model head) and the plausible ones verified; the answer says no with the best
    evidence, or names the groups where it holds.
    """
    found = session.ontology.read_term(cell_type, "CL")
    if found is None:
        return Answer(
            f"'{cell_type}' matches no Cell Ontology term, so I can't look for it. Try the full name or a CL id.", "find_cell_type", {"top": []}, []
        )
    term = session.ontology.term(found.best.id)
    name = f"{term.label} ({term.id})"
    groups = session.result()["groups"]
    annotated = groups_under(session, term.id)
    if annotated:
        rows = [
            f"- {n} ({groups[n]['n_cells']} cells): {groups[n]['cell_type']} ({groups[n]['cell_type_ontology_term_id']}),"
            f" {groups[n]['status']}, {head_confidence(groups[n])}"
            for n in annotated
        ]
        text = (
            f"{len(annotated)} of {len(groups)} groups of obs['{session.groupby}'] are {name} or a subtype of it in the"
            f" Cell Ontology, by their verified annotation:\n" + "\n".join(rows)
        )
        ids = [term.id, *dict.fromkeys(groups[n]["cell_type_ontology_term_id"] for n in annotated)]
        return Answer(
            text, "find_cell_type", {"term": term.id, "top": annotated, "how": "annotation"}, ids, annotated[0] if len(annotated) == 1 else None
        )
    checks = _checked(session, term.id, term.label)
    holding = [c["group"] for c in checks if c["holds"]]
    if holding:
        text = f"No group is annotated {name}, but checked now the evidence supports it for: {', '.join(holding)}.\n- " + "\n- ".join(
            _check_line(c) for c in checks if c["holds"]
        )
    else:
        best = "\n- ".join(_check_line(c) for c in checks[:3])
        text = (
            f"No group is {name}: none of the {len(groups)} groups of obs['{session.groupby}'] is annotated with it or a subtype,"
            f" the candidate search over the marker knowledge proposes it for none, and verification supports it in none."
            f" Best evidence:\n- {best}"
        )
    ids = [term.id, *dict.fromkeys(c["candidate"]["id"] for c in checks if c["holds"] and c["candidate"])]
    return Answer(
        text,
        "find_cell_type",
        {"term": term.id, "top": holding, "how": "verification", "checks": checks},
        ids,
        holding[0] if len(holding) == 1 else None,
    )


# --------------------------------------------------------------------------- uncertain groups
def answer_uncertain(session: DatasetSession) -> Answer:
    """Which groups have no supported cell type, and why: the verification's reason and what it would say instead."""
    groups = session.result()["groups"]
    rows, names, ids = [], [], []
    for name, g in groups.items():
        if g["status"] == "supported" and g["cell_type_ontology_term_id"]:
            continue
        claim = next((c for c in g["claims"] if c["kind"] == "cell_type"), None)
        names.append(name)
        if claim is None:
            rows.append(f"- {name} ({g['n_cells']} cells): no cell type claim survived verification")
            continue
        ids.append(claim["id"])
        alternative = (
            f"; the tools point to {session.ontology.term(claim['alternative']).label} ({claim['alternative']})" if claim.get("alternative") else ""
        )
        rows.append(f"- {name} ({g['n_cells']} cells): {claim['label']} ({claim['id']}) is {claim['status']}: {claim['reason']}{alternative}")
    if not names:
        text = f"None: all {len(groups)} groups of obs['{session.groupby}'] have a supported cell type."
    else:
        text = f"{len(names)} of {len(groups)} groups of obs['{session.groupby}'] have no supported cell type:\n" + "\n".join(rows)
    return Answer(text, "uncertain", {"top": names}, ids, names[0] if len(names) == 1 else None)
