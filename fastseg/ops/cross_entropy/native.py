"""cross_entropy's CUDA C++ kernels (``kernels/cross_entropy.cu``) through CuPy: ``backend="native"``.
Loading, zero-copy views and streams are ``fastseg._native``'s."""

from __future__ import annotations

import numpy as np

from ..._native import BLOCK_ROW_THREADS, NULL, Call

OP = "cross_entropy"
BLOCK_MIN_CLASSES = 4096
"""From this many classes on, a block of threads reduces each row instead of one warp: few wide
rows (a 32k vocabulary) leave most of a GPU idle with a warp each. ``bench/gpu_check.py`` times
both layouts at 1000 and 32000 classes."""
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _launch(call, name, x, args):
    n, c = x.shape
    block = c >= BLOCK_MIN_CLASSES
    call.launch(OP, f"{OP}_{name}{'_block' if block else ''}_{_SUFFIX[x.dtype]}", n,
                (*args, np.int64(n), np.int64(c)), block_threads=BLOCK_ROW_THREADS if block else None)


def _grad(call, out_grad):
    return (NULL, np.int32(0)) if out_grad is None else (call.out(out_grad), np.int32(1))


def cross_entropy(logits, target, *, weight, ignore_index, label_smoothing, grad_scale=1.0, out_loss,
                  out_grad=None, stream=None) -> None:
    """See ``cpu.cross_entropy``; device (or host) arrays."""
    with Call(stream, logits) as call:
        x = call.inp(logits)
        w, has_w = call.optional(weight, np.float64)
        scale, row_scale, has_rs = call.scalar_or_rows(grad_scale)
        grad, want = _grad(call, out_grad)
        if len(target.shape) == 1:
            _launch(call, "class", x, (x, call.inp(target, np.int64), w, has_w, np.int64(ignore_index),
                                       np.float64(label_smoothing), scale, row_scale, has_rs, call.out(out_loss),
                                       grad, want))
        else:
            _launch(call, "prob", x, (x, call.inp(target, x.dtype), w, has_w, np.float64(label_smoothing),
                                      scale, row_scale, has_rs, call.out(out_loss), grad, want))


def keras_probabilities(y_true, y_pred, *, label_smoothing, grad_scale=1.0, out_loss, out_grad=None,
                        stream=None) -> None:
    """See ``cpu.keras_probabilities``; device (or host) arrays."""
    with Call(stream, y_pred) as call:
        p = call.inp(y_pred)
        t = call.inp(y_true, p.dtype)
        scale, row_scale, has_rs = call.scalar_or_rows(grad_scale)
        grad, want = _grad(call, out_grad)
        _launch(call, "keras", p, (t, p, np.float64(label_smoothing), scale, row_scale, has_rs,
                                   call.out(out_loss), grad, want))
