"""Bad input, everywhere (docs/design.md, "Bad input policy"): the same documented error on every
backend and framework, the NaN rule, no input ever changed; then a hypothesis fuzz over shapes,
dtypes, byte orders, layouts, special values and options.

Each numbered finding of the fuzz run that started this file is a pinned case (``test_finding_*``).
"""

import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastseg

# ---------------------------------------------------------------------------------------------
# the numbered findings, pinned


def test_finding_1_non_integer_ignore_index_is_rejected_on_every_backend():
    x, y = np.array([[0.0, 1.0], [2.0, 0.0]]), np.array([1, 0])
    for backend in ("reference", "cpu"):
        for bad in (1.5, None, np.nan, "x"):
            with pytest.raises(TypeError, match="ignore_index must be an integer"):
                fastseg.cross_entropy(x, y, ignore_index=bad, reduction="none", backend=backend)
        with pytest.raises(ValueError, match="ignore_index must fit in int64"):
            fastseg.cross_entropy(x, y, ignore_index=2 ** 70, backend=backend)
        np.testing.assert_allclose(fastseg.cross_entropy(x, y, ignore_index=np.int64(1), reduction="none",
                                                         backend=backend), [0.0, 0.126928], rtol=1e-5)


def test_finding_2_zero_classes_is_an_error_not_a_read_past_the_row():
    for backend in ("reference", "cpu"):
        with pytest.raises(ValueError, match="logits must have at least one class"):
            fastseg.cross_entropy(np.zeros((2, 0)), np.zeros((2, 0)), reduction="none", backend=backend)
        with pytest.raises(ValueError, match="logits must have at least one class"):
            fastseg.cross_entropy_value_and_grad(np.zeros((2, 0)), np.zeros((2, 0)), backend=backend)
        with pytest.raises(ValueError, match="scores must have at least one class"):
            fastseg.multiclass_hinge(np.zeros((2, 0)), [0, 0], backend=backend)
        with pytest.raises(ValueError, match="y_pred must have at least one class"):
            fastseg.categorical_crossentropy(np.zeros((2, 0)), np.zeros((2, 0)), backend=backend)


@pytest.mark.parametrize("name", ["cross_entropy", "categorical_crossentropy", "multiclass_hinge", "range_mae"])
def test_finding_2_kernels_never_read_past_empty_rows(name):
    """Past the Python checks (as a direct backend call): 0 classes or 0-length rows give NaN or 0
    rows and read nothing (``make test-boundscheck`` runs this with Numba's bounds checks)."""
    from fastseg.ops import _rowop  # noqa: F401
    import importlib
    cpu = importlib.import_module(f"fastseg.ops.{'range_loss' if name == 'range_mae' else name}.cpu")
    x, loss, grad = np.zeros((3, 0)), np.full(3, -7.0), np.zeros((3, 0))
    if name == "cross_entropy":
        for target in (np.zeros((3, 0)), np.array([0, -100, 1])):
            cpu.rows(x, target, None, ignore_index=-100, label_smoothing=0.1, out_loss=loss, out_grad=grad,
                     grad_scale=1.0)
            assert np.isnan(loss[0]) and not (loss == -7).any()
    elif name == "categorical_crossentropy":
        cpu.rows(x, x, from_logits=False, label_smoothing=0.0, out_loss=loss, out_grad=grad, grad_scale=1.0)
        assert np.isnan(loss).all()
    elif name == "multiclass_hinge":
        cpu.rows(x, np.array([0, 1, -1]), None, margin=1.0, p=1, divide_by_classes=False, out_loss=loss,
                 out_grad=grad, grad_scale=1.0)
        assert np.isnan(loss).all()
    else:
        cpu.rows(x, x, None, mean_over_ranges=True, out_loss=loss, out_grad=grad, grad_scale=1.0)
        assert (loss == 0).all()


