"""Chat answers about one group: its verified description, why it is called a cell type, the evidence for its claims,
its active pathways and its marker genes.

Each judges evidence with the describe run's own thresholds (:attr:`DatasetSession.thresholds`,
rules of :mod:`cell2text.tools.evidence`), so a gene listed here as a group's marker is one the
report calls "up".
"""

from __future__ import annotations

from cell2text.agent.chat.prompts import CANNOT_TELL
from cell2text.agent.chat.session import Answer, DatasetSession
from cell2text.agent.chat.terms import term_name
from cell2text.agent.describe.checks import active_pathways, verify_cell_type
from cell2text.agent.describe.claims import Claim
from cell2text.tools.evidence import is_up


def head_confidence(group: dict) -> str:
    """A group's head probability for its final type, or why there is none (the model did not count for it)."""
    if group.get("confidence") is None:
        return "from marker evidence (the model's head did not count here)"
    return f"head probability {group['confidence']:.2f}"


def answer_describe_group(session: DatasetSession, group: str) -> Answer:
    """The verified description of one group, with the knowledge-base definition of its cell type."""
    g = session.group(group)
    text = f"{group}: {g['text']}"
    if g["definition"]:
        d = g["definition"]
        text += f"\nDefinition of {d['label']} ({d['id']}, {d['source']}): {d['text']}"
    ids = [c["id"] for c in g["claims"] if c["id"] and ":" in c["id"]]
    return Answer(text, "describe_group", {"group": group, "text": g["text"], "claims": g["claims"]}, ids, group)


def _evidence_lines(claim: dict) -> list[str]:
    lines = []
    for record in claim["evidence"]:
        source = record.get("source", "")
        if source == "model head":
            lines.append(
                f"model head: {record['probability']:.2f} for this type (top {record['top_label']} {record['top_probability']:.2f},"
                f" second {record['second_label']} {record['second_probability']:.2f}, margin {record['margin']:.2f})"
            )
        elif source == "markers":
            if record["score"] is not None:
                lines.append(
                    f"known markers: {record['score']:.0%} agree; up: {', '.join(record['up']) or 'none'};"
                    f" not up: {', '.join(record['not_up']) or 'none'}"
                )
            else:
                lines.append("known markers: none of this type's markers is measured or known")
        elif source == "PageRank":
            near = ", ".join(f"{n['label']} ({n['id']}, {n['similarity']:.2f})" for n in record["neighbours"][:3])
            lines.append(f"PageRank: similarity to the model's top label {record['similarity_to_top']:.2f}; nearest terms {near}")
        else:
            lines.append(", ".join(f"{k} {v}" for k, v in record.items() if k != "source") + f" [{source}]")
    return lines


def answer_explain(session: DatasetSession, group: str, cell_type: str | None = None) -> Answer:
    """Why a group is (or is not) called a cell type: the evidence behind the cell-type claim."""
    g = session.group(group)
    final = next((c for c in g["claims"] if c["kind"] == "cell_type"), None)
    wanted = session.ontology.read_term(cell_type, "CL") if cell_type else None
    if cell_type and wanted is None:
        return Answer(f"'{cell_type}' matches no Cell Ontology term, so I can't check it. {CANNOT_TELL}", "explain", {}, [], group)
    if wanted is not None and final is not None and wanted.best.id in session.ontology.ancestors(final["id"]):
        text = (
            f"{group} is called {term_name(session.ontology, final['id'])}, a kind of {term_name(session.ontology, wanted.best.id)}"
            f" ({final['status']}: {final['reason']}).\n- " + "\n- ".join(_evidence_lines(final))
        )
        return Answer(text, "explain", {"group": group, "claim": final}, [final["id"], wanted.best.id], group)
    if wanted is not None and (final is None or wanted.best.id != final["id"]):
        claim = verify_cell_type(
            Claim("cell_type", cell_type, wanted.best.id), session.evidence, group, head=g["head"], head_weight=g.get("head_weight", 1.0)
        )
        called = f"I call {group} {term_name(session.ontology, final['id'])}" if final else f"I do not assign {group} a verified cell type"
        text = f"{called}, not {term_name(session.ontology, claim.id)}. Checked now, that claim is {claim.status}: {claim.reason}.\n- " + "\n- ".join(
            _evidence_lines(claim.to_dict())
        )
        return Answer(text, "explain", {"group": group, "claim": claim.to_dict()}, [i for i in (claim.id, final and final["id"]) if i], group)
    if final is None:
        return Answer(f"No cell type claim about {group} survived verification. {CANNOT_TELL}", "explain", {}, [], group)
    text = f"{group} is called {term_name(session.ontology, final['id'])} ({final['status']}: {final['reason']}).\n- "
    text += "\n- ".join(_evidence_lines(final))
    return Answer(text, "explain", {"group": group, "claim": final}, [final["id"]], group)


