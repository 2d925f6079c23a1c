"""Numba CUDA kernels for the multiclass hinge loss: one thread block per row, threads striding
over the classes (coalesced), a fixed-order shared-memory reduction for the loss and for the
correct class's gradient. A label outside ``[0, C)`` gives a NaN row, never an out-of-bounds
read. Same launch conventions as ``fastseg.ops.range_loss.cuda``."""

from __future__ import annotations

import math

import numpy as np

from ..._numba_cuda import BLOCK, Launch, block_reduce, device_constant, scratch_rows  # first: the clear missing-extra error
from numba import cuda, float64

THREADS = BLOCK


@cuda.jit
def _kernel(s, labels, weight, margin, p, divide, scale, row_scale, has_row_scale, out_loss,
            out_grad, want_grad):
    i = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    sh = cuda.shared.array(THREADS, float64)
    c = s.shape[1]
    y = labels[i]
    if y < 0 or y >= c:
        if want_grad:
            for j in range(tid, c, THREADS):
                out_grad[i, j] = math.nan
        if tid == 0:
            out_loss[i] = math.nan
        return
    w = weight[y] / (c if divide else 1)
    gw = w * scale * (row_scale[i] if has_row_scale else 1.0)
    shift = margin - float64(s[i, y])
    loss = 0.0
    total = 0.0
    for j in range(tid, c, THREADS):
        m = float64(s[i, j]) + shift
        hit = m > 0 and j != y
        bad = m != m and j != y  # a NaN score or margin: the row's loss is NaN
        loss += (m if p == 1 else m * m) if hit else (m if bad else 0.0)
        if want_grad:
            d = (1.0 if p == 1 else 2.0 * m) if hit else (m if bad else 0.0)
            out_grad[i, j] = gw * d
            total += d
    loss = block_reduce(sh, loss, tid, False)
    if want_grad:
        total = block_reduce(sh, total, tid, False)
        if tid == 0:
            out_grad[i, y] = -gw * total
    if tid == 0:
        out_loss[i] = w * loss


def _weight_arg(launch, weight, c):
    if weight is not None:
        return launch.view(np.ascontiguousarray(weight, np.float64) if isinstance(weight, np.ndarray) else weight)
    return device_constant(f"ones({c})", np.ones(max(c, 1)))


def rows(scores, labels, weight=None, *, margin, p, divide_by_classes, out_loss=None, out_grad=None,
         grad_scale=None, stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) on device (or host) arrays."""
    launch = Launch(stream)
    n, c = scores.shape
    if grad_scale is None or (np.ndim(grad_scale) == 0 and not hasattr(grad_scale, "__cuda_array_interface__")):
        scale, row_scale, has_rs = 1.0 if grad_scale is None else float(grad_scale), None, False
    else:
        scale, row_scale, has_rs = 1.0, launch.view(grad_scale), True
    w = _weight_arg(launch, weight, c)
    want_grad = out_grad is not None
    grad = launch.view(out_grad, out=True) if want_grad else \
        device_constant(f"no grad {scores.dtype}", np.zeros((1, 1), scores.dtype))
    loss = scratch_rows(launch, scores) if out_loss is None else launch.view(out_loss, out=True)
    _kernel[n, THREADS, launch.stream](
        launch.view(scores), launch.view(labels), w, float(margin), int(p), bool(divide_by_classes), scale,
        w if row_scale is None else row_scale, has_rs, loss, grad, want_grad)
    launch.finish()
