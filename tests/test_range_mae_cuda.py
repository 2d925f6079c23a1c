"""range_mae CUDA backends vs the reference. On CPU-only CI the Numba CUDA kernels run under
the simulator (NUMBA_ENABLE_CUDASIM=1, set in conftest): tiny shapes, several tiles per row.
Tests that need a real GPU are marked ``gpu`` and skip without one."""

import os

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
from fastseg.ops.range_loss import reference  # noqa: E402
from range_mae_cases import HAND_RANGES, HAND_TABLES, piecewise_rows  # noqa: E402
from tolerance import assert_close  # noqa: E402

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
gpu = pytest.mark.gpu  # conftest: runs on a working CUDA driver and GPU, else skips with the reason


def _run(backend_module, y_true, y_pred, lengths, mean, scale=1.0):
    """Fused, forward-only and backward-only calls of the backend protocol; the backward one also
    writes y_true's gradient, which must be the exact negation."""
    rows = y_pred.shape[0]
    loss, loss2 = np.empty(rows), np.empty(rows)
    grad, grad2, grad_true = np.empty_like(y_pred), np.empty_like(y_pred), np.empty_like(y_pred)
    backend_module.rows(y_true, y_pred, lengths, mean_over_ranges=mean, grad_scale=scale, out_loss=loss,
                        out_grad=grad)
    backend_module.rows(y_true, y_pred, lengths, mean_over_ranges=mean, out_loss=loss2)
    backend_module.rows(y_true, y_pred, lengths, mean_over_ranges=mean, grad_scale=scale, out_grad=grad2,
                        out_grad_true=grad_true)
    np.testing.assert_array_equal(grad2, grad)
    np.testing.assert_array_equal(grad_true, -grad)
    return loss, loss2, grad


@pytest.fixture(scope="module")
def numba_cuda_backend():
    from fastseg.ops.range_loss import cuda as backend
    return backend


def test_simulator_hand_tables_in_one_launch(numba_cuda_backend):
    """All hand tables padded into one batch (with lengths) — one launch keeps the simulator fast."""
    width = max(len(row) for _, t, _, _, _ in HAND_TABLES for row in t)
    t_rows, p_rows, n_rows, want = [], [], [], []
    for (_, t, p, lengths, expect), n_ranges in zip(HAND_TABLES, HAND_RANGES):
        for b, (tr, pr) in enumerate(zip(t, p)):
            t_rows.append(np.pad(np.asarray(tr, float), (0, width - len(tr)), constant_values=-7.0))
            p_rows.append(np.pad(np.asarray(pr, float), (0, width - len(pr))))
            n_rows.append(len(tr) if lengths is None else lengths[b])
            want.append(expect[b])
    y_true, y_pred, lengths = np.array(t_rows), np.array(p_rows), np.array(n_rows)
    loss, loss2, grad = _run(numba_cuda_backend, y_true, y_pred, lengths, False)
    np.testing.assert_allclose(loss, want, rtol=1e-14)
    np.testing.assert_allclose(loss2, want, rtol=1e-14)
    ref_grad = reference.row_losses(y_true, y_pred, lengths, need_grad=True)[1]
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-14)


@pytest.mark.parametrize("mean", [False, True])
def test_simulator_multi_tile_rows_match_reference(numba_cuda_backend, mean):
    """Rows longer than a block (128 threads): ranges and the carry cross tile edges; NaN rows,
    lengths of 0, L and in between, a per-row gradient scale."""
    rng = np.random.default_rng(11)
    y_true, y_pred = piecewise_rows(rng, 4, 300, max_ranges=40)
    y_true[:, 127:130] = y_true[:, 126:127]  # a range straddling the first tile edge
    y_pred[2, 200] = np.nan
    lengths = np.array([300, 0, 257, 129])
    scale = np.array([1.0, 2.0, 0.5, 3.0])
    loss, loss2, grad = _run(numba_cuda_backend, y_true, y_pred, lengths, mean, scale)
    ref_loss, ref_grad = reference.row_losses(y_true, y_pred, lengths, need_grad=True,
                                              range_reduction="mean" if mean else "sum")
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(loss2, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad * scale[:, None], rtol=1e-12)


def test_simulator_without_lengths(numba_cuda_backend):
    y_true, y_pred = piecewise_rows(np.random.default_rng(14), 2, 150, max_ranges=6)
    loss, loss2, grad = _run(numba_cuda_backend, y_true, y_pred, None, True)
    ref_loss, ref_grad = reference.row_losses(y_true, y_pred, need_grad=True, range_reduction="mean")
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(loss2, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12)


