"""linear_cross_entropy / softmax_loss: the chunked NumPy API vs the unfused reference, exact
parity with torch.nn.functional.linear_cross_entropy and the unfused torch composition
(fastseg.torch.linear_cross_entropy), validation, memory (tracemalloc, saved tensors)."""

import tracemalloc

import numpy as np
import pytest

import fastseg
from fastseg import baselines, config
from fastseg.ops.linear_cross_entropy.reference import linear_cross_entropy_reference as reference
from tolerance import assert_close

torch = pytest.importorskip("torch")
import fastseg.torch as ft  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def _case(seed=0, n=29, h=7, v=13, dtype=np.float64, ignored=(2, 5)):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h)).astype(dtype)
    w = rng.standard_normal((v, h)).astype(dtype)
    b = rng.standard_normal(v).astype(dtype)
    y = rng.integers(0, v, n)
    y[[i for i in ignored if i < n]] = -100
    cw = rng.random(v)
    probs = rng.random((n, v))
    probs /= probs.sum(1, keepdims=True)
    return x, w, b, y, cw, probs.astype(dtype)


OPTIONS = [dict(), dict(bias=True), dict(bias=True, class_weight=True), dict(label_smoothing=0.2),
           dict(bias=True, class_weight=True, label_smoothing=0.3)]


def _kwargs(opts, b, cw):
    return dict(bias=b if opts.get("bias") else None, class_weight=cw if opts.get("class_weight") else None,
                label_smoothing=opts.get("label_smoothing", 0.0))


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(o) or "plain")
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("chunk_size", [1, 4, 7, 29, 1000, None])
@pytest.mark.parametrize("target_kind", ["class", "prob"])
def test_numpy_float64_matches_reference(opts, reduction, chunk_size, target_kind):
    x, w, b, y, cw, probs = _case()
    target = y if target_kind == "class" else probs
    kw = _kwargs(opts, b, cw)
    want = reference(x, w, target, kw["bias"], kw["class_weight"], -100, kw["label_smoothing"], reduction)
    got = fastseg.linear_cross_entropy_value_and_grad(x, w, target, reduction=reduction, chunk_size=chunk_size, **kw)
    for g, r in zip(got, want):
        if r is None:
            assert g is None
        else:
            assert g.dtype == np.float64
            assert_close(g, r)
    loss = fastseg.linear_cross_entropy(x, w, target, reduction=reduction, chunk_size=chunk_size, **kw)
    assert_close(loss, want[0])


@pytest.mark.parametrize("chunk_size", [3, None])
def test_numpy_reduction_none_and_float64_accumulate(chunk_size):
    x, w, b, y, cw, _ = _case()
    rows = fastseg.linear_cross_entropy(x, w, y, bias=b, class_weight=cw, reduction="none", chunk_size=chunk_size)
    assert_close(rows, reference(x, w, y, b, cw, reduction="none")[0])
    got = fastseg.linear_cross_entropy_value_and_grad(x, w, y, bias=b, chunk_size=chunk_size, accumulate="float64")
    for g, r in zip(got, reference(x, w, y, b)):
        assert_close(g, r)
    with pytest.raises(ValueError, match="reduction"):
        fastseg.linear_cross_entropy_value_and_grad(x, w, y, reduction="none")


@pytest.mark.parametrize("accumulate", ["float32", "float64"])
def test_numpy_float32_within_tolerance(accumulate):
    x, w, b, y, cw, _ = _case(1, n=300, h=16, v=50)
    x32, w32, b32 = (a.astype(np.float32) for a in (x, w, b))
    want64 = reference(x32.astype(np.float64), w32.astype(np.float64), y, b32.astype(np.float64), cw)
    want32 = reference(x32, w32, y, b32.astype(np.float32), cw)
    got = fastseg.linear_cross_entropy_value_and_grad(x32, w32, y, bias=b32, class_weight=cw, chunk_size=64,
                                                      accumulate=accumulate)
    for g, r64, r32 in zip(got, want64, want32):
        assert g.dtype == np.float32
        # BLAS sums in another order than the reference: compare as float32 with a few ulps of the scale
        np.testing.assert_allclose(g, r64, rtol=2e-4, atol=2e-5 * np.abs(r64).max())
        assert np.abs(g - r64).max() <= 8 * np.abs(r32 - r64).max() + 1e-6 * np.abs(r64).max()


