"""The range-loss family (docs/design.md, "range_loss"): MAE, MSE and Huber per range, ranges from
y_true or from explicit segment ids, on every backend and framework; packed-sequence means for
cross-entropy."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastseg
from fastseg.ops.range_loss import reference
from tolerance import assert_close

LOSSES = ["mae", "mse", "huber"]


def test_hand_values():
    """By hand: d = t - p = [0, -1, 0, 0, 1] over ranges [0, 0] and [1, 1, 1]."""
    t, p = np.array([[0.0, 0.0, 1.0, 1.0, 1.0]]), np.array([[0.0, 1.0, 1.0, 1.0, 0.0]])
    assert np.isclose(fastseg.range_mse(t, p), 1 / 2 + 1 / 3)
    assert np.isclose(fastseg.range_huber(t, p, delta=0.5), (0.5 * (1 - 0.25)) / 2 + (0.5 * (1 - 0.25)) / 3)
    assert np.isclose(fastseg.range_huber(t, p, delta=2.0), 0.5 / 2 + 0.5 / 3)
    # one segment over the row: the row's plain mean, whatever y_true does inside it
    assert np.isclose(fastseg.range_mse(t, p, segments=[[4, 4, 4, 4, 4]]), 2 / 5)
    # segments that cut the target runs differently: [0, 0, 1] and [1, 1]
    assert np.isclose(fastseg.range_mae(t, p, segments=[[0, 0, 0, 1, 1]]), 1 / 3 + 1 / 2)
    _, grad = fastseg.range_mse_value_and_grad(t, p, reduction="sum")
    np.testing.assert_allclose(grad, [[0.0, 1.0, 0.0, 0.0, -2 / 3]])
    _, grad = fastseg.range_huber_value_and_grad(t, p, delta=0.5, reduction="sum")
    np.testing.assert_allclose(grad, [[0.0, 0.25, 0.0, 0.0, -0.5 / 3]])


@st.composite
def _inputs(draw):
    rows, length = draw(st.integers(1, 5)), draw(st.integers(1, 70))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    run = draw(st.sampled_from([1, 2, 5, 40]))  # every element its own range ... long ranges
    t = np.repeat(rng.integers(0, 3, (rows, length // run + 1)), run, axis=1)[:, :length].astype(float)
    p = t + 2 * rng.standard_normal((rows, length))
    lengths = draw(st.none() | st.lists(st.integers(0, length), min_size=rows, max_size=rows))
    seg_run = draw(st.sampled_from([0, 1, 3, 17]))  # 0: ranges from y_true
    segments = None if not seg_run else np.repeat(np.arange(length // seg_run + 1), seg_run)[:length][None].repeat(rows, 0)
    return t, p, None if lengths is None else np.array(lengths), segments


@given(_inputs(), st.sampled_from(LOSSES), st.sampled_from(["sum", "mean"]), st.sampled_from([np.float64, np.float32]),
       st.sampled_from([0.3, 1.0, 2.5]))
def test_cpu_matches_reference(inputs, loss, range_reduction, dtype, delta):
    t, p, lengths, segments = inputs
    t, p = t.astype(dtype), p.astype(dtype)
    kw = dict(loss=loss, delta=delta, range_reduction=range_reduction, lengths=lengths, segments=segments)
    ref64 = reference.row_losses(t.astype(float), p.astype(float), lengths, segments, loss=loss, delta=delta,
                                 range_reduction=range_reduction, need_grad=True)
    ref32 = reference.row_losses(t, p, lengths, segments, loss=loss, delta=delta, range_reduction=range_reduction,
                                 need_grad=True)
    rows = fastseg.range_loss(t, p, reduction="none", backend="cpu", **kw)
    assert_close(rows, ref64[0], ref32[0])
    _, grad = fastseg.range_loss_value_and_grad(t, p, reduction="sum", backend="cpu", **kw)
    assert_close(grad, ref64[1], ref32[1])


@pytest.mark.parametrize("loss", LOSSES)
def test_long_rows_every_density(loss):
    """Rows long enough for the 16-lane steps, ranges of 1, 2, 10 and 100 elements, with segments."""
    rng = np.random.default_rng(3)
    for run in (1, 2, 10, 100):
        t = np.repeat(rng.integers(0, 4, (6, 1000 // run + 1)), run, axis=1)[:, :1000].astype(np.float32)
        p = (t + rng.standard_normal(t.shape)).astype(np.float32)
        seg = np.repeat(np.arange(1000) // (run + 3), 1)[None].repeat(6, 0)
        for segments in (None, seg):
            ref64 = reference.row_losses(t.astype(float), p.astype(float), None, segments, loss=loss, delta=0.7,
                                         need_grad=True)
            ref32 = reference.row_losses(t, p, None, segments, loss=loss, delta=0.7, need_grad=True)
            rows = fastseg.range_loss(t, p, loss=loss, delta=0.7, reduction="none", segments=segments)
            assert_close(rows, ref64[0], ref32[0])
            _, grad = fastseg.range_loss_value_and_grad(t, p, loss=loss, delta=0.7, reduction="sum", segments=segments)
            assert_close(grad, ref64[1], ref32[1])


@st.composite
def _density_inputs(draw):
    """Rows that stress the density-independent kernel (docs/design.md, "range_loss"): every
    element its own range, alternating values, one range, geometric lengths; rows across several
    16-lane blocks with a partial last one; lengths that cut a range; strided views."""
    rows, length = draw(st.integers(1, 4)), draw(st.integers(1, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    pattern = draw(st.sampled_from(["own", "alternating", "one", "geometric"]))
    if pattern == "own":
        t = rng.permutation(rows * length).reshape(rows, length).astype(float)
    elif pattern == "alternating":
        t = np.tile(np.arange(length) % 2, (rows, 1)).astype(float)
    elif pattern == "one":
        t = np.full((rows, length), rng.random())
    else:
        starts = rng.random((rows, length)) < 1 / draw(st.sampled_from([2, 7, 16, 33]))
        t = np.cumsum(starts, axis=1) % 3 / 2
    p = t + rng.standard_normal((rows, length))
    lengths = draw(st.none() | st.lists(st.integers(0, length), min_size=rows, max_size=rows))
    segments = None
    if draw(st.booleans()):
        seg_dtype = draw(st.sampled_from([np.int32, np.int64, np.uint8]))
        segments = (np.cumsum(rng.random((rows, length)) < 0.2, axis=1) % 5).astype(seg_dtype)
    return t, p, None if lengths is None else np.array(lengths), segments


@given(_density_inputs(), st.sampled_from(LOSSES), st.sampled_from(["sum", "mean"]),
       st.sampled_from([np.float64, np.float32]), st.booleans())
def test_cpu_matches_reference_at_every_density(inputs, loss, range_reduction, dtype, strided):
    t, p, lengths, segments = inputs
    t, p = t.astype(dtype), p.astype(dtype)
    if strided:  # the kernels copy strided rows first
        t, p = np.repeat(t, 2, axis=1)[:, ::2], np.repeat(p, 2, axis=1)[:, ::2]
    kw = dict(loss=loss, delta=0.8, range_reduction=range_reduction, lengths=lengths, segments=segments)
    ref64 = reference.row_losses(t.astype(float), p.astype(float), need_grad=True, **kw)
    ref32 = reference.row_losses(t, p, need_grad=True, **kw)
    assert_close(fastseg.range_loss(t, p, reduction="none", backend="cpu", **kw), ref64[0], ref32[0])
    _, grad = fastseg.range_loss_value_and_grad(t, p, reduction="sum", backend="cpu", **kw)
    assert_close(grad, ref64[1], ref32[1])


@pytest.mark.parametrize("loss", LOSSES)
def test_kernel_rows_outside_the_checks(loss):
    """What the NumPy API rejects or rarely sees, at the backend: a length outside [0, L] gives a
    NaN row (loss and gradient, as on a GPU), an infinite loss NaN, a strided gradient output
    and y_true's gradient are written."""
    from fastseg.ops.range_loss import cpu

    t = np.array([[0.0, 0.0, 1.0, 1.0, 1.0], [1.0, 2.0, 2.0, 3.0, 3.0], [np.inf, 1.0, 1.0, 1.0, 1.0]])
    p = np.zeros_like(t)
    out, grad = np.empty(3), np.empty((3, 10))[:, ::2]
    grad_true = np.empty_like(t)
    kind = reference.LOSSES.index(loss)
    cpu.rows(t, p, np.array([5, 6, 5]), kind=kind, mean_over_ranges=False, out_loss=out, out_grad=grad,
             out_grad_true=grad_true, grad_scale=1.0)
    want, want_grad = reference.row_losses(t[:1], p[:1], loss=loss, need_grad=True)
    np.testing.assert_allclose(out[0], want[0])
    np.testing.assert_allclose(grad[0], want_grad[0])
    assert np.isnan(out[1]) and np.isnan(grad[1]).all() and np.isnan(out[2])
    np.testing.assert_array_equal(grad_true, -grad)
    cpu.rows(t, p, np.array([-1, 2, 0]), kind=kind, mean_over_ranges=True, out_loss=out)
    assert np.isnan(out[0]) and out[2] == 0 and np.isclose(out[1], reference.row_losses(t[1:2, :2], p[1:2, :2],
                                                                                           loss=loss,
                                                                                           range_reduction="mean")[0])


