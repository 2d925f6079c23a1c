"""What a training step pays through each front end (docs/design.md, "Autograd memory contract").

Groups ``adapters <op> fwd+bwd <shape>``, float32, 1 thread (Numba and torch): the NumPy
``*_value_and_grad`` (one fused pass), the same loss through ``fastseg.torch`` + ``.backward()``
(a forward pass, then a backward pass with the upstream gradient folded in), through
``fastseg.tensorflow`` in a ``tf.function`` with a tape (range_mae), and ``np.add`` over the
same arrays (the memory roofline). Group ``adapters tiny 4x16``: the per-call host cost against
torch's own ``l1_loss`` and ``cross_entropy`` + backward.
"""

import os

import numpy as np
import pytest

import fastseg
from fastseg.baselines import piecewise_constant

torch = pytest.importorskip("torch")
import fastseg.torch as ft  # noqa: E402
import torch.nn.functional as F  # noqa: E402

N, L, C = 4096, 1024, 1000


def _range_data(rows=N, length=L):
    rng = np.random.default_rng(0)
    y_true = piecewise_constant(rng, rows, length)
    return y_true, (y_true + 0.1 * rng.standard_normal((rows, length))).astype(np.float32)


def _class_data(rows=N, classes=C):
    rng = np.random.default_rng(1)
    return rng.standard_normal((rows, classes)).astype(np.float32), rng.integers(0, classes, rows)


OPS = {  # op -> (data, NumPy value_and_grad, fastseg.torch loss of (prediction tensor, other tensor))
    "range_mae": (_range_data, lambda t, p: fastseg.range_mae_value_and_grad(t, p),
                  lambda p, t: ft.range_mae(p, t)),
    "cross_entropy": (_class_data, lambda x, y: fastseg.cross_entropy_value_and_grad(x, y),
                      lambda x, y: ft.cross_entropy(x, y)),
    "multiclass_hinge": (_class_data, lambda s, y: fastseg.multiclass_hinge_value_and_grad(s, y),
                         lambda s, y: ft.multiclass_hinge(s, y)),
}


def _arrays(op):
    a, b = OPS[op][0]()
    return OPS[op][0]()  # range_mae: (y_true, y_pred); the others: (scores, labels)


@pytest.mark.parametrize("op", list(OPS))
def test_numpy_value_and_grad(benchmark, one_thread, op):
    a, b = _arrays(op)
    benchmark.group = f"adapters {op} fwd+bwd {a.shape[0]}x{a.shape[1]}"
    OPS[op][1](a, b)
    benchmark(OPS[op][1], a, b)


@pytest.mark.parametrize("op", list(OPS))
def test_torch_forward_backward(benchmark, one_thread, op):
    a, b = map(torch.from_numpy, _arrays(op))
    pred, other = (b, a) if op == "range_mae" else (a, b)
    benchmark.group = f"adapters {op} fwd+bwd {a.shape[0]}x{a.shape[1]}"
    leaf = pred.clone().requires_grad_(True)

    def step():
        OPS[op][2](leaf, other).backward()
        leaf.grad = None

    step()
    benchmark(step)


@pytest.mark.parametrize("op", list(OPS))
def test_numpy_add_roofline(benchmark, op):
    a, b = _arrays(op)
    b = b if b.shape == a.shape else a.copy()
    benchmark.group = f"adapters {op} fwd+bwd {a.shape[0]}x{a.shape[1]}"
    out = np.empty_like(a)
    benchmark(np.add, a, b, out=out)


def test_tensorflow_range_mae(benchmark, one_thread):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tf = pytest.importorskip("tensorflow")
    import fastseg.tensorflow as fst
    y_true, y_pred = map(tf.constant, _range_data())
    benchmark.group = f"adapters range_mae fwd+bwd {N}x{L}"

    @tf.function
    def step(t, p):
        with tf.GradientTape() as tape:
            tape.watch(p)
            loss = fst.range_mae(t, p)
        return loss, tape.gradient(loss, p)

    step(y_true, y_pred)
    benchmark(lambda: [x.numpy() for x in step(y_true, y_pred)])


TINY = {"range_mae": (lambda p, t: ft.range_mae(p, t), lambda p, t: F.l1_loss(p, t)),
        "cross_entropy": (lambda x, y: ft.cross_entropy(x, y), lambda x, y: F.cross_entropy(x, y))}


@pytest.mark.parametrize("impl", ["fastseg.torch", "torch"])
@pytest.mark.parametrize("op", list(TINY))
def test_tiny_step(benchmark, one_thread, op, impl):
    """4x16: what is left is the host cost of one call and its backward."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 16, generator=g, requires_grad=True)
    other = torch.randint(0, 3, (4, 16), generator=g).float() if op == "range_mae" else \
        torch.randint(0, 16, (4,), generator=g)
    fn = TINY[op][0 if impl == "fastseg.torch" else 1]
    benchmark.group = f"adapters tiny {op} 4x16"

    def step():
        fn(x, other).backward()
        x.grad = None

    step()
    benchmark(step)
