"""An interrupted training run resumes from its snapshot and ends exactly as an uninterrupted one (CPU, and CUDA when present)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from cell2text.model.train import TrainConfig, train

SCRIPT = """
from cell2text.model.train import TrainConfig, train
train(TrainConfig(out={out!r}, stage1_steps=20, stage2_steps=6, stage2_batch=2, snapshot_every=1), progress=False)
"""


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_interrupted_run_resumes_exactly(tmp_path, monkeypatch, device):
    monkeypatch.setenv("CELL2TEXT_DEVICE", device)
    out = tmp_path / "interrupted"
    snapshot = tmp_path / "interrupted.resume-rank0.pt"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(out=str(out))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ | {"CELL2TEXT_DEVICE": device},
    )
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if snapshot.is_file() and torch.load(snapshot, weights_only=False)["step"] >= 2:
            proc.kill()
            break
        time.sleep(0.2)
    proc.wait()
    assert snapshot.is_file() and not out.exists(), "the run was not interrupted mid stage 2"
    state = torch.load(snapshot, weights_only=False, map_location="cpu")
    assert 2 <= state["step"] < 6
    assert (state["cuda"] is not None) == (device == "cuda") and state["sampler"]["current"] == 0

    config = {"stage1_steps": 20, "stage2_steps": 6, "stage2_batch": 2, "snapshot_every": 1}
    train(TrainConfig(out=str(out), **config), progress=False)  # picks up the snapshot
    assert not snapshot.exists()
    train(TrainConfig(out=str(tmp_path / "straight"), **config), progress=False)
    resumed, straight = load_file(out / "weights.safetensors"), load_file(tmp_path / "straight" / "weights.safetensors")
    assert set(resumed) == set(straight)
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=1e-6)
