"""Numba CUDA kernels for Keras's ``categorical_crossentropy``: probabilities by the kernel here (one
thread block per row, fixed-order reductions), logits by cross-entropy's probability kernels."""

from __future__ import annotations

import math


from ..._numba_cuda import BLOCK, Launch, block_reduce, scratch_rows  # first: the clear missing-extra error
from numba import cuda, float64
from ..cross_entropy import cuda as ce_cuda

THREADS = BLOCK


@cuda.jit
def _keras_kernel(t, p, eps, scale, row_scale, has_rs, out_loss, out_grad, want_grad):
    i = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    sh = cuda.shared.array(THREADS, float64)
    c_count = p.shape[1]
    lo, hi = 1e-7, 1.0 - 1e-7
    total = 0.0
    for c in range(tid, c_count, THREADS):
        total += float64(p[i, c])
    total = block_reduce(sh, total, tid, False)
    if not math.isfinite(total) or total == 0.0:  # nothing to normalise by: a NaN row (docs/design.md)
        if want_grad:
            for c in range(tid, c_count, THREADS):
                out_grad[i, c] = math.nan
        if tid == 0:
            out_loss[i] = math.nan
        return
    loss = 0.0
    kept_t = 0.0
    for c in range(tid, c_count, THREADS):
        tc = float64(t[i, c]) * (1.0 - eps) + eps / c_count
        q = float64(p[i, c]) / total
        if tc != 0.0:
            loss -= tc * math.log(lo if q < lo else (hi if q > hi else q))
        if q >= lo and q <= hi:
            kept_t += tc
    loss = block_reduce(sh, loss, tid, False)
    kept_t = block_reduce(sh, kept_t, tid, False)
    if want_grad:
        gs = scale * (row_scale[i] if has_rs else 1.0)
        for c in range(tid, c_count, THREADS):
            tc = float64(t[i, c]) * (1.0 - eps) + eps / c_count
            pc = float64(p[i, c])
            q = pc / total
            kept = q >= lo and q <= hi
            out_grad[i, c] = gs * ((-tc / pc if kept else 0.0) + kept_t / total)
    if tid == 0:
        out_loss[i] = loss


def rows(y_true, y_pred, *, from_logits, label_smoothing, out_loss=None, out_grad=None, grad_scale=None,
         stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) on device (or host) arrays."""
    if from_logits:
        ce_cuda.rows(y_pred, y_true, None, ignore_index=-100, label_smoothing=label_smoothing,
                     out_loss=out_loss, out_grad=out_grad, grad_scale=grad_scale, stream=stream)
        return
    launch = Launch(stream)
    _, scale, row_scale, has_rs, grad, want = ce_cuda.common_args(launch, y_pred, None, grad_scale, out_grad)
    loss = scratch_rows(launch, y_pred) if out_loss is None else launch.view(out_loss, out=True)
    _keras_kernel[y_pred.shape[0], THREADS, launch.stream](
        launch.view(y_true), launch.view(y_pred), float(label_smoothing), scale, row_scale, has_rs,
        loss, grad, want)
    launch.finish()
