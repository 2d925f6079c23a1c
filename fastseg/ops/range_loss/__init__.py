"""Range losses (MAE, MSE, Huber): validation, dispatch and the public NumPy/CuPy API.

A *range* is a maximal run of exactly equal consecutive ``y_true`` values along the last axis,
or, with ``segments``, of equal consecutive segment ids. For one row with ranges ``r`` and an
element loss ``l`` of ``d = y_true - y_pred`` (``|d|``, ``d**2`` or Huber)::

    loss = sum_r mean_{i in r} l(d_i)          (range_reduction="sum")
    loss = (1/R) sum_r mean_{i in r} l(d_i)    (range_reduction="mean", R ranges)

    d loss / d y_pred_i = -l'(d_i) / |r(i)|    (times 1/R for "mean")
"""

from __future__ import annotations

import numpy as np

from ..._dispatch import check_choice
from .. import _rowop
from .._rowop import Plan, RowOp, real_option, row_count, target_like_prediction
from .reference import LOSSES

RANGE_REDUCTIONS = ("sum", "mean")
REDUCTIONS = _rowop.REDUCTIONS


def make_plan(shapes, dtypes, *, loss: str = "mae", delta=1.0, range_reduction: str = "sum") -> Plan:
    """Validate ``(y_true, y_pred, lengths, segments)`` shapes and dtypes and the options; view
    every array as ``(rows, L)`` (``lengths`` as ``(rows,)`` int64) in the compute dtype; segment
    ids stay int32 or int64 (half the bytes to read for int32 ids), other integers become int64."""
    check_choice("loss", loss, LOSSES)
    check_choice("range_reduction", range_reduction, RANGE_REDUCTIONS)
    delta = real_option("delta", delta)
    if not delta > 0:
        raise ValueError(f"delta must be positive (Huber's threshold); got {delta!r}")
    (true_shape, pred_shape, lengths_shape, seg_shape), (true_dtype, pred_dtype, lengths_dtype, seg_dtype) = \
        shapes, dtypes
    work = target_like_prediction((true_shape, pred_shape), (true_dtype, pred_dtype), "L")
    lead, length = pred_shape[:-1], pred_shape[-1]
    rows = row_count(lead)
    if lengths_shape is not None:
        if lengths_dtype.kind not in "iu":
            raise TypeError(f"lengths must be an integer array; got {lengths_dtype}")
        if lengths_shape != lead:
            raise ValueError(f"lengths must have shape {lead} (one per row of y_pred {pred_shape}); "
                             f"got {lengths_shape}")
    if seg_shape is not None:
        if seg_dtype.kind not in "biu":
            raise TypeError(f"segments must be an integer array of segment ids; got {seg_dtype}")
        if seg_shape != pred_shape:
            raise ValueError(f"segments must have the shape of y_pred {pred_shape}; got {seg_shape}")
    int64 = np.dtype(np.int64)
    return Plan(rows, lead,
                ((rows, length), (rows, length), None if lengths_shape is None else (rows,),
                 None if seg_shape is None else (rows, length)),
                (work, work, None if lengths_shape is None else int64, None if seg_shape is None else
                 (seg_dtype.newbyteorder("=") if seg_dtype.kind == "i" and seg_dtype.itemsize in (4, 8) else int64)),
                (("kind", LOSSES.index(loss)), ("delta", delta), ("mean_over_ranges", range_reduction == "mean")),
                pred_dtype)


def check_lengths(views, plan: Plan) -> None:
    """``ValueError`` unless every length lies in ``[0, L]``."""
    lengths, length = views[2], plan.views[1][1]
    if lengths is not None and lengths.size:
        lo, hi = int(lengths.min()), int(lengths.max())
        if lo < 0 or hi > length:
            raise ValueError(f"lengths must lie in [0, {length}] (the last axis of y_pred); "
                             f"got values in [{lo}, {hi}]")


OP = RowOp("range_loss", ("y_true", "y_pred", "lengths", "segments"), grads=((1, 1.0), (0, -1.0)),
           options=(("loss", str), ("delta", float), ("range_reduction", str)), make_plan=make_plan,
           optional=frozenset({"lengths", "segments"}), check_values=check_lengths)