@pytest.mark.parametrize("loss", LOSSES)
def test_serial_and_parallel_kernels_are_bitwise_equal(loss):
    """The serial and the row-parallel drivers give bitwise equal losses (forward and fused) and
    gradients, with lengths and with segments."""
    import numba

    from fastseg import config
    rng = np.random.default_rng(11)
    t = np.repeat(rng.random((300, 60)), rng.integers(1, 12, 60), axis=1)[:, :333].astype(np.float32)
    p = (t + rng.standard_normal(t.shape)).astype(np.float32)
    lengths = rng.integers(0, t.shape[1] + 1, t.shape[0])
    segments = (np.cumsum(rng.random(t.shape) < 0.1, axis=1) % 4).astype(np.int32)
    for kw in ({}, {"lengths": lengths}, {"segments": segments, "range_reduction": "mean"}):
        results = []
        for threshold, threads in [(0, numba.config.NUMBA_NUM_THREADS), (1 << 62, 1)]:
            numba.set_num_threads(threads)
            try:
                with config.override(parallel_min_elements=threshold):
                    results.append((fastseg.range_loss(t, p, loss=loss, reduction="none", backend="cpu", **kw),
                                    *fastseg.range_loss_value_and_grad(t, p, loss=loss, reduction="sum",
                                                                       backend="cpu", **kw)))
            finally:
                numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        for parallel, serial in zip(*results):
            np.testing.assert_array_equal(parallel, serial)


