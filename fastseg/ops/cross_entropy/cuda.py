"""Numba CUDA kernels for softmax cross-entropy (class-index or probability targets): one thread block per row, threads striding over the classes,
fixed-order shared-memory reductions (row max, sum of exponentials, target mass). A label outside
``[0, C)`` that is not ``ignore_index`` gives a NaN row, never an out-of-bounds read.
Same launch conventions as ``fastseg.ops.range_loss.cuda``."""

from __future__ import annotations

import math

import numpy as np

from ..._numba_cuda import BLOCK, Launch, block_reduce, device_constant, scratch_rows  # first: the clear missing-extra error
from numba import cuda, float64

THREADS = BLOCK


@cuda.jit(device=True)
def _softmax_stats(x, i, tid, sh):
    """Row max and ``sum exp(x - max)`` (NaN propagates)."""
    c_count = x.shape[1]
    m = -math.inf
    for c in range(tid, c_count, THREADS):
        v = float64(x[i, c])
        if v > m or v != v:
            m = v
    m = block_reduce(sh, m, tid, True)
    s = 0.0
    for c in range(tid, c_count, THREADS):
        s += math.exp(float64(x[i, c]) - m)
    return m, block_reduce(sh, s, tid, False)


@cuda.jit
def _class_kernel(x, y, w, ignore, eps, scale, row_scale, has_rs, out_loss, out_grad, want_grad):
    i = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    sh = cuda.shared.array(THREADS, float64)
    c_count = x.shape[1]
    label = y[i]
    if label == ignore or label < 0 or label >= c_count:
        bad = label != ignore
        if want_grad:
            for c in range(tid, c_count, THREADS):
                out_grad[i, c] = math.nan if bad else 0.0
        if tid == 0:
            out_loss[i] = math.nan if bad else 0.0
        return
    m, l = _softmax_stats(x, i, tid, sh)
    a = (1.0 - eps) * w[label]
    b = eps / c_count
    spread = 0.0
    w_sum = 0.0
    if b != 0.0:
        for c in range(tid, c_count, THREADS):
            spread += w[c] * (m - float64(x[i, c]))
            w_sum += w[c]
        spread = block_reduce(sh, spread, tid, False)
        w_sum = block_reduce(sh, w_sum, tid, False)
    total_q = a + b * w_sum
    if want_grad:
        gs = scale * (row_scale[i] if has_rs else 1.0)
        for c in range(tid, c_count, THREADS):
            q = b * w[c] + (a if c == label else 0.0)
            out_grad[i, c] = gs * (total_q * math.exp(float64(x[i, c]) - m) / l - q)
    if tid == 0:
        label_term = a * (m - float64(x[i, label])) if a != 0.0 else 0.0  # absent at a == 0 (0 * inf)
        out_loss[i] = total_q * math.log(l) + label_term + b * spread


@cuda.jit
def _prob_kernel(x, t, w, eps, scale, row_scale, has_rs, out_loss, out_grad, want_grad):
    i = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    sh = cuda.shared.array(THREADS, float64)
    c_count = x.shape[1]
    m, l = _softmax_stats(x, i, tid, sh)
    total_q = 0.0
    spread = 0.0
    for c in range(tid, c_count, THREADS):
        q = w[c] * (float64(t[i, c]) * (1.0 - eps) + eps / c_count)
        total_q += q
        spread += q * (m - float64(x[i, c]))
    total_q = block_reduce(sh, total_q, tid, False)
    spread = block_reduce(sh, spread, tid, False)
    if want_grad:
        gs = scale * (row_scale[i] if has_rs else 1.0)
        for c in range(tid, c_count, THREADS):
            q = w[c] * (float64(t[i, c]) * (1.0 - eps) + eps / c_count)
            out_grad[i, c] = gs * (total_q * math.exp(float64(x[i, c]) - m) / l - q)
    if tid == 0:
        out_loss[i] = total_q * math.log(l) + spread


def common_args(launch, x, weight, grad_scale, out_grad):
    c = x.shape[1]
    w = device_constant(f"ones({c})", np.ones(max(c, 1))) if weight is None else launch.view(
        np.ascontiguousarray(weight, np.float64) if isinstance(weight, np.ndarray) else weight)
    if grad_scale is None or (np.ndim(grad_scale) == 0 and not hasattr(grad_scale, "__cuda_array_interface__")):
        scale, row_scale, has_rs = 1.0 if grad_scale is None else float(grad_scale), w, False
    else:
        scale, row_scale, has_rs = 1.0, launch.view(grad_scale), True
    want = out_grad is not None
    grad = launch.view(out_grad, out=True) if want else device_constant(
        f"no grad {x.dtype}", np.zeros((1, 1), x.dtype))
    return w, scale, row_scale, has_rs, grad, want


def rows(logits, target, weight=None, *, ignore_index, label_smoothing, out_loss=None, out_grad=None,
         grad_scale=None, stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) on device (or host) arrays."""
    launch = Launch(stream)
    n = logits.shape[0]
    w, scale, row_scale, has_rs, grad, want = common_args(launch, logits, weight, grad_scale, out_grad)
    x, t = launch.view(logits), launch.view(target)
    loss = scratch_rows(launch, logits) if out_loss is None else launch.view(out_loss, out=True)
    if len(target.shape) == 1:
        _class_kernel[n, THREADS, launch.stream](x, t, w, int(ignore_index), float(label_smoothing), scale,
                                                  row_scale, has_rs, loss, grad, want)
    else:
        _prob_kernel[n, THREADS, launch.stream](x, t, w, float(label_smoothing), scale, row_scale, has_rs,
                                                 loss, grad, want)
    launch.finish()
