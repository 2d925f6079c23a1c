"""``fastseg.tensorflow.categorical_crossentropy``: Keras's categorical cross-entropy as a fused op."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .._dispatch import check_choice
from ..ops import cross_entropy as op
from ._rowloss import compute_dtype, reduce_rows, row_loss

_EPS = 1e-7


def _kernel(y_true, y_pred, from_logits, label_smoothing):
    grad = np.empty_like(y_pred)
    rows = op.cce_rows("numpy", np.ascontiguousarray(y_true), np.ascontiguousarray(y_pred), from_logits,
                       label_smoothing, "auto", 1.0, grad)
    return rows, grad


def composite(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Keras's own formula in TF ops (what runs under XLA)."""
    c = tf.cast(tf.shape(y_pred)[-1], y_pred.dtype)
    t = tf.cast(y_true, y_pred.dtype) * (1.0 - label_smoothing) + label_smoothing / c
    if from_logits:
        return tf.nn.softmax_cross_entropy_with_logits(labels=t, logits=y_pred)
    q = y_pred / tf.reduce_sum(y_pred, -1, keepdims=True)
    q = tf.clip_by_value(q, _EPS, 1.0 - _EPS)
    return -tf.reduce_sum(t * tf.math.log(q), -1)


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
    check_choice("reduction", reduction, op.REDUCTIONS)
    y_pred = tf.convert_to_tensor(y_pred)
    y_true = tf.convert_to_tensor(y_true)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape; got {y_true.shape} and {y_pred.shape}")
    if not y_pred.dtype.is_floating:
        raise TypeError(f"y_pred must be a floating-point tensor; got {y_pred.dtype}")
    out_dtype = y_pred.dtype
    work = compute_dtype(y_pred.dtype)
    rank = len(y_pred.shape)
    axis = axis % rank
    perm = [d for d in range(rank) if d != axis] + [axis]
    p = tf.transpose(tf.cast(y_pred, work), perm) if axis != rank - 1 else tf.cast(y_pred, work)
    t = tf.transpose(tf.cast(y_true, work), perm) if axis != rank - 1 else tf.cast(y_true, work)
    lead, c = tf.shape(p)[:-1], tf.shape(p)[-1]
    rows = row_loss(_kernel, composite, [tf.reshape(t, [-1, c]), tf.reshape(p, [-1, c])], primary=1,
                    grad_signs={1: 1.0}, extra=(bool(from_logits), float(label_smoothing)))
    return reduce_rows(tf.reshape(tf.cast(rows, out_dtype), lead), reduction)
