"""multiclass_hinge and svm_loss on the host (reference, Numba CPU), the Numba CUDA kernel on the
simulator and the CUDA C++ kernel on the host: hand values, hypothesis vs the reference, the
CS231n's SVM loop, bad labels."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastseg
from fastseg.ops.multiclass_hinge import reference
from host_cupy import DEVICE_VARIANTS, LAUNCHES, device_variant
from tolerance import assert_close

CS231N_SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
CS231N_LABELS = np.array([0, 1, 2])


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_cs231n_worked_example(backend):
    """CS231n's notes: cat 2.9, car 0, frog 12.9."""
    rows = fastseg.multiclass_hinge(CS231N_SCORES, CS231N_LABELS, reduction="none", backend=backend)
    np.testing.assert_allclose(rows, [2.9, 0.0, 12.9], rtol=1e-14)
    loss, grad = fastseg.multiclass_hinge_value_and_grad(CS231N_SCORES, CS231N_LABELS, reduction="sum",
                                                         backend=backend)
    np.testing.assert_allclose(loss, 15.8, rtol=1e-14)
    np.testing.assert_allclose(grad, [[-1, 1, 0], [0, 0, 0], [1, 1, -2]], rtol=1e-14)


def test_squared_weighted_divided():
    s, y = CS231N_SCORES[:1], CS231N_LABELS[:1]
    w = np.array([2.0, 5.0, 7.0])
    loss, grad = fastseg.multiclass_hinge_value_and_grad(s, y, p=2, weight=w, divide_by_classes=True,
                                                         reduction="sum")
    np.testing.assert_allclose(loss, 2.0 * 2.9 ** 2 / 3, rtol=1e-14)
    np.testing.assert_allclose(grad, [[-2.0 * 2 * 2.9 / 3, 2.0 * 2 * 2.9 / 3, 0]], rtol=1e-14)


def test_exact_zero_margin_has_no_gradient():
    """m = s_j - s_y + margin == 0 exactly: no loss and no gradient (strict, as torch and CS231n)."""
    s = np.array([[1.0, 0.0, -3.0]])
    loss, grad = fastseg.multiclass_hinge_value_and_grad(s, [0], reduction="sum")
    assert loss == 0 and not grad.any()


@st.composite
def hinge_inputs(draw):
    n, c = draw(st.integers(0, 8)), draw(st.integers(1, 40))
    scores = draw(hnp.arrays(np.float64, (n, c), elements=st.floats(-3, 3, width=32)))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    return scores, labels


@given(hinge_inputs(), st.sampled_from([1, 2]), st.booleans(), st.booleans(),
       st.sampled_from([np.float64, np.float32]))
@example(inputs=(np.array([[1.0, 9.46333845e-29]]), np.array([0])), p=1, weighted=False, divide=False,
         dtype=np.float64)  # found by hypothesis: the margin's evaluation order decides 0 vs 9.5e-29
def test_cpu_matches_reference(inputs, p, weighted, divide, dtype):
    scores, labels = inputs
    weight = np.linspace(0.5, 2.0, scores.shape[1]) if weighted else None
    kw = dict(p=p, weight=weight, divide_by_classes=divide)
    ref64 = reference.row_losses(scores, labels, need_grad=True, **kw)
    ref32 = reference.row_losses(scores.astype(dtype), labels, need_grad=True, **kw)
    rows = fastseg.multiclass_hinge(scores.astype(dtype), labels, reduction="none", backend="cpu", **kw)
    assert rows.dtype == dtype
    assert_close(rows, ref64[0], ref32[0])
    if scores.shape[0]:
        _, grad = fastseg.multiclass_hinge_value_and_grad(scores.astype(dtype), labels, reduction="sum",
                                                          backend="cpu", **kw)
        assert_close(grad, ref64[1], ref32[1])


def test_reductions_and_large_batch_parallel_path():
    rng = np.random.default_rng(0)
    s, y = rng.standard_normal((3000, 17)), rng.integers(0, 17, 3000)
    rows = fastseg.multiclass_hinge(s, y, reduction="none")
    np.testing.assert_allclose(fastseg.multiclass_hinge(s, y), rows.mean(), rtol=1e-13)
    np.testing.assert_allclose(fastseg.multiclass_hinge(s, y, reduction="sum"), rows.sum(), rtol=1e-13)
    np.testing.assert_allclose(rows, reference.row_losses(s, y)[0], rtol=1e-13)


def svm_loss_naive(W, X, y, reg, delta=1.0):
    """CS231n's naive loop as it is meant: the j == y[i] term skipped (``continue``)."""
    dW = np.zeros_like(W)
    loss = 0.0
    num_train, num_classes = X.shape[0], W.shape[1]
    for i in range(num_train):
        scores = X[i].dot(W)
        correct = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct + delta
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss = loss / num_train + reg * np.sum(W * W)
    return loss, dW / num_train + 2 * reg * W


