"""range_mae on the host: reference vs hand tables, Numba CPU kernels vs the reference, the public
API's contracts (dtypes, lengths, NaN, bad input, threads, read-only installs, SciPy)."""

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastseg
from fastseg.ops.range_loss import reference
from range_mae_cases import HAND_RANGES, HAND_TABLES, piecewise_rows
from tolerance import assert_close

HOST_BACKENDS = ["reference", "cpu"]


def expected_grad(y_true, y_pred, lengths, mean):
    """The gradient written out element by element, straight from docs/design.md."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    grad = np.zeros_like(y_pred)
    for b in range(y_true.shape[0]):
        n = y_true.shape[1] if lengths is None else lengths[b]
        starts = [i for i in range(n) if i == 0 or y_true[b, i] != y_true[b, i - 1]]
        bounds = list(zip(starts, starts[1:] + [n]))
        for lo, hi in bounds:
            for i in range(lo, hi):
                grad[b, i] = -np.sign(y_true[b, i] - y_pred[b, i]) / (hi - lo)
                grad[b, i] /= len(bounds) if mean else 1
    return grad


@pytest.mark.parametrize("backend", HOST_BACKENDS)
@pytest.mark.parametrize("range_reduction", ["sum", "mean"])
@pytest.mark.parametrize("case", range(len(HAND_TABLES)), ids=[c[0] for c in HAND_TABLES])
def test_hand_tables(case, range_reduction, backend):
    _, y_true, y_pred, lengths, want = HAND_TABLES[case]
    want = np.array(want, float)
    if range_reduction == "mean":
        want = want / np.maximum(HAND_RANGES[case], 1)
    y_true, y_pred = np.array(y_true, float), np.array(y_pred, float)
    kw = dict(range_reduction=range_reduction, lengths=lengths, backend=backend)
    np.testing.assert_allclose(fastseg.range_mae(y_true, y_pred, reduction="none", **kw), want,
                               rtol=1e-14)
    loss, grad = fastseg.range_mae_value_and_grad(y_true, y_pred, reduction="sum", **kw)
    np.testing.assert_allclose(loss, want.sum(), rtol=1e-14)
    np.testing.assert_allclose(grad, expected_grad(y_true, y_pred, lengths, range_reduction == "mean"),
                               rtol=1e-14)


def test_zero_rows_and_zero_length():
    empty = np.zeros((0, 5))
    assert fastseg.range_mae(empty, empty, reduction="none").shape == (0,)
    assert fastseg.range_mae(empty, empty, reduction="sum") == 0
    assert np.isnan(fastseg.range_mae(empty, empty))  # mean over no rows, as torch
    no_cols = np.zeros((3, 0))
    np.testing.assert_array_equal(fastseg.range_mae(no_cols, no_cols, reduction="none"), [0, 0, 0])


def test_leading_dims_are_rows():
    rng = np.random.default_rng(1)
    y_true, y_pred = piecewise_rows(rng, 6, 40)
    got = fastseg.range_mae(y_true.reshape(2, 3, 40), y_pred.reshape(2, 3, 40), reduction="none")
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got.ravel(), reference.row_losses(y_true, y_pred)[0], rtol=1e-12)


rows_and_length = st.tuples(st.integers(0, 6), st.integers(1, 70))


@st.composite
def range_mae_inputs(draw):
    rows, length = draw(rows_and_length)
    # Few distinct values so that runs of equal targets (ranges) appear, of every length.
    levels = draw(st.lists(st.floats(-2, 2, width=32), min_size=1, max_size=4))
    idx = draw(hnp.arrays(np.int64, (rows, length), elements=st.integers(0, len(levels) - 1)))
    runs = draw(hnp.arrays(np.int64, (rows, length), elements=st.integers(0, 1)))
    idx = np.where(runs == 1, np.roll(idx, 1, axis=1), idx)
    y_true = np.asarray(levels, np.float64)[idx]
    y_pred = draw(hnp.arrays(np.float64, (rows, length), elements=st.floats(-3, 3, width=32)))
    lengths = draw(st.none() | hnp.arrays(np.int64, (rows,), elements=st.integers(0, length)))
    return y_true, y_pred, lengths


@given(range_mae_inputs(), st.sampled_from(["sum", "mean"]), st.sampled_from([np.float64, np.float32]))
def test_cpu_matches_reference(inputs, range_reduction, dtype):
    y_true, y_pred, lengths = inputs
    ref64 = reference.row_losses(y_true, y_pred, lengths, range_reduction=range_reduction, need_grad=True)
    ref32 = reference.row_losses(y_true.astype(dtype), y_pred.astype(dtype), lengths,
                                 range_reduction=range_reduction, need_grad=True)
    kw = dict(range_reduction=range_reduction, lengths=lengths, backend="cpu")
    got = fastseg.range_mae(y_true.astype(dtype), y_pred.astype(dtype), reduction="none", **kw)
    assert got.dtype == dtype
    assert_close(got, ref64[0], ref32[0])
    if y_true.shape[0]:
        _, grad = fastseg.range_mae_value_and_grad(y_true.astype(dtype), y_pred.astype(dtype),
                                                   reduction="sum", **kw)
        assert_close(grad, ref64[1], ref32[1])


def test_long_rows_and_many_ranges_match_reference():
    """Rows longer than the kernel's vector blocks, with ranges straddling block edges."""
    rng = np.random.default_rng(7)
    for length, max_ranges in [(16, 3), (17, 16), (1000, 12), (4099, 400)]:
        y_true, y_pred = piecewise_rows(rng, 5, length, max_ranges)
        for mean in ("sum", "mean"):
            ref = reference.row_losses(y_true, y_pred, range_reduction=mean, need_grad=True)
            loss, grad = fastseg.range_mae_value_and_grad(y_true, y_pred, range_reduction=mean,
                                                          reduction="sum", backend="cpu")
            assert_close(loss, ref[0].sum())
            assert_close(grad, ref[1])


