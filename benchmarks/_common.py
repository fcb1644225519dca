"""Helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import networkx as nx
import numpy as np


def machine() -> str:
    """CPU model, cores and the library versions a result depends on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}, networkx {nx.__version__}"


RESULTS = Path(__file__).parent / "results"


def write_results(name: str, report: dict, lines: list[str]) -> None:
    """Write ``results/NAME.json`` (the numbers) and ``results/NAME.md`` (the table), and print the table."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