def test_float16_computes_in_float32():
    x, w, b, y, _, _ = _case(2)
    x16, w16 = x.astype(np.float16), w.astype(np.float16)
    loss, dx, dw, db = fastseg.linear_cross_entropy_value_and_grad(x16, w16, y)
    assert (loss.dtype, dx.dtype, dw.dtype, db) == (np.float16, np.float16, np.float16, None)
    want = reference(x16.astype(np.float64), w16.astype(np.float64), y)
    np.testing.assert_allclose(dx.astype(np.float64), want[1], rtol=2e-2, atol=1e-3)
    np.testing.assert_allclose(float(loss), float(want[0]), rtol=1e-3)


def test_all_rows_ignored_is_nan_with_zero_grads():
    x, w, b, y, _, _ = _case()
    y[:] = -100
    loss, dx, dw, db = fastseg.linear_cross_entropy_value_and_grad(x, w, y, bias=b, chunk_size=5)
    assert np.isnan(loss)
    assert not dx.any() and not dw.any() and not db.any()
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    torch_loss = F.linear_cross_entropy(xt, wt, torch.tensor(y), linear_bias=bt, ignore_index=-100)
    torch_loss.backward()
    assert torch.isnan(torch_loss) and not xt.grad.any() and not wt.grad.any()


def test_empty_batch():
    x, w, b, y, _, _ = _case(n=0)
    assert np.isnan(fastseg.linear_cross_entropy(x, w, y))
    assert fastseg.linear_cross_entropy(x, w, y, reduction="sum") == 0
    loss, dx, dw, db = fastseg.linear_cross_entropy_value_and_grad(x, w, y, bias=b, reduction="sum")
    assert dx.shape == (0, 7) and not dw.any() and not db.any()


def test_validation_names_the_argument():
    x, w, b, y, cw, probs = _case()
    call = fastseg.linear_cross_entropy
    with pytest.raises(ValueError, match="x must"):
        call(x[0], w, y)
    with pytest.raises(ValueError, match="weight must"):
        call(x, w[:, :3], y)
    with pytest.raises(ValueError, match="bias must"):
        call(x, w, y, bias=b[:3])
    with pytest.raises(ValueError, match="class_weight must"):
        call(x, w, y, class_weight=cw[:3])
    with pytest.raises(ValueError, match="target must"):
        call(x, w, y[:3])
    with pytest.raises(ValueError, match="probability target"):
        call(x, w, probs[:, :3])
    with pytest.raises(TypeError, match="x must"):
        call(x.astype(np.int64), w, y)
    with pytest.raises(TypeError, match="weight must"):
        call(x, w.astype(np.complex128), y)
    with pytest.raises(TypeError, match="target must"):
        call(x, w, y.astype(bool))
    with pytest.raises(ValueError, match="chunk_size"):
        call(x, w, y, chunk_size=0)
    with pytest.raises(TypeError, match="chunk_size"):
        call(x, w, y, chunk_size=2.0)
    with pytest.raises(ValueError, match="label_smoothing"):
        call(x, w, y, label_smoothing=1.5)
    with pytest.raises(ValueError, match="accumulate"):
        fastseg.linear_cross_entropy_value_and_grad(x, w, y, accumulate="float16")
    y[4] = 13
    with pytest.raises(IndexError, match=r"target\[4\] = 13"):
        call(x, w, y)


