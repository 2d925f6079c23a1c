"""multiclass_hinge's CUDA C++ kernels (``kernels/multiclass_hinge.cu``) through CuPy:
``backend="native"``. Loading, zero-copy views and streams are ``fastseg._native``'s."""

from __future__ import annotations

import numpy as np

from ..._native import BLOCK_ROW_THREADS, NULL, Call

OP = "multiclass_hinge"
BLOCK_MIN_CLASSES = 4096
"""From this many classes on, a block of threads reduces each row instead of one warp (as
``cross_entropy``'s native kernels)."""
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _run(scores, labels, weight, margin, p, divide, grad_scale, out_loss, out_grad, stream):
    with Call(stream, scores) as call:
        s, y = call.inp(scores), call.inp(labels, np.int64)
        n, c = s.shape
        w, has_w = call.optional(weight, np.float64)
        scale, row_scale, has_rs = call.scalar_or_rows(grad_scale)
        want_grad = out_grad is not None
        grad = call.out(out_grad) if want_grad else NULL
        block = c >= BLOCK_MIN_CLASSES
        call.launch(OP, f"{OP}{'_block' if block else ''}_{_SUFFIX[s.dtype]}", n,
                    (s, y, w, has_w, np.float64(margin), np.int32(p), np.int32(divide), scale, row_scale,
                     has_rs, call.out(out_loss), grad, np.int32(want_grad), np.int64(n), np.int64(c)),
                    block_threads=BLOCK_ROW_THREADS if block else None)


def forward(scores, labels, *, weight, margin, p, divide_by_classes, out_loss, stream=None) -> None:
    """Per-row loss into ``out_loss`` (see ``cpu.forward``)."""
    _run(scores, labels, weight, margin, p, divide_by_classes, 1.0, out_loss, None, stream)


def forward_backward(scores, labels, *, weight, margin, p, divide_by_classes, grad_scale, out_loss,
                     out_grad, stream=None) -> None:
    """Per-row loss and ``grad_scale[i] * d loss_i / d scores_i`` (see ``cpu.forward_backward``)."""
    _run(scores, labels, weight, margin, p, divide_by_classes, grad_scale, out_loss, out_grad, stream)
