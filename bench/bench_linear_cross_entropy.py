"""linear_cross_entropy / softmax_loss benchmarks (pytest-benchmark; ``python`` this file for
interleaved timings, see :func:`interleaved`).

fwd+bwd (loss and the gradients of x, weight, bias), float32, on ``FASTSEG_BENCH_THREADS``
threads (default 2) for Numba, torch and (set it in the environment too) OpenBLAS, at N=4096,
H in {512, 1024}, V=32000 and a small 1024x256x8000; select a shape with ``-k``::

    OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 .venv/bin/python -m pytest bench/bench_linear_cross_entropy.py \\
        -k "4096x512x32000" --benchmark-only --benchmark-columns=min,median,max,rounds

Peers: torch unfused (``linear`` + ``cross_entropy`` + backward), torch's chunked
``F.linear_cross_entropy(options=LinearCrossEntropyOptions())``, the NumPy unfused composition
(matmul + ``fastseg.cross_entropy_value_and_grad`` + two matmuls), fastseg's NumPy
``linear_cross_entropy_value_and_grad`` and ``fastseg.torch.linear_cross_entropy``; CS231n's
naive ``softmax_loss_naive`` loop against ``fastseg.softmax_loss`` at 500x3073x10.

Memory: each peer's peak extra resident memory of one call, measured in a fresh subprocess
(``ru_maxrss`` after the call minus after building the inputs and a tiny warm-up call), in
``extra_info["peak_extra_MiB"]``, and the same less the gradients every peer must return
(``extra_info["peak_beyond_grads_MiB"]``); NumPy peers also get tracemalloc's peak
(``extra_info["tracemalloc_peak_MiB"]``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc

import numba
import numpy as np
import pytest

import fastseg
from fastseg import baselines

torch = pytest.importorskip("torch")
import fastseg.torch as ft  # noqa: E402
import torch.nn.functional as F  # noqa: E402

THREADS = int(os.environ.get("FASTSEG_BENCH_THREADS", "2"))
SHAPES = [(4096, 512, 32000), (4096, 1024, 32000), (1024, 256, 8000)]
IMPLS = ["torch_unfused", "torch_chunked", "numpy_unfused", "fastseg_numpy", "fastseg_torch"]


def _data(n, h, v, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h), dtype=np.float32)
    w = (rng.standard_normal((v, h), dtype=np.float32) / np.sqrt(h)).astype(np.float32)
    b = 0.1 * rng.standard_normal(v, dtype=np.float32)
    return x, w, b, rng.integers(0, v, n)


def make_run(impl, x, w, b, y):
    """One fwd+bwd call of ``impl``, returning the loss and the three gradients."""
    if impl == "fastseg_numpy":
        return lambda: fastseg.linear_cross_entropy_value_and_grad(x, w, y, bias=b)
    if impl == "numpy_unfused":
        def numpy_unfused():
            logits = x @ w.T
            logits += b
            loss, g = fastseg.cross_entropy_value_and_grad(logits, y)
            return loss, g @ w, g.T @ x, g.sum(axis=0)
        return numpy_unfused
    tx, tw, tb, ty = (torch.from_numpy(a) for a in (x, w, b, y))

    def torch_run(loss_fn):
        def run():
            xs, ws, bs = (t.detach().requires_grad_(True) for t in (tx, tw, tb))
            loss = loss_fn(xs, ws, bs)
            loss.backward()
            return loss.detach(), xs.grad, ws.grad, bs.grad
        return run
    if impl == "torch_unfused":
        return torch_run(lambda xs, ws, bs: F.cross_entropy(F.linear(xs, ws, bs), ty))
    if impl == "torch_chunked":
        options = torch.nn.LinearCrossEntropyOptions()
        return torch_run(lambda xs, ws, bs: F.linear_cross_entropy(xs, ws, ty, linear_bias=bs, options=options))
    if impl == "fastseg_torch":
        return torch_run(lambda xs, ws, bs: ft.linear_cross_entropy(xs, ws, ty, linear_bias=bs))
    raise ValueError(impl)


def _set_threads(threads):
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    torch.set_num_threads(threads)


def _rss_kib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def _peak_rss_child(impl, n, h, v, threads):
    """Run in a fresh interpreter (Linux): peak resident bytes added by one call. The high-water
    mark is reset after the inputs are built (``/proc/self/clear_refs``), so the temporaries of
    building them do not count."""
    _set_threads(threads)
    x, w, b, y = _data(n, h, v)
    small = _data(min(n, 64), h, v, seed=1)
    make_run(impl, *small)()  # imports, JIT (Numba's disk cache), thread pools
    del small
    run = make_run(impl, x, w, b, y)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    base = _rss_kib("VmRSS")
    result = run()
    peak = _rss_kib("VmHWM")
    del result
    return (peak - base) * 1024


def peak_extra_mib(impl, n, h, v, threads=THREADS):
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); import json, bench_linear_cross_entropy as b; "
            f"print(json.dumps(b._peak_rss_child({impl!r}, {n}, {h}, {v}, {threads})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1]) / 2**20


@pytest.fixture
def threads():
    torch_threads = torch.get_num_threads()
    _set_threads(THREADS)
    yield THREADS
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    torch.set_num_threads(torch_threads)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("impl", IMPLS)
def test_linear_cross_entropy(benchmark, shape, impl, threads):
    n, h, v = shape
    x, w, b, y = _data(n, h, v)
    benchmark.group = f"linear_cross_entropy fwd+bwd {n}x{h}x{v} float32 ({threads} threads)"
    run = make_run(impl, x, w, b, y)
    run()
    grads_mib = (x.nbytes + w.nbytes + b.nbytes) / 2**20
    peak = peak_extra_mib(impl, n, h, v, threads)
    benchmark.extra_info.update(peak_extra_MiB=round(peak, 1), peak_beyond_grads_MiB=round(peak - grads_mib, 1),
                                grads_MiB=round(grads_mib, 1), logits_MiB=round(n * v * 4 / 2**20, 1))
    if impl in ("fastseg_numpy", "numpy_unfused"):
        tracemalloc.start()
        run()
        benchmark.extra_info["tracemalloc_peak_MiB"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    benchmark.pedantic(run, rounds=5, warmup_rounds=0)


@pytest.mark.parametrize("impl", ["naive_loop", "fastseg"])
def test_softmax_loss_cs231n(benchmark, impl, threads):
    """CS231n's shape (500 CIFAR-10 rows, 3072 pixels + bias): the naive double loop vs softmax_loss."""
    rng = np.random.default_rng(0)
    W = 1e-4 * rng.standard_normal((3073, 10))
    X, y = rng.standard_normal((500, 3073)), rng.integers(0, 10, 500)
    benchmark.group = "softmax_loss 500x3073x10 float64 (CS231n)"
    fn = baselines.softmax_loss_naive if impl == "naive_loop" else fastseg.softmax_loss
    fn(W, X, y, 5e-6)
    benchmark.pedantic(fn, args=(W, X, y, 5e-6), rounds=5, warmup_rounds=0)


