"""Softmax cross-entropy with PyTorch parity (``cross_entropy``): validation, dispatch and the
NumPy API.

Per row, with target weights ``q`` (from class indices or probabilities, ``weight`` and label
smoothing exactly as ``torch.nn.functional.cross_entropy`` defines them)::

    loss_i = -sum_c q_ic log softmax(x_i)_c        d loss_i / d x_i = (sum_c q_ic) softmax(x_i) - q_i

One pass per row over memory (online max, ``exp`` into the gradient buffer, the gradient from
it while it is in L1); the caller's logits are never written.
"""

from __future__ import annotations

import numpy as np

from .. import _rowop
from .._rowop import Plan, RowOp, class_count, float_input, real_option

REDUCTIONS = _rowop.REDUCTIONS


def make_plan(shapes, dtypes, *, ignore_index=-100, label_smoothing=0.0) -> Plan:
    """Validate ``(logits, target, weight)`` and the options. Class-index targets (integer
    ``(N,)``) are viewed as int64, probability targets (float ``(N, C)``) in the compute dtype."""
    (x_shape, t_shape, w_shape), (x_dtype, t_dtype, w_dtype) = shapes, dtypes
    work = float_input("logits", x_dtype)
    if len(x_shape) != 2:
        raise ValueError(f"logits must have shape (N, C); got {x_shape}")
    class_count("logits", x_shape)
    if t_dtype.kind in "iu":
        if t_shape != x_shape[:1]:
            raise ValueError(f"class-index target must have shape ({x_shape[0]},); got {t_shape}")
        t_cast = np.dtype(np.int64)
    elif t_dtype.kind == "f":
        if t_shape != x_shape:
            raise ValueError(f"probability target must have the shape of logits {x_shape}; got {t_shape}")
        t_cast = work
    else:
        raise TypeError(f"target must be integer class indices or float probabilities; got {t_dtype}")
    if w_shape is not None:
        if w_dtype.kind not in "iuf":
            raise TypeError(f"weight must be a real array; got {w_dtype}")
        if w_shape != x_shape[1:]:
            raise ValueError(f"weight must have shape ({x_shape[1]},), one per class; got {w_shape}")
    if isinstance(ignore_index, (bool, np.bool_)) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"ignore_index must be an integer; got {ignore_index!r}")
    if not -(1 << 63) <= int(ignore_index) < (1 << 63):
        raise ValueError(f"ignore_index must fit in int64; got {ignore_index!r}")
    label_smoothing = real_option("label_smoothing", label_smoothing, 0.0, 1.0)
    n = x_shape[0]
    return Plan(n, (n,), (x_shape, t_shape, w_shape),
                (work, t_cast, None if w_shape is None else np.dtype(np.float64)),
                (("ignore_index", int(ignore_index)), ("label_smoothing", label_smoothing)), x_dtype)


def check_target(views, plan: Plan) -> None:
    """``IndexError`` naming the first class index outside ``[0, C)`` that is not ``ignore_index``."""
    target = views[1]
    if target.ndim == 1:
        check_class_range(target, plan.views[0][1], plan.kernel_options["ignore_index"])


def check_class_range(target, n_classes: int, ignore_index: int) -> None:
    bad = (target != ignore_index) & ((target < 0) | (target >= n_classes))
    if bad.any():
        i = int(np.flatnonzero(np.asarray(bad.get() if hasattr(bad, "get") else bad))[0])
        raise IndexError(f"target[{i}] = {int(target[i])} is not a class index in [0, {n_classes}) "
                         f"nor ignore_index ({ignore_index})")


def mean_denominator(arrays, options: dict):
    """What ``reduction="mean"`` divides by, as torch: ``sum w[y_i]`` over kept rows (their count
    without ``weight``) for class indices; None (the number of rows) for probabilities.

    ``arrays`` are ``(logits, target, weight)`` with integer targets as int64 and the weight as
    float64. Written with operators only, so NumPy, CuPy and torch arrays all work (on the
    device: no synchronisation)."""
    logits, target, weight = arrays
    if target.ndim == 2:
        return None
    keep = target != options.get("ignore_index", -100)
    if weight is None:
        return keep.sum()
    n_classes = logits.shape[-1]
    if not n_classes:
        return keep.sum() * 0.0
    return (weight[(target * keep).clip(0, n_classes - 1)] * keep).sum()