def test_finding_3_zero_sum_predictions_give_nan_not_an_exception():
    for rows in (1, 20000):  # the parallel kernel too
        for backend in ("reference", "cpu"):
            loss = fastseg.categorical_crossentropy(np.tile([[1.0, 0.0]], (rows, 1)), np.zeros((rows, 2)),
                                                    reduction="none", backend=backend)
            assert np.isnan(loss).all()
            _, grad = fastseg.categorical_crossentropy_value_and_grad(
                np.tile([[1.0, 0.0]], (rows, 1)), np.zeros((rows, 2)), backend=backend)
            assert np.isnan(grad).all()


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_finding_4_nan_rule(backend):
    cce = fastseg.categorical_crossentropy
    assert np.isnan(cce([[1.0, 0, 0]], [[0.5, np.inf, 0.2]], backend=backend))
    assert np.isnan(cce([[0.0, 0, 0]], [[0.5, np.nan, 0.2]], backend=backend))
    assert np.isnan(fastseg.multiclass_hinge([[np.nan, 1, 2]], [1], backend=backend))
    assert np.isnan(fastseg.multiclass_hinge([[1.0, 1, 2]], [1], margin=np.nan, backend=backend))
    _, grad = fastseg.multiclass_hinge_value_and_grad([[np.nan, 1, 2]], [1], backend=backend)
    assert np.isnan(grad[0, [0, 1]]).all() and grad[0, 2] == 1.0  # NaN where the math is NaN
    # a -inf logit of a class with no target weight costs nothing, as torch
    np.testing.assert_allclose(fastseg.cross_entropy(np.array([[-np.inf, 1, 2]]), np.array([1]), backend=backend),
                               1.3132617, rtol=1e-6)
    loss, grad = fastseg.cross_entropy_value_and_grad(np.zeros((2, 3)), np.array([-100, -100]), backend=backend)
    assert np.isnan(loss) and (grad == 0).all()  # every row ignored: NaN loss, zero gradient (torch)


def test_finding_4_svm_loss_nan_input():
    W, X = 0.01 * np.ones((3, 2)), np.ones((2, 3))
    X[0, 1] = np.nan
    loss, dW = fastseg.svm_loss(W, X, np.array([0, 1]), reg=0.1)
    assert np.isnan(loss) and np.isnan(dW).any()


def test_finding_5_dtypes_and_layouts():
    t = np.array([[0.0, 0.0, 1.0]])
    p = np.array([[0.1, 0.3, 0.5]])
    want = fastseg.range_mae(t, p)
    for backend in ("reference", "cpu"):
        # big-endian inputs are converted; long double is rejected by name
        np.testing.assert_allclose(fastseg.range_mae(t.astype(">f8"), p.astype(">f8"), backend=backend), want)
        np.testing.assert_allclose(fastseg.range_mae(t.astype(">f2"), p.astype(">f2"), backend=backend), want, rtol=1e-3)
        assert fastseg.range_mae(t, p.astype(">f2"), backend=backend).dtype == np.float16
        with pytest.raises(TypeError, match="long double"):
            fastseg.range_mae(t, p.astype(np.longdouble), backend=backend)
        with pytest.raises(TypeError, match="long double"):
            fastseg.multiclass_hinge(p.astype(np.longdouble), [0], backend=backend)
        np.testing.assert_allclose(fastseg.cross_entropy(p.astype(">f4"), np.array([2], ">i8"), backend=backend),
                                   fastseg.cross_entropy(p, np.array([2])), rtol=1e-6)
    # float16 per-row losses are reduced in float32: the mean fits, the float16 sum would not
    y_true = np.array([[0, 1], [0, 0]], np.float16)  # row 0: two ranges of 60000 each, row 1: 0
    y_pred = np.array([[60000, -60000], [0, 0]], np.float16)
    for backend in ("reference", "cpu"):
        assert fastseg.range_mae(y_true, y_pred, reduction="mean", backend=backend) == np.float16(60000)


def test_finding_5_cuda_takes_strided_host_arrays():
    pytest.importorskip("numba.cuda")
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        pytest.skip("real GPU: covered by bench/gpu_check.py")
    t = np.repeat(np.arange(4.0), 4).reshape(2, 8)[:, ::2]
    p = np.linspace(0, 1, 16).reshape(2, 8)[:, ::2]
    np.testing.assert_allclose(fastseg.range_mae(t, p, backend="cuda"), fastseg.range_mae(t, p, backend="reference"))