def range_loss(y_true, y_pred, *, loss: str = "mae", delta: float = 1.0, range_reduction: str = "sum",
               reduction: str = "mean", lengths=None, segments=None, backend: str = "auto"):
    """Range-wise loss: per range the mean of an element loss, per row their sum (or mean).

    Parameters
    ----------
    y_true : array_like, shape (..., L)
        Targets. Integer and bool targets are cast to the dtype of ``y_pred``.
    y_pred : array_like, shape (..., L)
        Predictions, float16/float32/float64 (float16 is computed in float32).
    loss : {"mae", "mse", "huber"}
        The element loss of ``d = y_true - y_pred``: ``|d|``, ``d**2``, or Huber with threshold
        ``delta`` (``0.5 d**2`` for ``|d| <= delta``, else ``delta (|d| - 0.5 delta)``, exactly
        ``torch.nn.functional.huber_loss``).
    delta : float
        Huber's threshold, > 0 (ignored by "mae" and "mse").
    range_reduction : {"sum", "mean"}
        Per row, add the ranges' mean losses or average them over the ranges.
    reduction : {"mean", "sum", "none"}
        Over rows; "none" returns shape ``(...)``.
    lengths : array_like of int, shape (...), optional
        Only the first ``lengths[b]`` positions of row ``b`` count; a row of length 0 has loss 0.
    segments : array_like of int, shape (..., L), optional
        Ranges are maximal runs of equal consecutive segment ids (``y_true`` may vary inside
        one); without it, runs of equal ``y_true``.
    backend : {"auto", "cpu", "cuda", "native", "reference"}
        "auto" picks by where the data lives (overridden by ``$FASTSEG_BACKEND``).

    Returns
    -------
    loss : ndarray
        0-d for "mean"/"sum", ``(...)`` for "none", in the dtype of ``y_pred``. A row holding NaN
        or inf in its valid part has a NaN loss.

    Examples
    --------
    >>> import numpy as np, fastseg
    >>> y_true = np.array([[0., 0., 1., 1., 1.]])
    >>> y_pred = np.array([[0., 1., 1., 1., 0.]])
    >>> float(fastseg.range_loss(y_true, y_pred, loss="mse"))  # 1/2 + 1/3
    0.8333333333333333
    >>> float(fastseg.range_loss(y_true, y_pred, loss="mse", segments=[[0, 0, 0, 0, 0]]))  # one range: 2/5
    0.4
    """
    return _rowop.loss(OP, (y_true, y_pred, lengths, segments),
                       {"loss": loss, "delta": delta, "range_reduction": range_reduction},
                       reduction=reduction, backend=backend)


def range_loss_value_and_grad(y_true, y_pred, *, loss: str = "mae", delta: float = 1.0,
                              range_reduction: str = "sum", reduction: str = "mean", lengths=None, segments=None,
                              backend: str = "auto"):
    """:func:`range_loss` and its gradient with respect to ``y_pred``, computed together (one fused kernel per row).

    Returns
    -------
    loss : ndarray, 0-d
    grad : ndarray, shape of ``y_pred``
        ``-l'(y_true_i - y_pred_i) / |r(i)|`` (times ``1/R`` for ``range_reduction="mean"``,
        ``1/rows`` for ``reduction="mean"``); zero past ``lengths``. ``l'`` at 0 as torch
        defines it (``sign(0) = 0``).
    """
    return _rowop.value_and_grad(OP, (y_true, y_pred, lengths, segments),
                                 {"loss": loss, "delta": delta, "range_reduction": range_reduction},
                                 reduction=reduction, backend=backend)


def range_mse(y_true, y_pred, **options):
    """:func:`range_loss` with ``loss="mse"``: per range the mean squared error."""
    return range_loss(y_true, y_pred, loss="mse", **options)


def range_mse_value_and_grad(y_true, y_pred, **options):
    """:func:`range_loss_value_and_grad` with ``loss="mse"``."""
    return range_loss_value_and_grad(y_true, y_pred, loss="mse", **options)


