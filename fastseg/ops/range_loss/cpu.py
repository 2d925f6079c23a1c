"""Numba CPU kernels for the range losses: one pass per row, forward and fused forward+backward
(which also serves backward, with the upstream gradient as a per-row scale).

Each row is handled by one thread, left to right, 16 elements per step (``fastseg._simd``): a
movemask compare of the range keys (``y_true``, or the segment ids) finds where the current range
ends, a masked vector sum adds ``l(t - p)`` of the elements before it (float64), and the fused
kernel then writes the range's gradient ``-l'(t - p) / |r|`` with 16-lane stores. Rows are
independent, so the serial and the row-parallel drivers give bitwise identical results.

The element loss ``kind`` (0 mae, 1 mse, 2 huber) is a compile-time choice: each row calls a
specialisation compiled with ``kind`` a literal (:func:`_row_loss_of`), in which every
``if kind == ...`` below is pruned.

All functions take 2-D ``(rows, L)`` arrays and write into caller-provided outputs.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import trailing_zeros

from ..._numba import FASTMATH, cache_enabled, per_row, run_rows
from ..._simd import (LANES, masked_huber_sum, masked_mae_sum, masked_mse_sum, ne_mask, store_huber_grad,
                      store_huber_grad_lanes, store_mae_grad, store_mae_grad_lanes, store_mse_grad,
                      store_mse_grad_lanes)
from . import element

_CACHE = cache_enabled(__file__)
_jit = njit(cache=_CACHE, nogil=True, error_model="numpy", fastmath=FASTMATH)


_inline = njit(cache=_CACHE, nogil=True, error_model="numpy", fastmath=FASTMATH, inline="always")
"""For the per-step helpers: inlined in Numba's IR, so no call survives in the 16-lane loop (LLVM
left them as calls: 25% slower)."""

_loss = _inline(element.loss)
_grad = _inline(element.grad)


@_inline
def _masked_sum(t, p, start, count, kind, delta):
    if kind == 0:
        return masked_mae_sum(t, p, start, count, delta)
    if kind == 1:
        return masked_mse_sum(t, p, start, count, delta)
    return masked_huber_sum(t, p, start, count, delta)


@_inline
def _store_grad(t, p, g, start, w, kind, delta):
    if kind == 0:
        store_mae_grad(t, p, g, start, w, delta)
    elif kind == 1:
        store_mse_grad(t, p, g, start, w, delta)
    else:
        store_huber_grad(t, p, g, start, w, delta)


@_inline
def _store_grad_lanes(t, p, g, start, w, lo, hi, kind, delta):
    if kind == 0:
        store_mae_grad_lanes(t, p, g, start, w, delta, lo, hi)
    elif kind == 1:
        store_mse_grad_lanes(t, p, g, start, w, delta, lo, hi)
    else:
        store_huber_grad_lanes(t, p, g, start, w, delta, lo, hi)


@_inline
def _keys_unit_stride(key, b):
    """Whether row ``b`` of the segment ids (if any: ``key`` None means ranges from ``y_true``, a
    compile-time None) is contiguous."""
    if key is None:
        return True
    return _unit_stride(key[b])


@_inline
def _range_end_and_sum(key, b, t, p, j, n, contiguous, kind, delta):
    """:func:`_range_end_of` over row ``b`` of the segment ids, or over ``t`` itself (one load of
    it per step) when ``key`` is None."""
    if key is None:
        return _range_end_of(t, t, p, j, n, contiguous, kind, delta)
    return _range_end_of(key[b], t, p, j, n, contiguous, kind, delta)


@_inline
def _range_end_of(key, t, p, j, n, contiguous, kind, delta):
    """End of the range starting at ``j`` (a maximal run of equal ``key``; a NaN key starts a range
    of one) and its ``sum l(t - p)`` in float64, 16 elements per step: a movemask compare finds
    the end, a masked vector sum adds the elements before it."""
    v = key[j]
    s = _loss(np.float64(t[j] - p[j]), kind, delta)
    k = j + 1
    if v != v:
        return k, s
    if contiguous:
        while k + LANES <= n:
            differs = ne_mask(key, k, v)
            if differs:  # a branch, not a select: keeps k off the compare's dependency chain
                m = np.intp(trailing_zeros(differs))
                return k + m, s + _masked_sum(t, p, k, m, kind, delta)
            s += _masked_sum(t, p, k, LANES, kind, delta)
            k += LANES
    # the row's last partial step stays scalar: a vector step over the row's last 16 elements
    # measured slower here (bench: 65536x64 forward 6.4 ms against 5.4 ms)
    while k < n and key[k] == v:
        s += _loss(np.float64(t[k] - p[k]), kind, delta)
        k += 1
    return k, s


@_inline
def _write_range_grad(t, p, g, j, k, w, contiguous, kind, delta):
    """``g[j:k] = -w * l'(t - p)``; whole 16-lane stores while they fit in the row (lanes past
    ``k`` are overwritten by the next range or by the zero fill past the row length), then one
    blended store of the row's last 16 elements (lanes before ``j`` and from ``k`` on kept)."""
    if contiguous:
        while j < k and j + LANES <= g.shape[0]:
            _store_grad(t, p, g, j, w, kind, delta)
            j += LANES
        if j < k and g.shape[0] >= LANES:
            base = g.shape[0] - LANES
            _store_grad_lanes(t, p, g, base, w, j - base, k - base, kind, delta)
            j = k
    for q in range(j, k):
        g[q] = _grad(t[q] - p[q], w, kind, delta)