def test_reductions():
    rng = np.random.default_rng(2)
    y_true, y_pred = piecewise_rows(rng, 9, 33)
    rows = fastseg.range_mae(y_true, y_pred, reduction="none")
    np.testing.assert_allclose(fastseg.range_mae(y_true, y_pred, reduction="sum"), rows.sum(), rtol=1e-14)
    np.testing.assert_allclose(fastseg.range_mae(y_true, y_pred), rows.mean(), rtol=1e-14)
    _, grad_mean = fastseg.range_mae_value_and_grad(y_true, y_pred)
    _, grad_sum = fastseg.range_mae_value_and_grad(y_true, y_pred, reduction="sum")
    np.testing.assert_allclose(grad_mean * 9, grad_sum, rtol=1e-14)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["y_true", "y_pred"])
def test_nan_or_inf_gives_nan_row(bad, where):
    rng = np.random.default_rng(3)
    y_true, y_pred = piecewise_rows(rng, 3, 50)
    (y_true if where == "y_true" else y_pred)[1, 20] = bad
    for backend in HOST_BACKENDS:
        got = fastseg.range_mae(y_true, y_pred, reduction="none", backend=backend)
        assert np.isnan(got[1]) and np.isfinite(got[[0, 2]]).all()
        # past `lengths` a bad value does not count
        got = fastseg.range_mae(y_true, y_pred, reduction="none", lengths=[50, 20, 50], backend=backend)
        assert np.isfinite(got).all()


def test_non_contiguous_inputs():
    rng = np.random.default_rng(4)
    y_true, y_pred = piecewise_rows(rng, 40, 30)
    want = fastseg.range_mae(y_true.T.copy().T[::2], y_pred[::2], reduction="none")
    for t, p in [(np.asfortranarray(y_true)[::2], np.asfortranarray(y_pred)[::2]),
                 (y_true[::2, :], y_pred[::2, :])]:
        assert not t.flags.c_contiguous
        # strided rows are summed element by element, contiguous ones 16 lanes at a time:
        # the same values up to summation order
        np.testing.assert_allclose(fastseg.range_mae(t, p, reduction="none"), want, rtol=1e-14)
    strided_cols = np.repeat(y_true, 2, axis=1)[:, ::2]
    np.testing.assert_allclose(fastseg.range_mae(strided_cols, y_pred), fastseg.range_mae(y_true, y_pred),
                               rtol=1e-14)


