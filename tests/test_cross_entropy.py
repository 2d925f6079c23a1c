"""cross_entropy: the NumPy API and kernels vs the reference, and exact parity with
torch.nn.functional.cross_entropy (fastseg.torch.cross_entropy)."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastseg
from fastseg.ops.categorical_crossentropy import reference as cce_reference
from fastseg.ops.cross_entropy import reference
from host_cupy import DEVICE_VARIANTS, LAUNCHES, device_variant

torch = pytest.importorskip("torch")
import fastseg.torch as ft  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def _case(seed=0, n=24, c=9, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = (3 * torch.randn(n, c, generator=g)).to(dtype)
    y = torch.randint(0, c, (n,), generator=g)
    y[[2, n - 1]] = -100
    w = torch.rand(c, generator=g).to(dtype)
    probs = torch.softmax(torch.randn(n, c, generator=g), 1).to(dtype)
    return x, y, w, probs


@pytest.mark.parametrize("target_kind", ["class", "prob"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.15])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_torch_parity(target_kind, weighted, label_smoothing, reduction):
    x, y, w, probs = _case()
    target = y if target_kind == "class" else probs
    w = w if weighted else None
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    ours = ft.cross_entropy(xa, target, w, label_smoothing=label_smoothing, reduction=reduction)
    theirs = F.cross_entropy(xb, target, w, label_smoothing=label_smoothing, reduction=reduction)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14)
    ours.sum().backward()
    theirs.sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-12, atol=1e-14)
    # the NumPy API and its fused gradient agree too
    if reduction != "none":
        loss, grad = fastseg.cross_entropy_value_and_grad(x.numpy(), target.numpy(), weight=None if w is None else w.numpy(),
                                                          label_smoothing=label_smoothing, reduction=reduction)
        np.testing.assert_allclose(loss, theirs.item(), rtol=1e-12)
        np.testing.assert_allclose(grad, xb.grad.numpy(), rtol=1e-11, atol=1e-15)


def test_float32_parity_module_and_compile():
    x, y, w, _ = _case(1, 64, 1000, torch.float32)
    loss_fn = ft.CrossEntropyLoss(weight=w, label_smoothing=0.1)
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ours, theirs = loss_fn(xa, y), torch.nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)(xb, y)
    torch.testing.assert_close(ours, theirs, rtol=2e-6, atol=1e-6)
    ours.backward()
    theirs.backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-4, atol=1e-8)
    compiled = torch.compile(lambda z: ft.cross_entropy(z * 1.0, y), fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x), F.cross_entropy(x, y), rtol=2e-6, atol=1e-6)


def test_gradcheck_float64():
    x, y, _, probs = _case(2, 5, 4)
    x = x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: ft.cross_entropy(z, y, reduction="none", label_smoothing=0.1), (x,))
    assert torch.autograd.gradcheck(lambda z: ft.cross_entropy(z, probs, reduction="none"), (x,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_stay_finite_and_exact(dtype):
    x = np.array([[1e4, 0.0, -1e4], [1e4, 1e4 - 1, 0.0]], dtype)
    loss, grad = fastseg.cross_entropy_value_and_grad(x, np.array([1, 0]), reduction="sum")
    assert np.isfinite(loss) and np.isfinite(grad).all()
    theirs = F.cross_entropy(torch.tensor(x, dtype=torch.float64), torch.tensor([1, 0]), reduction="sum").item()
    np.testing.assert_allclose(loss, theirs, rtol=1e-6)


@st.composite
def ce_inputs(draw):
    n, c = draw(st.integers(1, 6)), draw(st.integers(1, 50))
    x = draw(hnp.arrays(np.float64, (n, c), elements=st.floats(-30, 30, width=32)))
    y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    return x, y


@given(ce_inputs(), st.sampled_from([0.0, 0.3]), st.sampled_from([np.float32, np.float64]))
@example(inputs=(np.array([[10.375, 0.0, 0.0]]), np.array([0])), eps=0.0, dtype=np.float64)  # p_y - 1 cancels
def test_cpu_matches_reference(inputs, eps, dtype):
    x, y = inputs
    ref64 = reference.cross_entropy_rows(x, y, label_smoothing=eps, need_grad=True)
    rows = fastseg.cross_entropy(x.astype(dtype), y, label_smoothing=eps, reduction="none", backend="cpu")
    assert rows.dtype == dtype
    # float32: our exp is ~1 ulp where NumPy's is ~0.5, so allow 4x the reference's error + 8 ulps
    np.testing.assert_allclose(rows, ref64[0], rtol=1e-12 if dtype == np.float64 else 1e-5,
                               atol=1e-12 if dtype == np.float64 else 8 * np.finfo(dtype).eps * (1 + np.abs(ref64[0]).max()))
    _, grad = fastseg.cross_entropy_value_and_grad(x.astype(dtype), y, label_smoothing=eps, reduction="sum")
    if dtype == np.float64:
        # softmax_y - 1 cancels two O(1) terms: any two evaluation orders differ there by an ulp
        # of 1.0, so the gradient gets that absolute floor on top of 1e-12 relative
        np.testing.assert_allclose(grad, ref64[1], rtol=1e-12, atol=4 * np.finfo(np.float64).eps)
    else:
        np.testing.assert_allclose(grad, ref64[1], atol=2e-6)


def test_inputs_not_mutated_and_errors():
    x, y, _, _ = _case(3)
    xn, yn = x.numpy().copy(), y.numpy().copy()
    fastseg.cross_entropy_value_and_grad(xn, yn)
    np.testing.assert_array_equal(xn, x.numpy())
    with pytest.raises(IndexError, match=r"target\[0\] = 9 is not a class index in \[0, 9\)"):
        fastseg.cross_entropy(xn, np.where(np.arange(24) == 0, 9, yn))
    with pytest.raises(IndexError, match="not a class index"):
        ft.cross_entropy(x, torch.full((24,), -3))
    with pytest.raises(TypeError, match="integer class indices or float probabilities"):
        fastseg.cross_entropy(xn, yn.astype(bool))
    with pytest.raises(ValueError, match="probability target must have the shape"):
        fastseg.cross_entropy(xn, np.ones((24, 3)))
    with pytest.raises(ValueError, match="label_smoothing must lie"):
        fastseg.cross_entropy(xn, yn, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C\)"):
        fastseg.cross_entropy(xn[0], yn[:1])


def test_all_rows_ignored_mean_is_nan_like_torch():
    x = torch.randn(3, 4, dtype=torch.float64)
    y = torch.full((3,), -100)
    assert torch.isnan(ft.cross_entropy(x, y)) and torch.isnan(F.cross_entropy(x, y))


@pytest.mark.parametrize("variant", DEVICE_VARIANTS)
def test_device_kernels_on_host_match_reference(request, variant):
    """The Numba CUDA kernels on the simulator; the CUDA C++ kernels (a warp or a block per row)
    behind the native backend's Python launch code on the host (tests/host_cupy.py), with host
    arrays (copied in and out) or buffers by address (as fastseg.torch passes CUDA tensors)."""
    kernels, dev = device_variant(request, "cross_entropy", variant)
    cce_kernels, _ = device_variant(request, "categorical_crossentropy", variant)
    rng = np.random.default_rng(7)
    x, w = 3 * rng.standard_normal((4, 150)), rng.random(150)
    y, scale = np.array([3, -100, 149, 200]), np.array([1.0, 2.0, 3.0, 4.0])
    loss, grad = np.empty(4), np.empty_like(x)
    kernels.rows(dev(x), dev(y), dev(w), ignore_index=-100, label_smoothing=0.2,
                 grad_scale=dev(scale), out_loss=dev(loss), out_grad=dev(grad))
    ref_l, ref_g, _ = reference.cross_entropy_rows(x[:3], y[:3], w, label_smoothing=0.2, need_grad=True)
    np.testing.assert_allclose(loss[:3], ref_l, rtol=1e-12)
    np.testing.assert_allclose(grad[:3], ref_g * scale[:3, None], rtol=1e-12, atol=1e-15)
    assert np.isnan(loss[3]) and np.isnan(grad[3]).all()  # label 200: NaN row, no out-of-bounds read
    probs = rng.dirichlet(np.ones(150), 4)
    kernels.rows(dev(x), dev(probs), None, ignore_index=-100, label_smoothing=0.0, out_loss=dev(loss))
    np.testing.assert_allclose(loss, reference.cross_entropy_rows(x, probs)[0], rtol=1e-12)
    t, p = np.eye(150)[[0, 5, 9, 149]], rng.random((4, 150))
    p[0, 3] = 1e-12
    cce_kernels.rows(dev(t), dev(p), from_logits=False, label_smoothing=0.0, out_loss=dev(loss), out_grad=dev(grad))
    ref_l, ref_g = cce_reference.categorical_crossentropy_rows(t, p, need_grad=True)
    np.testing.assert_allclose(loss, ref_l, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_g, rtol=1e-12)
    if variant.startswith("native"):
        assert [launch[2] for launch in LAUNCHES[-3:]] == [(256,) if "block" in variant else (128,)] * 3