def test_numpy_peak_memory_is_chunk_buffer_plus_outputs():
    n, h, v, chunk = 2048, 64, 4000, 128
    x, w, b, y, _, _ = _case(3, n=n, h=h, v=v, dtype=np.float32)
    fastseg.linear_cross_entropy_value_and_grad(x[:chunk], w, y[:chunk], bias=b, chunk_size=chunk)  # compile first
    tracemalloc.start()
    fastseg.linear_cross_entropy_value_and_grad(x, w, y, bias=b, chunk_size=chunk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    chunk_bytes = chunk * v * 4
    outputs = (n * h + v * h + v) * 4 + n * 4 + 2 * v * 8  # dx, dweight, dbias; row losses; dbias accumulator
    assert peak <= chunk_bytes + outputs + (1 << 20), (peak, chunk_bytes, outputs)
    assert peak < n * v * 4 / 4  # far below the logits the unfused composition holds


def test_default_chunk_follows_config():
    x, w, _, y, _, _ = _case(n=64, v=16)
    with config.override(linear_ce_chunk_bytes=16 * 8 * 5):  # 5 rows of 16 float64 logits
        from fastseg.ops.linear_cross_entropy import prepare
        assert prepare(x, w, y).chunk_size == 5
        assert_close(fastseg.linear_cross_entropy(x, w, y), reference(x, w, y)[0])


# --- torch ---------------------------------------------------------------------------------------


def _torch_case(dtype=torch.float64, **kw):
    x, w, b, y, cw, probs = (torch.from_numpy(a) for a in _case(**kw))
    return x.to(dtype), w.to(dtype), b.to(dtype), y, cw.to(dtype), probs.to(dtype)


def _grads(fn, x, w, b, reduction):
    xs, ws, bs = (a.clone().requires_grad_(True) for a in (x, w, b))
    loss = fn(xs, ws, bs)
    (loss.sum() if reduction == "none" else loss).backward()
    return loss.detach(), xs.grad, ws.grad, bs.grad


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(o) or "plain")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target_kind", ["class", "prob"])
@pytest.mark.parametrize("chunk_size", [4, None])
def test_torch_parity_float64(opts, reduction, target_kind, chunk_size):
    x, w, b, y, cw, probs = _torch_case()
    target = y if target_kind == "class" else probs
    cwt = cw if opts.get("class_weight") else None
    eps = opts.get("label_smoothing", 0.0)
    use_b = opts.get("bias", False)

    def ours(xs, ws, bs):
        return ft.linear_cross_entropy(xs, ws, target, linear_bias=bs if use_b else None, weight=cwt,
                                       reduction=reduction, label_smoothing=eps, chunk_size=chunk_size)

    def torch_fused(xs, ws, bs):
        return F.linear_cross_entropy(xs, ws, target, linear_bias=bs if use_b else None, weight=cwt,
                                      reduction=reduction, label_smoothing=eps,
                                      ignore_index=-100 if target_kind == "class" else None)

    def unfused(xs, ws, bs):
        return F.cross_entropy(F.linear(xs, ws, bs if use_b else None), target, weight=cwt, reduction=reduction,
                               label_smoothing=eps)

    got = _grads(ours, x, w, b, reduction)
    for peer in (torch_fused, unfused):
        for g, r in zip(got, _grads(peer, x, w, b, reduction)):
            if r is None:
                assert g is None or not use_b
                continue
            assert_close(g.numpy(), r.numpy())