def test_dtypes():
    rng = np.random.default_rng(5)
    y_true, y_pred = piecewise_rows(rng, 4, 20)
    half = fastseg.range_mae(y_true, y_pred.astype(np.float16), reduction="none")
    assert half.dtype == np.float16
    np.testing.assert_allclose(half, fastseg.range_mae(y_true, y_pred.astype(np.float16).astype(np.float32),
                                                       reduction="none"), rtol=1e-3)
    labels = (y_true > 0.5)
    for t in (labels, labels.astype(np.int32)):
        np.testing.assert_allclose(fastseg.range_mae(t, y_pred), fastseg.range_mae(t.astype(float), y_pred))


def test_inputs_not_mutated():
    rng = np.random.default_rng(6)
    y_true, y_pred = piecewise_rows(rng, 4, 20)
    t0, p0 = y_true.copy(), y_pred.copy()
    fastseg.range_mae_value_and_grad(y_true, y_pred)
    np.testing.assert_array_equal(y_true, t0)
    np.testing.assert_array_equal(y_pred, p0)


@pytest.mark.parametrize("call, error, match", [
    (lambda: fastseg.range_mae(np.zeros((2, 3)), np.zeros((2, 4))), ValueError, "same shape"),
    (lambda: fastseg.range_mae(np.zeros(3), np.zeros((1, 3))), ValueError, "same shape"),
    (lambda: fastseg.range_mae(np.float64(1), np.float64(1)), ValueError, "at least one dimension"),
    (lambda: fastseg.range_mae(np.zeros(3), np.zeros(3, np.int64)), TypeError, "y_pred must be a float16/float32/float64"),
    (lambda: fastseg.range_mae(np.array(["a"]), np.zeros(1)), TypeError, "y_true must be"),
    (lambda: fastseg.range_mae(np.zeros((2, 3)), np.zeros((2, 3)), lengths=[1]), ValueError, "lengths must have shape"),
    (lambda: fastseg.range_mae(np.zeros((2, 3)), np.zeros((2, 3)), lengths=[1.0, 2.0]), TypeError, "lengths must be an integer"),
    (lambda: fastseg.range_mae(np.zeros((2, 3)), np.zeros((2, 3)), lengths=[1, 4]), ValueError, r"lengths must lie in \[0, 3\]"),
    (lambda: fastseg.range_mae(np.zeros((2, 3)), np.zeros((2, 3)), lengths=[-1, 2]), ValueError, "lengths must lie"),
    (lambda: fastseg.range_mae(np.zeros(3), np.zeros(3), reduction="avg"), ValueError, "reduction must be one of"),
    (lambda: fastseg.range_mae(np.zeros(3), np.zeros(3), range_reduction="max"), ValueError, "range_reduction must be"),
    (lambda: fastseg.range_mae(np.zeros(3), np.zeros(3), backend="gpu"), ValueError, "backend must be one of"),
    (lambda: fastseg.range_mae_value_and_grad(np.zeros(3), np.zeros(3), reduction="none"), ValueError, "scalar loss"),
])
def test_bad_input_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_torch_tensor_to_numpy_api_is_a_clear_error():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="fastseg.torch"):
        fastseg.range_mae(torch.zeros(3), np.zeros(3))


def test_env_backend_override(monkeypatch):
    monkeypatch.setenv("FASTSEG_BACKEND", "reference")
    from fastseg._dispatch import resolve_backend
    assert resolve_backend("auto", "numpy") == "reference"
    assert resolve_backend("cpu", "numpy") == "cpu"
    monkeypatch.setenv("FASTSEG_BACKEND", "tpu")
    with pytest.raises(ValueError, match="FASTSEG_BACKEND"):
        fastseg.range_mae(np.zeros(3), np.zeros(3))


