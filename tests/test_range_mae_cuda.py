"""range_mae CUDA backends vs the reference. On CPU-only CI the Numba CUDA kernels run under
the simulator (NUMBA_ENABLE_CUDASIM=1, set in conftest): tiny shapes, several tiles per row.
Tests that need a real GPU are marked ``gpu`` and skip without one."""

import os
import shutil

import numpy as np
import pytest

pytest.importorskip("numba.cuda")
from fastseg.ops.range_mae import reference  # noqa: E402
from range_mae_cases import HAND_RANGES, HAND_TABLES, piecewise_rows  # noqa: E402

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
HAS_GPU = shutil.which("nvidia-smi") is not None
gpu = pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA GPU")


def _run(backend_module, y_true, y_pred, lengths, mean, scale=1.0):
    rows = y_pred.shape[0]
    loss, loss2 = np.empty(rows), np.empty(rows)
    grad = np.empty_like(y_pred)
    backend_module.forward_backward(y_true, y_pred, lengths=lengths, mean_over_ranges=mean,
                                    grad_scale=scale, out_loss=loss, out_grad=grad)
    backend_module.forward(y_true, y_pred, lengths=lengths, mean_over_ranges=mean, out_loss=loss2)
    return loss, loss2, grad


@pytest.fixture(scope="module")
def numba_cuda_backend():
    from fastseg.ops.range_mae import cuda as backend
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
    loss = ft.range_mae(t, p, reduction="sum", backend=backend)
    loss.backward()
    ref_loss, ref_grad = reference.row_losses(y_true, y_pred, need_grad=True)
    np.testing.assert_allclose(loss.item(), ref_loss.sum(), rtol=1e-12)
    np.testing.assert_allclose(p.grad.cpu().numpy(), ref_grad, rtol=1e-12)
