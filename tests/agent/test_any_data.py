"""describe on data the shipped model does not cover: never refused, the model weighed by its fit, nothing lost at the end.

Real components throughout: the demo's real cells (pbmc68k_reduced) cut to a small panel, turned
into mouse symbols or TPM units, the shipped model, ontology, marker knowledge and knowledge base.
"""

from __future__ import annotations

import os
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from cell2text.agent.describe import describe, read_result
from cell2text.cli import app
from cell2text.knowledge import convert_genes
from cell2text.model.fit import MIN_GENES, gene_fit
from cell2text.model.paths import model_checkpoint
from cell2text.model.tokenizer import GeneTokenizer

runner = CliRunner()
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
B_CELL, NK_CELL = "CL:0000236", "CL:0000623"


def _panel(demo: ad.AnnData, n_genes: int) -> ad.AnnData:
    """The demo's B and NK cells (and two other groups) on a small gene panel that keeps their textbook markers."""
    keep = ["MS4A1", "CD79A", "CD79B", "CD19", "BANK1", "CD22", "GNLY", "NKG7", "KLRD1", "PRF1", "GZMB", "CD3E", "CD14", "LYZ"]
    rest = [g for g in demo.var_names if g not in keep]
    genes = [g for g in keep if g in demo.var_names] + rest[: n_genes - len(keep)]
    groups = ["CD19+ B", "CD56+ NK", "CD14+ Monocyte", "CD8+ Cytotoxic T"]
    cells = demo.obs["bulk_labels"].isin(groups).to_numpy()
    small = demo[cells, genes].copy()
    small.obs = small.obs[["bulk_labels"]].copy()
    small.obs["bulk_labels"] = small.obs["bulk_labels"].cat.remove_unused_categories()
    del small.uns["cell2text"]
    return small


@pytest.fixture(scope="module")
def panel_run(demo):
    """A 150-gene panel: 14 markers plus 136 of the model's other genes (20% of them): the model is not run."""
    adata = _panel(demo, 150)
    describe(adata, "bulk_labels")
    return adata, read_result(adata)


def test_gene_fit_of_the_demo_is_full(demo):
    fit = gene_fit(GeneTokenizer.load(model_checkpoint() / "genes.json"), demo)
    assert fit.used and fit.gene_share == 1.0 and fit.weight == 1.0


def _is(term_id: str | None, expected: str, ontology) -> bool:
    """The expected term or a more specific one (as the tissue benchmark grades)."""
    return term_id is not None and (term_id == expected or expected in ontology.ancestors(term_id))


def test_a_small_panel_is_described_from_evidence_alone(panel_run, ontology):
    adata, result = panel_run
    fit = result["model"]["fit"]
    assert not fit["used"] and fit["gene_share"] < MIN_GENES and fit["weight"] == 0.0
    assert any("was not used" in note for note in result["notes"])
    groups = result["groups"]
    assert {g["draft_source"] for g in groups.values()} == {"evidence"}
    assert _is(groups["CD19+ B"]["cell_type_ontology_term_id"], B_CELL, ontology) and groups["CD19+ B"]["status"] == "supported"
    assert _is(groups["CD56+ NK"]["cell_type_ontology_term_id"], NK_CELL, ontology)
    head_records = [e for g in groups.values() for c in g["claims"] for e in c["evidence"] if e.get("source") == "model head"]
    assert not head_records  # the head was not used as evidence anywhere
    assert np.isnan(adata.obs["cell2text_confidence"]).all()
    assert adata.obs["cell2text_cell_type_ontology_term_id"].notna().all()


def test_awkward_values_are_written_and_read_back(panel_run, tmp_path):
    """Group names of mixed types, confidence None in every group, numpy scalars: the annotated file is written."""
    from cell2text.data.io import write_h5ad_atomic

    adata, _ = panel_run
    written = write_h5ad_atomic(adata, tmp_path / "annotated.h5ad")
    back = ad.read_h5ad(written)
    groups = back.uns["cell2text"]["groups"]
    assert groups["confidence"].dtype == float and groups["confidence"].isna().all()
    assert set(groups["draft_source"]) == {"evidence"}
    assert (
        read_result(back)["groups"]["CD19+ B"]["cell_type_ontology_term_id"] == read_result(adata)["groups"]["CD19+ B"]["cell_type_ontology_term_id"]
    )


def test_mixed_type_group_names_and_partial_confidence(demo, tmp_path, ontology):
    """Integer and string group names in one column, a group without a verified type beside typed ones."""
    from cell2text.data.io import write_h5ad_atomic

    adata = demo[demo.obs["bulk_labels"].isin(["CD19+ B", "CD56+ NK", "Dendritic"]).to_numpy()].copy()
    names = {"CD19+ B": 1, "CD56+ NK": "NK / 56", "Dendritic": 3}
    adata.obs["mixed"] = pd.Series([names[v] for v in adata.obs["bulk_labels"].astype(str)], index=adata.obs_names, dtype=object)
    describe(adata, "mixed", drafts={"3": "Nothing about a cell type here."}, max_rounds=1)
    back = ad.read_h5ad(write_h5ad_atomic(adata, tmp_path / "mixed.h5ad"))
    table = back.uns["cell2text"]["groups"]
    assert set(table.index) == {"1", "NK / 56", "3"}
    assert table["confidence"].dtype == float
    assert _is(table.loc["1", "cell_type_ontology_term_id"], B_CELL, ontology)


