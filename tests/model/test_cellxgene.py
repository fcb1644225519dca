"""Training on CELLxGENE-schema files built from the demo: every field, Ensembl alignment, backed streaming, donor split.

Two files from 300 demo cells, written as CELLxGENE would: ``*_ontology_term_id`` columns with their
label columns, invented Ensembl-style ids as var_names (one mapping, shared by both files) with the
symbols in ``var["feature_name"]``, ``donor_id``; the second file has its genes in another order and
40 fewer of them, so reading must align by id.
"""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from typer.testing import CliRunner

from cell2text.cli import app
from cell2text.model.cells import FIELDS, ChunkBatches, open_cells, split_data
from cell2text.model.tokenizer import GeneTokenizer

DONOR_FIELDS = {  # per donor: disease, development stage, sex (ids and the file's labels)
    "disease": [("PATO:0000461", "normal"), ("MONDO:0100096", "COVID-19")],
    "development_stage": [("HsapDv:0000087", "adult stage"), ("HsapDv:0000240", "sixth decade stage"), ("unknown", "unknown")],
    "sex": [("PATO:0000383", "female"), ("PATO:0000384", "male")],
}
ASSAYS = [("EFO:0009899", "10x 3' v2"), ("EFO:0009922", "10x 3' v3")]


def ensembl(symbols) -> list[str]:
    return [f"ENSG{90_000_000_000 + i:011d}" for i in range(len(symbols))]


def write_cellxgene(demo: ad.AnnData, cells: np.ndarray, genes: np.ndarray, assay: tuple[str, str], path) -> None:
    ids = np.array(ensembl(demo.var_names))
    subset = demo[cells]
    donors = np.array([f"donor{i % 6}" for i in range(len(cells))])
    obs = pd.DataFrame(index=subset.obs_names)
    obs["cell_type_ontology_term_id"] = subset.obs["cell_type_ontology_term_id"].astype(str).to_numpy()
    obs["cell_type"] = subset.obs["cell_type"].astype(str).to_numpy()
    obs["tissue_ontology_term_id"], obs["tissue"] = "UBERON:0000178", "blood"
    number = np.array([int(d[-1]) for d in donors])
    for field, values in DONOR_FIELDS.items():
        chosen = [values[n % len(values)] for n in number]
        obs[f"{field}_ontology_term_id"] = [c[0] for c in chosen]
        obs[field] = [c[1] for c in chosen]
    obs["assay_ontology_term_id"], obs["assay"] = assay
    obs["donor_id"] = donors
    var = pd.DataFrame({"feature_name": demo.var_names[genes]}, index=ids[genes])
    ad.AnnData(X=sp.csr_matrix(subset.X[:, genes]), obs=obs, var=var).write_h5ad(path)