def test_simulator_float32_and_bad_lengths(numba_cuda_backend):
    rng = np.random.default_rng(12)
    y_true, y_pred = piecewise_rows(rng, 2, 140, max_ranges=9, dtype=np.float32)
    loss, _, grad = _run(numba_cuda_backend, y_true, y_pred, np.array([140, 141]), False)
    ref32 = reference.row_losses(y_true, y_pred, need_grad=True)
    np.testing.assert_allclose(loss[0], ref32[0][0], rtol=2e-6)
    np.testing.assert_allclose(grad[0], ref32[1][0], rtol=2e-6)
    assert np.isnan(loss[1]) and np.isnan(grad[1]).all()  # length past the row: NaN, no OOB read


@gpu
@pytest.mark.parametrize("backend", ["cuda", "native"])
def test_gpu_torch_tensors_match_reference(backend):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    import fastseg.torch as ft
    rng = np.random.default_rng(13)
    y_true, y_pred = piecewise_rows(rng, 64, 1000)
    t = torch.tensor(y_true, device="cuda")
    p = torch.tensor(y_pred, device="cuda", requires_grad=True)
    loss = ft.range_mae(p, t, reduction="sum", backend=backend)
    loss.backward()
    ref_loss, ref_grad = reference.row_losses(y_true, y_pred, need_grad=True)
    np.testing.assert_allclose(loss.item(), ref_loss.sum(), rtol=1e-12)
    np.testing.assert_allclose(p.grad.cpu().numpy(), ref_grad, rtol=1e-12)


