"""``fastseg.tensorflow.range_mae``: range-wise MAE as a TensorFlow op with an exact gradient."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .._dispatch import check_choice
from ..ops import range_mae as op
from ._rowloss import as_numpy_dtype, compute_dtype, reduce_rows, row_loss


def _kernel(y_true, y_pred, lengths, mean_over_ranges):
    prepared = op.Prepared(y_true, y_pred, None if lengths is None else lengths.astype(np.int64),
                           (y_pred.shape[0],), y_pred.dtype, "numpy")
    if prepared.lengths is not None and prepared.lengths.size:
        op.check_lengths_range(prepared.lengths, y_pred.shape[1])
    return op.run_rows(prepared, range_reduction="mean" if mean_over_ranges else "sum",
                       need_grad=True, backend="auto")


def composite(y_true, y_pred, lengths=None, mean_over_ranges=False):
    """Pure-TF range-wise MAE per row (XLA-compatible, differentiable by TF's autodiff).

    Range ids by a cumulative sum of change flags, range sizes by ``unsorted_segment_sum``,
    then ``sum_i |t_i - p_i| / |r(i)|``. The benchmark's "TF composite" peer, and what runs
    under XLA.
    """
    rows, length = tf.shape(y_pred)[0], tf.shape(y_pred)[1]
    positions = tf.range(length)[tf.newaxis, :]
    limit = tf.fill([rows], length) if lengths is None else tf.cast(lengths, tf.int32)
    valid = positions < limit[:, tf.newaxis]
    changed = tf.concat([tf.ones_like(y_true[:, :1], tf.bool), y_true[:, 1:] != y_true[:, :-1]], 1)
    starts = changed & valid
    range_id = tf.cumsum(tf.cast(starts, tf.int32), axis=1) - 1
    segment = tf.maximum(range_id, 0) + tf.range(rows)[:, tf.newaxis] * length
    valid_f = tf.cast(valid, y_pred.dtype)
    sizes = tf.math.unsorted_segment_sum(valid_f, segment, rows * length)
    weight = tf.stop_gradient(valid_f / tf.maximum(tf.gather(sizes, segment), 1))
    loss = tf.reduce_sum(weight * tf.abs(y_true - y_pred), axis=1)
    if mean_over_ranges:
        n_ranges = tf.reduce_sum(tf.cast(starts, y_pred.dtype), axis=1)
        loss = tf.where(n_ranges > 0, loss / tf.maximum(n_ranges, 1), loss)
    return tf.where(tf.math.is_finite(loss), loss, tf.constant(np.nan, loss.dtype))


def range_mae(y_true, y_pred, *, range_reduction: str = "sum", reduction: str = "mean",
              lengths=None) -> tf.Tensor:
    """Range-wise MAE of TensorFlow tensors, with its exact gradient for ``tf.GradientTape``.

    Same semantics and arguments as :func:`fastseg.range_mae`: ``y_true``, ``y_pred`` of shape
    ``(..., L)``; ``lengths`` of shape ``(...)``. Runs fastseg's fused CPU kernel eagerly and in
    ``tf.function``; inside XLA (``jit_compile=True``) it runs an equivalent pure-TF composite.
    float16/bfloat16 are computed in float32 and the loss is cast back.

    Examples
    --------
    >>> import tensorflow as tf, fastseg.tensorflow as fst
    >>> y_true = tf.constant([[0., 0., 1., 1., 1.]])
    >>> y_pred = tf.Variable([[0., 1., 1., 1., 0.]])
    >>> with tf.GradientTape() as tape:
    ...     loss = fst.range_mae(y_true, y_pred)
    >>> round(float(loss), 4), tape.gradient(loss, y_pred).numpy().round(4).tolist()
    (0.8333, [[0.0, 0.5, 0.0, 0.0, -0.3333]])
    """
    check_choice("reduction", reduction, op.REDUCTIONS)
    check_choice("range_reduction", range_reduction, op.RANGE_REDUCTIONS)
    y_pred = tf.convert_to_tensor(y_pred)
    y_true = tf.convert_to_tensor(y_true)
    lengths = None if lengths is None else tf.convert_to_tensor(lengths)
    op.check_inputs(y_true.shape, y_pred.shape, as_numpy_dtype(y_true), as_numpy_dtype(y_pred),
                    None if lengths is None else lengths.shape,
                    None if lengths is None else as_numpy_dtype(lengths))
    out_dtype, work = y_pred.dtype, compute_dtype(y_pred.dtype)
    lead, length = tf.shape(y_pred)[:-1], tf.shape(y_pred)[-1]
    p = tf.reshape(tf.cast(y_pred, work), [-1, length])
    t = tf.reshape(tf.cast(y_true, work), [-1, length])
    n = None if lengths is None else tf.reshape(tf.cast(lengths, tf.int64), [-1])
    rows = row_loss(_kernel, composite, [t, p], primary=1, grad_signs={0: -1.0, 1: 1.0},
                    extra=(n, range_reduction == "mean"))
    rows = tf.reshape(tf.cast(rows, out_dtype), lead)
    return reduce_rows(rows, reduction)