@pytest.fixture(scope="module")
def files(demo, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cellxgene")
    order = np.random.default_rng(0).permutation(demo.n_vars)[:-40]  # another order, 40 genes fewer
    write_cellxgene(demo, np.arange(0, 300, 2), np.arange(demo.n_vars), ASSAYS[0], folder / "a.h5ad")
    write_cellxgene(demo, np.arange(1, 300, 2), order, ASSAYS[1], folder / "b.h5ad")
    return [folder / "a.h5ad", folder / "b.h5ad"]


def test_files_open_backed_with_every_field(files):
    data = open_cells(files)
    assert data.schema and all(s.isbacked for s in data.sources) and len(data) == 300
    assert set(data.labels) == set(FIELDS)
    assert data.vocabulary["sex"] == {"PATO:0000383": "female", "PATO:0000384": "male"}
    assert data.vocabulary["assay"] == {"EFO:0009899": "10x 3' v2", "EFO:0009922": "10x 3' v3"}
    assert data.vocabulary["disease"]["MONDO:0100096"] == "COVID-19"  # labels from the ontology
    assert (data.labels["development_stage"] == "").sum() == 100  # "unknown" is no label
    assert data.split_by == "donor_id" and len(set(data.groups)) == 12  # donors of each file
    assert len(data.genes) == 725 and list(data.genes[:3]) == ensembl(range(3))


def test_cells_aligned_by_ensembl_id(files, demo):
    data = open_cells(files)
    cells = data.read(np.array([151, 150, 0]))  # file b, file b, file a: in the order asked
    symbols = list(cells.var["feature_name"])
    expected = demo[[demo.obs_names[3], demo.obs_names[1], demo.obs_names[0]], symbols].X
    np.testing.assert_array_equal(_dense(cells.X), _dense(expected))
    assert list(cells.obs_names) == [f"b.h5ad/{demo.obs_names[3]}", f"b.h5ad/{demo.obs_names[1]}", f"a.h5ad/{demo.obs_names[0]}"]
    assert list(cells.var_names[:2]) == ensembl(range(2))


def _dense(x) -> np.ndarray:
    return x.toarray() if sp.issparse(x) else np.asarray(x)


def test_split_holds_out_whole_donors(files):
    data = open_cells(files)
    train, test = split_data(data, 0.2, 0)
    assert len(train) + len(test) == 300 and not set(data.groups[train]) & set(data.groups[test])


def test_streaming_and_in_memory_batches_are_the_same(files):
    """Backed files read a chunk at a time give the same batches as the files read whole, and a restored
    draw continues as the uninterrupted one."""

    def sampler(backed: bool) -> ChunkBatches:
        data = open_cells(files, backed=backed)
        genes = GeneTokenizer.fit(data.read(np.arange(0, 300, 3)))

        def load(start: int, stop: int):
            dense = genes.dense(data.read(np.arange(start, stop)))
            return torch.from_numpy(dense), torch.from_numpy(genes.encode(dense, 16))

        return ChunkBatches(data.chunks(64), split_data(data, 0.2, 0)[0], load, seed=7)

    streamed, whole = sampler(True), sampler(False)
    assert len(streamed.chunks) == 6  # 150 cells per file in chunks of 64
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    seen = set()
    for step in range(14):
        if step == 7:
            state, rng_state = streamed.state(), rng_a.bit_generator.state
        a, b = streamed.draw(rng_a, 16), whole.draw(rng_b, 16)
        seen.add(streamed.current)
        assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1]) and torch.equal(a[2], b[2])
    assert len(seen) >= 3  # several chunks visited
    resumed = sampler(True)
    resumed.restore(state, 16)
    rng_a.bit_generator.state = rng_state
    again = [resumed.draw(rng_a, 16)[0] for _ in range(7)]
    rng_b = np.random.default_rng(0)
    replay = sampler(False)
    straight = [replay.draw(rng_b, 16)[0] for _ in range(14)][7:]
    assert all(np.array_equal(x, y) for x, y in zip(again, straight))


def test_one_chunk_draws_as_an_in_memory_loop(demo):
    """The demo fits one chunk: its batches are exactly the in-memory loop's ``rng.choice`` draws."""
    dense = torch.arange(700.0).unsqueeze(1)
    positions = np.random.default_rng(1).permutation(700)[:560]
    batches = ChunkBatches([(0, 700)], positions, lambda a, b: (dense[a:b], dense[a:b].long()), seed=0)
    rng, plain = np.random.default_rng(0), np.random.default_rng(0)
    for _ in range(5):
        batch, x, _ = batches.draw(rng, 32)
        expected = plain.choice(positions, 32)
        assert np.array_equal(batch, expected) and torch.equal(x.ravel(), dense[expected].ravel())


