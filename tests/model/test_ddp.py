"""Data-parallel training under torchrun: 2 CPU processes (gloo) on a tiny config, rank 0 writes the checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_torchrun_two_processes(tmp_path):
    out = tmp_path / "ddp"
    torchrun = Path(sys.executable).with_name("torchrun")
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "cell2text.cli", "train", "--out", str(out),
         "--stage1-steps", "10", "--stage2-steps", "2", "--json"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    payload = json.loads(proc.stdout[proc.stdout.index("{"):])  # rank 0 alone reports
    assert payload["checkpoint"] == str(out)
    assert proc.stdout.count('"checkpoint"') == 1
    assert json.loads((out / "train.json").read_text())["processes"] == 2
    assert (out / "weights.safetensors").is_file()
