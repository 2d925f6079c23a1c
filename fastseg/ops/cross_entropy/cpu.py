"""Numba CPU kernels for softmax cross-entropy (torch parity): one row per thread, the row read from
memory once (its max, then ``exp`` into the gradient buffer and the sum, then the gradient from
that buffer while it is in L1). Every logit the loss needs is read before the ``exp`` pass writes
the gradient buffer, so ``out_grad`` may be ``logits`` itself (``linear_cross_entropy``'s chunks
become their gradient in place).

Every row is ``-sum_c q_c log softmax(x)_c`` for target weights ``q`` given by the target kind;
the loss is accumulated as ``Q log(l) + sum_c q_c (m - x_c)`` (``m`` the row max, ``l`` the sum
of ``exp(x - m)``, ``Q = sum q``): no cancellation for confident or huge (1e4) logits.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..._exp import fast_exp

from ..._numba import FASTMATH, cache_enabled, per_row, run_rows

_CACHE = cache_enabled(__file__)
_jit = njit(cache=_CACHE, nogil=True, error_model="numpy", fastmath=FASTMATH)


@njit(cache=_CACHE, nogil=True, error_model="numpy", fastmath=FASTMATH | {"nnan"})
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
    a = (1.0 - eps) * w[y]
    b = eps / c_count
    spread = 0.0
    w_sum = 0.0
    if b != 0.0:
        for c in range(c_count):
            spread += w[c] * (m - x[c])
            w_sum += w[c]
    total_q = a + b * w_sum
    # a == 0 (label_smoothing=1): the label's own term is absent, even at a -inf logit (0 * inf)
    label_term = a * (m - x[y]) if a != 0.0 else 0.0
    # every logit the loss needs is read above, before the exp pass writes g: g may be x itself
    l = _exp_sum(x, m, g, want_grad)
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
    return total_q * log_l + label_term + b * spread


@_jit
def _prob_row(x, t, g, w, eps, gscale, want_grad):
    """Probability target ``t``: ``q_c = w_c (t_c (1 - eps) + eps / C)``."""
    c_count = x.shape[0]
    if c_count == 0:  # nothing to normalise over (the Python layer rejects it first)
        return math.nan
    m = _max(x)
    total_q = 0.0
    spread = 0.0
    for c in range(c_count):
        q = w[c] * (t[c] * (1.0 - eps) + eps / c_count)
        total_q += q
        spread += q * (m - x[c])
    l = _exp_sum(x, m, g, want_grad)  # after every read of x: g may be x itself
    if want_grad:
        ratio = gscale * total_q / l
        for c in range(c_count):
            q = w[c] * (t[c] * (1.0 - eps) + eps / c_count)
            g[c] = g.dtype.type(ratio * g[c] - gscale * q)
    return total_q * math.log(l) + spread


@njit(cache=_CACHE, nogil=True, error_model="numpy")
def _class_serial(x, y, w, ignore, eps, scale, out_loss, out_grad, want_grad):
    for i in range(x.shape[0]):
        out_loss[i] = _class_dispatch(x[i], y[i], out_grad[i], w, ignore, eps, scale[i], want_grad)


@njit(cache=_CACHE, nogil=True, error_model="numpy", parallel=True)
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


@njit(cache=_CACHE, nogil=True, error_model="numpy")
def _prob_serial(x, t, w, eps, scale, out_loss, out_grad, want_grad):
    for i in range(x.shape[0]):
        out_loss[i] = _prob_row(x[i], t[i], out_grad[i], w, eps, scale[i], want_grad)


@njit(cache=_CACHE, nogil=True, error_model="numpy", parallel=True)
def _prob_parallel(x, t, w, eps, scale, out_loss, out_grad, want_grad):
    for i in prange(x.shape[0]):
        out_loss[i] = _prob_row(x[i], t[i], out_grad[i], w, eps, scale[i], want_grad)


def prepare_outputs(x, out_loss, out_grad, grad_scale):
    """Scratch ``out_loss`` where not wanted, an empty grad buffer and the per-row scales."""
    n = x.shape[0]
    loss = np.empty(n, x.dtype) if out_loss is None else out_loss
    grad = np.empty((n, 0), x.dtype) if out_grad is None else out_grad
    scale = per_row(1.0 if grad_scale is None else grad_scale, n, np.float64)
    return loss, grad, scale, out_grad is not None


def rows(logits, target, weight=None, *, ignore_index, label_smoothing, out_loss=None, out_grad=None,
         grad_scale=None, stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``): per-row ``cross_entropy`` of ``logits (N, C)``
    and, with ``out_grad``, ``grad_scale[i] * d loss_i / d logits_i``, one pass per row.
    ``target``: int64 ``(N,)`` or probabilities ``(N, C)``."""
    c = logits.shape[1]
    w = np.ones(max(c, 1)) if weight is None else weight
    loss, g, scale, want = prepare_outputs(logits, out_loss, out_grad, grad_scale)
    if target.ndim == 1:
        run_rows(_class_serial, _class_parallel, logits.size, logits, target, w, int(ignore_index),
                 float(label_smoothing), scale, loss, g, want)
    else:
        run_rows(_prob_serial, _prob_parallel, logits.size, logits, target, w, float(label_smoothing),
                 scale, loss, g, want)
