"""fastseg.tensorflow.range_mae and fastseg.keras.RangeMAE on the TensorFlow backend; Keras on the
torch backend in a subprocess; the two common TensorFlow formulations (a per-element loop, a ragged-tensor answer) as test cases."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import fastseg.keras as fk  # noqa: E402
import fastseg.tensorflow as fst  # noqa: E402
from fastseg.baselines import range_mae_tf_loop, range_mae_tf_ragged  # noqa: E402
from fastseg.ops.range_loss import reference  # noqa: E402
from range_mae_cases import piecewise_rows  # noqa: E402
from tolerance import assert_close  # noqa: E402

MODES = {
    "eager": lambda f: f,
    "tf.function": tf.function,
    "xla": lambda f: tf.function(f, jit_compile=True),
}


def _loss_and_grads(mode, y_true, y_pred, **kw):
    t, p = tf.Variable(y_true), tf.Variable(y_pred)

    def step():
        with tf.GradientTape() as tape:
            loss = fst.range_mae(t, p, **kw)
        return loss, tape.gradient(loss, [t, p])

    loss, (gt, gp) = MODES[mode](step)()
    return loss.numpy(), gt.numpy(), gp.numpy()


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("range_reduction", ["sum", "mean"])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_matches_reference_in_every_mode(mode, range_reduction, with_lengths):
    y_true, y_pred = piecewise_rows(np.random.default_rng(21), 6, 45)
    lengths = np.array([45, 0, 7, 44, 1, 30]) if with_lengths else None
    kw = dict(range_reduction=range_reduction, reduction="sum")
    if with_lengths:
        kw["lengths"] = tf.constant(lengths)
    loss, grad_t, grad_p = _loss_and_grads(mode, y_true, y_pred, **kw)
    rows, grad = reference.row_losses(y_true, y_pred, lengths, range_reduction=range_reduction, need_grad=True)
    np.testing.assert_allclose(loss, rows.sum(), rtol=1e-12)
    np.testing.assert_allclose(grad_p, grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grad_t, -grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mode", list(MODES))
def test_float32_nan_rows_and_reductions(mode):
    y_true, y_pred = piecewise_rows(np.random.default_rng(22), 5, 64, dtype=np.float32)
    y_pred[3, 10] = np.nan
    step = MODES[mode](lambda t, p: fst.range_mae(t, p, reduction="none"))
    got = step(tf.constant(y_true), tf.constant(y_pred)).numpy()
    assert got.dtype == np.float32 and got.shape == (5,)
    assert_close(got, reference.row_losses(y_true.astype(float), y_pred.astype(float))[0],
                 reference.row_losses(y_true, y_pred)[0])
    assert np.isnan(got[3])
    mean = fst.range_mae(tf.constant(y_true[:3]), tf.constant(y_pred[:3])).numpy()
    np.testing.assert_allclose(mean, got[:3].mean(), rtol=1e-6)


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16, tf.float64])
def test_dtypes(dtype):
    y_true, y_pred = piecewise_rows(np.random.default_rng(23), 4, 30)
    t, p = tf.cast(y_true, dtype), tf.Variable(tf.cast(y_pred, dtype))
    with tf.GradientTape() as tape:
        loss = fst.range_mae(t, p)
    grad = tape.gradient(loss, p)
    assert loss.dtype == dtype and grad.dtype == dtype
    t64, p64 = tf.cast(t, tf.float64).numpy(), tf.cast(p, tf.float64).numpy()  # exact for every dtype
    rows, ref_grad = reference.row_losses(t64, p64, need_grad=True)
    tol = 1e-12 if dtype == tf.float64 else 1e-2
    np.testing.assert_allclose(float(tf.cast(loss, tf.float64)), rows.mean(), rtol=tol)
    np.testing.assert_allclose(tf.cast(grad, tf.float64).numpy(), ref_grad / 4, rtol=tol, atol=tol * 1e-2)


def test_static_shapes_in_graph_mode():
    @tf.function(input_signature=[tf.TensorSpec([None, 16], tf.float32)] * 2)
    def f(t, p):
        rows = fst.range_mae(t, p, reduction="none")
        assert rows.shape.as_list() == [None], rows.shape
        return rows

    assert f(tf.zeros([3, 16]), tf.ones([3, 16])).numpy().tolist() == [1.0, 1.0, 1.0]


def test_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        fst.range_mae(tf.zeros([2, 3]), tf.zeros([2, 4]))
    with pytest.raises(TypeError, match="y_pred must be a float16/float32/float64"):
        fst.range_mae(tf.zeros([2, 3]), tf.zeros([2, 3], tf.int32))
    with pytest.raises(ValueError, match="lengths must lie"):
        fst.range_mae(tf.zeros([2, 3]), tf.zeros([2, 3]), lengths=tf.constant([1, 4]))
    with pytest.raises(ValueError, match="range_reduction must be"):
        fk.RangeMAE(range_reduction="median")


def test_seed_ragged_answer_equals_range_reduction_mean():
    y_true, y_pred = piecewise_rows(np.random.default_rng(24), 5, 40, dtype=np.float32)
    want = range_mae_tf_ragged(y_true, y_pred).numpy()
    got = fst.range_mae(y_true, y_pred, range_reduction="mean", reduction="none").numpy()
    np.testing.assert_allclose(got, want, rtol=2e-6)


def test_seed_loop_equals_sum_except_a_last_range_of_length_one():
    """The question's loop drops a final range of length 1; fastseg does not."""
    y_true, y_pred = piecewise_rows(np.random.default_rng(25), 4, 24, max_ranges=4)
    y_true[[1, 3], -1] = 5.0  # rows 1 and 3 end with a range of length 1
    loop = range_mae_tf_loop(y_true, y_pred).numpy()
    ours = fst.range_mae(y_true, y_pred, reduction="none").numpy()
    np.testing.assert_allclose(loop[[0, 2]], ours[[0, 2]], rtol=1e-12)
    dropped = np.abs(y_true[[1, 3], -1] - y_pred[[1, 3], -1])
    np.testing.assert_allclose(loop[[1, 3]], ours[[1, 3]] - dropped, rtol=1e-12)
    assert (dropped > 0).all()


