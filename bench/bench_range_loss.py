"""The range-loss family (pytest-benchmark): MSE and Huber against MAE, ranges from segment ids,
and packed-sequence cross-entropy.

Groups, float32, 1 thread (Numba and torch):
- ``range_loss fwd+bwd 4096x1024``: ``range_{mae,mse,huber}_value_and_grad`` and ``np.add`` over
  the same two arrays (the roofline of two reads and one write);
- ``range_loss segments fwd+bwd 4096x1024``: the same with ``segments=`` (three arrays read) and
  ``np.add`` over three arrays (``np.add(a, b, out); np.add(out, c, out)``: three reads, one write, as
  the kernel);
- ``cross_entropy packed fwd+bwd 4096x1000``: ``reduction="segment_mean"`` against plain
  ``cross_entropy_value_and_grad``.
"""

import numpy as np
import pytest

import fastseg
from fastseg.baselines import piecewise_constant

SHAPE = (4096, 1024)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y_true = piecewise_constant(rng, *SHAPE)
    y_pred = (y_true + 0.1 * rng.standard_normal(SHAPE)).astype(np.float32)
    segments = np.cumsum(rng.random(SHAPE) < 1 / 100, axis=1).astype(np.int32)  # ~10 per row, cutting the target runs
    return y_true, y_pred, segments


@pytest.mark.parametrize("loss", ["mae", "mse", "huber"])
def test_range_loss(benchmark, data, loss, one_thread):
    y_true, y_pred, _ = data
    benchmark.group = f"range_loss fwd+bwd {SHAPE[0]}x{SHAPE[1]}"
    fastseg.range_loss_value_and_grad(y_true, y_pred, loss=loss)
    benchmark(fastseg.range_loss_value_and_grad, y_true, y_pred, loss=loss)


def test_range_loss_roofline(benchmark, data):
    y_true, y_pred, _ = data
    benchmark.group = f"range_loss fwd+bwd {SHAPE[0]}x{SHAPE[1]}"
    out = np.empty_like(y_pred)
    benchmark(np.add, y_true, y_pred, out=out)


@pytest.mark.parametrize("loss", ["mae", "mse", "huber"])
def test_range_loss_segments(benchmark, data, loss, one_thread):
    y_true, y_pred, segments = data
    benchmark.group = f"range_loss segments fwd+bwd {SHAPE[0]}x{SHAPE[1]}"
    fastseg.range_loss_value_and_grad(y_true, y_pred, loss=loss, segments=segments)
    benchmark(fastseg.range_loss_value_and_grad, y_true, y_pred, loss=loss, segments=segments)


def test_range_loss_segments_roofline(benchmark, data):
    """np.add over the three arrays the segments kernel reads (int32 ids, read as float32 of the
    same size)."""
    y_true, y_pred, segments = data
    benchmark.group = f"range_loss segments fwd+bwd {SHAPE[0]}x{SHAPE[1]}"
    ids = segments.astype(np.float32)
    out = np.empty_like(y_pred)

    def three():
        np.add(y_true, y_pred, out=out)
        np.add(out, ids, out=out)

    benchmark(three)


@pytest.fixture(scope="module")
def ce_data():
    rng = np.random.default_rng(1)
    n, c = 4096, 1000
    x = rng.standard_normal((n, c)).astype(np.float32)
    y = rng.integers(0, c, n)
    ids = np.repeat(np.arange(64), n // 64)  # 64 packed sequences of 64 tokens
    return x, y, ids


@pytest.mark.parametrize("reduction", ["mean", "segment_mean"])
def test_packed_cross_entropy(benchmark, ce_data, reduction, one_thread):
    x, y, ids = ce_data
    benchmark.group = "cross_entropy packed fwd+bwd 4096x1000"
    kw = {"segment_ids": ids} if reduction == "segment_mean" else {}
    fastseg.cross_entropy_value_and_grad(x, y, reduction=reduction, **kw)
    benchmark(fastseg.cross_entropy_value_and_grad, x, y, reduction=reduction, **kw)
