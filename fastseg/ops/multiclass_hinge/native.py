"""multiclass_hinge's CUDA C++ kernels (``kernels/multiclass_hinge.cu``) through CuPy:
``backend="native"``. Loading, zero-copy views and streams are ``fastseg._native``'s."""

from __future__ import annotations

import numpy as np

from ... import config
from ..._native import BLOCK_ROW_THREADS, NULL, Call

OP = "multiclass_hinge"
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def rows(scores, labels, weight=None, *, margin, p, divide_by_classes, out_loss=None, out_grad=None,
         grad_scale=None, stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) on device (or host) arrays: a warp per row,
    or a block of threads per row from ``fastseg.config``'s ``row_block_min_classes`` classes on."""
    with Call(stream, scores) as call:
        s, y = call.inp(scores), call.inp(labels, np.int64)
        n, c = s.shape
        w, has_w = call.optional(weight, np.float64)
        scale, row_scale, has_rs = call.scalar_or_rows(grad_scale)
        want_grad = out_grad is not None
        grad = call.out(out_grad) if want_grad else NULL
        block = c >= config.get().row_block_min_classes
        call.launch(OP, f"{OP}{'_block' if block else ''}_{_SUFFIX[s.dtype]}", n,
                    (s, y, w, has_w, np.float64(margin), np.int32(p), np.int32(divide_by_classes), scale,
                     row_scale, has_rs, call.rows_out(out_loss, s), grad, np.int32(want_grad), np.int64(n),
                     np.int64(c)),
                    block_threads=BLOCK_ROW_THREADS if block else None)