def _fit(jit_compile, epochs=8):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(26)
    y, _ = piecewise_rows(rng, 128, 32, max_ranges=5, dtype=np.float32)
    x = (y + 0.1 * rng.standard_normal(y.shape)).astype(np.float32)
    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(32)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=fk.RangeMAE(), jit_compile=jit_compile)
    history = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model, history.history["loss"], x, y


@pytest.mark.parametrize("jit_compile", ["auto", True], ids=["default-jit", "xla"])
def test_keras_fit_tensorflow_backend(jit_compile):
    model, losses, x, y = _fit(jit_compile)
    assert losses[-1] < 0.6 * losses[0], losses
    evaluated = model.evaluate(x, y, batch_size=128, verbose=0)
    pred = model.predict(x, batch_size=128, verbose=0)
    np.testing.assert_allclose(evaluated, reference.row_losses(y.astype(float), pred.astype(float))[0].mean(),
                               rtol=1e-5)


def test_keras_serialization_round_trip(tmp_path):
    loss = fk.RangeMAE(range_reduction="mean", reduction="sum")
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(again, fk.RangeMAE) and again.get_config() == loss.get_config()
    model, _, x, y = _fit("auto", epochs=1)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.loss, fk.RangeMAE)
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6)


@pytest.mark.slow
def test_keras_fit_torch_backend():
    pytest.importorskip("torch")
    code = textwrap.dedent("""
        import numpy as np, keras, sys
        sys.path.insert(0, "tests")
        import fastseg.keras as fk
        from fastseg.ops.range_loss import reference
        from range_mae_cases import piecewise_rows
        assert keras.backend.backend() == "torch"
        keras.utils.set_random_seed(0)
        rng = np.random.default_rng(27)
        y, _ = piecewise_rows(rng, 128, 32, max_ranges=5, dtype=np.float32)
        x = (y + 0.1 * rng.standard_normal(y.shape)).astype(np.float32)
        model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(32)])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss=fk.RangeMAE())
        losses = model.fit(x, y, epochs=8, batch_size=32, verbose=0).history["loss"]
        assert losses[-1] < 0.6 * losses[0], losses
        pred = model.predict(x, batch_size=128, verbose=0)
        want = reference.row_losses(y.astype(float), pred.astype(float))[0].mean()
        np.testing.assert_allclose(model.evaluate(x, y, batch_size=128, verbose=0), want, rtol=1e-5)
        print("ok", losses[0], losses[-1])
    """)
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("ok")
