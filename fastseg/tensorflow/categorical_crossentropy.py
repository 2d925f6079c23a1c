"""``fastseg.tensorflow.categorical_crossentropy``: Keras's categorical cross-entropy as a fused op."""

from __future__ import annotations

import tensorflow as tf

from ..ops import categorical_crossentropy as op
from ._adapter import register

_EPS = 1e-7


def composite(y_true, y_pred, *, from_logits=False, label_smoothing=0.0, axis=-1):
    """Keras's own formula in TF ops (what runs under XLA)."""
    if y_pred.dtype in (tf.float16, tf.bfloat16):
        y_pred = tf.cast(y_pred, tf.float32)
    if axis % len(y_pred.shape) != len(y_pred.shape) - 1:
        y_pred = tf.experimental.numpy.moveaxis(y_pred, axis, -1)
        y_true = tf.experimental.numpy.moveaxis(y_true, axis, -1)
    c = tf.cast(tf.shape(y_pred)[-1], y_pred.dtype)
    t = tf.cast(y_true, y_pred.dtype) * (1.0 - label_smoothing) + label_smoothing / c
    if from_logits:
        return tf.nn.softmax_cross_entropy_with_logits(labels=t, logits=y_pred)
    q = y_pred / tf.reduce_sum(y_pred, -1, keepdims=True)
    q = tf.clip_by_value(q, _EPS, 1.0 - _EPS)
    return -tf.reduce_sum(t * tf.math.log(q), -1)


_categorical_crossentropy = register(op.OP, composite)


def categorical_crossentropy(y_true, y_pred, *, from_logits: bool = False, label_smoothing: float = 0.0,
                             axis: int = -1, reduction: str = "mean") -> tf.Tensor:
    """Keras 3's ``categorical_crossentropy`` with its exact gradient, as one fused op per row.

    Same semantics as :func:`fastseg.categorical_crossentropy`: ``from_logits=False`` normalises
    ``y_pred`` and clips it to ``[1e-7, 1 - 1e-7]`` as Keras does, and the gradient is that of the
    clipped, normalised function. Runs the fused CPU kernel eagerly and in ``tf.function``; under
    XLA, Keras's formula in TF ops.

    Examples
    --------
    >>> import tensorflow as tf, fastseg.tensorflow as fst
    >>> p = tf.Variable([[0.5, 0.1, 0.1]])
    >>> with tf.GradientTape() as tape:
    ...     loss = fst.categorical_crossentropy([[1.0, 0.0, 0.0]], p, reduction="sum")
    >>> [round(float(g), 4) for g in tape.gradient(loss, p)[0]]
    [-0.5714, 1.4286, 1.4286]
    """
    return _categorical_crossentropy(
        (y_true, y_pred), {"from_logits": from_logits, "label_smoothing": label_smoothing, "axis": axis},
        reduction=reduction)