def test_forward_and_fused_losses_are_bitwise_equal():
    """The per-row losses of the forward kernel and of the fused one (through the backend
    protocol), every loss, with lengths and segments."""
    from fastseg.ops.range_loss import cpu

    rng = np.random.default_rng(12)
    t = (np.cumsum(rng.random((50, 333)) < 0.3, axis=1) % 5 / 4).astype(np.float32)
    p = (t + rng.standard_normal(t.shape)).astype(np.float32)
    segments = (np.cumsum(rng.random(t.shape) < 0.05, axis=1) % 3).astype(np.int64)
    for kind in range(3):
        cases = ((None, None, False), (rng.integers(0, 334, 50), None, True), (None, segments, False))
        for lengths, seg, mean in cases:
            forward, fused = np.empty(50, np.float32), np.empty(50, np.float32)
            cpu.rows(t, p, lengths, seg, kind=kind, delta=0.7, mean_over_ranges=mean, out_loss=forward)
            cpu.rows(t, p, lengths, seg, kind=kind, delta=0.7, mean_over_ranges=mean, out_loss=fused,
                     out_grad=np.empty_like(p), grad_scale=1.0)
            np.testing.assert_array_equal(forward, fused)


def test_rows_beyond_the_int32_lanes_are_refused():
    """A row of 2**31 elements (a stride-0 view: nothing allocated) raises before any work."""
    huge = np.broadcast_to(np.float32(0), (1, 2 ** 31))
    with pytest.raises(ValueError, match="at most 2147483584 elements"):
        fastseg.range_mae(huge, huge, backend="cpu")


