"""Numba CPU kernels for range-wise MAE: one pass per row, forward and fused forward+backward.

Each row is handled by one thread, left to right: the end of the current range is found by a
block scan (16 equality tests at a time, which vectorise), then one loop over the range adds
``|t - p|`` (float64 accumulator) and, in the fused kernel, writes the gradient
``-sign(t - p) / |r|``. Rows are independent, so the serial and the row-parallel drivers give
bitwise identical results.

All functions take 2-D ``(rows, L)`` arrays and write into caller-provided outputs.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from numba.cpython.unsafe.numbers import trailing_zeros

from ..._numba import FASTMATH, cache_enabled, run_rows
from ..._simd import LANES, ne_mask, splat_store

_CACHE = cache_enabled(__file__)
_jit = njit(cache=_CACHE, nogil=True, fastmath=FASTMATH)


@_jit
def _range_end(t, j, n):
    """First index after the maximal run of values equal to ``t[j]`` (a NaN run has length 1)."""
    v = t[j]
    k = j + 1
    if t.strides[0] == t.itemsize:
        while k + LANES <= n:
            differs = ne_mask(t, k, v)
            if differs:
                return k + trailing_zeros(differs)
            k += LANES
    while k < n and t[k] == v:
        k += 1
    return k


@_jit
def _abs_sum(t, p):
    s = 0.0
    for q in range(t.shape[0]):
        s += np.float64(abs(t[q] - p[q]))
    return s


@_jit
def _fill(g, j, k, w):
    """``g[j:k] = w``; whole 16-lane stores while they fit in ``g`` (lanes past ``k`` are
    overwritten by the next range or the zero fill past the row length)."""
    contiguous = g.strides[0] == g.itemsize
    while j < k:
        if contiguous and j + LANES <= g.shape[0]:
            splat_store(g, j, w)
            j += LANES
        else:
            g[j] = w
            j += 1


@_jit
def _weighted_abs_sum_write_grad(t, p, g, n, scale):
    """Given ``g[i] = 1/|r(i)|``: return ``sum_i g_i |t_i - p_i|`` and overwrite
    ``g_i = -scale * g_i * sign(t_i - p_i)`` (NaN where the difference is NaN)."""
    s = 0.0
    for q in range(n):
        d = t[q] - p[q]
        a = abs(d)
        w = g[q]
        s += np.float64(w) * np.float64(a)
        g[q] = math.copysign(w * scale, -d) if a > 0 else d
    return s


@_jit
def _finish(loss, n_ranges, mean):
    if mean and n_ranges > 0:
        loss /= n_ranges
    return loss if math.isfinite(loss) else math.nan


@_jit
def _row_loss(t, p, n, mean):
    if n < 0 or n > t.shape[0]:
        return math.nan
    loss = 0.0
    n_ranges = 0
    j = 0
    while j < n:
        k = _range_end(t, j, n)
        loss += _abs_sum(t[j:k], p[j:k]) / (k - j)
        n_ranges += 1
        j = k
    return _finish(loss, n_ranges, mean)


@_jit
def _row_loss_grad(t, p, g, n, mean, scale):
    """Loss of one row; writes ``scale * d loss / d p`` into ``g`` (zeros past ``n``).

    A length outside ``[0, L]`` (which the Python layer rejects first) gives a NaN row."""
    if n < 0 or n > t.shape[0]:
        g[:] = math.nan
        return math.nan
    n_ranges = 0
    j = 0
    while j < n:
        k = _range_end(t, j, n)
        _fill(g, j, k, g.dtype.type(1.0 / (k - j)))
        n_ranges += 1
        j = k
    for q in range(n, g.shape[0]):
        g[q] = 0
    if mean and n_ranges > 0:
        scale = scale / n_ranges
    loss = _weighted_abs_sum_write_grad(t, p, g, n, g.dtype.type(scale))
    return _finish(loss, n_ranges, mean)


@njit(cache=_CACHE, nogil=True)
def _forward_serial(t, p, lengths, mean, out_loss):
    for b in range(t.shape[0]):
        out_loss[b] = _row_loss(t[b], p[b], lengths[b], mean)


@njit(cache=_CACHE, nogil=True, parallel=True)
def _forward_parallel(t, p, lengths, mean, out_loss):
    for b in prange(t.shape[0]):
        out_loss[b] = _row_loss(t[b], p[b], lengths[b], mean)


@njit(cache=_CACHE, nogil=True)
def _forward_backward_serial(t, p, lengths, mean, row_scale, out_loss, out_grad):
    for b in range(t.shape[0]):
        out_loss[b] = _row_loss_grad(t[b], p[b], out_grad[b], lengths[b], mean, row_scale[b])


@njit(cache=_CACHE, nogil=True, parallel=True)
def _forward_backward_parallel(t, p, lengths, mean, row_scale, out_loss, out_grad):
    for b in prange(t.shape[0]):
        out_loss[b] = _row_loss_grad(t[b], p[b], out_grad[b], lengths[b], mean, row_scale[b])


def _lengths(lengths, rows, cols):
    return np.broadcast_to(np.int64(cols), (rows,)) if lengths is None else lengths


def forward(y_true, y_pred, *, lengths, mean_over_ranges: bool, out_loss) -> None:
    """Per-row loss of ``(rows, L)`` arrays into ``out_loss`` ``(rows,)``."""
    rows, cols = y_pred.shape
    run_rows(_forward_serial, _forward_parallel, y_pred.size,
             y_true, y_pred, _lengths(lengths, rows, cols), mean_over_ranges, out_loss)


def forward_backward(y_true, y_pred, *, lengths, mean_over_ranges: bool, grad_scale,
                     out_loss, out_grad) -> None:
    """Per-row loss into ``out_loss`` and ``grad_scale[b] * d loss[b] / d y_pred[b]`` into ``out_grad``.

    ``grad_scale`` is a scalar or a ``(rows,)`` array (the upstream gradient of each row).
    """
    rows, cols = y_pred.shape
    row_scale = np.broadcast_to(np.asarray(grad_scale, dtype=np.float64), (rows,))
    run_rows(_forward_backward_serial, _forward_backward_parallel, y_pred.size,
             y_true, y_pred, _lengths(lengths, rows, cols), mean_over_ranges, row_scale,
             out_loss, out_grad)


def backward(y_true, y_pred, *, lengths, mean_over_ranges: bool, grad_loss, out_grad) -> None:
    """``grad_loss[b] * d loss[b] / d y_pred[b]`` into ``out_grad``, recomputing the ranges."""
    forward_backward(y_true, y_pred, lengths=lengths, mean_over_ranges=mean_over_ranges,
                     grad_scale=grad_loss, out_loss=np.empty(y_pred.shape[0], y_pred.dtype),
                     out_grad=out_grad)
