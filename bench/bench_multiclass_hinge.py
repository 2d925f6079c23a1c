"""multiclass_hinge and svm_loss benchmarks (pytest-benchmark): `make bench`.

fwd+bwd with scores given, float32 4096x1000: fastseg on 1 thread vs torch ``multi_margin_loss``
vs CS231n's vectorised NumPy vs ``np.add`` on the scores (the roofline: the fused kernel reads
the scores once and writes the gradient once) vs CS231n's naive double loop (small shape; per
element). ``svm_loss`` end to end vs CS231n's vectorised version vs its two matrix products alone.
"""

import numpy as np
import pytest

import fastseg
from fastseg.baselines import hinge_naive_loop, hinge_vectorized_numpy, svm_loss_vectorized_numpy

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(0)
    return rng.standard_normal((4096, 1000)).astype(np.float32), rng.integers(0, 1000, 4096)


GROUP = "multiclass_hinge fwd+bwd 4096x1000 (1 thread)"


def test_fastseg(benchmark, scores, one_thread):
    benchmark.group = GROUP
    fastseg.multiclass_hinge_value_and_grad(*scores)
    benchmark(fastseg.multiclass_hinge_value_and_grad, *scores)


def test_numpy_add_roofline(benchmark, scores, one_thread):
    benchmark.group = GROUP
    s = scores[0]
    out = np.empty_like(s)
    benchmark(np.add, s, s, out=out)


def test_torch_multi_margin_loss(benchmark, scores, one_thread):
    benchmark.group = GROUP
    s, y = torch.from_numpy(scores[0]), torch.from_numpy(scores[1])

    def run():
        q = s.detach().requires_grad_(True)
        torch.nn.functional.multi_margin_loss(q, y).backward()

    benchmark.pedantic(run, rounds=10, warmup_rounds=1)


def test_cs231n_vectorized_numpy(benchmark, scores, one_thread):
    benchmark.group = GROUP
    benchmark.pedantic(hinge_vectorized_numpy, scores, rounds=10, warmup_rounds=1)


@pytest.mark.parametrize("impl", ["fastseg", "naive_loop"])
def test_small_per_element(benchmark, impl, one_thread):
    """64x100: compare per element (divide by 6400) with the 4096x1000 group."""
    rng = np.random.default_rng(1)
    s, y = rng.standard_normal((64, 100)).astype(np.float32), rng.integers(0, 100, 64)
    benchmark.group = "multiclass_hinge fwd+bwd 64x100 (naive double loop)"
    fn = fastseg.multiclass_hinge_value_and_grad if impl == "fastseg" else hinge_naive_loop
    benchmark.pedantic(fn, (s, y), rounds=3 if impl == "naive_loop" else 200, warmup_rounds=1)


@pytest.mark.parametrize("n", [500, 4096])
@pytest.mark.parametrize("impl", ["fastseg", "cs231n_vectorized", "two_matmuls_only"])
def test_svm_loss(benchmark, n, impl, one_thread):
    """CIFAR-like: D=3073, C=10."""
    rng = np.random.default_rng(2)
    W = (0.001 * rng.standard_normal((3073, 10))).astype(np.float32)
    X = rng.standard_normal((n, 3073)).astype(np.float32)
    y = rng.integers(0, 10, n)
    benchmark.group = f"svm_loss N={n} D=3073 C=10 (1 thread)"
    fn = {"fastseg": lambda: fastseg.svm_loss(W, X, y, 0.1),
          "cs231n_vectorized": lambda: svm_loss_vectorized_numpy(W, X, y, 0.1),
          "two_matmuls_only": lambda: X.T @ (X @ W)}[impl]
    fn()
    benchmark(fn)
