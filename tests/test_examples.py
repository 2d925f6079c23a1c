"""The examples run and reach what they claim."""

import importlib.util
import os

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_linear_svm_digits_learns():
    pytest.importorskip("sklearn")
    assert _load("linear_svm_digits").main(maxiter=100) > 0.9


def test_mlp_digits_fmin_cg_learns_with_exact_gradient():
    pytest.importorskip("sklearn")
    assert _load("mlp_digits_fmin_cg").main(maxiter=40, compare_iterations=1) > 0.85


def test_keras_range_mae_trains_and_reports_held_out_scores(capsys):
    """examples/keras_range_mae.py, small: 8 epochs on 512 short signals beat the noisy input."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")
    import re

    _load("keras_range_mae").main(epochs=8, rows=512, length=64)
    out = capsys.readouterr().out
    found = re.search(r"held-out range-wise MAE (\S+) \(noisy input: (\S+)\)", out)
    assert found, out
    model_mae, noisy_mae = map(float, found.groups())
    assert 0 < model_mae < noisy_mae  # it learned to denoise (0.43 against 0.48 when written)
