"""cross_entropy / categorical_crossentropy benchmarks (pytest-benchmark): `make bench`.

fwd+bwd, float32, 1 thread, at 4096x1000 and 512x32000: fastseg vs torch ``cross_entropy`` vs
Keras's ``categorical_crossentropy`` on TF vs a per-row NumPy loop (small shape).
Each benchmark also records the peak extra memory of one call (``extra_info["peak_extra_MiB"]``:
tracemalloc for NumPy/fastseg, the torch profiler's CPU allocations for torch) — the gradient
itself is the only buffer fastseg allocates.
"""

import os
import tracemalloc

import numpy as np
import pytest

import fastseg

torch = pytest.importorskip("torch")
SHAPES = [(4096, 1000), (512, 32000)]


def _data(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, shape[1], shape[0])


def _peak_extra_mib(fn):
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["fastseg", "torch"])
def test_cross_entropy(benchmark, shape, impl, one_thread):
    x, y = _data(shape)
    benchmark.group = f"cross_entropy fwd+bwd {shape[0]}x{shape[1]} (1 thread)"
    if impl == "fastseg":
        def run():
            return fastseg.cross_entropy_value_and_grad(x, y)
        benchmark.extra_info["peak_extra_MiB"] = _peak_extra_mib(run)
        benchmark.extra_info["gradient_MiB"] = x.nbytes / 2**20
    else:
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def run():
            q = tx.detach().requires_grad_(True)
            torch.nn.functional.cross_entropy(q, ty).backward()
            return q.grad
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            run()
        peak = max(0, sum(e.cpu_memory_usage for e in prof.events() if e.cpu_memory_usage > 0))
        benchmark.extra_info["allocated_MiB"] = peak / 2**20
    run()
    benchmark.pedantic(run, rounds=10, warmup_rounds=1)


def test_cross_entropy_numpy_row_loop(benchmark, one_thread):
    """The per-example loop style (softmax and gradient row by row), 64x1000."""
    x, y = _data((64, 1000))
    benchmark.group = "cross_entropy fwd+bwd 64x1000 (per-row NumPy loop)"

    def loop():
        grad = np.empty_like(x)
        loss = 0.0
        for i in range(x.shape[0]):
            e = np.exp(x[i] - x[i].max())
            p = e / e.sum()
            loss -= np.log(p[y[i]])
            grad[i] = p
            grad[i, y[i]] -= 1
        return loss / x.shape[0], grad / x.shape[0]
    benchmark.pedantic(loop, rounds=5, warmup_rounds=1)


def test_cross_entropy_small_fastseg(benchmark, one_thread):
    x, y = _data((64, 1000))
    benchmark.group = "cross_entropy fwd+bwd 64x1000 (per-row NumPy loop)"
    benchmark(fastseg.cross_entropy_value_and_grad, x, y)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["fastseg", "keras_tf"])
def test_categorical_crossentropy_probabilities(benchmark, shape, impl, one_thread):
    """from_logits=False (probabilities), fwd+bwd: fastseg vs Keras's own on TF CPU."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(1)
    y_pred = rng.random(shape).astype(np.float32) + 1e-3
    y_true = np.zeros(shape, np.float32)
    y_true[np.arange(shape[0]), rng.integers(0, shape[1], shape[0])] = 1
    benchmark.group = f"categorical_crossentropy (probabilities) fwd+bwd {shape[0]}x{shape[1]}"
    if impl == "fastseg":
        def run():
            return fastseg.categorical_crossentropy_value_and_grad(y_true, y_pred)
        benchmark.extra_info["peak_extra_MiB"] = _peak_extra_mib(run)
    else:
        t, p = tf.constant(y_true), tf.Variable(y_pred)

        @tf.function
        def run():
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(keras.losses.categorical_crossentropy(t, p))
            return loss, tape.gradient(loss, p)
    run()
    benchmark.pedantic(run, rounds=10, warmup_rounds=1)
