"""The examples run and reach what they claim."""

import importlib.util
import os

import numpy as np
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


def test_polynomial_regression_as_asked_diverges_and_the_fix_converges(tmp_path):
    pytest.importorskip("torch")
    diverged, converged = _load("polynomial_regression").main()
    assert abs(diverged[0] - 25.45) < 1e-3 and diverged[-1] > 1e25  # as reported: the loss explodes
    assert converged[-1] < 0.01 < converged[0]
    pytest.importorskip("matplotlib")
    _load("polynomial_regression").main(plot=str(tmp_path / "curves.png"))
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_or_gate_perceptron_learns_with_the_right_gradient(capsys):
    module = _load("or_gate_perceptron")
    rng = np.random.default_rng(1)
    assert module.check_chain(rng.random(2), 0.3) < 1e-8
    assert module.main(epochs=2000) == 4
    assert "4/4 correct" in capsys.readouterr().out