def test_parallel_and_serial_kernels_are_bitwise_identical():
    import numba
    from fastseg import _numba, config
    rng = np.random.default_rng(8)
    y_true, y_pred = piecewise_rows(rng, 300, 300, dtype=np.float32)
    results = []
    for threshold, threads in [(0, numba.config.NUMBA_NUM_THREADS), (1 << 62, 1)]:
        numba.set_num_threads(threads)
        with config.override(parallel_min_elements=threshold) as cfg:
            assert _numba.cpu_plan(y_pred.size, threads, cfg) == ("parallel" if threads > 1 and not threshold
                                                                   else "serial")
            results.append(fastseg.range_mae_value_and_grad(y_true, y_pred, backend="cpu"))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_eight_python_threads_at_once():
    rng = np.random.default_rng(9)
    inputs = [piecewise_rows(rng, 256, 300, dtype=np.float32) for _ in range(8)]
    want = [fastseg.range_mae_value_and_grad(t, p, backend="reference") for t, p in inputs]
    got = [None] * 8
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        for _ in range(5):
            got[i] = fastseg.range_mae_value_and_grad(*inputs[i], backend="cpu")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for (gl, gg), (wl, wg) in zip(got, want):
        np.testing.assert_allclose(gl, wl, rtol=2e-6)
        np.testing.assert_allclose(gg, wg, rtol=2e-6)


def test_scipy_minimize_with_jac():
    from scipy.optimize import minimize

    y_true = np.repeat([[0.2, 0.9, 0.4]], [5, 3, 4], axis=1)

    def objective(x):
        loss, grad = fastseg.range_mae_value_and_grad(y_true, x.reshape(y_true.shape))
        return float(loss), grad.ravel()

    x0 = np.full(y_true.size, 0.5)
    res = minimize(objective, x0, jac=True, method="L-BFGS-B")
    assert res.fun < 0.6 * objective(x0)[0]
    # the analytic gradient is the one SciPy's finite differences see, away from kinks
    from scipy.optimize import approx_fprime
    x = x0 + np.linspace(0.01, 0.02, x0.size)
    np.testing.assert_allclose(objective(x)[1], approx_fprime(x, lambda v: objective(v)[0], 1e-7), atol=1e-6)


def test_import_is_lazy_and_works_read_only():
    """`import fastseg` compiles nothing and imports no Numba; with a read-only package dir and an
    unwritable HOME, a call still works (the Numba cache moves to a private temp dir).

    Root ignores file modes, so as root the child runs in a mount namespace where the whole
    temp tree is a read-only bind mount."""
    import shutil
    import tempfile
    top = tempfile.mkdtemp(prefix="fastseg-ro-")
    try:
        pkg = os.path.join(top, "site", "fastseg")
        shutil.copytree(os.path.dirname(fastseg.__file__), pkg,
                        ignore=shutil.ignore_patterns("__pycache__"))
        home = os.path.join(top, "home")
        os.mkdir(home)
        for root, dirs, files in os.walk(top):
            for name in files:
                os.chmod(os.path.join(root, name), 0o444)
            os.chmod(root, 0o555)
        code = textwrap.dedent("""
            import os, sys, numpy as np
            import fastseg
            assert "numba" not in sys.modules, "import fastseg imported numba"
            assert not os.access(os.path.dirname(fastseg.__file__), os.W_OK)
            assert not os.access(os.environ["HOME"], os.W_OK)
            print(float(fastseg.range_mae(np.array([[0., 0., 1.]]), np.array([[1., 0., 1.]]))))
        """)
        env = {**os.environ, "HOME": home, "PYTHONPATH": os.path.join(top, "site"),
               "PYTHONDONTWRITEBYTECODE": "1"}
        for var in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME"):
            env.pop(var, None)
        cmd = [sys.executable, "-c", code]
        if os.getuid() == 0:
            ro_mount = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                        'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"', top]
            if not shutil.which("unshare"):
                pytest.skip("as root, file modes do not bind: needs unshare(1) for a read-only mount")
            probe = subprocess.run([*ro_mount, "true"], capture_output=True, text=True)
            if probe.returncode != 0:  # e.g. Docker's default seccomp profile forbids unshare
                pytest.skip(f"as root, needs a read-only mount, and unshare is not permitted here: "
                            f"{probe.stderr.strip()}")
            cmd = [*ro_mount, *cmd]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=top)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "0.5"
    finally:
        for root, dirs, files in os.walk(top):
            os.chmod(root, 0o755)
        shutil.rmtree(top)
