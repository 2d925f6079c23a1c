"""Numba CPU kernels for the multiclass hinge loss: one pass per row, the gradient written in the
same flat loop over the classes that adds the margins (vectorised by LLVM).

A label outside ``[0, C)`` (rejected by the Python layer first) gives a NaN row, never an
out-of-bounds read.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..._numba import FASTMATH, cache_enabled, per_row, run_rows

_CACHE = cache_enabled(__file__)
_jit = njit(cache=_CACHE, nogil=True, error_model="numpy", fastmath=FASTMATH)


@_jit
def _row(s, y, g, margin, p, w, gw, want_grad):
    """``w * sum_{j != y} max(0, s_j - s_y + margin)^p``; if ``want_grad``, writes
    ``gw * d/ds`` of the unweighted sum into ``g`` (``gw`` = weight times upstream gradient)."""
    c = s.shape[0]
    if y < 0 or y >= c:
        if want_grad:
            g[:] = math.nan
        return math.nan
    dt = s.dtype.type
    shift = dt(margin) - s[y]  # margins in the scores' dtype, as the reference: full-width vectors
    zero, two, gw_t = dt(0), dt(2), g.dtype.type(gw)
    loss = 0.0
    # a NaN score or margin (m != m) adds NaN: the row's loss is NaN, and so is its gradient there
    if p == 1:  # the gradient is a 0/1 count: summed exactly in integers, off the float64 path
        hits = np.int32(0)
        nans = np.int32(0)
        for j in range(c):
            m = s[j] + shift
            hit = m > zero and j != y
            bad = m != m and j != y
            loss += m if hit or bad else zero
            if want_grad:
                g[j] = gw_t if hit else (m if bad else zero)
                hits += np.int32(hit)
                nans += np.int32(bad)
        total = float(hits) if nans == 0 else math.nan
    else:
        total = 0.0
        for j in range(c):
            m = s[j] + shift
            hit = m > zero and j != y
            bad = m != m and j != y
            loss += m * m if hit or bad else zero
            if want_grad:
                d = two * m if hit else (m if bad else zero)
                g[j] = gw_t * d
                total += d
    if want_grad:
        g[y] = -gw * total
    return w * loss


@_jit
def _class_weight(weight, y, c, divide):
    w = weight[y] if 0 <= y < c else 1.0
    return w / c if divide else w


@njit(cache=_CACHE, nogil=True, error_model="numpy")
def _rows_serial(s, labels, weight, margin, p, divide, row_scale, out_loss, out_grad, want_grad):
    c = s.shape[1]
    for i in range(s.shape[0]):
        w = _class_weight(weight, labels[i], c, divide)
        out_loss[i] = _row(s[i], labels[i], out_grad[i], margin, p, w, w * row_scale[i], want_grad)


@njit(cache=_CACHE, nogil=True, error_model="numpy", parallel=True)
def _rows_parallel(s, labels, weight, margin, p, divide, row_scale, out_loss, out_grad, want_grad):
    c = s.shape[1]
    for i in prange(s.shape[0]):
        w = _class_weight(weight, labels[i], c, divide)
        out_loss[i] = _row(s[i], labels[i], out_grad[i], margin, p, w, w * row_scale[i], want_grad)


def rows(scores, labels, weight=None, *, margin, p, divide_by_classes, out_loss=None, out_grad=None,
         grad_scale=None, stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) on ``scores (N, C)``, int64 ``labels (N,)``:
    one pass per row writes the loss and, with ``out_grad``, ``grad_scale[i] * d loss_i / d s_i``."""
    n, c = scores.shape
    weight = np.ones(max(c, 1)) if weight is None else weight
    want_grad = out_grad is not None
    row_scale = per_row(1.0 if grad_scale is None else grad_scale, n, np.float64)
    out_loss = np.empty(n, scores.dtype) if out_loss is None else out_loss
    out_grad = out_grad if want_grad else np.empty((n, 0), scores.dtype)
    run_rows(_rows_serial, _rows_parallel, scores.size, scores, labels, weight, float(margin),
             int(p), bool(divide_by_classes), row_scale, out_loss, out_grad, want_grad)
