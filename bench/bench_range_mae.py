"""range_mae benchmarks (pytest-benchmark): `make bench`.

Groups ``<mode> <shape>``, mode ``fwd`` or ``fwd+bwd``, float32; and the range-density axis,
groups ``range_mae_density <mode> <shape> mean-length <m>`` (``bench/report.py`` tabulates them
against ``np.add``). Members: fastseg on 1 thread and
on all threads, the NumPy reference, the best vectorised torch version, a per-element Python
loop (small shape only) and ``np.add`` over the same arrays (the memory roofline: it reads two
arrays and writes one, as the fused kernel does).
"""

import os

import numba
import numpy as np
import pytest

import fastseg
from fastseg import config
from fastseg.baselines import piecewise_constant, range_mae_python_loop, range_mae_torch_vectorized
from fastseg.ops.range_loss import reference

torch = pytest.importorskip("torch")

SHAPES = [(4096, 1024), (256, 16384), (65536, 64)]
ALL_THREADS = numba.config.NUMBA_NUM_THREADS


def _data(shape):
    rng = np.random.default_rng(0)
    y_true = piecewise_constant(rng, *shape)
    y_pred = (y_true + 0.1 * rng.standard_normal(shape)).astype(np.float32)
    return y_true, y_pred


@pytest.fixture(scope="module", params=SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def data(request):
    return _data(request.param)


@pytest.fixture
def threads():
    yield numba.set_num_threads
    numba.set_num_threads(ALL_THREADS)


def _group(benchmark, mode, y):
    benchmark.group = f"range_mae {mode} {y.shape[0]}x{y.shape[1]}"


@pytest.mark.parametrize("mode", ["fwd", "fwd+bwd"])
@pytest.mark.parametrize("n_threads", [1, ALL_THREADS], ids=["1thread", "allthreads"])
def test_fastseg(benchmark, data, mode, n_threads, threads):
    y_true, y_pred = data
    _group(benchmark, mode, y_pred)
    threads(n_threads)
    fn = fastseg.range_mae if mode == "fwd" else fastseg.range_mae_value_and_grad
    fn(y_true, y_pred)
    benchmark(fn, y_true, y_pred)


@pytest.mark.parametrize("mode", ["fwd", "fwd+bwd"])
def test_numpy_add_roofline(benchmark, data, mode):
    y_true, y_pred = data
    _group(benchmark, mode, y_pred)
    out = np.empty_like(y_pred)
    benchmark(np.add, y_true, y_pred, out=out)


@pytest.mark.parametrize("mode", ["fwd", "fwd+bwd"])
def test_numpy_reference(benchmark, data, mode):
    y_true, y_pred = data
    _group(benchmark, mode, y_pred)
    benchmark.pedantic(reference.row_losses, (y_true, y_pred), {"need_grad": mode != "fwd"},
                       rounds=3, warmup_rounds=1)


def _torch_step(y_true, y_pred, mode):
    """The vectorised torch peer's call for ``mode``: the loss, and for fwd+bwd its backward."""
    def run():
        p = y_pred.requires_grad_(mode != "fwd")
        loss = range_mae_torch_vectorized(y_true, p)
        if mode != "fwd":
            loss.backward()
            p.grad = None
        return loss
    return run


@pytest.mark.parametrize("mode", ["fwd", "fwd+bwd"])
def test_torch_vectorized(benchmark, data, mode):
    y_true, y_pred = map(torch.from_numpy, data)
    _group(benchmark, mode, y_pred)
    benchmark.pedantic(_torch_step(y_true, y_pred, mode), rounds=5, warmup_rounds=1)


# --- range density: the same cost at any number of ranges per row ---------------------------------

DENSITY_SHAPES = [(4096, 1024), (65536, 64)]
MEAN_LENGTHS = [1, 2, 10, 100, 1000, None]
"""Mean range length; None: one range per row."""


def density_data(shape, mean_length, seed=1):
    """float32 ``y_true`` whose ranges start at each element with probability ``1/mean_length``
    (geometric lengths; ``None``: one range per row), and ``y_pred`` near it."""
    rng = np.random.default_rng(seed)
    rows, length = shape
    if mean_length is None:
        range_id = np.zeros(shape, np.int64)
    else:
        starts = rng.random(shape) < 1.0 / mean_length
        starts[:, 0] = True
        range_id = np.cumsum(starts, axis=1)
    y_true = (range_id % 997 / 997 + rng.random((rows, 1))).astype(np.float32)  # neighbours differ
    return y_true, (y_true + 0.1 * rng.standard_normal(shape)).astype(np.float32)


@pytest.fixture(scope="module", params=[(s, m) for s in DENSITY_SHAPES for m in MEAN_LENGTHS],
                ids=lambda sm: f"{sm[0][0]}x{sm[0][1]}-{'one-range' if sm[1] is None else f'len{sm[1]}'}")
def density(request):
    shape, mean_length = request.param
    return mean_length, density_data(shape, mean_length)


def _density_group(benchmark, mode, mean_length, y):
    label = "one-range" if mean_length is None else f"mean-length {mean_length}"
    benchmark.group = f"range_mae_density {mode} {y.shape[0]}x{y.shape[1]} {label}"


@pytest.mark.parametrize("mode", ["fwd", "fwd+bwd"])
@pytest.mark.parametrize("n_threads", [1, ALL_THREADS], ids=["1thread", "allthreads"])
def test_density_fastseg(benchmark, density, mode, n_threads, threads):
    mean_length, (y_true, y_pred) = density
    _density_group(benchmark, mode, mean_length, y_pred)
    threads(n_threads)
    fn = fastseg.range_mae if mode == "fwd" else fastseg.range_mae_value_and_grad
    fn(y_true, y_pred)
    benchmark(fn, y_true, y_pred)


@pytest.mark.parametrize("mode", ["fwd", "fwd+bwd"])
def test_density_numpy_add_roofline(benchmark, density, mode):
    mean_length, (y_true, y_pred) = density
    _density_group(benchmark, mode, mean_length, y_pred)
    out = np.empty_like(y_pred)
    benchmark(np.add, y_true, y_pred, out=out)


@pytest.mark.parametrize("mode", ["fwd", "fwd+bwd"])
def test_density_torch_vectorized(benchmark, density, mode):
    mean_length, data = density
    y_true, y_pred = map(torch.from_numpy, data)
    _density_group(benchmark, mode, mean_length, y_pred)
    benchmark.pedantic(_torch_step(y_true, y_pred, mode), rounds=3, warmup_rounds=1)


@pytest.mark.parametrize("shape", [(64, 1024)], ids=["64x1024"])
def test_seed_python_loop_small(benchmark, shape):
    """The element-by-element loop a TF user writes (NumPy ops instead of TF ops), fwd only, small shape:
    compare per element with the fastseg rows of the same group."""
    y_true, y_pred = _data(shape)
    benchmark.group = f"range_mae fwd {shape[0]}x{shape[1]} (seed loop)"
    benchmark.pedantic(range_mae_python_loop, (y_true, y_pred), rounds=3, warmup_rounds=0)


@pytest.mark.parametrize("shape", [(64, 1024)], ids=["64x1024"])
def test_fastseg_small(benchmark, shape):
    y_true, y_pred = _data(shape)
    benchmark.group = f"range_mae fwd {shape[0]}x{shape[1]} (seed loop)"
    benchmark(fastseg.range_mae, y_true, y_pred)


@pytest.mark.parametrize("elements", [1 << 12, 1 << 14, 1 << 16, 1 << 18])
@pytest.mark.parametrize("kernel", ["serial", "parallel"])
def test_parallel_threshold(benchmark, elements, kernel):
    """Where the row-parallel kernel starts to win: sets ``fastseg.config``'s ``parallel_min_elements``."""
    y_true, y_pred = _data((elements // 256, 256))
    benchmark.group = f"range_mae threshold fwd+bwd {elements} elements"
    with config.override(parallel_min_elements=0 if kernel == "parallel" else 1 << 62):
        fastseg.range_mae_value_and_grad(y_true, y_pred)
        benchmark(fastseg.range_mae_value_and_grad, y_true, y_pred)


# --- TensorFlow: the users' own setting ------------------------------------------------------

def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("tensorflow")


def _tf_value_and_grad(tf, loss_rows_fn):
    """A tf.function computing the mean loss and its gradient w.r.t. y_pred."""
    @tf.function
    def step(t, p):
        with tf.GradientTape() as tape:
            tape.watch(p)
            loss = tf.reduce_mean(loss_rows_fn(t, p))
        return loss, tape.gradient(loss, p)
    return step


@pytest.mark.parametrize("member", ["fastseg", "tf_composite", "seed_ragged_answer"])
def test_tf_fwd_bwd(benchmark, member):
    """fwd+bwd at 4096x1024 float32 inside tf.function: fastseg vs the ragged-tensor answer
    (tf.ragged.range + tf.gather per row) vs a TF composite (unsorted_segment_sum)."""
    tf = _tf()
    import fastseg.tensorflow as fst
    from fastseg.baselines import range_mae_tf_ragged
    from fastseg.tensorflow.range_loss import composite

    rows_fn = {
        "fastseg": lambda t, p: fst.range_mae(t, p, range_reduction="mean", reduction="none"),
        "tf_composite": lambda t, p: composite(t, p, range_reduction="mean"),
        "seed_ragged_answer": range_mae_tf_ragged,
    }[member]
    y_true, y_pred = map(tf.constant, _data((4096, 1024)))
    benchmark.group = "range_mae tf fwd+bwd 4096x1024"
    step = _tf_value_and_grad(tf, rows_fn)
    rounds = 1 if member == "seed_ragged_answer" else 10
    benchmark.pedantic(step, (y_true, y_pred), rounds=rounds, warmup_rounds=1)


@pytest.mark.parametrize("member", ["fastseg", "seed_tf_loop", "seed_ragged_answer_eager"])
def test_tf_seed_small(benchmark, member):
    """The two common TF approaches, eager as written, at a small shape (fwd, per-row losses)."""
    tf = _tf()
    import fastseg.tensorflow as fst
    from fastseg.baselines import range_mae_tf_loop, range_mae_tf_ragged

    fn = {"fastseg": lambda t, p: fst.range_mae(t, p, reduction="none"),
          "seed_tf_loop": range_mae_tf_loop, "seed_ragged_answer_eager": range_mae_tf_ragged}[member]
    y_true, y_pred = map(tf.constant, _data((8, 256)))
    benchmark.group = "range_mae tf fwd 8x256 (Python-loop approaches, eager)"
    benchmark.pedantic(fn, (y_true, y_pred), rounds=1 if member == "seed_tf_loop" else 5, warmup_rounds=1)
