"""Numba CPU kernel of ``linear_cross_entropy``: a chunk's logits become their gradient in place.

``fastseg.ops.cross_entropy.cpu`` reads a row's logits again after it has written ``exp`` terms
into the gradient buffer (the label-smoothing spread and ``x[y]`` of the loss), so its
``out_grad`` must not alias ``logits``. Here every logit term the loss needs is read *before*
the ``exp`` pass overwrites the row, so the chunk buffer ``z`` that holds the logits receives
``grad_scale[i] * d loss_i / d z_i``: one buffer of ``rows x V`` per chunk, never two.

Per row, with target weights ``q`` exactly as ``cross_entropy`` defines them (class index ``y``:
``q_c = (1 - eps) w_y [c == y] + eps w_c / V``; probabilities ``t``: ``q_c = w_c (t_c (1 - eps)
+ eps / V)``), ``m`` the row max and ``l = sum_c exp(z_c - m)``::

    loss = Q log l + sum_c q_c (m - z_c)          grad_c = Q exp(z_c - m) / l - q_c,   Q = sum_c q_c
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..._numba import FASTMATH, cache_enabled, run_rows
from ..cross_entropy.cpu import _exp_sum, _max

_CACHE = cache_enabled(__file__)
_jit = njit(cache=_CACHE, nogil=True, fastmath=FASTMATH)


@_jit
def _class_row(z, y, w, eps, gscale, want_grad):
    c_count = z.shape[0]
    m = _max(z)
    a = (1.0 - eps) * w[y]
    b = eps / c_count
    spread = 0.0
    w_sum = 0.0
    if b != 0.0:
        for c in range(c_count):
            spread += w[c] * (m - z[c])
            w_sum += w[c]
    total_q = a + b * w_sum
    zy = z[y]
    l = _exp_sum(z, m, z, want_grad)  # z[c] <- exp(z[c] - m), each read before its write
    if want_grad:
        ratio = z.dtype.type(gscale * total_q / l)
        if b == 0.0:
            for c in range(c_count):
                z[c] *= ratio
        else:
            gb = gscale * b
            for c in range(c_count):
                z[c] = ratio * z[c] - z.dtype.type(gb * w[c])
        z[y] -= z.dtype.type(gscale * a)
    return total_q * math.log(l) + a * (m - zy) + b * spread


@_jit
def _class_dispatch(z, y, w, ignore, eps, gscale, want_grad):
    if y == ignore:
        if want_grad:
            z[:] = 0
        return 0.0
    if y < 0 or y >= z.shape[0]:
        if want_grad:
            z[:] = math.nan
        return math.nan
    return _class_row(z, y, w, eps, gscale, want_grad)


@_jit
def _prob_row(z, t, w, eps, gscale, want_grad):
    c_count = z.shape[0]
    m = _max(z)
    total_q = 0.0
    spread = 0.0
    for c in range(c_count):
        q = w[c] * (t[c] * (1.0 - eps) + eps / c_count)
        total_q += q
        spread += q * (m - z[c])
    l = _exp_sum(z, m, z, want_grad)
    if want_grad:
        ratio = gscale * total_q / l
        for c in range(c_count):
            q = w[c] * (t[c] * (1.0 - eps) + eps / c_count)
            z[c] = z.dtype.type(ratio * z[c] - gscale * q)
    return total_q * math.log(l) + spread


@njit(cache=_CACHE, nogil=True)
def _class_serial(z, y, w, ignore, eps, scale, out_loss, want_grad):
    for i in range(z.shape[0]):
        out_loss[i] = _class_dispatch(z[i], y[i], w, ignore, eps, scale[i], want_grad)


@njit(cache=_CACHE, nogil=True, parallel=True)
def _class_parallel(z, y, w, ignore, eps, scale, out_loss, want_grad):
    for i in prange(z.shape[0]):
        out_loss[i] = _class_dispatch(z[i], y[i], w, ignore, eps, scale[i], want_grad)


@njit(cache=_CACHE, nogil=True)
def _prob_serial(z, t, w, eps, scale, out_loss, want_grad):
    for i in range(z.shape[0]):
        out_loss[i] = _prob_row(z[i], t[i], w, eps, scale[i], want_grad)


@njit(cache=_CACHE, nogil=True, parallel=True)
def _prob_parallel(z, t, w, eps, scale, out_loss, want_grad):
    for i in prange(z.shape[0]):
        out_loss[i] = _prob_row(z[i], t[i], w, eps, scale[i], want_grad)


def rows_inplace(z: np.ndarray, target: np.ndarray, weight: np.ndarray | None, *, ignore_index: int,
                 label_smoothing: float, out_loss: np.ndarray, grad_scale, want_grad: bool) -> None:
    """Per-row cross-entropy of the logits ``z (n, V)`` into ``out_loss (n,)``; with ``want_grad``
    ``z`` is overwritten by ``grad_scale[i] * d loss_i / d z_i`` (``grad_scale`` a float or
    ``(n,)``). ``target``: int64 ``(n,)`` class indices or ``(n, V)`` probabilities in ``z``'s
    dtype; ``weight``: float64 ``(V,)`` or None."""
    n, v = z.shape
    w = np.ones(max(v, 1)) if weight is None else weight
    scale = np.broadcast_to(np.asarray(1.0 if grad_scale is None else grad_scale, dtype=np.float64), (n,))
    if target.ndim == 1:
        run_rows(_class_serial, _class_parallel, z.size, z, target, w, int(ignore_index), float(label_smoothing),
                 scale, out_loss, bool(want_grad))
    else:
        run_rows(_prob_serial, _prob_parallel, z.size, z, target, w, float(label_smoothing), scale, out_loss,
                 bool(want_grad))
