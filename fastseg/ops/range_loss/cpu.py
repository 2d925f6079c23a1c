"""Numba CPU kernels for the range losses: forward and fused forward+backward (which also serves
backward, with the upstream gradient as a per-row scale), two passes per row whose cost does not
depend on how many ranges the row has.

A row's loss is ``sum_i l(d_i) / |r(i)|``: each element needs only the length of its range. The
first pass (:func:`fastseg._simd_rows.range_row_starts`) finds, 16 elements per step, where ranges
start (a vector compare of the keys with their neighbours: ``y_true``, or the segment ids) and
counts them; the second (``range_row_<loss>[_grad]``) gives every lane its range's length from
those bitmasks with no per-range branch, sums ``l(d) / len`` and writes ``-scale / len * l'(d)``.
Rows are independent and each is computed by one thread in a fixed order, so the serial and the
row-parallel drivers give bitwise identical results.

The kernels need rows with unit stride: :func:`rows` copies a strided input (and computes a
strided gradient output in a contiguous buffer) first.

The element loss ``kind`` (0 mae, 1 mse, 2 huber) is a compile-time choice: the drivers branch
on it once, outside the row loop, into loops compiled with ``kind`` a literal
(:func:`_forward_rows_of`, :func:`_fused_rows_of`), in which every ``if kind == ...`` is pruned.

All functions take 2-D ``(rows, L)`` arrays and write into caller-provided outputs.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from ..._numba import FASTMATH, cache_enabled, per_row, run_rows
from ..._simd_rows import (LANES, MAX_ROW, range_row_huber, range_row_huber_grad, range_row_mae, range_row_mae_grad,
                           range_row_mse, range_row_mse_grad, range_row_starts)

_CACHE = cache_enabled(__file__)
_inline = njit(cache=_CACHE, nogil=True, error_model="numpy", fastmath=FASTMATH, inline="always")
"""Every function below is inlined into the four drivers: an out-of-line call with array
arguments costs reference counting per row (measured 5x at 65536x64)."""


def _row_or(rows, b, default):
    """Row ``b`` of ``rows`` (the segment ids; the lengths), or ``default`` when ``rows`` is None."""
    return default if rows is None else rows[b]


@overload(_row_or, inline="always", jit_options={"cache": _CACHE})
def _row_or_typed(rows, b, default):
    """The choice at typing time: a None argument is a compile-time None, so ranges from ``y_true``
    read no segment ids, and without ``lengths`` every row's ``n`` is the loop-invariant ``L``
    (measured 20% at 65536x64)."""
    if isinstance(rows, types.NoneType):
        return lambda rows, b, default: default
    return lambda rows, b, default: rows[b]


@_inline
def _row_length(lengths, b, length):
    """Row ``b``'s length clamped to ``[0, L]`` (:func:`rows` makes a row with a bad length NaN
    after the kernel); ``L`` without ``lengths``."""
    return min(max(_row_or(lengths, b, length), 0), length)


@_inline
def _scan_loss(t, p, masks, firsts, n, kind, delta):
    if kind == 0:
        return range_row_mae(t, p, masks, firsts, n, delta)
    if kind == 1:
        return range_row_mse(t, p, masks, firsts, n, delta)
    return range_row_huber(t, p, masks, firsts, n, delta)


@_inline
def _scan_loss_grad(t, p, g, masks, firsts, n, scale, kind, delta):
    if kind == 0:
        return range_row_mae_grad(t, p, g, masks, firsts, n, scale, delta)
    if kind == 1:
        return range_row_mse_grad(t, p, g, masks, firsts, n, scale, delta)
    return range_row_huber_grad(t, p, g, masks, firsts, n, scale, delta)


@_inline
def _row_loss(key, b, t, p, n, mean, masks, firsts, kind, delta):
    """Loss of row ``b`` over its first ``n`` elements (in ``[0, L]``; :func:`rows` makes a row with
    a bad length NaN, and an infinite loss NaN, after the kernel: either check here cost 10-20%
    at 65536x64)."""
    n_ranges = range_row_starts(_row_or(key, b, t), p, masks, firsts, n)
    loss = _scan_loss(t, p, masks, firsts, n, kind, delta)
    return loss / n_ranges if mean and n_ranges > 0 else loss


@_inline
def _row_loss_grad(key, b, t, p, g, n, mean, scale, masks, firsts, kind, delta):
    """:func:`_row_loss`, and ``scale * d loss / d p`` into ``g`` (zeros past ``n``). ``y_true``'s
    gradient and bad rows are left to :func:`rows`: a loop in a branch here (a NaN fill, the
    negation), even untaken, more than doubled the cost of every row at 65536x64."""
    for q in range(n, g.shape[0]):
        g[q] = 0
    n_ranges = range_row_starts(_row_or(key, b, t), p, masks, firsts, n)
    share = n_ranges if mean and n_ranges > 0 else 1  # one call site: two copies of the pass cost 2x
    return _scan_loss_grad(t, p, g, masks, firsts, n, scale / share, kind, delta) / share


@_inline
def _forward_rows(key, t, p, lengths, mean, out_loss, lo, hi, masks, firsts, kind, delta):
    for b in range(lo, hi):
        out_loss[b] = _row_loss(key, b, t[b], p[b], _row_length(lengths, b, t.shape[1]), mean, masks, firsts, kind,
                                delta)


@_inline
def _fused_rows(key, t, p, lengths, mean, row_scale, out_loss, out_grad, lo, hi, masks, firsts, kind, delta):
    for b in range(lo, hi):
        out_loss[b] = _row_loss_grad(key, b, t[b], p[b], out_grad[b], _row_length(lengths, b, t.shape[1]), mean,
                                     row_scale[b], masks, firsts, kind, delta)


@_inline
def _forward_rows_of(key, t, p, lengths, mean, out_loss, lo, hi, kind, delta):
    """Rows ``lo:hi`` with the runtime ``kind`` turned into a literal outside the row loop: each
    branch compiles a loop specialised to one element loss (no ``numba.literally`` at the
    Python boundary, which costs a type-inference retry per call; a dispatch inside the loop
    cost 2.5x at 65536x64)."""
    masks, firsts = _scratch(t.shape[1])
    if kind == 0:
        _forward_rows(key, t, p, lengths, mean, out_loss, lo, hi, masks, firsts, 0, delta)
    elif kind == 1:
        _forward_rows(key, t, p, lengths, mean, out_loss, lo, hi, masks, firsts, 1, delta)
    else:
        _forward_rows(key, t, p, lengths, mean, out_loss, lo, hi, masks, firsts, 2, delta)


@_inline
def _fused_rows_of(key, t, p, lengths, mean, row_scale, out_loss, out_grad, lo, hi, kind, delta):
    """:func:`_fused_rows` with ``kind`` a literal (see :func:`_forward_rows_of`)."""
    masks, firsts = _scratch(t.shape[1])
    if kind == 0:
        _fused_rows(key, t, p, lengths, mean, row_scale, out_loss, out_grad, lo, hi, masks, firsts, 0, delta)
    elif kind == 1:
        _fused_rows(key, t, p, lengths, mean, row_scale, out_loss, out_grad, lo, hi, masks, firsts, 1, delta)
    else:
        _fused_rows(key, t, p, lengths, mean, row_scale, out_loss, out_grad, lo, hi, masks, firsts, 2, delta)


@_inline
def _scratch(length):
    """The first pass's per-block bitmasks and range starts, for rows of ``length``."""
    blocks = (length + LANES - 1) // LANES
    return np.empty(blocks, np.uint64), np.empty(blocks, np.intp)


