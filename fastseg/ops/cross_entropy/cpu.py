"""Numba CPU kernels for softmax cross-entropy (torch parity) and Keras's probability
cross-entropy: one row per thread, the row read from memory once (its max, then ``exp`` into the
gradient buffer and the sum, then the gradient from that buffer while it is in L1).

Every row is ``-sum_c q_c log softmax(x)_c`` for target weights ``q`` given by the target kind;
the loss is accumulated as ``Q log(l) + sum_c q_c (m - x_c)`` (``m`` the row max, ``l`` the sum
of ``exp(x - m)``, ``Q = sum q``): no cancellation for confident or huge (1e4) logits.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..._exp import fast_exp
from numba.cpython.unsafe.numbers import trailing_zeros

from ..._numba import FASTMATH, cache_enabled, run_rows
from ..._simd import LANES, ne_mask

_CACHE = cache_enabled(__file__)
_jit = njit(cache=_CACHE, nogil=True, fastmath=FASTMATH)


@njit(cache=_CACHE, nogil=True, fastmath=FASTMATH | {"nnan"})
def _max(x):
    """Row max; ``nnan`` lets it vectorise: a NaN logit still makes the exp-sum (so the loss) NaN."""
    m = x[0]
    for c in range(1, x.shape[0]):
        m = x[c] if x[c] > m else m
    return m


@_jit
def _exp_sum(x, m, g, want_grad):
    """``sum exp(x - m)``; writes the terms into ``g`` when ``want_grad``. Summed in the input
    dtype across vector lanes (each term is in (0, 1], the max term is 1: no cancellation)."""
    s = x.dtype.type(0)
    if want_grad:
        for c in range(x.shape[0]):
            e = fast_exp(x[c] - m)
            g[c] = e
            s += e
    else:
        for c in range(x.shape[0]):
            s += fast_exp(x[c] - m)
    return np.float64(s)


@_jit
def _class_row(x, y, g, w, eps, gscale, want_grad):
    """Class-index target ``y`` (already known to be kept and in range): ``q_c = a [c == y] + b w_c``."""
    c_count = x.shape[0]
    m = _max(x)
    l = _exp_sum(x, m, g, want_grad)
    a = (1.0 - eps) * w[y]
    b = eps / c_count
    spread = 0.0
    w_sum = 0.0
    if b != 0.0:
        for c in range(c_count):
            spread += w[c] * (m - x[c])
            w_sum += w[c]
    total_q = a + b * w_sum
    log_l = math.log(l)
    if want_grad:
        ratio = g.dtype.type(gscale * total_q / l)
        if b == 0.0:
            for c in range(c_count):
                g[c] *= ratio
        else:
            gb = gscale * b
            for c in range(c_count):
                g[c] = ratio * g[c] - g.dtype.type(gb * w[c])
        g[y] -= g.dtype.type(gscale * a)
    return total_q * log_l + a * (m - x[y]) + b * spread


@_jit
def _prob_row(x, t, g, w, eps, gscale, want_grad):
    """Probability target ``t``: ``q_c = w_c (t_c (1 - eps) + eps / C)``."""
    c_count = x.shape[0]
    m = _max(x)
    l = _exp_sum(x, m, g, want_grad)
    total_q = 0.0
    spread = 0.0
    for c in range(c_count):
        q = w[c] * (t[c] * (1.0 - eps) + eps / c_count)
        total_q += q
        spread += q * (m - x[c])
    if want_grad:
        ratio = gscale * total_q / l
        for c in range(c_count):
            q = w[c] * (t[c] * (1.0 - eps) + eps / c_count)
            g[c] = g.dtype.type(ratio * g[c] - gscale * q)
    return total_q * math.log(l) + spread


@njit(cache=_CACHE, nogil=True)
def _class_serial(x, y, w, ignore, eps, scale, out_loss, out_grad, want_grad):
    for i in range(x.shape[0]):
        out_loss[i] = _class_dispatch(x[i], y[i], out_grad[i], w, ignore, eps, scale[i], want_grad)


@njit(cache=_CACHE, nogil=True, parallel=True)
def _class_parallel(x, y, w, ignore, eps, scale, out_loss, out_grad, want_grad):
    for i in prange(x.shape[0]):
        out_loss[i] = _class_dispatch(x[i], y[i], out_grad[i], w, ignore, eps, scale[i], want_grad)


@_jit
def _class_dispatch(x, y, g, w, ignore, eps, gscale, want_grad):
    if y == ignore:
        if want_grad:
            g[:] = 0
        return 0.0
    if y < 0 or y >= x.shape[0]:
        if want_grad:
            g[:] = math.nan
        return math.nan
    return _class_row(x, y, g, w, eps, gscale, want_grad)


@njit(cache=_CACHE, nogil=True)
def _prob_serial(x, t, w, eps, scale, out_loss, out_grad, want_grad):
    for i in range(x.shape[0]):
        out_loss[i] = _prob_row(x[i], t[i], out_grad[i], w, eps, scale[i], want_grad)


@njit(cache=_CACHE, nogil=True, parallel=True)
def _prob_parallel(x, t, w, eps, scale, out_loss, out_grad, want_grad):
    for i in prange(x.shape[0]):
        out_loss[i] = _prob_row(x[i], t[i], out_grad[i], w, eps, scale[i], want_grad)


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


@njit(cache=_CACHE, nogil=True)
def _keras_serial(t, p, eps, scale, out_loss, out_grad, want_grad):
    for i in range(p.shape[0]):
        out_loss[i] = _keras_prob_row(t[i], p[i], out_grad[i], eps, scale[i], want_grad)


@njit(cache=_CACHE, nogil=True, parallel=True)
def _keras_parallel(t, p, eps, scale, out_loss, out_grad, want_grad):
    for i in prange(p.shape[0]):
        out_loss[i] = _keras_prob_row(t[i], p[i], out_grad[i], eps, scale[i], want_grad)


def _scales(grad_scale, n):
    return np.broadcast_to(np.asarray(grad_scale, dtype=np.float64), (n,))


def _grad_buffer(x, out_grad):
    return np.empty((x.shape[0], 0), x.dtype) if out_grad is None else out_grad


def cross_entropy(logits, target, *, weight, ignore_index, label_smoothing, grad_scale=1.0,
                  out_loss, out_grad=None) -> None:
    """Per-row ``cross_entropy`` of ``logits (N, C)`` into ``out_loss``; with ``out_grad``, also
    ``grad_scale[i] * d loss_i / d logits_i``. ``target``: int64 ``(N,)`` or probabilities ``(N, C)``."""
    n, c = logits.shape
    w = np.ones(max(c, 1)) if weight is None else weight
    want = out_grad is not None
    g = _grad_buffer(logits, out_grad)
    if target.ndim == 1:
        run_rows(_class_serial, _class_parallel, logits.size, logits, target, w, int(ignore_index),
                 float(label_smoothing), _scales(grad_scale, n), out_loss, g, want)
    else:
        run_rows(_prob_serial, _prob_parallel, logits.size, logits, target, w, float(label_smoothing),
                 _scales(grad_scale, n), out_loss, g, want)


def keras_probabilities(y_true, y_pred, *, label_smoothing, grad_scale=1.0, out_loss, out_grad=None) -> None:
    """Keras ``categorical_crossentropy(from_logits=False)`` per row (see :func:`_keras_prob_row`)."""
    want = out_grad is not None
    run_rows(_keras_serial, _keras_parallel, y_pred.size, y_true, y_pred, float(label_smoothing),
             _scales(grad_scale, y_pred.shape[0]), out_loss, _grad_buffer(y_pred, out_grad), want)