def interleaved(n, h, v, rounds=3, threads=THREADS, impls=IMPLS):
    """Time the peers round-robin (each round runs every peer once, in a rotated order), so that
    load from other processes on a shared machine falls on all of them alike. Returns
    ``{impl: (median_s, min_s)}``."""
    import time
    _set_threads(threads)
    x, w, b, y = _data(n, h, v)
    runs = {impl: make_run(impl, x, w, b, y) for impl in impls}
    for run in runs.values():
        run()
    times = {impl: [] for impl in impls}
    for r in range(rounds):
        order = impls[r % len(impls):] + impls[:r % len(impls)]
        for impl in order:
            start = time.perf_counter()
            runs[impl]()
            times[impl].append(time.perf_counter() - start)
    return {impl: (float(np.median(t)), min(t)) for impl, t in times.items()}


if __name__ == "__main__":
    # python bench/bench_linear_cross_entropy.py N H V [rounds]: interleaved times and peak memory
    n, h, v = (int(a) for a in sys.argv[1:4])
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    result = interleaved(n, h, v, rounds)
    grads = (n * h + v * h + v) * 4 / 2**20
    print(f"{n}x{h}x{v} float32, {THREADS} threads, {rounds} interleaved rounds; gradients {grads:.1f} MiB")
    print(f"{'peer':16s} {'median s':>9s} {'min s':>8s} {'peak extra MiB':>15s} {'beyond grads':>13s}")
    for impl, (med, best) in result.items():
        peak = peak_extra_mib(impl, n, h, v)
        print(f"{impl:16s} {med:9.3f} {best:8.3f} {peak:15.1f} {peak - grads:13.1f}")
