"""The report as data: one dict that the JSON file is, and the HTML and Markdown templates render."""

from __future__ import annotations

import anndata as ad

from cell2text.agent.describe import read_result
from cell2text.agent.describe.claims import CLAIM_STATUSES
from cell2text.kb.documents import KINDS as ONTOLOGY_KINDS
from cell2text.knowledge.ontology import term_url


def _with_links(claims: list[dict], definitions: dict) -> list[dict]:
    """Claims with the public page of their term and the knowledge-base document retrieved for them."""
    return [
        claim
        | {
            "url": term_url(claim["id"]) if claim["kind"] in ONTOLOGY_KINDS.values() and claim["id"] else None,
            "document": definitions.get(claim["id"]),
        }
        for claim in claims
    ]


def _removed(group: dict) -> list[dict]:
    """Claims revision took out or replaced, over all rounds, each once."""
    seen, removed = set(), []
    for round_claims in group["rounds"]:
        for claim in round_claims:
            key = (claim["kind"], claim["id"] or claim["text"])
            if claim["action"].startswith(("removed", "replaced", "generalised")) and key not in seen:
                seen.add(key)
                removed.append(claim)
    return removed


def report_data(adata: ad.AnnData, *, name: str, figures: dict[str, str] | None = None) -> dict:
    """Everything a report shows, from an AnnData annotated by :func:`cell2text.agent.describe.describe`.

    ``figures`` maps figure names to base64 PNGs (the HTML report inlines them).
    """
    result = read_result(adata)
    preprocessing = adata.uns["cell2text"]["preprocessing"]
    groups = []
    for number, (group_name, group) in enumerate(result["groups"].items(), 1):
        claims = _with_links(group["claims"], result["definitions"])
        draft = group["draft_claims"]
        groups.append(
            group
            | {
                "name": group_name,
                "anchor": str(number),
                "claims": claims,
                "removed": _with_links(_removed(group), result["definitions"]),
                "url": term_url(group["cell_type_ontology_term_id"]) if group["cell_type_ontology_term_id"] else None,
                "counts": {s: sum(c["status"] == s for c in claims) for s in CLAIM_STATUSES},
                "draft_counts": {s: sum(c["status"] == s for c in draft) for s in CLAIM_STATUSES},
            }
        )
    totals = {when: {s: sum(g[key][s] for g in groups) for s in CLAIM_STATUSES} for when, key in (("draft", "draft_counts"), ("final", "counts"))}
    return {
        "dataset": {
            "name": name,
            "n_cells": int(adata.n_obs),
            "n_genes": int(adata.n_vars),
            "groupby": result["groupby"],
            "n_groups": len(groups),
            "notes": list(result["notes"]) or list(preprocessing.get("notes", [])),
            "expression": {"source": str(preprocessing["source"]), "detected": str(preprocessing["detected"])},
        },
        "groups": groups,
        "claims": totals,
        "definitions": result["definitions"],
        "methods": {k: result[k] for k in ("model", "context", "ontology", "gene_sets", "params", "cell2text_version", "rounds", "runtime_s")},
        "figures": figures or {},
    }
