"""``fastseg.tensorflow.multiclass_hinge``: the multiclass hinge as a TensorFlow op."""

from __future__ import annotations

import tensorflow as tf

from ..ops import multiclass_hinge as op
from ._adapter import register


def composite(scores, labels, weight=None, *, margin=1.0, p=1, divide_by_classes=False):
    """Pure-TF hinge per row (XLA-compatible, differentiable by TF's autodiff)."""
    if scores.dtype in (tf.float16, tf.bfloat16):
        scores = tf.cast(scores, tf.float32)
    c = tf.shape(scores)[1]
    labels = tf.cast(labels, tf.int32)
    bad_label = (labels < 0) | (labels >= c)  # under XLA no check can raise: a NaN row instead
    labels = tf.clip_by_value(labels, 0, tf.maximum(c - 1, 0))
    correct = tf.gather(scores, labels, batch_dims=1)[:, tf.newaxis]
    m = scores - correct + tf.cast(margin, scores.dtype)
    other = tf.one_hot(labels, c, on_value=False, off_value=True, dtype=tf.bool)
    hinge = tf.where(other & ((m > 0) | tf.math.is_nan(m)), m, tf.zeros_like(m))
    loss = tf.reduce_sum(hinge if p == 1 else hinge * hinge, axis=1)
    if weight is not None:
        loss *= tf.gather(tf.cast(weight, scores.dtype), labels)
    loss = loss / tf.cast(c, scores.dtype) if divide_by_classes else loss
    return tf.where(bad_label, tf.constant(float("nan"), loss.dtype), loss)


_multiclass_hinge = register(op.OP, composite)


def multiclass_hinge(scores, labels, *, margin: float = 1.0, p: int = 1, weight=None,
                     divide_by_classes: bool = False, reduction: str = "mean") -> tf.Tensor:
    """Multiclass hinge loss of TensorFlow tensors, with its exact gradient for ``tf.GradientTape``.

    Same semantics as :func:`fastseg.multiclass_hinge`. Runs the fused CPU kernel eagerly and in
    ``tf.function``; under XLA an equivalent pure-TF composite.

    Examples
    --------
    >>> import tensorflow as tf, fastseg.tensorflow as fst
    >>> scores = tf.Variable([[3.2, 5.1, -1.7]])
    >>> with tf.GradientTape() as tape:
    ...     loss = fst.multiclass_hinge(scores, [0])
    >>> round(float(loss), 4), tape.gradient(loss, scores).numpy().tolist()
    (2.9, [[-1.0, 1.0, 0.0]])
    """
    return _multiclass_hinge((scores, labels, weight), {"margin": margin, "p": p, "divide_by_classes": divide_by_classes},
                             reduction=reduction)
