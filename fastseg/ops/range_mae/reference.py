"""NumPy reference for range-wise MAE: the specification every backend is tested against.

Clarity over speed: ranges are found with NumPy on the flattened valid positions, sums are
``np.add.reduceat`` in the input dtype (so a float32 reference shows what plain float32
arithmetic gives).
"""

from __future__ import annotations

import numpy as np


def _ranges(y_true: np.ndarray, lengths: np.ndarray):
    """Start offsets, sizes and row of every range, over the valid positions laid end to end."""
    rows, cols = y_true.shape
    valid = np.arange(cols)[None, :] < lengths[:, None]
    row_of = np.broadcast_to(np.arange(rows)[:, None], (rows, cols))[valid]
    t = y_true[valid]
    starts = np.ones(t.shape, dtype=bool)
    same_row = row_of[1:] == row_of[:-1]
    starts[1:] = ~same_row | (t[1:] != t[:-1])
    start_idx = np.flatnonzero(starts)
    sizes = np.diff(np.append(start_idx, t.size))
    return valid, start_idx, sizes, row_of[start_idx]


def row_losses(y_true, y_pred, lengths=None, *, range_reduction="sum", need_grad=False):
    """Per-row range-wise MAE of 2-D ``(rows, L)`` arrays and, if asked, its gradient.

    Parameters
    ----------
    y_true, y_pred : ndarray, shape (rows, L), same float dtype
    lengths : ndarray of int, shape (rows,), optional
        Only the first ``lengths[b]`` positions of row ``b`` count.
    range_reduction : {"sum", "mean"}
    need_grad : bool
        Also return ``d loss[b] / d y_pred[b, i]``.

    Returns
    -------
    loss : ndarray, shape (rows,)
        ``sum_r mean_{i in r} |t_i - p_i|`` (divided by the number of ranges ``R`` for "mean");
        NaN for a row holding NaN or inf.
    grad : ndarray, shape (rows, L), or None
        ``-sign(t_i - p_i) / |r(i)|`` (times ``1/R`` for "mean"); zero past ``lengths``.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    rows, cols = y_pred.shape
    lengths = np.full(rows, cols, np.int64) if lengths is None else np.asarray(lengths, np.int64)
    valid, start_idx, sizes, range_row = _ranges(y_true, lengths)

    diff = y_true[valid] - y_pred[valid]
    abs_err = np.abs(diff)
    range_mean = (np.add.reduceat(abs_err, start_idx) if abs_err.size else abs_err) / sizes.astype(
        abs_err.dtype
    )
    n_ranges = np.bincount(range_row, minlength=rows)
    loss = np.zeros(rows, dtype=y_pred.dtype)
    np.add.at(loss, range_row, range_mean)
    if range_reduction == "mean":
        loss = np.where(n_ranges > 0, loss / np.maximum(n_ranges, 1).astype(loss.dtype), loss)
    loss = np.where(np.isfinite(loss), loss, np.nan).astype(y_pred.dtype)
    if not need_grad:
        return loss, None

    scale = 1.0 / sizes
    if range_reduction == "mean":
        scale = scale / n_ranges[range_row]
    grad = np.zeros_like(y_pred)
    grad[valid] = -np.sign(diff) * np.repeat(scale, sizes).astype(y_pred.dtype)
    return loss, grad


def rows(y_true, y_pred, lengths=None, *, mean_over_ranges: bool, out_loss=None, out_grad=None,
         out_grad_true=None, grad_scale=None, stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) over :func:`row_losses`."""
    with np.errstate(all="ignore"):  # NaN and inf are data here (docs/design.md): no warnings
        loss, grad = row_losses(y_true, y_pred, lengths, need_grad=out_grad is not None,
                                range_reduction="mean" if mean_over_ranges else "sum")
        if out_loss is not None:
            out_loss[...] = loss
        if out_grad is not None:
            out_grad[...] = grad * np.reshape(np.asarray(grad_scale, np.float64), (-1, 1)).astype(grad.dtype)
            if out_grad_true is not None:
                out_grad_true[...] = -out_grad
