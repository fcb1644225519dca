"""``cell2text doctor`` on this installation, and the lock file being what is installed."""

from __future__ import annotations

import importlib.metadata as metadata
import json
from pathlib import Path

from typer.testing import CliRunner

from cell2text.cli import app

runner = CliRunner()
LOCK = Path(__file__).resolve().parent.parent / "constraints.txt"


def test_doctor_passes_here_and_lists_every_check():
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["ok"] is True
    assert [c["name"] for c in payload["checks"]] == ["versions", "device", "ontology", "model", "lm", "kb", "chromium"]
    assert all(c["status"] in ("ok", "warn") for c in payload["checks"])


def test_doctor_fails_with_the_fix_when_the_model_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("CELL2TEXT_MODEL", str(tmp_path))
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 1
    model = next(c for c in json.loads(result.output)["checks"] if c["name"] == "model")
    assert model["status"] == "fail" and str(tmp_path) in model["found"] and "cell2text train" in model["fix"]


def test_installed_versions_are_the_lock():
    """make/CI install through constraints.txt: every pinned package is installed at its pinned version."""
    pins = [line.split("==") for line in LOCK.read_text().splitlines() if "==" in line and not line.startswith("#")]
    assert len(pins) > 100 and any(name == "torch" for name, _ in pins)
    drift = [
        f"{name} {metadata.version(name)} != {version}" for name, version in pins if metadata.version(name).split("+")[0] != version.split("+")[0]
    ]
    assert drift == []
