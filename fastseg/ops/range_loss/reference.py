"""NumPy reference for the range losses (MAE, MSE, Huber): the specification every backend is
tested against.

Clarity over speed: ranges are found with NumPy on the flattened valid positions, sums are
``np.add.reduceat`` in the input dtype (so a float32 reference shows what plain float32
arithmetic gives).
"""

from __future__ import annotations

import numpy as np

from .._rowop import write_outputs

LOSSES = ("mae", "mse", "huber")
"""Element losses, in kernel order (the kernels' ``kind``)."""


def element_loss(d, kind: int, delta: float):
    """``l(d)`` for ``d = y_true - y_pred``: ``|d|``, ``d**2``, or Huber (``torch.nn.functional.huber_loss``:
    ``0.5 d**2`` for ``|d| <= delta``, else ``delta (|d| - 0.5 delta)``)."""
    if kind == 0:
        return np.abs(d)
    if kind == 1:
        return d * d
    a = np.abs(d)
    return np.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta)).astype(d.dtype)


def element_grad(d, kind: int, delta: float):
    """``d l(y_true - y_pred) / d y_pred = -l'(d)``: ``-sign(d)`` (``sign(0) = 0``), ``-2 d``, or
    ``-clip(d, -delta, delta)`` (NaN stays NaN), as torch's ``abs``, ``mse_loss`` and ``huber_loss``."""
    if kind == 0:
        return -np.sign(d)
    if kind == 1:
        return -2 * d
    return -np.where(np.isnan(d), d, np.clip(d, -delta, delta)).astype(d.dtype)


def _ranges(keys: np.ndarray, lengths: np.ndarray):
    """Start offsets, sizes and row of every range (a maximal run of equal consecutive ``keys``),
    over the valid positions laid end to end."""
    rows, cols = keys.shape
    valid = np.arange(cols)[None, :] < lengths[:, None]
    row_of = np.broadcast_to(np.arange(rows)[:, None], (rows, cols))[valid]
    k = keys[valid]
    starts = np.ones(k.shape, dtype=bool)
    same_row = row_of[1:] == row_of[:-1]
    starts[1:] = ~same_row | (k[1:] != k[:-1])
    start_idx = np.flatnonzero(starts)
    sizes = np.diff(np.append(start_idx, k.size))
    return valid, start_idx, sizes, row_of[start_idx]


def row_losses(y_true, y_pred, lengths=None, segments=None, *, loss="mae", delta=1.0, range_reduction="sum",
               need_grad=False):
    """Per-row range loss of 2-D ``(rows, L)`` arrays and, if asked, its gradient.

    Parameters
    ----------
    y_true, y_pred : ndarray, shape (rows, L), same float dtype
    lengths : ndarray of int, shape (rows,), optional
        Only the first ``lengths[b]`` positions of row ``b`` count.
    segments : ndarray of int, shape (rows, L), optional
        Ranges are maximal runs of equal consecutive segment ids; without it, of equal ``y_true``.
    loss : {"mae", "mse", "huber"}
    delta : float
        Huber's threshold.
    range_reduction : {"sum", "mean"}
    need_grad : bool
        Also return ``d loss[b] / d y_pred[b, i]``.

    Returns
    -------
    loss : ndarray, shape (rows,)
        ``sum_r mean_{i in r} l(t_i - p_i)`` (divided by the number of ranges ``R`` for "mean");
        NaN for a row holding NaN or inf.
    grad : ndarray, shape (rows, L), or None
        ``-l'(t_i - p_i) / |r(i)|`` (times ``1/R`` for "mean"); zero past ``lengths``.
    """
    kind = LOSSES.index(loss)
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    rows, cols = y_pred.shape
    lengths = np.full(rows, cols, np.int64) if lengths is None else np.asarray(lengths, np.int64)
    valid, start_idx, sizes, range_row = _ranges(y_true if segments is None else np.asarray(segments), lengths)

    diff = y_true[valid] - y_pred[valid]
    err = element_loss(diff, kind, delta)
    range_mean = (np.add.reduceat(err, start_idx) if err.size else err) / sizes.astype(err.dtype)
    n_ranges = np.bincount(range_row, minlength=rows)
    out = np.zeros(rows, dtype=y_pred.dtype)
    np.add.at(out, range_row, range_mean)
    if range_reduction == "mean":
        out = np.where(n_ranges > 0, out / np.maximum(n_ranges, 1).astype(out.dtype), out)
    # a NaN or inf taking part in a row makes it NaN (docs/design.md), also where l(d) would be finite
    bad = np.zeros(rows, bool)
    np.logical_or.at(bad, np.repeat(range_row, sizes), ~np.isfinite(diff))
    out = np.where(np.isfinite(out) & ~bad, out, np.nan).astype(y_pred.dtype)
    if not need_grad:
        return out, None

    scale = 1.0 / sizes
    if range_reduction == "mean":
        scale = scale / n_ranges[range_row]
    grad = np.zeros_like(y_pred)
    grad[valid] = element_grad(diff, kind, delta) * np.repeat(scale, sizes).astype(y_pred.dtype)
    return out, grad


def rows(y_true, y_pred, lengths=None, segments=None, *, kind: int = 0, delta: float = 1.0,
         mean_over_ranges: bool, out_loss=None, out_grad=None, out_grad_true=None, grad_scale=None,
         stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) over :func:`row_losses`."""
    with np.errstate(all="ignore"):  # NaN and inf are data here (docs/design.md): no warnings
        loss, grad = row_losses(y_true, y_pred, lengths, segments, loss=LOSSES[kind], delta=delta,
                                need_grad=out_grad is not None,
                                range_reduction="mean" if mean_over_ranges else "sum")
        write_outputs(loss, grad, out_loss=out_loss, out_grad=out_grad, grad_scale=grad_scale,
                      out_grad_true=out_grad_true)
