"""``cell2text model info``: the shipped checkpoint's card, JSON and readable, and a bad path."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from cell2text.cli import app
from cell2text.model.card import CARD_JSON, CARD_MD, add_evaluation, read_card
from cell2text.model.paths import SHIPPED_CHECKPOINT

runner = CliRunner()


def test_info_on_the_shipped_checkpoint():
    result = runner.invoke(app, ["model", "info", "--json"])
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)
    assert card["checkpoint"] == str(SHIPPED_CHECKPOINT)
    assert card["fields"]["cell_type"]["n_labels"] == 10 and card["fields"]["cell_type"]["labels"]["CL:0000236"] == "B cell"
    assert card["genes"] == {"n": 765, "aligned_by": "symbol"}
    assert card["data"]["n_train"] == 560 and card["data"]["n_test"] == 140
    readable = runner.invoke(app, ["model", "info"])
    assert readable.exit_code == 0 and "cell_type (10 labels)" in readable.output and "765" in readable.output


def test_info_on_a_bad_path(tmp_path):
    result = runner.invoke(app, ["model", "info", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a Cell2Text checkpoint" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 2  # one error line (rich may wrap it once)


def test_a_checkpoint_without_a_card_gets_one_from_its_files(tmp_path):
    copy = tmp_path / "ckpt"
    shutil.copytree(SHIPPED_CHECKPOINT, copy, ignore=shutil.ignore_patterns(CARD_JSON, CARD_MD, "weights.safetensors"))
    card = read_card(copy)
    assert card["note"].startswith("no model card") and card["fields"]["cell_type"]["n_labels"] == 10
    add_evaluation(copy, {"accuracy": 0.5, "macro_f1": 0.4})
    assert json.loads((copy / CARD_JSON).read_text())["metrics"]["evaluation"]["accuracy"] == 0.5
    assert "accuracy: 0.500" in (copy / CARD_MD).read_text()