def test_finding_6_torch_wrapper():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    import fastseg.torch as ft
    for dtype in (torch.uint8, torch.float8_e4m3fn, torch.complex64):
        with pytest.raises(TypeError, match=re.escape(str(dtype).replace("torch.", "")) + "|" + re.escape(str(dtype))):
            ft.range_mae(torch.zeros(2, 3, dtype=dtype), torch.zeros(2, 3))
    assert ft.range_mae(torch.zeros(4, 0), torch.zeros(4, 0)).item() == 0.0
    x, w = torch.randn(3, 4, dtype=torch.float64), torch.rand(4, dtype=torch.float64)
    y = torch.tensor([0, 7, 3])
    torch.testing.assert_close(ft.cross_entropy(x, y, w, ignore_index=7), F.cross_entropy(x, y, w, ignore_index=7))
    torch.testing.assert_close(ft.cross_entropy(x, y.to(torch.int16).clamp(max=3)),
                               F.cross_entropy(x, y.clamp(max=3)))
    xg = x.clone().requires_grad_(True)
    loss = ft.cross_entropy(xg, torch.full((3,), -100))
    loss.backward()
    assert torch.isnan(loss) and (xg.grad == 0).all()
    m = torch.zeros(4, 16, device="meta", requires_grad=True)
    out = ft.range_mae(m, torch.zeros(4, 16, device="meta"))
    assert out.device.type == "meta" and out.shape == ()
    out.backward()
    assert m.grad.shape == (4, 16)


def test_finding_7_tensorflow_and_keras():
    tf = pytest.importorskip("tensorflow")
    import fastseg.keras as fk
    import fastseg.tensorflow as fst

    @tf.function
    def hinge(s, y):
        return fst.multiclass_hinge(s, y)

    with pytest.raises(Exception, match=r"labels\[1\] = 5 is not a class index") as err:
        hinge(tf.ones((2, 3)), tf.constant([0, 5]))
    assert isinstance(err.value, (IndexError, tf.errors.OpError))

    @tf.function(jit_compile=True)
    def under_xla(s, y, t, p, n):
        return (fst.multiclass_hinge(s, y, reduction="none"),
                fst.range_mae(t, p, lengths=n, reduction="none"))

    rows_h, rows_r = under_xla(tf.ones((3, 3)), tf.constant([0, 5, -1]), tf.zeros((3, 4)), tf.ones((3, 4)),
                               tf.constant([4, 7, -3]))
    assert np.isfinite(rows_h[0]) and np.isnan(rows_h[1:]).all()
    assert np.isfinite(rows_r[0]) and np.isnan(rows_r[1:]).all()
    for bad, error in [(-0.1, ValueError), (1.5, ValueError), ("0.1", TypeError)]:
        with pytest.raises(error, match="label_smoothing"):
            fst.categorical_crossentropy([[1.0, 0.0]], [[0.5, 0.5]], label_smoothing=bad)
        with pytest.raises(error, match="label_smoothing"):
            fk.CategoricalCrossentropy(label_smoothing=bad)
    with pytest.raises(ValueError, match="axis must lie in"):
        fst.categorical_crossentropy([[1.0, 0.0]], [[0.5, 0.5]], axis=5)
    with pytest.raises(Exception, match="integer class indices"):
        fk.MulticlassHinge()(tf.constant([[1.7]]), tf.constant([[0.1, 0.2, 0.3]]))
    np.testing.assert_allclose(fk.MulticlassHinge()(tf.constant([[1.0]]), tf.constant([[0.1, 0.2, 0.3]])),
                               fastseg.multiclass_hinge(np.array([[0.1, 0.2, 0.3]], np.float32), [1]), rtol=1e-6)
    y_true = np.eye(3, dtype=np.float32)[[0, 2]][..., None]  # (N, C, 1), as Keras's own class accepts
    y_pred = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], np.float32)
    import keras
    np.testing.assert_allclose(fk.CategoricalCrossentropy()(y_true, y_pred),
                               keras.losses.CategoricalCrossentropy()(y_true, y_pred), rtol=1e-6)