def range_huber(y_true, y_pred, *, delta: float = 1.0, **options):
    """:func:`range_loss` with ``loss="huber"``: per range the mean Huber loss (threshold ``delta``)."""
    return range_loss(y_true, y_pred, loss="huber", delta=delta, **options)


def range_huber_value_and_grad(y_true, y_pred, *, delta: float = 1.0, **options):
    """:func:`range_loss_value_and_grad` with ``loss="huber"``."""
    return range_loss_value_and_grad(y_true, y_pred, loss="huber", delta=delta, **options)


def range_mae(y_true, y_pred, *, range_reduction: str = "sum", reduction: str = "mean",
              lengths=None, segments=None, backend: str = "auto"):
    """Range-wise mean absolute error: :func:`range_loss` with ``loss="mae"``.

    Parameters
    ----------
    y_true : array_like, shape (..., L)
        Targets; ranges are maximal runs of exactly equal consecutive values along the last
        axis. Integer and bool targets are cast to the dtype of ``y_pred``.
    y_pred : array_like, shape (..., L)
        Predictions, float16/float32/float64 (float16 is computed in float32).
    range_reduction : {"sum", "mean"}
        Per row, add the ranges' MAEs ("sum", the original range-wise MAE definition) or average them
        ("mean").
    reduction : {"mean", "sum", "none"}
        Over rows; "none" returns shape ``(...)``.
    lengths : array_like of int, shape (...), optional
        Only the first ``lengths[b]`` positions of row ``b`` count; a row of length 0 has loss 0.
    segments : array_like of int, shape (..., L), optional
        Ranges from segment ids instead of from ``y_true`` (see :func:`range_loss`).
    backend : {"auto", "cpu", "cuda", "native", "reference"}
        "auto" picks by where the data lives (overridden by ``$FASTSEG_BACKEND``).

    Returns
    -------
    loss : ndarray
        0-d for "mean"/"sum", ``(...)`` for "none", in the dtype of ``y_pred``. A row holding NaN
        or inf has a NaN loss.

    Examples
    --------
    >>> import numpy as np, fastseg
    >>> y_true = np.array([[0., 0., 1., 1., 1.]])
    >>> y_pred = np.array([[0., 1., 1., 1., 0.]])
    >>> float(fastseg.range_mae(y_true, y_pred))  # 1/2 + 1/3
    0.8333333333333333
    """
    return range_loss(y_true, y_pred, loss="mae", range_reduction=range_reduction, reduction=reduction,
                      lengths=lengths, segments=segments, backend=backend)


def range_mae_value_and_grad(y_true, y_pred, *, range_reduction: str = "sum",
                             reduction: str = "mean", lengths=None, segments=None, backend: str = "auto"):
    """Range-wise MAE and its gradient with respect to ``y_pred``, computed together (one fused kernel per row).

    Same arguments as :func:`range_mae`; ``reduction`` must be "mean" or "sum".

    Returns
    -------
    loss : ndarray, 0-d
    grad : ndarray, shape of ``y_pred``
        ``d loss / d y_pred_i = -sign(y_true_i - y_pred_i) / |r(i)|`` (times ``1/R`` for
        ``range_reduction="mean"``, ``1/rows`` for ``reduction="mean"``); zero past ``lengths``.

    Examples
    --------
    Fit a signal with SciPy (``jac=True``: the objective returns the loss and its gradient):

    >>> import numpy as np
    >>> from scipy.optimize import minimize
    >>> y_true = np.repeat([[0.2, 0.9]], 4, axis=1)
    >>> def objective(x):
    ...     loss, grad = range_mae_value_and_grad(y_true, x.reshape(y_true.shape))
    ...     return float(loss), grad.ravel()
    >>> res = minimize(objective, np.full(8, 0.5), jac=True, method="L-BFGS-B")
    >>> bool(res.fun < 0.1)
    True
    """
    return range_loss_value_and_grad(y_true, y_pred, loss="mae", range_reduction=range_reduction,
                                     reduction=reduction, lengths=lengths, segments=segments, backend=backend)
