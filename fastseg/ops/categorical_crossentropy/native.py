"""Keras's ``categorical_crossentropy`` through the CUDA C++ kernels of ``kernels/cross_entropy.cu``
(CuPy): ``backend="native"``; logits by cross-entropy's probability kernels."""

from __future__ import annotations

import numpy as np

from ..._native import Call
from ..cross_entropy import native as ce_native


def rows(y_true, y_pred, *, from_logits, label_smoothing, out_loss=None, out_grad=None, grad_scale=None,
         stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) on device (or host) arrays."""
    if from_logits:
        ce_native.rows(y_pred, y_true, None, ignore_index=-100, label_smoothing=label_smoothing,
                       out_loss=out_loss, out_grad=out_grad, grad_scale=grad_scale, stream=stream)
        return
    with Call(stream, y_pred) as call:
        p = call.inp(y_pred)
        t = call.inp(y_true, p.dtype)
        scale, row_scale, has_rs = call.scalar_or_rows(grad_scale)
        grad, want = ce_native.grad_arg(call, out_grad)
        ce_native.launch(call, "keras", p, (t, p, np.float64(label_smoothing), scale, row_scale, has_rs,
                                            call.rows_out(out_loss, p), grad, want))
