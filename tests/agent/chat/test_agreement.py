"""The chat and the report agree: every marker and pathway claim the report shows has the status the chat's answers
give it on the same dataset, because both judge by the one rulebook at the describe run's thresholds."""

from __future__ import annotations

import pytest

from cell2text.agent.chat import DatasetSession
from cell2text.agent.chat.about_group import answer_markers, answer_pathways
from cell2text.agent.chat.genes import answer_gene_expression
from cell2text.agent.describe import describe, read_result
from cell2text.report.content import report_data

ALL = 10_000  # list every gene and pathway that passes, not the top few


@pytest.fixture(scope="module")
def described(demo):
    adata = demo.copy()
    describe(adata, "bulk_labels")
    return report_data(adata, name="demo"), DatasetSession(adata, "demo", result=read_result(adata))


def test_the_session_judges_by_the_runs_thresholds(described):
    report, session = described
    assert session.thresholds.min_logfc == report["methods"]["params"]["min_logfc"]
    assert session.thresholds.max_fdr == report["methods"]["params"]["max_fdr"]


def test_every_marker_and_pathway_status_of_the_report_is_the_chats(described):
    report, session = described
    checked = {"marker": 0, "pathway": 0}
    for group in report["groups"]:
        name = group["name"]
        up = {row["gene"] for row in answer_markers(session, name, n=ALL).data["markers"]}
        active = {row["pathway"] for row in answer_pathways(session, name, n=ALL).data["pathways"]}
        for claim in group["claims"]:
            if claim["kind"] == "marker":
                assert (claim["id"] in up) == (claim["status"] == "supported"), (name, claim)
                said = answer_gene_expression(session, claim["id"], group=name).text
                word = {"supported": "it is up:", "contradicted": "it is down:", "unverified": "it is not"}[claim["status"]]
                assert word in said, (name, claim["status"], said)
                checked["marker"] += 1
            elif claim["kind"] == "pathway":
                assert (claim["id"] in active) == (claim["status"] == "supported"), (name, claim)
                checked["pathway"] += 1
    assert checked["marker"] >= 10 and checked["pathway"] >= 5  # the demo's report names both kinds throughout