def segment_mean_weights(segment_ids, target, weight, ignore_index: int) -> np.ndarray:
    """Per-row weights of ``reduction="segment_mean"``: ``1 / (S * W_s)`` for a kept row of
    sequence ``s`` (``W_s`` its kept rows' class weights summed, their count without ``weight``; ``S``
    the number of sequences with ``W_s > 0``), 0 for an ignored row. A sequence is a maximal run
    of equal consecutive ``segment_ids``. Probability targets: every row kept, weight 1."""
    n = segment_ids.shape[0]
    keep = np.ones(n, bool) if target.ndim == 2 else target != ignore_index
    w = keep.astype(np.float64)
    if weight is not None and target.ndim == 1:
        w = np.where(keep, weight[np.where(keep, target, 0).clip(0, weight.shape[0] - 1)], 0.0)
    seq = np.cumsum(np.concatenate([[0], segment_ids[1:] != segment_ids[:-1]])) if n else np.zeros(0, int)
    total = np.bincount(seq, weights=w, minlength=int(seq[-1]) + 1 if n else 0)
    counted = int((total > 0).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(w > 0, 1.0 / (counted * total[seq]), 0.0) if n else np.zeros(0)


def check_segment_ids(shape, kind: str, n_rows: int, reduction: str) -> None:
    """``segment_ids`` (its shape and dtype kind, None when absent) goes with ``reduction="segment_mean"``
    and is an integer ``(N,)`` array."""
    if reduction == "segment_mean":
        if shape is None:
            raise ValueError("reduction='segment_mean' needs segment_ids (one sequence id per row)")
    elif shape is not None:
        raise ValueError(f"segment_ids is used by reduction='segment_mean' only; got reduction={reduction!r}")
    if shape is None:
        return
    if kind not in "iu":
        raise TypeError("segment_ids must be an integer array of sequence ids")
    if tuple(shape) != (n_rows,):
        raise ValueError(f"segment_ids must have shape ({n_rows},), one per row of logits; got {tuple(shape)}")


SEGMENT_REDUCTIONS = (*REDUCTIONS, "segment_mean")


OP = RowOp("cross_entropy", ("logits", "target", "weight"), grads=((0, 1.0),),
           options=(("ignore_index", int), ("label_smoothing", float)), make_plan=make_plan,
           optional=frozenset({"weight"}), check_values=check_target, denominator=mean_denominator)


def cross_entropy(logits, target, *, weight=None, ignore_index: int = -100, label_smoothing: float = 0.0,
                  reduction: str = "mean", segment_ids=None, backend: str = "auto"):
    """Softmax cross-entropy from logits, exactly ``torch.nn.functional.cross_entropy``.

    Parameters
    ----------
    logits : array_like, shape (N, C)
    target : array_like
        Class indices, int ``(N,)`` (``ignore_index`` rows count for nothing), or class
        probabilities, float ``(N, C)``.
    weight : array_like, shape (C,), optional
        Per-class weight.
    ignore_index : int
    label_smoothing : float in [0, 1]
    reduction : {"mean", "sum", "none", "segment_mean"}
        "mean" divides by ``sum w[y_i]`` over kept rows for class indices (as torch), by ``N``
        for probabilities. "segment_mean" (packed sequences): the mean over sequences of each
        sequence's mean token loss (its ``sum w[y_i]`` over kept rows as the denominator;
        ``ignore_index`` rows count in neither; sequences with nothing kept are left out).
    segment_ids : array_like of int, shape (N,), optional
        With ``reduction="segment_mean"``: the sequence of each row; consecutive equal ids form
        one sequence.

    Examples
    --------
    >>> import numpy as np, fastseg
    >>> round(float(fastseg.cross_entropy(np.array([[2.0, 0.0, -1.0]]), np.array([0]))), 4)
    0.1698
    """
    options = dict(ignore_index=ignore_index, label_smoothing=label_smoothing)
    return _rowop.loss(OP, (logits, target, weight), options, reduction=reduction, backend=backend,
                       reductions=SEGMENT_REDUCTIONS, row_weights=_segment_weights(segment_ids, logits, reduction,
                                                                                   ignore_index))


def cross_entropy_value_and_grad(logits, target, *, weight=None, ignore_index: int = -100,
                                 label_smoothing: float = 0.0, reduction: str = "mean", segment_ids=None,
                                 backend: str = "auto"):
    """:func:`cross_entropy` and its gradient with respect to ``logits`` in one pass per row.

    Returns
    -------
    loss : ndarray, 0-d
    grad : ndarray, shape (N, C)
    """
    return _rowop.value_and_grad(OP, (logits, target, weight),
                                 dict(ignore_index=ignore_index, label_smoothing=label_smoothing),
                                 reduction=reduction, backend=backend, reductions=SEGMENT_REDUCTIONS,
                                 row_weights=_segment_weights(segment_ids, logits, reduction, ignore_index))


def _segment_weights(segment_ids, logits, reduction: str, ignore_index):
    """The ``row_weights`` of the NumPy API for ``reduction="segment_mean"`` (None otherwise)."""
    ids = None if segment_ids is None else np.asarray(segment_ids)
    check_segment_ids(None if ids is None else ids.shape, None if ids is None else ids.dtype.kind,
                      int(np.shape(logits)[0]) if np.ndim(logits) == 2 else -1, reduction)
    if ids is None:
        return None
    return lambda views: segment_mean_weights(ids.astype(np.int64), views[1], views[2], int(ignore_index))