def test_nan_rule_and_bad_options():
    t, p = np.zeros((2, 4)), np.ones((2, 4))
    p[1, 2] = np.inf
    for loss in LOSSES:
        for backend in ("reference", "cpu"):
            rows = fastseg.range_loss(t, p, loss=loss, reduction="none", backend=backend)
            assert np.isfinite(rows[0]) and np.isnan(rows[1])
    with pytest.raises(ValueError, match="loss must be one of"):
        fastseg.range_loss(t, p, loss="l2")
    with pytest.raises(ValueError, match="delta must be positive"):
        fastseg.range_huber(t, p, delta=0.0)
    with pytest.raises(TypeError, match="segments must be an integer"):
        fastseg.range_loss(t, p, segments=np.zeros((2, 4)))
    with pytest.raises(ValueError, match="segments must have the shape"):
        fastseg.range_loss(t, p, segments=np.zeros((2, 3), int))


torch = pytest.importorskip("torch")
import fastseg.torch as ft  # noqa: E402
import torch.nn.functional as F  # noqa: E402


@pytest.mark.parametrize("loss, theirs", [("mse", F.mse_loss), ("huber", F.huber_loss), ("mae", F.l1_loss)])
def test_torch_parity_when_every_range_has_length_one(loss, theirs):
    """Every element its own range and range_reduction="mean": exactly torch's element-wise loss."""
    g = torch.Generator().manual_seed(0)
    target = torch.arange(40, dtype=torch.float64).reshape(4, 10)  # all values differ: ranges of 1
    x = torch.randn(4, 10, dtype=torch.float64, generator=g) * 3 + target
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    kw = {"delta": 1.3} if loss == "huber" else {}
    ours = ft.range_loss(xa, target, loss=loss, range_reduction="mean", **kw)
    ref = theirs(xb, target, **kw)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=0)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-12, atol=0)


@pytest.mark.parametrize("loss", LOSSES)
def test_gradcheck_and_module(loss):
    g = torch.Generator().manual_seed(1)
    target = torch.randint(0, 3, (3, 4), generator=g).repeat_interleave(3, 1).double()
    seg = torch.arange(12).div(5, rounding_mode="floor").repeat(3, 1)
    # away from the kinks of |d| and Huber's threshold
    x = (target + torch.where(torch.rand(3, 12, generator=g) > 0.5, 0.2, -0.2)
         + 0.05 * torch.rand(3, 12, generator=g, dtype=torch.float64)).requires_grad_(True)
    for segments in (None, seg):
        assert torch.autograd.gradcheck(
            lambda z: ft.range_loss(z, target, loss=loss, delta=0.5, segments=segments, reduction="none",
                                    range_reduction="mean"), (x,))
    module = ft.RangeLoss(loss=loss, delta=0.5)
    assert f"loss={loss!r}" in repr(module)
    torch.testing.assert_close(module(x, target, segments=seg), ft.range_loss(x, target, loss=loss, delta=0.5,
                                                                              segments=seg))


def test_torch_compile_and_target_gradient():
    g = torch.Generator().manual_seed(2)
    target = torch.randint(0, 3, (4, 32), generator=g).float().requires_grad_(True)
    seg = torch.arange(32).div(7, rounding_mode="floor").repeat(4, 1)
    x = torch.randn(4, 32, generator=g, requires_grad=True)
    loss = ft.range_huber(x, target, delta=0.4, segments=seg)
    loss.backward()
    torch.testing.assert_close(target.grad, -x.grad, rtol=0, atol=0)  # ranges held fixed
    compiled = torch.compile(lambda a, b: ft.range_mse(a * 1.0, b, segments=seg), fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x, target), ft.range_mse(x, target, segments=seg))


