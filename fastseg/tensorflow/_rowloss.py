"""One TensorFlow adapter for every row-loss op.

Outside XLA the op is a ``tf.custom_gradient`` around ``tf.numpy_function`` calling fastseg's
fused kernel, which returns the per-row losses and each row's gradient in one pass; the
gradient function only scales that by the upstream gradient. Works eagerly and inside
``tf.function`` (static shapes are set on the outputs).

Inside an XLA cluster (``tf.function(jit_compile=True)``, Keras ``jit_compile=True``) a Python
kernel cannot run, so the op's pure-TF composite runs instead: the same values, and TF's own
autodiff gives the same gradients.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
from tensorflow.python.ops import control_flow_util


def in_xla() -> bool:
    """Whether the op is being traced into an XLA-compiled function."""
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def compute_dtype(dtype: tf.DType) -> tf.DType:
    """float16/bfloat16 are computed in float32 and cast back."""
    return tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype


def row_loss(kernel: Callable, composite: Callable, inputs: Sequence[tf.Tensor], *,
             primary: int, grad_signs: dict[int, float], extra: Sequence = ()) -> tf.Tensor:
    """Per-row losses of ``inputs`` (2-D ``(rows, L)`` tensors of one float dtype).

    ``kernel(*arrays, *extra) -> (rows, grad)`` runs on NumPy arrays and returns the loss of
    each row and ``d loss[b] / d inputs[primary][b]``; ``grad_signs`` maps each differentiable
    input index to the sign of its gradient relative to that. ``composite(*inputs, *extra)``
    is the pure-TF version used under XLA. ``extra`` holds non-differentiable arguments
    (tensors or Python values), passed to both.
    """
    if in_xla():
        return composite(*inputs, *extra)
    x = inputs[primary]
    dtype = x.dtype
    extra_tensors = [e for e in extra if isinstance(e, tf.Tensor)]

    def run(*arrays):
        it = iter(arrays[len(inputs):])
        full = [next(it) if isinstance(e, tf.Tensor) else e for e in extra]
        rows, grad = kernel(*arrays[:len(inputs)], *full)
        return (rows.astype(dtype.as_numpy_dtype, copy=False),
                grad.astype(dtype.as_numpy_dtype, copy=False))

    @tf.custom_gradient
    def op(*xs):
        rows, grad = tf.numpy_function(run, [*xs, *extra_tensors], [dtype, dtype], stateful=False)
        rows.set_shape(x.shape[:1])
        grad.set_shape(x.shape)

        def backward(upstream):
            g = tf.expand_dims(upstream, -1) * grad
            return [(g if grad_signs[i] > 0 else -g) if i in grad_signs else None
                    for i in range(len(xs))]

        return rows, backward

    return op(*inputs)


def reduce_rows(rows: tf.Tensor, reduction: str) -> tf.Tensor:
    if reduction == "none":
        return rows
    total = tf.reduce_sum(tf.cast(rows, tf.float64))
    if reduction == "mean":
        total = total / tf.cast(tf.size(rows), tf.float64)
    return tf.cast(total, rows.dtype)


def as_numpy_dtype(x: tf.Tensor) -> np.dtype:
    """A NumPy dtype of the same kind, for the ops' shared dtype checks (bfloat16 -> float16)."""
    return np.dtype(np.float16) if x.dtype == tf.bfloat16 else np.dtype(x.dtype.as_numpy_dtype)
