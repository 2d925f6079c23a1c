"""bench/gpu_check.py is the one script a lent GPU machine runs, with no chance to fix it there:
it must at least import, and its pieces that need no GPU must work, on CPU-only CI."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_imports_and_refuses_to_run_without_a_gpu(gpu_check, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="needs a GPU"):
        gpu_check.main()


def test_its_data_are_piecewise_constant_rows(gpu_check):
    y_true, y_pred = gpu_check.data(5, 300, np.float32, max_ranges=7)
    assert y_true.shape == y_pred.shape == (5, 300) and y_true.dtype == np.float32
    assert ((np.diff(y_true, axis=1) != 0).sum(axis=1) <= 6).all()
