"""fastseg.tensorflow.multiclass_hinge (eager, tf.function, XLA) and fastseg.keras.MulticlassHinge."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import fastseg.keras as fk  # noqa: E402
import fastseg.tensorflow as fst  # noqa: E402
from fastseg.ops.multiclass_hinge import reference  # noqa: E402


@pytest.mark.parametrize("jit", [None, False, True], ids=["eager", "tf.function", "xla"])
@pytest.mark.parametrize("p", [1, 2])
def test_matches_reference(jit, p):
    rng = np.random.default_rng(3)
    s0, y = rng.standard_normal((12, 9)), rng.integers(0, 9, 12)
    w = rng.random(9)
    s = tf.Variable(s0)

    def step():
        with tf.GradientTape() as tape:
            loss = fst.multiclass_hinge(s, y, p=p, weight=w, reduction="sum")
        return loss, tape.gradient(loss, s)

    loss, grad = (step if jit is None else tf.function(step, jit_compile=jit))()
    ref_l, ref_g = reference.row_losses(s0, y, p=p, weight=w, need_grad=True)
    np.testing.assert_allclose(loss.numpy(), ref_l.sum(), rtol=1e-12)
    np.testing.assert_allclose(grad.numpy(), ref_g, rtol=1e-12, atol=1e-15)


def test_keras_fit_and_config():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((256, 20)).astype("float32")
    labels = x[:, :4].argmax(1)
    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(4)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=fk.MulticlassHinge(), metrics=["accuracy"])
    hist = model.fit(x, labels, epochs=10, verbose=0).history
    assert hist["loss"][-1] < 0.3 * hist["loss"][0] and hist["accuracy"][-1] > 0.8
    scores = model.predict(x, verbose=0)
    np.testing.assert_allclose(model.evaluate(x, labels, verbose=0)[0],
                               reference.row_losses(scores.astype(float), labels)[0].mean(), rtol=1e-5)
    loss = fk.MulticlassHinge(margin=0.5, p=2)
    assert keras.losses.deserialize(keras.losses.serialize(loss)).get_config() == loss.get_config()