def test_torch_float32_and_half_compute_in_float32():
    x, w, b, y, cw, _ = _torch_case(torch.float32, n=200, h=16, v=40)

    def unfused64(xs, ws, bs):
        return F.cross_entropy(F.linear(xs, ws, bs), y, weight=cw.double())

    ours = _grads(lambda xs, ws, bs: ft.linear_cross_entropy(xs, ws, y, linear_bias=bs, weight=cw, chunk_size=32),
                  x, w, b, "mean")
    for g, r in zip(ours, _grads(unfused64, x.double(), w.double(), b.double(), "mean")):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g.double(), r, rtol=1e-4, atol=1e-6)
    for half in (torch.float16, torch.bfloat16):
        xh, wh, bh = x.to(half), w.to(half), b.to(half)
        got = _grads(lambda xs, ws, bs: ft.linear_cross_entropy(xs, ws, y, linear_bias=bs, weight=cw), xh, wh, bh,
                     "mean")
        assert all(g.dtype == half for g in got)
        want = _grads(unfused64, xh.double(), wh.double(), bh.double(), "mean")
        for g, r in zip(got, want):  # exact inputs, float32 compute: only the final rounding to half
            torch.testing.assert_close(g.double(), r, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_torch_saves_no_rows_by_classes_tensor(reduction):
    x, w, b, y, _, _ = _torch_case(n=64, h=5, v=300)
    xs, ws, bs = (a.clone().requires_grad_(True) for a in (x, w, b))
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = ft.linear_cross_entropy(xs, ws, y, linear_bias=bs, reduction=reduction, chunk_size=16)
    n, v = y.shape[0], w.shape[0]
    assert saved, "the backward needs something"
    assert not [t for t in saved if t.numel() >= n * v]
    assert sum(t.numel() for t in saved) <= x.numel() + w.numel() + b.numel() + n + v
    (loss.sum() if reduction == "none" else loss).backward()
    assert xs.grad is not None and ws.grad is not None and bs.grad is not None


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_torch_retain_graph_twice_same_grads(reduction):
    x, w, b, y, _, _ = _torch_case()
    xs, ws, bs = (a.clone().requires_grad_(True) for a in (x, w, b))
    loss = ft.LinearCrossEntropyLoss(reduction=reduction)(xs, ws, y, bs)
    total = loss.sum() * 3 if reduction == "none" else loss * 3
    first = torch.autograd.grad(total, (xs, ws, bs), retain_graph=True)
    second = torch.autograd.grad(total, (xs, ws, bs), retain_graph=True)
    total.backward(retain_graph=True)
    total.backward()
    for a, c, acc in zip(first, second, (xs.grad, ws.grad, bs.grad)):
        assert torch.equal(a, c)
        torch.testing.assert_close(acc, 2 * a)


def test_torch_grad_only_where_required_and_no_grad_forward():
    x, w, b, y, _, _ = _torch_case()
    ws = w.clone().requires_grad_(True)
    loss = ft.linear_cross_entropy(x, ws, y, linear_bias=b)
    loss.backward()
    torch.testing.assert_close(ws.grad, _grads(lambda xs, w_, bs: F.linear_cross_entropy(xs, w_, y, linear_bias=bs),
                                               x, w, b, "mean")[2])
    with torch.no_grad():
        assert_close(ft.linear_cross_entropy(x, w, y).numpy(), reference(x.numpy(), w.numpy(), y.numpy())[0])
    with pytest.raises(TypeError, match="linear_weight"):
        ft.linear_cross_entropy(x, w.numpy(), y)


# --- softmax_loss --------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [3, None])
def test_softmax_loss_matches_naive_loop(chunk_size):
    rng = np.random.default_rng(4)
    W, X, y = 1e-2 * rng.standard_normal((12, 5)), rng.standard_normal((17, 12)), rng.integers(0, 5, 17)
    loss, dW = fastseg.softmax_loss(W, X, y, reg=0.3, chunk_size=chunk_size)
    want_loss, want_dW = baselines.softmax_loss_naive(W, X, y, reg=0.3)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    np.testing.assert_allclose(dW, want_dW, rtol=1e-10, atol=1e-14)
    assert dW.shape == W.shape
    with pytest.raises(ValueError, match="same D"):
        fastseg.softmax_loss(W, X[:, :3], y, reg=0.3)


def test_torch_other_devices_go_to_torch():
    x, w, b, y, _, probs = _torch_case()
    for target in (y, probs):  # torch's own op, which runs on the meta device too
        loss = ft.linear_cross_entropy(x.to("meta"), w.to("meta"), target.to("meta"), linear_bias=b.to("meta"))
        assert loss.device.type == "meta" and loss.shape == ()
