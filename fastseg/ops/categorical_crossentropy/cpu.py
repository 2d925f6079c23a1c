"""Numba CPU kernels for Keras's ``categorical_crossentropy``: probabilities (``from_logits=False``)
by the kernels here, one row per thread; logits by cross-entropy's probability-target kernels.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import trailing_zeros

from ..._numba import FASTMATH, cache_enabled, run_rows
from ..._simd import LANES, ne_mask
from ..cross_entropy import cpu as ce_cpu

_CACHE = cache_enabled(__file__)
_jit = njit(cache=_CACHE, nogil=True, error_model="numpy", fastmath=FASTMATH)

_KERAS_EPS = 1e-7


@_jit
def _keras_terms(t, p, g, total_t, lo, hi, gs, write):
    """Over the non-zero targets only (a 16-lane movemask, then its set bits): ``-sum t log q``
    and the kept target mass; with ``write``, adds ``gs * t_j / p_j`` to ``g[j]`` where kept."""
    loss = 0.0
    kept_t = 0.0
    zero = t.dtype.type(0)
    c = 0
    n = t.shape[0]
    contiguous = t.strides[0] == t.itemsize
    while c < n:
        if contiguous and c + LANES <= n:
            nonzero = ne_mask(t, c, zero)
            width = LANES
        else:
            nonzero = np.uint64(1) if t[c] != zero else np.uint64(0)
            width = 1
        while nonzero:
            j = c + np.intp(trailing_zeros(nonzero))
            q = p[j] / total_t
            loss -= t[j] * math.log(lo if q < lo else (hi if q > hi else q))
            if q >= lo and q <= hi:
                kept_t += t[j]
                if write:
                    g[j] += gs * t[j] / p[j]
            nonzero &= nonzero - np.uint64(1)
        c += width
    return loss, kept_t


@_jit
def _keras_prob_row(t, p, g, eps, gscale, want_grad):
    """Keras ``from_logits=False``: normalise, clip to ``[1e-7, 1 - 1e-7]``, ``-sum t log q``;
    gradient ``-t_j / p_j [kept_j] + sum_{i kept} t_i / sum(p)`` (kept: not clipped).

    Without label smoothing the targets are mostly zero: the gradient is ``sum(kept t) / sum(p)``
    everywhere (one vectorised fill) plus a term at the non-zero targets, found 16 at a time.
    With smoothing every class has a target: one loop over all classes."""
    c_count = p.shape[0]
    total = 0.0
    for c in range(c_count):
        total += p[c]
    # nothing to normalise by: a NaN row (docs/design.md); not math.isfinite, which the kernels'
    # fastmath flags let LLVM fold to True
    if total != total or abs(total) == math.inf or total == 0.0:
        if want_grad:
            g[:] = math.nan
        return math.nan
    dt = p.dtype.type
    total_t, lo, hi = dt(total), dt(_KERAS_EPS), dt(1.0 - _KERAS_EPS)
    zero = dt(0)
    if eps == 0.0:
        loss, kept_t = _keras_terms(t, p, g, total_t, lo, hi, zero, False)
        if want_grad:
            shift = dt(gscale * kept_t / total)
            for c in range(c_count):
                g[c] = shift
            _keras_terms(t, p, g, total_t, lo, hi, dt(-gscale), True)
        return loss
    a, b = dt(1.0 - eps), dt(eps / c_count)
    loss = 0.0
    kept_t = 0.0
    gs = dt(-gscale)
    for c in range(c_count):
        q = p[c] / total_t
        kept = (q >= lo) & (q <= hi)
        tc = t[c] * a + b
        loss -= tc * math.log(lo if q < lo else (hi if q > hi else q))
        if want_grad:
            g[c] = gs * tc / p[c] if kept else zero
            kept_t += tc if kept else zero
    if want_grad:
        shift = dt(gscale * kept_t / total)
        for c in range(c_count):
            g[c] += shift
    return loss


@njit(cache=_CACHE, nogil=True, error_model="numpy")
def _keras_serial(t, p, eps, scale, out_loss, out_grad, want_grad):
    for i in range(p.shape[0]):
        out_loss[i] = _keras_prob_row(t[i], p[i], out_grad[i], eps, scale[i], want_grad)


@njit(cache=_CACHE, nogil=True, error_model="numpy", parallel=True)
def _keras_parallel(t, p, eps, scale, out_loss, out_grad, want_grad):
    for i in prange(p.shape[0]):
        out_loss[i] = _keras_prob_row(t[i], p[i], out_grad[i], eps, scale[i], want_grad)


def rows(y_true, y_pred, *, from_logits, label_smoothing, out_loss=None, out_grad=None, grad_scale=None,
         stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) on ``(N, C)`` host arrays."""
    if from_logits:
        ce_cpu.rows(y_pred, y_true, None, ignore_index=-100, label_smoothing=label_smoothing,
                    out_loss=out_loss, out_grad=out_grad, grad_scale=grad_scale)
        return
    loss, g, scale, want = ce_cpu.prepare_outputs(y_pred, out_loss, out_grad, grad_scale)
    run_rows(_keras_serial, _keras_parallel, y_pred.size, y_true, y_pred, float(label_smoothing),
             scale, loss, g, want)