@pytest.mark.parametrize("schedule, length", [("block", 300), ("block", 1500), ("fused", 300)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mean", [False, True])
def test_native_backend_on_host(native_on_host, schedule, length, dtype, mean):
    """The native backend's Python launch path and its kernels, run on the host (tests/host_cupy.py),
    under each kernel plan ("fused": a config without block kernels): buffers by address on the
    caller's stream (as fastseg.torch passes CUDA tensors), and host arrays copied in and out with
    int32 lengths and a per-row gradient scale (as the NumPy API)."""
    import host_cupy
    from fastseg import config
    from host_cupy import host_buffer

    with config.override(**({} if schedule == "block" else {"range_loss_block_rows": ()})):
        _check_native_on_host(host_cupy, host_buffer, schedule, length, dtype, mean)


def _check_native_on_host(host_cupy, host_buffer, schedule, length, dtype, mean):
    from fastseg.ops.range_loss import native
    rng = np.random.default_rng(21)
    rows, L = 9, length  # a warp per row: 3 blocks of 4 warps, the last one part empty
    y_true, y_pred = piecewise_rows(rng, rows, L, max_ranges=20, dtype=dtype)
    y_pred[4, 7] = np.nan
    lengths = np.array([L, 0, 129, 128, L - 1, 1, L, L + 1, 77])
    n_ok = np.where(lengths > L, 0, lengths)  # the reference takes valid lengths only
    rr = "mean" if mean else "sum"
    ref = reference.row_losses(y_true.astype(np.float64), y_pred.astype(np.float64), n_ok,
                               range_reduction=rr, need_grad=True)
    ref32 = reference.row_losses(y_true, y_pred, n_ok, range_reduction=rr, need_grad=True)
    ref_loss, ref_grad = ref[0].copy(), ref[1].copy()
    ref_loss[7], ref_grad[7] = np.nan, np.nan  # a length past the row: a NaN row
    scale = np.linspace(0.5, 2.0, rows)
    suffix = "f32" if dtype == np.float32 else "f64"
    block = {300: 256, 1500: 1024}[L] if schedule == "block" else None

    loss, grad = np.full(rows, -7, dtype), np.full_like(y_pred, -7)
    native.rows(host_buffer(y_true), host_buffer(y_pred), host_buffer(lengths), mean_over_ranges=mean,
                grad_scale=0.5, out_loss=host_buffer(loss), out_grad=host_buffer(grad), stream=0xC0FFEE)
    name, grid, threads, stream = host_cupy.LAUNCHES[-1]
    assert name == f"range_loss_{f'fused_block{block}' if block else schedule}_mae_{suffix}"
    assert (grid, threads, stream) == (((rows,), (block,)) if block else ((3,), (128,))) + (0xC0FFEE,)
    assert_close(loss, ref_loss, ref32[0])
    assert_close(grad, 0.5 * ref_grad, 0.5 * ref32[1])

    loss, grad, fwd = np.full(rows, -7, dtype), np.full_like(y_pred, -7), np.full(rows, -7, dtype)
    native.rows(y_true, y_pred, lengths.astype(np.int32), mean_over_ranges=mean, grad_scale=scale, out_loss=loss,
                out_grad=grad)
    native.rows(y_true, y_pred, lengths.astype(np.int32), mean_over_ranges=mean, out_loss=fwd)
    assert host_cupy.LAUNCHES[-1][0] == f"range_loss_{f'forward_block{block}' if block else 'forward'}_mae_{suffix}"
    assert_close(loss, ref_loss, ref32[0])
    assert_close(fwd, ref_loss, ref32[0])
    assert_close(grad, scale[:, None] * ref_grad, scale[:, None] * ref32[1])

    # backward only (no loss wanted): y_pred's and y_true's gradients in one launch
    grad2, grad_true = np.full_like(y_pred, -7), np.full_like(y_pred, -7)
    native.rows(y_true, y_pred, lengths.astype(np.int32), mean_over_ranges=mean, grad_scale=scale,
                out_grad=grad2, out_grad_true=grad_true)
    np.testing.assert_array_equal(grad2, grad)
    np.testing.assert_array_equal(grad_true, -grad)


def test_native_public_api_on_host(native_on_host):
    """fastseg.range_mae_value_and_grad(..., backend="native") with NumPy arrays: copies to the
    "device" and back, through the op's dispatch."""
    import fastseg
    rng = np.random.default_rng(22)
    y_true, y_pred = piecewise_rows(rng, 6, 50)
    loss, grad = fastseg.range_mae_value_and_grad(y_true, y_pred, backend="native", range_reduction="mean")
    ref_loss, ref_grad = reference.row_losses(y_true, y_pred, range_reduction="mean", need_grad=True)
    np.testing.assert_allclose(loss, ref_loss.mean(), rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad / 6, rtol=1e-12)


@pytest.mark.parametrize("schedule, length", [("block", 300), ("block", 1500), ("fused", 300)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss, delta", [("mse", 1.0), ("huber", 0.07)])
def test_native_losses_with_segments_on_host(native_on_host, schedule, length, dtype, loss, delta):
    """MSE and Huber through the native backend on the host, ranges from y_true and from int64
    segment ids (int32 ids are converted; y_true varies inside a segment): forward, fused and
    backward-only launches of the kernel for the loss, against the reference."""
    import host_cupy
    from fastseg import config
    from fastseg.ops.range_loss import native

    kind = reference.LOSSES.index(loss)
    rng = np.random.default_rng(23)
    rows, L = 6, length
    y_true, y_pred = piecewise_rows(rng, rows, L, max_ranges=30, dtype=dtype)
    y_pred[3, 5] = np.nan
    segments = np.cumsum(rng.random((rows, L)) < 0.05, axis=1) * (1 << 33)  # ids above 2**32
    lengths = np.array([L, 0, 129, L - 1, L + 1, 77])
    n_ok = np.where(lengths > L, 0, lengths)
    scale = np.linspace(0.5, 2.0, rows)
    block = {300: 256, 1500: 1024}[L] if schedule == "block" else None
    pass_name = lambda p: f"range_loss_{f'{p}_block{block}' if block else p}_{loss}_{'f32' if dtype == np.float32 else 'f64'}"
    with config.override(**({} if schedule == "block" else {"range_loss_block_rows": ()})):
        for seg in (None, segments, (segments // (1 << 33)).astype(np.int32)):
            rr = dict(range_reduction="mean", need_grad=True, loss=loss, delta=delta)
            ref = reference.row_losses(y_true.astype(np.float64), y_pred.astype(np.float64), n_ok, seg, **rr)
            ref32 = reference.row_losses(y_true, y_pred, n_ok, seg, **rr)
            ref_loss, ref_grad = ref[0].copy(), ref[1].copy()
            ref_loss[4], ref_grad[4] = np.nan, np.nan  # a length past the row: a NaN row
            loss_out, grad = np.full(rows, -7, dtype), np.full_like(y_pred, -7)
            native.rows(y_true, y_pred, lengths, seg, kind=kind, delta=delta, mean_over_ranges=True,
                        grad_scale=scale, out_loss=loss_out, out_grad=grad)
            assert host_cupy.LAUNCHES[-1][0] == pass_name("fused")
            assert_close(loss_out, ref_loss, ref32[0])
            assert_close(grad, scale[:, None] * ref_grad, scale[:, None] * ref32[1])
            fwd = np.full(rows, -7, dtype)
            native.rows(y_true, y_pred, lengths, seg, kind=kind, delta=delta, mean_over_ranges=True, out_loss=fwd)
            assert host_cupy.LAUNCHES[-1][0] == pass_name("forward")
            assert_close(fwd, ref_loss, ref32[0])
            grad2, grad_true = np.full_like(y_pred, -7), np.full_like(y_pred, -7)
            native.rows(y_true, y_pred, lengths, seg, kind=kind, delta=delta, mean_over_ranges=True,
                        grad_scale=scale, out_grad=grad2, out_grad_true=grad_true)
            np.testing.assert_array_equal(grad2, grad)
            np.testing.assert_array_equal(grad_true, -grad)