def answer_pathways(session: DatasetSession, group: str, n: int = 5) -> Answer:
    """The pathways most active in a group against the rest (Hallmark, per-cell scores, AUROC and BH FDR)."""
    session.group(group)
    max_fdr = session.thresholds.max_fdr
    top = active_pathways(session.evidence, group, n)
    if top.empty:
        return Answer(
            f"No Hallmark pathway is significantly more active in {group} than in the other cells (FDR <= {max_fdr}). {CANNOT_TELL}"
            " More cells in the group, or a larger gene panel, would help.",
            "pathways",
            {"group": group, "pathways": []},
            [],
            group,
        )
    rows = [f"- {r.title} ({r.pathway}): AUROC {r.auroc:.2f}, FDR {r.fdr:.2g}" for r in top.itertuples()]
    text = f"Pathways most active in {group} vs the other cells (Hallmark, per-cell scores, Mann-Whitney):\n" + "\n".join(rows)
    data = {"group": group, "pathways": top[["pathway", "title", "auroc", "fdr"]].to_dict("records")}
    return Answer(text, "pathways", data, top["pathway"].tolist(), group)


def answer_markers(session: DatasetSession, group: str, n: int = 8) -> Answer:
    """The genes that best separate a group from the rest (Wilcoxon), with effect sizes: the genes that are up by the
    describe run's rule (log2FC and adjusted p at its thresholds), the same rule its marker claims were verified by."""
    g = session.group(group)
    rules = session.thresholds
    table = session.evidence.markers(group)
    top = table[is_up(table["logfc"], table["pval_adj"], rules)].head(n)
    if top.empty:
        return Answer(
            f"No gene is significantly up in {group} against the rest (log2FC >= {rules.min_logfc}, adj. p <= {rules.max_fdr}). {CANNOT_TELL}",
            "markers",
            {"group": group, "markers": []},
            [],
            group,
        )
    rows = [f"- {r.gene}: log2FC {r.logfc:.2f}, adj. p {r.pval_adj:.2g}, in {r.pct_in:.0%} vs {r.pct_out:.0%} of cells" for r in top.itertuples()]
    lead = f"Genes separating {group}" + (f" ({g['cell_type']}, {g['cell_type_ontology_term_id']})" if g["cell_type"] else "")
    rule = f"Wilcoxon; up: log2FC >= {rules.min_logfc}, adj. p <= {rules.max_fdr}"
    data = {"group": group, "markers": top[["gene", "logfc", "pval_adj", "pct_in", "pct_out"]].to_dict("records")}
    return Answer(f"{lead} from the other cells ({rule}):\n" + "\n".join(rows), "markers", data, top["gene"].tolist(), group)


def answer_evidence(session: DatasetSession, group: str, claim: str | None = None) -> Answer:
    """The evidence for each claim about a group, or for the one claim matching ``claim`` (id, gene, words)."""
    g = session.group(group)
    claims = g["claims"]
    if claim:
        needle = claim.lower().strip()
        chosen = [
            c
            for c in claims
            if needle in {str(c["id"]).lower(), str(c["label"]).lower()}
            or (c["label"] and c["label"].lower() in needle)
            or (c["id"] and c["id"].lower() in needle)
        ]
        claims = chosen or claims
    blocks = []
    for c in claims:
        lines = _evidence_lines(c) if c["kind"] == "cell_type" else []
        blocks.append(
            f"- {c['kind']} {c['label'] or c['text']} ({c['id']}): {c['status']}, {c['reason']}" + "".join(f"\n    {line}" for line in lines)
        )
    removed = [c for r in g["rounds"] for c in r if c["action"].startswith(("removed", "replaced", "generalised"))]
    text = f"Evidence for the claims about {group}:\n" + "\n".join(blocks)
    if removed:
        text += "\nRevised away from the draft:\n" + "\n".join(f"- {c['kind']} '{c['text']}': {c['action']} ({c['reason']})" for c in removed)
    return Answer(text, "evidence", {"group": group, "claims": claims, "revised": removed}, [c["id"] for c in claims if c["id"]], group)
