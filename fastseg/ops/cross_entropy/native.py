"""cross_entropy's CUDA C++ kernels (``kernels/cross_entropy.cu``) through CuPy: ``backend="native"``.
Loading, zero-copy views and streams are ``fastseg._native``'s."""

from __future__ import annotations

import numpy as np

from ... import config
from ..._native import BLOCK_ROW_THREADS, NULL, Call

OP = "cross_entropy"
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def launch(call, name, x, args):
    """Kernel ``cross_entropy_<name>[_block]_<dtype>``: a block of threads per row from
    ``fastseg.config``'s ``row_block_min_classes`` classes on (few wide rows leave most of a GPU
    idle with a warp each), else a warp per row."""
    n, c = x.shape
    block = c >= config.get().row_block_min_classes
    call.launch(OP, f"{OP}_{name}{'_block' if block else ''}_{_SUFFIX[x.dtype]}", n,
                (*args, np.int64(n), np.int64(c)), block_threads=BLOCK_ROW_THREADS if block else None)


def grad_arg(call, out_grad):
    return (NULL, np.int32(0)) if out_grad is None else (call.out(out_grad), np.int32(1))


def rows(logits, target, weight=None, *, ignore_index, label_smoothing, out_loss=None, out_grad=None,
         grad_scale=None, stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) on device (or host) arrays."""
    with Call(stream, logits) as call:
        x = call.inp(logits)
        w, has_w = call.optional(weight, np.float64)
        scale, row_scale, has_rs = call.scalar_or_rows(grad_scale)
        grad, want = grad_arg(call, out_grad)
        loss = call.rows_out(out_loss, x)
        if len(target.shape) == 1:
            launch(call, "class", x, (x, call.inp(target, np.int64), w, has_w, np.int64(ignore_index),
                                      np.float64(label_smoothing), scale, row_scale, has_rs, loss, grad, want))
        else:
            launch(call, "prob", x, (x, call.inp(target, x.dtype), w, has_w, np.float64(label_smoothing),
                                     scale, row_scale, has_rs, loss, grad, want))