def test_tensorflow_and_keras():
    tf = pytest.importorskip("tensorflow")
    import fastseg.keras as fk
    import fastseg.tensorflow as fst
    rng = np.random.default_rng(4)
    t = np.repeat(rng.integers(0, 3, (4, 6)), 3, axis=1).astype(np.float32)
    p = (t + rng.standard_normal(t.shape)).astype(np.float32)
    seg = np.repeat(np.arange(18) // 5, 1)[None].repeat(4, 0)
    for loss in LOSSES:
        want, want_grad = fastseg.range_loss_value_and_grad(t, p, loss=loss, delta=0.6, segments=seg)
        for jit in (False, True):
            @tf.function(jit_compile=jit)
            def step(a, b):
                with tf.GradientTape() as tape:
                    tape.watch(b)
                    value = fst.range_loss(a, b, loss=loss, delta=0.6, segments=seg)
                return value, tape.gradient(value, b)

            value, grad = step(tf.constant(t), tf.constant(p))
            np.testing.assert_allclose(value.numpy(), want, rtol=1e-5)
            np.testing.assert_allclose(grad.numpy(), want_grad, rtol=1e-5, atol=1e-7)
    keras_loss = fk.RangeLoss(loss="huber", delta=0.6)
    np.testing.assert_allclose(keras_loss(t, p), fastseg.range_huber(t, p, delta=0.6), rtol=1e-5)
    import keras
    restored = keras.losses.deserialize(keras.losses.serialize(keras_loss))
    assert restored.get_config() == keras_loss.get_config()
    assert keras.losses.deserialize(keras.losses.serialize(fk.RangeMAE())).get_config()["range_reduction"] == "sum"


# --- packed sequences: cross_entropy(reduction="segment_mean") ------------------------------------

def _per_sequence_loop(x, y, ids, weight=None, ignore_index=-100):
    """The definition written as a user would: per sequence, its mean token loss; then their mean."""
    means = []
    for s in dict.fromkeys(ids.tolist()):
        rows = np.flatnonzero(ids == s)
        kept = [i for i in rows if y[i] != ignore_index]
        if not kept:
            continue
        w = np.ones(x.shape[1]) if weight is None else weight
        losses = [w[y[i]] * -(x[i, y[i]] - np.log(np.exp(x[i]).sum())) for i in kept]
        means.append(sum(losses) / sum(w[y[i]] for i in kept))
    return np.mean(means)


@pytest.mark.parametrize("weighted", [False, True])
def test_packed_sequence_cross_entropy(weighted):
    rng = np.random.default_rng(5)
    ids = np.repeat([3, 1, 1, 9, 4], [4, 2, 1, 5, 3])  # 1 then 1 again: one sequence of 3 rows
    x, y = rng.standard_normal((15, 6)), rng.integers(0, 6, 15)
    y[[0, 5, 12, 13, 14]] = -100  # the last sequence entirely ignored: left out of the mean
    w = rng.random(6) if weighted else None
    want = _per_sequence_loop(x, y, ids, w)
    loss, grad = fastseg.cross_entropy_value_and_grad(x, y, weight=w, segment_ids=ids, reduction="segment_mean")
    np.testing.assert_allclose(loss, want, rtol=1e-12)
    assert np.isclose(fastseg.cross_entropy(x, y, weight=w, segment_ids=ids, reduction="segment_mean"), want,
                      rtol=1e-12)
    xt = torch.tensor(x, requires_grad=True)
    lt = ft.cross_entropy(xt, torch.tensor(y), None if w is None else torch.tensor(w),
                          segment_ids=torch.tensor(ids), reduction="segment_mean")
    lt.backward()
    np.testing.assert_allclose(lt.item(), want, rtol=1e-12)
    np.testing.assert_allclose(xt.grad.numpy(), grad, rtol=1e-10, atol=1e-15)
    # the gradient against torch's autograd through the same definition
    xr = torch.tensor(x, requires_grad=True)
    rows = F.cross_entropy(xr, torch.tensor(y), None if w is None else torch.tensor(w), reduction="none")
    kept = torch.tensor(y != -100)
    row_w = torch.ones(15, dtype=torch.float64) if w is None else torch.tensor(w)[torch.tensor(y).clamp(min=0)]
    row_w = row_w * kept
    seqs = [np.flatnonzero(ids == s) for s in (3, 1, 9, 4)]
    total = sum(rows[s].sum() / row_w[s].sum() for s in seqs[:3])
    (total / 3).backward()
    np.testing.assert_allclose(grad, xr.grad.numpy(), rtol=1e-10, atol=1e-15)
    with pytest.raises(ValueError, match="needs segment_ids"):
        fastseg.cross_entropy(x, y, reduction="segment_mean")
    with pytest.raises(ValueError, match="segment_ids must have shape"):
        fastseg.cross_entropy(x, y, segment_ids=ids[:3], reduction="segment_mean")
