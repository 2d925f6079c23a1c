"""One TensorFlow adapter for every row-loss op (``fastseg/ops/_rowop.py``'s :class:`RowOp`).

Outside XLA the op is a ``tf.custom_gradient`` whose forward is the op's forward kernel in a
``tf.numpy_function`` (per-row losses only: nothing of size rows x L is kept for the gradient but
the inputs) and whose gradient function is the op's backward kernel in another, with the
upstream gradient of each row folded in as a per-row scale. Casts and reshapes happen on the
NumPy side, so the only copies are the ones ``tf.numpy_function`` itself makes. Works eagerly
and inside ``tf.function``; static shapes are set on the outputs.

Inside an XLA cluster (``tf.function(jit_compile=True)``, Keras ``jit_compile=True``) a Python
kernel cannot run, so the op's pure-TF composite runs instead: the same values, and TF's own
autodiff gives the same gradients.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
from tensorflow.python.ops import control_flow_util

from .._dispatch import check_choice, resolve_backend
from ..ops._rowop import REDUCTIONS, Plan, RowOp, host_views, moved_shape


def in_xla() -> bool:
    """Whether the op is being traced into an XLA-compiled function."""
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def compute_dtype(dtype: tf.DType) -> tf.DType:
    """float16/bfloat16 are computed in float32 and cast back."""
    return tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype


def as_numpy_dtype(name: str, x: tf.Tensor) -> np.dtype:
    """A NumPy dtype of the same kind, for the ops' plans (bfloat16 plans as float16)."""
    if x.dtype == tf.bfloat16:
        return np.dtype(np.float16)
    try:
        return np.dtype(x.dtype.as_numpy_dtype)
    except TypeError:
        raise TypeError(f"{name} has dtype {x.dtype.name}, which fastseg does not compute with") from None


def _plan_dtype(dtype: np.dtype) -> np.dtype:
    """TF hands bfloat16 to NumPy as ``ml_dtypes.bfloat16`` (kind "V"): plan it as float16."""
    return np.dtype(np.float16) if dtype.name == "bfloat16" else dtype


def static_plan(op: RowOp, tensors: Sequence, options: dict) -> Plan:
    """The op's checks on the static shapes (an unknown dimension checked as 1)."""
    shapes = tuple(None if t is None else tuple(1 if d is None else d for d in t.shape.as_list())
                   for t in tensors)
    dtypes = tuple(None if t is None else as_numpy_dtype(name, t) for name, t in zip(op.arrays, tensors))
    return op.plan(shapes, dtypes, **options)


class RowLoss:
    """An op registered for TensorFlow; ``composite(*tensors, **options)`` is its pure-TF
    per-row loss for XLA."""

    def __init__(self, op: RowOp, composite: Callable):
        self.op, self.composite = op, composite

    def _plan(self, arrays, options):
        return self.op.plan(tuple(None if a is None else a.shape for a in arrays),
                            tuple(None if a is None else _plan_dtype(a.dtype) for a in arrays), **options)

    def rows(self, tensors, options: dict) -> tf.Tensor:
        """Per-row losses (shape ``plan.lead``) in the compute dtype."""
        op = self.op
        static = static_plan(op, tensors, options)
        if in_xla():
            return self.composite(*tensors, **options)
        present = [i for i, t in enumerate(tensors) if t is not None]
        kernels = op.backend(resolve_backend("auto", "numpy"))
        work = compute_dtype(tensors[op.primary].dtype)

        def arrays_of(flat):
            arrays = [None] * len(tensors)
            for i, a in zip(present, flat):
                arrays[i] = a
            return arrays

        def forward(*flat):
            arrays = arrays_of(flat)
            plan = self._plan(arrays, options)
            views = host_views(op, plan, arrays)
            if op.check_values is not None and plan.rows:
                op.check_values(views, plan)
            out = np.empty(plan.rows, views[op.primary].dtype)
            if plan.rows:
                kernels.rows(*views, out_loss=out, **plan.kernel_options)
            return out.reshape(plan.lead)

        def backward(*flat):
            arrays, upstream = arrays_of(flat[:-1]), flat[-1]
            plan = self._plan(arrays, options)
            views = host_views(op, plan, arrays)
            primary = views[op.primary]
            grad = np.empty(primary.shape, primary.dtype)
            if plan.rows:
                kernels.rows(*views, out_grad=grad, grad_scale=np.asarray(upstream, np.float64).reshape(-1),
                             **plan.kernel_options)
            x = arrays[op.primary]
            grad = grad.reshape(moved_shape(x.shape, plan.axis))
            return (grad if plan.axis is None else np.moveaxis(grad, -1, plan.axis)).astype(x.dtype, copy=False)

        differentiable = [i for i, _ in op.grads if tensors[i] is not None]
        inputs = [tensors[i] for i in present]

        @tf.custom_gradient
        def rows_op(*xs):
            rows = tf.numpy_function(forward, inputs, work, stateful=False)
            lead = tensors[op.primary].shape.as_list()
            del lead[-1 if static.axis is None else static.axis]
            rows.set_shape(lead)

            def grad_fn(upstream):
                g = tf.numpy_function(backward, [*inputs, upstream], tensors[op.primary].dtype, stateful=False)
                g.set_shape(tensors[op.primary].shape)
                signs = dict(op.grads)
                return [g if signs[i] > 0 else -g for i in differentiable]

            return rows, grad_fn

        return rows_op(*[tensors[i] for i in differentiable])

    def __call__(self, tensors, options: dict, *, reduction: str) -> tf.Tensor:
        check_choice("reduction", reduction, REDUCTIONS)
        tensors = [None if t is None else tf.convert_to_tensor(t) for t in tensors]
        rows = self.rows(tensors, options)
        return tf.cast(reduce_rows(rows, reduction), tensors[self.op.primary].dtype)


def reduce_rows(rows: tf.Tensor, reduction: str) -> tf.Tensor:
    """Reduce per-row losses (compute dtype) over all rows, summed in float64."""
    if reduction == "none":
        return rows
    total = tf.reduce_sum(tf.cast(rows, tf.float64))
    if reduction == "mean":
        total = total / tf.cast(tf.size(rows), tf.float64)
    return tf.cast(total, rows.dtype)


def register(op: RowOp, composite: Callable) -> RowLoss:
    """Register ``op`` for TensorFlow with ``composite`` as its XLA form. ``reduction="mean"``
    divides by the number of rows: an op with another denominator needs it added here first."""
    if op.denominator is not None:
        raise NotImplementedError(f"{op.name}: the TensorFlow adapter has no weighted mean yet")
    return RowLoss(op, composite)
