"""Benchmark records on disk: where they are, reading them, and keeping local paths out of them.

``make bench`` saves pytest-benchmark JSON under ``bench/results/cpu/<machine>/NNNN_bench.json``;
``bench/gpu_check.py`` saves ``bench/results/gpu_check_<device>.json``. ``bench/report.py``
renders both.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def scrub_paths(obj: Any, roots: tuple[str, ...] | None = None) -> Any:
    """``obj`` (JSON-like) with every absolute path under the repository made relative to it and
    any other path under the home directory or a temporary directory reduced to its file name.

    Parameters
    ----------
    obj : Any
        Nested dicts, lists and scalars.
    roots : tuple of str, optional
        Directories whose prefix is removed (default: the repository, then the current one).

    Returns
    -------
    Any
        A scrubbed copy; strings without such paths are returned unchanged.
    """
    roots = roots or (str(REPO), os.getcwd())
    if isinstance(obj, dict):
        return {k: scrub_paths(v, roots) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [scrub_paths(v, roots) for v in obj]
    if not isinstance(obj, str):
        return obj
    for root in sorted({r.rstrip("/") for r in roots if r and r != "/"}, key=len, reverse=True):
        obj = obj.replace(root + "/", "").replace(root, ".")
    return re.sub(r"(?:/(?:home|root|tmp|Users|work|var/folders)\b|[A-Za-z]:\\Users)[^\s'\"]*[/\\]([^/\\\s'\"]+)",
                  r"\1", obj)


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` (paths scrubbed) as indented JSON to ``path``, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scrub_paths(data), indent=1) + "\n")
    return path


def cpu_machine_runs(results: Path = RESULTS) -> dict[str, list[Path]]:
    """Every saved pytest-benchmark run under ``results/cpu``, oldest first, per machine."""
    machines = {}
    for machine in sorted(p for p in (results / "cpu").glob("*") if p.is_dir()):
        runs = sorted(machine.glob("*.json"))
        if runs:
            machines[machine.name] = runs
    return machines


def gpu_runs(results: Path = RESULTS) -> list[Path]:
    """The saved ``bench/gpu_check.py`` results under ``results``."""
    return sorted(results.glob("gpu_check_*.json"))


def load(path: Path) -> dict:
    """One saved record, local paths scrubbed (for records saved before they were scrubbed)."""
    return scrub_paths(json.loads(path.read_text()))