def _rows_per_task(n_rows: int) -> int:
    """Rows per task (and scratch allocation) in the parallel drivers: up to 64, and at least 8
    tasks per thread when there are enough rows (the split never changes a result). Computed
    here, not in the kernel: ``numba.get_num_threads()`` in a kernel makes it uncacheable."""
    return max(1, min(64, n_rows // (8 * numba.get_num_threads())))


@njit(cache=_CACHE, nogil=True, error_model="numpy", fastmath=FASTMATH)
def _forward_serial(key, t, p, lengths, mean, out_loss, kind, delta, step):
    _forward_rows_of(key, t, p, lengths, mean, out_loss, 0, t.shape[0], kind, delta)


@njit(cache=_CACHE, nogil=True, error_model="numpy", fastmath=FASTMATH, parallel=True)
def _forward_parallel(key, t, p, lengths, mean, out_loss, kind, delta, step):
    n_rows = t.shape[0]
    for task in prange((n_rows + step - 1) // step):
        _forward_rows_of(key, t, p, lengths, mean, out_loss, task * step, min(n_rows, (task + 1) * step), kind,
                         delta)


@njit(cache=_CACHE, nogil=True, error_model="numpy", fastmath=FASTMATH)
def _fused_serial(key, t, p, lengths, mean, row_scale, out_loss, out_grad, kind, delta, step):
    _fused_rows_of(key, t, p, lengths, mean, row_scale, out_loss, out_grad, 0, t.shape[0], kind, delta)


@njit(cache=_CACHE, nogil=True, error_model="numpy", fastmath=FASTMATH, parallel=True)
def _fused_parallel(key, t, p, lengths, mean, row_scale, out_loss, out_grad, kind, delta, step):
    n_rows = t.shape[0]
    for task in prange((n_rows + step - 1) // step):
        _fused_rows_of(key, t, p, lengths, mean, row_scale, out_loss, out_grad, task * step,
                       min(n_rows, (task + 1) * step), kind, delta)


def _has_unit_rows(a) -> bool:
    """Whether ``a`` (2-D) has unit stride along its rows, as the kernels need."""
    return a.shape[1] <= 1 or a.strides[1] == a.itemsize


def _unit_rows(a):
    """``a`` (2-D) as given when it has unit stride along its rows, else a contiguous copy."""
    return a if _has_unit_rows(a) else np.ascontiguousarray(a)


def rows(y_true, y_pred, lengths=None, segments=None, *, kind: int = 0, delta: float = 1.0,
         mean_over_ranges: bool, out_loss=None, out_grad=None, out_grad_true=None, grad_scale=None,
         stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) on ``(rows, L)`` host arrays.

    Forward kernel without ``out_grad``; otherwise the fused kernel, which writes
    ``grad_scale[b] * d loss[b] / d y_pred[b]`` in the row's two passes and the loss into
    ``out_loss`` (an O(rows) scratch when not wanted); ``out_grad_true`` then gets the
    gradient's negation. A row whose length lies outside ``[0, L]`` is NaN, and so is an
    infinite loss. Ranges are runs of equal ``segments`` when given, else of equal ``y_true``.
    """
    n_rows, cols = y_pred.shape
    if cols > MAX_ROW:
        raise ValueError(f"the CPU range kernels take rows of at most {MAX_ROW} elements; got {cols}")
    y_true, y_pred = _unit_rows(y_true), _unit_rows(y_pred)
    key = None if segments is None else _unit_rows(segments)  # None: ranges from y_true (compile-time)
    kind, delta = int(kind), float(delta)
    if out_loss is None:
        out_loss = np.empty(n_rows, y_pred.dtype)
    if out_grad is None:
        run_rows(_forward_serial, _forward_parallel, y_pred.size, key, y_true, y_pred, lengths,
                 mean_over_ranges, out_loss, kind, delta, _rows_per_task(n_rows))
        _nan_rows(out_loss, None, lengths, cols)
        return
    row_scale = per_row(grad_scale, n_rows, np.float64)
    grad = out_grad if _has_unit_rows(out_grad) else np.empty_like(y_pred)
    run_rows(_fused_serial, _fused_parallel, y_pred.size, key, y_true, y_pred, lengths, mean_over_ranges,
             row_scale, out_loss, grad, kind, delta, _rows_per_task(n_rows))
    _nan_rows(out_loss, grad, lengths, cols)
    if grad is not out_grad:
        out_grad[...] = grad
    if out_grad_true is not None:
        np.negative(grad, out=out_grad_true)


def _nan_rows(out_loss, grad, lengths, cols) -> None:
    """NaN for an infinite loss, and for the loss and gradient of a row whose length lies outside
    ``[0, L]`` (the kernels clamp it; the NumPy API rejects such lengths before)."""
    np.copyto(out_loss, np.nan, where=np.isinf(out_loss))
    if lengths is not None and lengths.size and (lengths.min() < 0 or lengths.max() > cols):
        bad = (lengths < 0) | (lengths > cols)
        out_loss[bad] = np.nan
        if grad is not None:
            grad[bad] = np.nan