def test_finding_8_messages_name_the_option():
    x = np.zeros((2, 3))
    cases = [
        (lambda: fastseg.cross_entropy(x, np.array([0, 1]), label_smoothing="0.1"), TypeError, "label_smoothing"),
        (lambda: fastseg.multiclass_hinge(x, [0, 1], margin="a"), TypeError, "margin"),
        (lambda: fastseg.categorical_crossentropy(x, x, axis=None), TypeError, "axis"),
        (lambda: fastseg.range_mae(x, x, lengths=np.array([2 ** 64 - 1, 0], np.uint64)), ValueError,
         "lengths holds 18446744073709551615"),
        # options are checked with 0 rows too
        (lambda: fastseg.range_mae(np.zeros((0, 3)), np.zeros((0, 3)), range_reduction="median"), ValueError,
         "range_reduction"),
        (lambda: fastseg.cross_entropy(np.zeros((0, 3)), np.zeros(0, int), label_smoothing=2.0), ValueError,
         "label_smoothing"),
        (lambda: fastseg.multiclass_hinge(np.zeros((0, 3)), np.zeros(0, int), p=3), ValueError, "p must be"),
        (lambda: fastseg.range_mae(np.zeros((0, 3)), np.zeros((0, 3)), backend="tpu"), ValueError, "'auto'"),
    ]
    for call, error, text in cases:
        with pytest.raises(error, match=text):
            call()


def test_env_backend_error_lists_auto(monkeypatch):
    monkeypatch.setenv("FASTSEG_BACKEND", "tpu")
    with pytest.raises(ValueError, match="auto"):
        fastseg.range_mae(np.zeros((1, 2)), np.zeros((1, 2)))


# ---------------------------------------------------------------------------------------------
# the table: one bad input, every framework, the same error type naming the argument

def _frameworks():
    out = ["numpy-reference", "numpy-cpu", "torch"]
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        out.insert(2, "numpy-cuda")
    return out


BAD = {  # name -> (op, arrays as nested lists/arrays, options, error, text naming the argument)
    "range_mae shape": ("range_mae", (np.zeros((2, 3)), np.zeros((2, 4))), {}, ValueError, "same shape"),
    "range_mae int y_pred": ("range_mae", (np.zeros((2, 3)), np.zeros((2, 3), int)), {}, TypeError, "y_pred"),
    "range_mae lengths shape": ("range_mae", (np.zeros((2, 3)), np.zeros((2, 3)), np.array([1])), {}, ValueError,
                                "lengths must have shape"),
    "range_mae lengths range": ("range_mae", (np.zeros((2, 3)), np.zeros((2, 3)), np.array([1, 4])), {}, ValueError,
                                "lengths must lie in"),
    "range_mae option": ("range_mae", (np.zeros((2, 3)), np.zeros((2, 3))), {"range_reduction": "max"}, ValueError,
                         "range_reduction"),
    "hinge label": ("multiclass_hinge", (np.zeros((2, 3)), np.array([0, 3])), {}, IndexError, r"labels\[1\] = 3"),
    "hinge float labels": ("multiclass_hinge", (np.zeros((2, 3)), np.array([0.0, 1.0])), {}, TypeError, "labels"),
    "hinge p": ("multiclass_hinge", (np.zeros((2, 3)), np.array([0, 1])), {"p": 3}, ValueError, "p must be 1 or 2"),
    "hinge margin": ("multiclass_hinge", (np.zeros((2, 3)), np.array([0, 1])), {"margin": "1"}, TypeError, "margin"),
    "ce target": ("cross_entropy", (np.zeros((2, 3)), np.array([0, 3])), {}, IndexError, r"target\[1\] = 3"),
    "ce smoothing": ("cross_entropy", (np.zeros((2, 3)), np.array([0, 1])), {"label_smoothing": -0.5}, ValueError,
                     "label_smoothing"),
    "ce rank": ("cross_entropy", (np.zeros(3), np.array([0])), {}, ValueError, "logits must have shape"),
    "cce shape": ("categorical_crossentropy", (np.zeros((2, 3)), np.zeros((2, 4))), {}, ValueError, "same shape"),
    "cce axis": ("categorical_crossentropy", (np.zeros((2, 3)), np.zeros((2, 3))), {"axis": 2}, ValueError, "axis"),
}


def _run(framework, op, arrays, options):
    if framework.startswith("numpy"):
        if op == "range_mae" and len(arrays) == 3:
            arrays, options = arrays[:2], {**options, "lengths": arrays[2]}
        return getattr(fastseg, op)(*arrays, backend=framework.split("-")[1], **options)
    torch = pytest.importorskip("torch")
    import fastseg.torch as ft
    tensors = [torch.as_tensor(a) for a in arrays]
    if op == "range_mae":  # torch's order: prediction, target
        t, p, *rest = tensors
        return ft.range_mae(p, t, **({"lengths": rest[0]} if rest else {}), **options)
    if op == "categorical_crossentropy":
        pytest.skip("fastseg.torch has no categorical_crossentropy (Keras's op)")
    return getattr(ft, op)(*tensors, **options)


