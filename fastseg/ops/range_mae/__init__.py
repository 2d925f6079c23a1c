"""Range-wise mean absolute error: validation, dispatch and the public NumPy/CuPy API.

A *range* is a maximal run of exactly equal consecutive ``y_true`` values along the last axis.
For one row with ranges ``r``::

    loss = sum_r mean_{i in r} |y_true_i - y_pred_i|          (range_reduction="sum")
    loss = (1/R) sum_r mean_{i in r} |y_true_i - y_pred_i|    (range_reduction="mean", R ranges)

    d loss / d y_pred_i = -sign(y_true_i - y_pred_i) / |r(i)|  (times 1/R for "mean")
"""

from __future__ import annotations

import numpy as np

from ..._dispatch import check_choice
from .. import _rowop
from .._rowop import Plan, RowOp, float_input, row_count

RANGE_REDUCTIONS = ("sum", "mean")
REDUCTIONS = _rowop.REDUCTIONS


def make_plan(shapes, dtypes, *, range_reduction: str = "sum") -> Plan:
    """Validate ``(y_true, y_pred, lengths)`` shapes and dtypes and ``range_reduction``; view
    every array as ``(rows, L)`` (``lengths`` as ``(rows,)`` int64) in the compute dtype."""
    check_choice("range_reduction", range_reduction, RANGE_REDUCTIONS)
    (true_shape, pred_shape, lengths_shape), (true_dtype, pred_dtype, lengths_dtype) = shapes, dtypes
    work = float_input("y_pred", pred_dtype)
    if true_dtype.kind not in "biuf":
        raise TypeError(f"y_true must be a real numeric or bool array; got {true_dtype}")
    if len(pred_shape) < 1:
        raise ValueError("y_pred must have at least one dimension (..., L); got a scalar")
    if true_shape != pred_shape:
        raise ValueError(f"y_true and y_pred must have the same shape (no broadcasting); got "
                         f"y_true {true_shape} and y_pred {pred_shape}")
    lead, length = pred_shape[:-1], pred_shape[-1]
    rows = row_count(lead)
    if lengths_shape is not None:
        if lengths_dtype.kind not in "iu":
            raise TypeError(f"lengths must be an integer array; got {lengths_dtype}")
        if lengths_shape != lead:
            raise ValueError(f"lengths must have shape {lead} (one per row of y_pred {pred_shape}); "
                             f"got {lengths_shape}")
    return Plan(rows, lead, ((rows, length), (rows, length), None if lengths_shape is None else (rows,)),
                (work, work, None if lengths_shape is None else np.dtype(np.int64)),
                (("mean_over_ranges", range_reduction == "mean"),), pred_dtype)


def check_lengths(views, plan: Plan) -> None:
    """``ValueError`` unless every length lies in ``[0, L]``."""
    lengths, length = views[2], plan.views[1][1]
    if lengths is not None and lengths.size:
        lo, hi = int(lengths.min()), int(lengths.max())
        if lo < 0 or hi > length:
            raise ValueError(f"lengths must lie in [0, {length}] (the last axis of y_pred); "
                             f"got values in [{lo}, {hi}]")


OP = RowOp("range_mae", ("y_true", "y_pred", "lengths"), grads=((1, 1.0), (0, -1.0)),
           options=(("range_reduction", str),), make_plan=make_plan, optional=frozenset({"lengths"}),
           check_values=check_lengths)


def range_mae(y_true, y_pred, *, range_reduction: str = "sum", reduction: str = "mean",
              lengths=None, backend: str = "auto"):
    """Range-wise mean absolute error.

    Parameters
    ----------
    y_true : array_like, shape (..., L)
        Targets; ranges are maximal runs of exactly equal consecutive values along the last
        axis. Integer and bool targets are cast to the dtype of ``y_pred``.
    y_pred : array_like, shape (..., L)
        Predictions, float16/float32/float64 (float16 is computed in float32).
    range_reduction : {"sum", "mean"}
        Per row, add the ranges' MAEs ("sum", the original range-wise MAE definition) or average them
        ("mean", the accepted answer's form).
    reduction : {"mean", "sum", "none"}
        Over rows; "none" returns shape ``(...)``.
    lengths : array_like of int, shape (...), optional
        Only the first ``lengths[b]`` positions of row ``b`` count; a row of length 0 has loss 0.
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
    return _rowop.loss(OP, (y_true, y_pred, lengths), {"range_reduction": range_reduction},
                       reduction=reduction, backend=backend)


def range_mae_value_and_grad(y_true, y_pred, *, range_reduction: str = "sum",
                             reduction: str = "mean", lengths=None, backend: str = "auto"):
    """Range-wise MAE and its gradient with respect to ``y_pred``, in one fused pass per row.

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
    return _rowop.value_and_grad(OP, (y_true, y_pred, lengths), {"range_reduction": range_reduction},
                                 reduction=reduction, backend=backend)