@pytest.mark.parametrize("reg", [0.0, 0.05])
def test_svm_loss_equals_naive_double_loop(reg):
    rng = np.random.default_rng(1)
    W, X, y = 0.01 * rng.standard_normal((33, 10)), rng.standard_normal((50, 33)), rng.integers(0, 10, 50)
    loss, dW = fastseg.svm_loss(W, X, y, reg)
    want_loss, want_dW = svm_loss_naive(W, X, y, reg)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    np.testing.assert_allclose(dW, want_dW, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("call, error, match", [
    (lambda: fastseg.multiclass_hinge(np.zeros((2, 3)), [0, 3]), IndexError, r"labels\[1\] = 3 is not a class index in \[0, 3\)"),
    (lambda: fastseg.multiclass_hinge(np.zeros((2, 3)), [-1, 0]), IndexError, r"labels\[0\] = -1"),
    (lambda: fastseg.multiclass_hinge(np.zeros((2, 3)), [0.0, 1.0]), TypeError, "labels must be an integer"),
    (lambda: fastseg.multiclass_hinge(np.zeros((2, 3)), [0, 1, 2]), ValueError, r"labels must have shape \(2,\)"),
    (lambda: fastseg.multiclass_hinge(np.zeros(3), [0]), ValueError, r"scores must have shape \(N, C\)"),
    (lambda: fastseg.multiclass_hinge(np.zeros((2, 3), int), [0, 1]), TypeError, "scores must be a float16/float32/float64"),
    (lambda: fastseg.multiclass_hinge(np.zeros((2, 3)), [0, 1], p=3), ValueError, "p must be 1 or 2"),
    (lambda: fastseg.multiclass_hinge(np.zeros((2, 3)), [0, 1], weight=np.ones(2)), ValueError, "weight must have shape"),
    (lambda: fastseg.svm_loss(np.zeros((4, 3)), np.zeros((2, 5)), [0, 1], 0.1), ValueError, "same D"),
])
def test_bad_input_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_never_reads_out_of_bounds_for_bad_labels(dtype):
    """Past the Python checks (as on the GPU), a bad label gives a NaN row and touches nothing else."""
    from fastseg.ops.multiclass_hinge import cpu
    s = np.ones((3, 4), dtype)
    loss, grad = np.empty(3, dtype), np.empty((3, 4), dtype)
    cpu.rows(s, np.array([0, 1 << 40, -5]), None, margin=1.0, p=1, divide_by_classes=False, grad_scale=1.0,
             out_loss=loss, out_grad=grad)
    assert loss[0] == 3 and np.isnan(loss[1:]).all() and np.isnan(grad[1:]).all()


@pytest.mark.parametrize("variant", DEVICE_VARIANTS)
def test_device_kernels_on_host_match_reference(request, variant):
    """The Numba CUDA kernel on the simulator; the CUDA C++ kernel (a warp or a block per row)
    behind the native backend's Python launch code on the host (tests/host_cupy.py), with host
    arrays (copied in and out) or buffers by address (as fastseg.torch passes CUDA tensors)."""
    kernels, dev = device_variant(request, "multiclass_hinge", variant)
    rng = np.random.default_rng(2)
    s, y = rng.standard_normal((5, 150)), np.array([0, 149, 7, 33, 1])
    y_bad = np.array([0, 150, 7, -1, 1])
    w, scale = rng.random(150), np.array([1.0, 0.5, 2.0, 1.5, 3.0])
    for p, weight, labels in [(1, None, y), (2, w, y), (1, None, y_bad)]:
        loss, grad = np.empty(5), np.empty_like(s)
        w_dev = None if weight is None else dev(weight)
        kernels.rows(dev(s), dev(labels), w_dev, margin=1.0, p=p, divide_by_classes=True, grad_scale=dev(scale),
                     out_loss=dev(loss), out_grad=dev(grad))
        fwd, grad2 = np.empty(5), np.empty_like(s)
        kernels.rows(dev(s), dev(labels), w_dev, margin=1.0, p=p, divide_by_classes=True, out_loss=dev(fwd))
        kernels.rows(dev(s), dev(labels), w_dev, margin=1.0, p=p, divide_by_classes=True, grad_scale=dev(scale),
                     out_grad=dev(grad2))
        np.testing.assert_array_equal(grad2, grad)
        ok = (labels >= 0) & (labels < 150)
        ref_l, ref_g = reference.row_losses(s[ok], labels[ok], p=p, weight=weight, divide_by_classes=True,
                                            need_grad=True)
        np.testing.assert_allclose(loss[ok], ref_l, rtol=1e-12)
        np.testing.assert_allclose(fwd[ok], ref_l, rtol=1e-12)
        np.testing.assert_allclose(grad[ok], ref_g * scale[ok, None], rtol=1e-12)
        assert np.isnan(loss[~ok]).all() and np.isnan(grad[~ok]).all()
    if variant.startswith("native"):
        assert LAUNCHES[-1][1:3] == (((5,), (256,)) if "block" in variant else ((2,), (128,)))