@pytest.mark.parametrize("framework", _frameworks())
@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_table(case, framework):
    op, arrays, options, error, text = BAD[case]
    before = [np.array(a, copy=True) for a in arrays]
    with pytest.raises(error, match=text):
        _run(framework, op, arrays, options)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", ["eager", "function"])
@pytest.mark.parametrize("case", [c for c in BAD if BAD[c][0] != "cross_entropy"])
def test_bad_input_table_tensorflow(case, mode):
    tf = pytest.importorskip("tensorflow")
    import fastseg.tensorflow as fst
    op, arrays, options, error, text = BAD[case]
    fn = getattr(fst, op)
    call = (lambda *a: fn(*a[:2], **({"lengths": a[2]} if len(a) > 2 else {}), **options)) if op == "range_mae" \
        else (lambda *a: fn(*a, **options))
    if mode == "function":
        call = tf.function(call)
    with pytest.raises(Exception, match=text) as err:
        call(*[tf.constant(a) for a in arrays])
    assert isinstance(err.value, (error, tf.errors.OpError)), type(err.value)


# ---------------------------------------------------------------------------------------------
# the fuzz: right answer or documented error; inputs unchanged; the NaN rule

SPECIAL = st.sampled_from([0.0, 1.0, -1.0, 0.5, np.nan, np.inf, -np.inf, 1e30, -1e-30, 3.0])
DTYPES = st.sampled_from(["<f8", ">f8", "<f4", ">f4", "<f2", ">f2"])
DOCUMENTED = (ValueError, TypeError, IndexError)


@st.composite
def _matrix(draw, rows, cols, dtype, integer=False):
    values = draw(st.lists(SPECIAL if not integer else st.sampled_from([0.0, 1.0, 2.0]),
                           min_size=rows * cols, max_size=rows * cols))
    a = np.array(values, np.float64).reshape(rows, cols)
    if draw(st.booleans()) and rows * cols:  # a non-contiguous layout of the same values
        a = np.asfortranarray(a)
    return a.astype(dtype)


def _same(got, want, dtype):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    rtol = {2: 2e-2, 4: 2e-4, 8: 1e-9}[np.dtype(dtype).itemsize]
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


def _check_against_reference(fn, arrays, options, dtype):
    before = [None if a is None else np.array(a, copy=True) for a in arrays]
    if fn is fastseg.range_mae:
        arrays, options = arrays[:2], {**options, "lengths": arrays[2]}
    outcomes = []
    for backend in ("reference", "cpu"):
        try:
            outcomes.append(("ok", fn(*arrays, backend=backend, **options)))
        except DOCUMENTED as err:
            outcomes.append(("error", type(err)))
    for a, b in zip(arrays, before):
        if a is not None:
            np.testing.assert_array_equal(a, b)  # no op mutates its inputs
    (kind_ref, ref), (kind_cpu, cpu) = outcomes
    assert kind_ref == kind_cpu, outcomes
    if kind_ref == "error":
        assert ref is cpu
        return None
    ref, cpu = np.atleast_1d(ref), np.atleast_1d(cpu)
    finite = np.isfinite(ref) & (np.abs(ref) < 1e25)  # huge values: relative error of a huge sum
    np.testing.assert_array_equal(np.isnan(cpu), np.isnan(ref))
    _same(cpu[finite], ref[finite], dtype)
    return ref


fuzz = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@fuzz
@given(st.data(), st.integers(0, 4), st.integers(0, 6), DTYPES)
def test_fuzz_range_mae(data, rows, length, dtype):
    y_true = data.draw(_matrix(rows, length, dtype, integer=data.draw(st.booleans())))
    y_pred = data.draw(_matrix(rows, length, dtype))
    lengths = data.draw(st.none() | st.lists(st.integers(-1, length + 1), min_size=rows, max_size=rows))
    lengths = None if lengths is None else np.array(lengths)
    options = {"range_reduction": data.draw(st.sampled_from(["sum", "mean", "max"])),
               "reduction": "none"}
    rows_ref = _check_against_reference(fastseg.range_mae, (y_true, y_pred, lengths), options, dtype)
    if rows_ref is not None:  # the NaN rule: any NaN or inf in a row's valid part makes it NaN
        n = np.full(rows, length) if lengths is None else lengths
        for b in range(rows):
            part = np.concatenate([y_true[b, :n[b]], y_pred[b, :n[b]]]).astype(np.float64)
            if not np.isfinite(part).all():
                assert np.isnan(rows_ref[b])