def _mouse_tpm(demo: ad.AnnData) -> ad.AnnData:
    """The demo's cells as a mouse dataset in TPM: mouse symbols (Ensembl 105 orthologs), per-million non-integer values."""
    small = _panel(demo, 765)
    values = np.expm1(small.X.toarray() if sp.issparse(small.X) else small.X)
    values = values / values.sum(1, keepdims=True) * 1e6
    mouse = convert_genes(small.var_names, "human", "mouse")
    keep = [i for i, g in enumerate(small.var_names) if convert_genes([g], "human", "mouse")]
    tpm = ad.AnnData(values[:, keep].astype(np.float32), obs=small.obs.copy(), var=pd.DataFrame(index=pd.Index(mouse).astype(str)))
    tpm.var_names_make_unique()
    return tpm


def test_cli_mouse_tpm_panel_with_context(demo, tmp_path, ontology):
    """Mouse symbols in TPM, --species and --tissue given: a result with what was done said, never a refusal."""
    path = tmp_path / "mouse_tpm.h5ad"
    _mouse_tpm(demo).write_h5ad(path)
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "describe",
            str(path),
            "-g",
            "bulk_labels",
            "--species",
            "mouse",
            "--tissue",
            "blood",
            "--out",
            str(out),
            "--format",
            "md",
            "--write",
            str(tmp_path / "annotated.h5ad"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = (out / "report.json").read_text()
    assert '"species": "mouse"' in report and "UBERON:0000178" in report
    back = ad.read_h5ad(tmp_path / "annotated.h5ad")
    notes = " ".join(read_result(back)["notes"]).lower()
    assert "tpm" in notes and "mouse" in notes
    assert (out / "report.md").is_file()
    assert _is(back.obs.loc[back.obs["bulk_labels"] == "CD19+ B", "cell2text_cell_type_ontology_term_id"].iloc[0], B_CELL, ontology)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--tissue", "not a tissue at all"], "tissue"),
        (["--species", "zebrafish"], "species"),
        (["--model", "no/such/checkpoint"], "checkpoint"),
        (["--markers", "no_such_markers.tsv"], "marker file"),
    ],
)
def test_cli_bad_context_is_one_line_and_exit_2(args, words, tmp_path):
    path = tmp_path / "tiny.h5ad"
    ad.AnnData(
        np.ones((4, 3), dtype=np.float32),
        obs=pd.DataFrame({"g": ["a", "a", "b", "b"]}, index=list("wxyz")),
        var=pd.DataFrame(index=["CD3E", "MS4A1", "LYZ"]),
    ).write_h5ad(path)
    result = runner.invoke(app, ["describe", str(path), "-g", "g", *args])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and words in result.output.lower() and "Traceback" not in result.output


@pytest.mark.skipif(
    not (SHARED / "zeisel_brain_mouse.h5ad").is_file() or os.environ.get("CELL2TEXT_SKIP_SHARED"),
    reason="../shared/data/zeisel_brain_mouse.h5ad is not here (evaluation data, not shipped)",
)
def test_mouse_cortex_panel_is_described(tmp_path):
    """1,000 mouse genes (Tmx3, ...): refused before ('0 of the model's 765 genes'); now every group gets a cell type."""
    adata = ad.read_h5ad(SHARED / "zeisel_brain_mouse.h5ad")
    describe(adata, "cell_type", max_rounds=1)
    result = read_result(adata)
    assert result["context"]["species"] == "mouse"
    assert all(g["cell_type_ontology_term_id"] for g in result["groups"].values())


def test_blood_types_name_no_organ_so_no_tissue_is_inferred(panel_run):
    """Immune cells travel: B and NK cells say nothing about the tissue, so no prior is inferred for them."""
    _, result = panel_run
    assert result["context"]["tissue_from"] is None and result["context"]["tissue"] is None


@pytest.mark.skipif(
    not (SHARED / "baron_pancreas_mouse.h5ad").is_file(), reason="../shared/data/baron_pancreas_mouse.h5ad is not here (evaluation data, not shipped)"
)
def test_an_islet_dataset_is_described_with_its_tissue_inferred(ontology):
    """Mouse islets (upper-case mouse symbols, counts, 12,474 genes), no tissue given: the model does not fit, the clear
    alpha and beta groups point to the pancreas, and the SST+ delta group is not called a gut type."""
    adata = ad.read_h5ad(SHARED / "baron_pancreas_mouse.h5ad")
    describe(adata, "cell_type", max_rounds=1)
    result = read_result(adata)
    assert not result["model"]["fit"]["used"] and result["context"]["species"] == "mouse"
    assert result["context"]["tissue_from"] == "inferred" and result["context"]["tissue"] == "UBERON:0001264"
    groups = result["groups"]
    assert groups["alpha"]["cell_type_ontology_term_id"] == "CL:0000171" and groups["beta"]["cell_type_ontology_term_id"] == "CL:0000169"
    delta = groups["delta"]["cell_type_ontology_term_id"]
    assert delta == "CL:0000173" or delta in ontology.ancestors("CL:0000173")  # pancreatic D cell or a true ancestor, no gut type


def test_chat_answers_about_groups_the_head_did_not_count_for(panel_run):
    """The chat names the evidence, not a head probability, where the model was not used (it crashed formatting None)."""
    from cell2text.agent.chat import DatasetSession
    from cell2text.agent.chat.across_groups import answer_cell_types, answer_find_cell_type

    adata, result = panel_run
    session = DatasetSession(adata, "panel", result=result)
    listed = answer_cell_types(session)
    assert "from marker evidence" in listed.text and "head probability" not in listed.text
    found = answer_find_cell_type(session, "B cell")
    assert "CD19+ B" in found.text and "from marker evidence" in found.text