@_jit
def _unit_stride(a):
    """Whether a 1-D row is contiguous (the vector intrinsics need it; strided rows go scalar)."""
    return a.strides[0] == a.itemsize


@_jit
def _finish(loss, n_ranges, mean):
    if mean and n_ranges > 0:
        loss /= n_ranges
    # not math.isfinite: under the kernels' fastmath flags LLVM may fold it to True
    return loss if loss == loss and abs(loss) != math.inf else math.nan


@_jit
def _row_loss(key, b, t, p, n, mean, kind, delta):
    if n < 0 or n > t.shape[0]:
        return math.nan
    contiguous = _unit_stride(t) and _unit_stride(p) and _keys_unit_stride(key, b)
    loss = 0.0
    n_ranges = 0
    j = 0
    while j < n:
        k, s = _range_end_and_sum(key, b, t, p, j, n, contiguous, kind, delta)
        loss += s / (k - j)
        n_ranges += 1
        j = k
    return _finish(loss, n_ranges, mean)


@_inline
def _row_loss_grad(key, b, t, p, g, gt, n, mean, scale, want_true, kind, delta):
    """Loss of one row; writes ``scale * d loss / d p`` into ``g`` (zeros past ``n``) and, with
    ``want_true``, its negation (``y_true``'s gradient) into ``gt`` while the row is in L1.

    A length outside ``[0, L]`` (which the Python layer rejects first) gives a NaN row."""
    loss = _row_grad(key, b, t, p, g, n, mean, scale, kind, delta)
    if want_true:
        for q in range(g.shape[0]):
            gt[q] = -g[q]
    return loss


@_jit
def _row_grad(key, b, t, p, g, n, mean, scale, kind, delta):
    if n < 0 or n > t.shape[0]:
        g[:] = math.nan
        return math.nan
    contiguous = _unit_stride(t) and _unit_stride(p) and _unit_stride(g) and _keys_unit_stride(key, b)
    loss = 0.0
    n_ranges = 0
    j = 0
    while j < n:
        k, s = _range_end_and_sum(key, b, t, p, j, n, contiguous, kind, delta)
        _write_range_grad(t, p, g, j, k, g.dtype.type(scale / (k - j)), contiguous, kind, delta)
        loss += s / (k - j)
        n_ranges += 1
        j = k
    for q in range(n, g.shape[0]):
        g[q] = 0
    if mean and n_ranges > 1:
        inv = g.dtype.type(1.0 / n_ranges)
        for q in range(n):
            g[q] *= inv
    return _finish(loss, n_ranges, mean)