@fuzz
@given(st.data(), st.integers(0, 4), st.integers(1, 5), DTYPES)
def test_fuzz_multiclass_hinge(data, rows, classes, dtype):
    scores = data.draw(_matrix(rows, classes, dtype))
    labels = np.array(data.draw(st.lists(st.integers(-1, classes), min_size=rows, max_size=rows)), np.int64)
    options = {"margin": data.draw(st.sampled_from([1.0, 0.0, np.nan, "1"])), "p": data.draw(st.sampled_from([1, 2, 3])),
               "reduction": "none"}
    rows_ref = _check_against_reference(fastseg.multiclass_hinge, (scores, labels), options, dtype)
    if rows_ref is not None and classes > 1:  # with one class nothing takes part in the loss
        assume(rows)
        for b in range(rows):
            if np.isnan(scores[b].astype(np.float64)).any() or np.isnan(options["margin"]):
                assert np.isnan(rows_ref[b])


@fuzz
@given(st.data(), st.integers(0, 4), st.integers(1, 5), DTYPES)
def test_fuzz_cross_entropy(data, rows, classes, dtype):
    logits = data.draw(_matrix(rows, classes, dtype))
    target = np.array(data.draw(st.lists(st.integers(-1, classes) | st.just(-100), min_size=rows, max_size=rows)),
                      np.int64)
    options = {"label_smoothing": data.draw(st.sampled_from([0.0, 0.1, 1.0, 1.5])),
               "ignore_index": data.draw(st.sampled_from([-100, 0, 1.5])), "reduction": "none"}
    rows_ref = _check_against_reference(fastseg.cross_entropy, (logits, target), options, dtype)
    if rows_ref is not None:
        for b in range(rows):
            if target[b] != options["ignore_index"] and np.isnan(logits[b].astype(np.float64)).any():
                assert np.isnan(rows_ref[b])


@fuzz
@given(st.data(), st.integers(0, 4), st.integers(1, 5), DTYPES, st.booleans())
def test_fuzz_categorical_crossentropy(data, rows, classes, dtype, from_logits):
    y_true = data.draw(_matrix(rows, classes, dtype, integer=True))
    y_pred = data.draw(_matrix(rows, classes, dtype))
    options = {"from_logits": from_logits, "label_smoothing": data.draw(st.sampled_from([0.0, 0.2, -1.0])),
               "axis": data.draw(st.sampled_from([-1, 0, 1, 2])), "reduction": "none"}
    rows_ref = _check_against_reference(fastseg.categorical_crossentropy, (y_true, y_pred), options, dtype)
    if rows_ref is not None and options["axis"] in (-1, 1) and not from_logits:
        for b in range(rows):
            if not np.isfinite(y_pred[b].astype(np.float64)).all():
                assert np.isnan(rows_ref[b])


def test_keras_on_the_torch_backend_raises_the_same_errors():
    """Keras 3 on torch (a subprocess: the backend is chosen at import): the documented errors."""
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    import subprocess
    import sys
    code = """
import numpy as np, pytest, torch
import fastseg.keras as fk
with pytest.raises(ValueError, match="label_smoothing"):
    fk.CategoricalCrossentropy(label_smoothing=1.5)
with pytest.raises(ValueError, match="integer class indices"):
    fk.MulticlassHinge()(np.array([[1.7]], np.float32), np.array([[0.1, 0.2, 0.3]], np.float32))
with pytest.raises(IndexError, match="is not a class index"):
    fk.MulticlassHinge()(np.array([[5.0]], np.float32), np.array([[0.1, 0.2, 0.3]], np.float32))
with pytest.raises(ValueError, match="lengths|same shape"):
    fk.RangeMAE()(np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32))
print("ok")
"""
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]
