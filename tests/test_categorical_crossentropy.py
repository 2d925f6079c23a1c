"""categorical_crossentropy: exact parity with Keras 3 on TensorFlow (values and GradientTape
gradients), the normalised-and-clipped gradient example, and fastseg.keras.CategoricalCrossentropy in model.fit."""

import os

import numpy as np
import pytest

import fastseg
from fastseg.ops.categorical_crossentropy import reference

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
import fastseg.keras as fk  # noqa: E402
import fastseg.tensorflow as fst  # noqa: E402


def keras_value_and_grad(y_true, y_pred, **kw):
    p = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(keras.losses.categorical_crossentropy(tf.constant(y_true), p, **kw))
    return loss.numpy(), tape.gradient(loss, p).numpy()


@pytest.mark.parametrize("y_pred, want_grad", [
    ([[0.8, 0.1, 0.1]], [[-0.25, 1, 1]]),
    ([[0.5, 0.1, 0.1]], [[-0.5714285714, 1.4285714286, 1.4285714286]]),
])
def test_seed_fifth_thread(y_pred, want_grad):
    """from_logits=False normalises then clips: the gradient is -t/q + 1/sum(q), not -t/q."""
    y_true = [[1.0, 0.0, 0.0]]
    loss, grad = fastseg.categorical_crossentropy_value_and_grad(y_true, np.array(y_pred), reduction="sum")
    np.testing.assert_allclose(grad, want_grad, rtol=1e-9)
    k_loss, k_grad = keras_value_and_grad(np.array(y_true), np.array(y_pred))
    np.testing.assert_allclose(loss, k_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, k_grad, rtol=1e-12)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_keras_parity_values_and_gradients(from_logits, label_smoothing):
    rng = np.random.default_rng(0)
    y_true = np.eye(6)[rng.integers(0, 6, 10)]
    y_true[3] = rng.dirichlet(np.ones(6))  # soft targets too
    y_pred = rng.standard_normal((10, 6)) if from_logits else rng.random((10, 6)) * 3  # rows not summing to 1
    if not from_logits:
        y_pred[0, 2] = 1e-12  # clipped at 1e-7 after normalisation
        y_pred[1] = [5.0, 1e-13, 1e-13, 1e-13, 1e-13, 1e-13]  # clipped at 1 - 1e-7 too
    kw = dict(from_logits=from_logits, label_smoothing=label_smoothing)
    loss, grad = fastseg.categorical_crossentropy_value_and_grad(y_true, y_pred, reduction="sum", **kw)
    k_loss, k_grad = keras_value_and_grad(y_true, y_pred, **kw)
    np.testing.assert_allclose(loss, k_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, k_grad, rtol=1e-10, atol=1e-12)
    rows = fastseg.categorical_crossentropy(y_true, y_pred, reduction="none", **kw)
    np.testing.assert_allclose(rows, keras.losses.categorical_crossentropy(y_true, y_pred, **kw).numpy(), rtol=1e-12)


@pytest.mark.parametrize("jit", [None, False, True], ids=["eager", "tf.function", "xla"])
def test_tensorflow_op_every_mode(jit):
    rng = np.random.default_rng(1)
    y_true, y_pred = np.eye(5)[rng.integers(0, 5, 8)], rng.random((8, 5)) + 0.01
    p = tf.Variable(y_pred)

    def step():
        with tf.GradientTape() as tape:
            loss = fst.categorical_crossentropy(y_true, p, reduction="sum")
        return loss, tape.gradient(loss, p)

    loss, grad = (step if jit is None else tf.function(step, jit_compile=jit))()
    k_loss, k_grad = keras_value_and_grad(y_true, y_pred)
    np.testing.assert_allclose(loss.numpy(), k_loss, rtol=1e-12)
    np.testing.assert_allclose(grad.numpy(), k_grad, rtol=1e-10)


def test_axis_and_float32():
    rng = np.random.default_rng(2)
    y_true = np.eye(4)[rng.integers(0, 4, 6)].T.astype(np.float32)  # classes on axis 0
    y_pred = rng.random((4, 6)).astype(np.float32)
    ours = fastseg.categorical_crossentropy(y_true, y_pred, axis=0, reduction="none")
    np.testing.assert_allclose(ours, keras.losses.categorical_crossentropy(y_true, y_pred, axis=0).numpy(), rtol=2e-6)
    _, grad = fastseg.categorical_crossentropy_value_and_grad(y_true, y_pred, axis=0, reduction="sum")
    assert grad.shape == (4, 6) and grad.dtype == np.float32
    ref = reference.categorical_crossentropy_rows(y_true.T.astype(float), y_pred.T.astype(float), need_grad=True)[1].T
    np.testing.assert_allclose(grad, ref, rtol=1e-5)


def test_keras_fit_and_config():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((256, 12)).astype("float32")
    y = np.eye(3, dtype="float32")[x[:, :3].argmax(1)]
    model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=fk.CategoricalCrossentropy(), metrics=["accuracy"])
    hist = model.fit(x, y, epochs=10, verbose=0).history
    assert hist["loss"][-1] < 0.5 * hist["loss"][0] and hist["accuracy"][-1] > 0.85
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0)[0],
                               keras.losses.CategoricalCrossentropy()(y, model.predict(x, verbose=0)).numpy(), rtol=1e-5)
    loss = fk.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    assert keras.losses.deserialize(keras.losses.serialize(loss)).get_config() == loss.get_config()