@_inline
def _row_loss_of(key, b, t, p, n, mean, kind, delta):
    """:func:`_row_loss` with the runtime ``kind`` turned into a literal: each call below compiles
    a specialisation with that element loss only (no ``numba.literally`` at the Python boundary,
    which would cost a type-inference retry on every call)."""
    if kind == 0:
        return _row_loss(key, b, t, p, n, mean, 0, delta)
    if kind == 1:
        return _row_loss(key, b, t, p, n, mean, 1, delta)
    return _row_loss(key, b, t, p, n, mean, 2, delta)


@_inline
def _row_loss_grad_of(key, b, t, p, g, gt, n, mean, scale, want_true, kind, delta):
    """:func:`_row_loss_grad` with ``kind`` as a literal (see :func:`_row_loss_of`)."""
    if kind == 0:
        return _row_loss_grad(key, b, t, p, g, gt, n, mean, scale, want_true, 0, delta)
    if kind == 1:
        return _row_loss_grad(key, b, t, p, g, gt, n, mean, scale, want_true, 1, delta)
    return _row_loss_grad(key, b, t, p, g, gt, n, mean, scale, want_true, 2, delta)


@njit(cache=_CACHE, nogil=True, error_model="numpy")
def _forward_serial(key, t, p, lengths, mean, out_loss, kind, delta):
    for b in range(t.shape[0]):
        out_loss[b] = _row_loss_of(key, b, t[b], p[b], lengths[b], mean, kind, delta)


@njit(cache=_CACHE, nogil=True, error_model="numpy", parallel=True)
def _forward_parallel(key, t, p, lengths, mean, out_loss, kind, delta):
    for b in prange(t.shape[0]):
        out_loss[b] = _row_loss_of(key, b, t[b], p[b], lengths[b], mean, kind, delta)


@njit(cache=_CACHE, nogil=True, error_model="numpy")
def _fused_serial(key, t, p, lengths, mean, row_scale, out_loss, out_grad, out_true, want_true, kind, delta):
    for b in range(t.shape[0]):
        out_loss[b] = _row_loss_grad_of(key, b, t[b], p[b], out_grad[b], out_true[b], lengths[b], mean,
                                        row_scale[b], want_true, kind, delta)


@njit(cache=_CACHE, nogil=True, error_model="numpy", parallel=True)
def _fused_parallel(key, t, p, lengths, mean, row_scale, out_loss, out_grad, out_true, want_true, kind, delta):
    for b in prange(t.shape[0]):
        out_loss[b] = _row_loss_grad_of(key, b, t[b], p[b], out_grad[b], out_true[b], lengths[b], mean,
                                        row_scale[b], want_true, kind, delta)


def rows(y_true, y_pred, lengths=None, segments=None, *, kind: int = 0, delta: float = 1.0,
         mean_over_ranges: bool, out_loss=None, out_grad=None, out_grad_true=None, grad_scale=None,
         stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) on ``(rows, L)`` host arrays.

    Forward kernel without ``out_grad``; otherwise the fused kernel, which writes
    ``grad_scale[b] * d loss[b] / d y_pred[b]`` (and its negation into ``out_grad_true``) in the
    row's one pass, and the loss into ``out_loss`` (an O(rows) scratch when not wanted). Ranges
    are runs of equal ``segments`` when given, else of equal ``y_true``.
    """
    n_rows, cols = y_pred.shape
    lengths = per_row(cols, n_rows, np.int64) if lengths is None else lengths
    key = segments  # None: ranges from y_true (a compile-time None in the kernels)
    kind, delta = int(kind), float(delta)
    if out_grad is None:
        run_rows(_forward_serial, _forward_parallel, y_pred.size, key, y_true, y_pred, lengths,
                 mean_over_ranges, out_loss, kind, delta)
        return
    row_scale = per_row(grad_scale, n_rows, np.float64)
    if out_loss is None:
        out_loss = np.empty(n_rows, y_pred.dtype)
    want_true = out_grad_true is not None
    out_true = out_grad_true if want_true else np.empty((n_rows, 0), y_pred.dtype)
    run_rows(_fused_serial, _fused_parallel, y_pred.size, key, y_true, y_pred, lengths, mean_over_ranges,
             row_scale, out_loss, out_grad, out_true, want_true, kind, delta)