def test_train_and_evaluate_every_field(files, tmp_path):
    """A tiny model on the two files: a head and a constrained sentence per field, every field graded, a model card."""
    from cell2text.model.model import Cell2Text
    from cell2text.model.train import TrainConfig, train

    out = train(
        TrainConfig(out=str(tmp_path / "ckpt"), data=[str(f) for f in files], stage1_steps=30, stage2_steps=2, stage2_batch=2, chunk_cells=64),
        progress=False,
    )
    model = Cell2Text.from_pretrained(out)
    assert set(model.config.fields) == set(FIELDS) - {"cell_type"} and model.config.max_new_tokens > 48
    assert set(model.config.field_temperatures) == set(model.config.fields)
    split = json.loads((out / "split.json").read_text())
    assert split["by"] == "donor_id" and split["files"] == ["a.h5ad", "b.h5ad"]
    tokenizer = model.text_tokenizer
    ids = torch.tensor([tokenizer("This sample consists of a B cell. Sex:", add_special_tokens=False).input_ids])
    allowed = torch.isfinite(model.constraint()(ids, torch.zeros(1, len(tokenizer)))[0]).nonzero().ravel().tolist()
    assert allowed == sorted({tokenizer(" " + n, add_special_tokens=False).input_ids[0] for n in ("female", "male")})

    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", "--model", str(out), "--data", str(files[0]), str(files[1]), "--max-cells", "12", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n"] == 12 < split["n_test"] and set(payload["fields"]) == set(FIELDS)
    for field, scores in payload["fields"].items():
        assert scores["n"] > 0 and 0 <= scores["head_accuracy"] <= 1 and 0 <= scores["text_macro_f1"] <= 1, field
    assert 0 <= payload["mean_ppr_similarity"] <= 1 and "pathway_jaccard" in payload

    info = json.loads(runner.invoke(app, ["model", "info", str(out), "--json"]).stdout)
    assert info["data"]["files"] == [str(f) for f in files] and info["data"]["split_by"] == "donor_id"
    assert info["fields"]["sex"]["labels"] == {"PATO:0000383": "female", "PATO:0000384": "male"}
    assert info["genes"] == {"n": 725, "aligned_by": "Ensembl id (symbols kept)"}
    assert set(info["metrics"]["held_out_heads"]) == set(FIELDS)
    assert "## Fields and label vocabularies" in (out / "MODEL_CARD.md").read_text()


def test_several_files_need_the_schema(files, tmp_path, demo):
    from cell2text.errors import InputError

    plain = tmp_path / "plain.h5ad"
    ad.AnnData(X=demo.X[:10], obs=pd.DataFrame(index=demo.obs_names[:10]), var=pd.DataFrame(index=demo.var_names)).write_h5ad(plain)
    with pytest.raises(InputError, match="needs the CELLxGENE schema; 'plain.h5ad'"):
        open_cells([files[0], plain])
    single = tmp_path / "one_donor.h5ad"
    one = ad.read_h5ad(files[0])
    one.obs = one.obs.drop(columns="donor_id")
    one.write_h5ad(single)
    with pytest.raises(InputError, match="one donor in one file"):
        open_cells([single])


def test_mouse_files_are_read_with_their_own_genes(demo, tmp_path):
    """A mouse CELLxGENE file (ENSMUSG ids, mouse symbols): cells are read aligned to the file's own genes, one column each,
    not mapped to human orthologs (which would drop and sum genes and break the alignment)."""
    from cell2text.knowledge.genes import convert_gene

    mouse_symbols = [convert_gene(g, "human", "mouse") or g.capitalize() for g in demo.var_names]
    ids = [f"ENSMUSG{90_000_000_000 + i:011d}" for i in range(demo.n_vars)]
    cells = np.arange(0, 120)
    obs = pd.DataFrame(
        {
            "cell_type_ontology_term_id": demo.obs["cell_type_ontology_term_id"].astype(str).to_numpy()[cells],
            "donor_id": [f"donor{i % 3}" for i in cells],
        },
        index=demo.obs_names[cells],
    )
    var = pd.DataFrame({"feature_name": mouse_symbols}, index=ids)
    ad.AnnData(X=sp.csr_matrix(demo.X[cells]), obs=obs, var=var).write_h5ad(tmp_path / "mouse.h5ad")
    data = open_cells([tmp_path / "mouse.h5ad"])
    read = data.read(np.arange(10))
    assert read.n_vars == demo.n_vars and list(read.var_names) == ids
    assert list(read.var["feature_name"][:3]) == mouse_symbols[:3]
