"""range_mae's CUDA C++ kernels (``kernels/range_mae.cu``) through CuPy: ``backend="native"``.

Loading, zero-copy views and streams are ``fastseg._native``'s: the fatbin built by
``CMakeLists.txt`` when one is found, else NVRTC from the shipped ``.cu``.
"""

from __future__ import annotations

import cupy
import numpy as np

from ..._native import Call

OP = "range_mae"
FUSED_KERNEL = "fused"
"""The fused kernel schedule ``forward_backward`` launches: ``"fused"`` (tiles loaded in batches)
or ``"fused_unbatched"`` (one tile at a time); ``bench/gpu_check.py`` times both."""
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _launch(call, name, y_pred, args):
    rows, length = y_pred.shape
    if length >= (1 << 24 if y_pred.dtype == np.float32 else 1 << 31):
        raise ValueError("the native CUDA kernels take rows shorter than 2**24 elements in "
                         "float32 and 2**31 in float64")
    call.launch(OP, f"{OP}_{name}_{_SUFFIX[y_pred.dtype]}", rows, (*args, np.int64(rows), np.int64(length)))


def forward(y_true, y_pred, *, lengths, mean_over_ranges: bool, out_loss, stream=None) -> None:
    """Per-row loss of ``(rows, L)`` arrays into ``out_loss`` (see ``cpu.forward``)."""
    with Call(stream, y_pred, y_true) as call:
        t, p = call.inp(y_true), call.inp(y_pred)
        n, has_n = call.lengths(lengths)
        _launch(call, "forward", p, (t, p, n, has_n, np.int32(mean_over_ranges), call.out(out_loss)))


def forward_backward(y_true, y_pred, *, lengths, mean_over_ranges: bool, grad_scale, out_loss,
                     out_grad, stream=None) -> None:
    """Per-row loss and ``grad_scale[b] * d loss[b] / d y_pred[b]`` (see ``cpu.forward_backward``)."""
    with Call(stream, y_pred, y_true) as call:
        t, p = call.inp(y_true), call.inp(y_pred)
        n, has_n = call.lengths(lengths)
        scale, row_scale, has_rs = call.scalar_or_rows(grad_scale)
        _launch(call, FUSED_KERNEL, p, (t, p, n, has_n, np.int32(mean_over_ranges), scale, row_scale, has_rs,
                                        call.out(out_loss), call.out(out_grad)))


def backward(y_true, y_pred, *, lengths, mean_over_ranges: bool, grad_loss, out_grad, stream=None) -> None:
    """``grad_loss[b] * d loss[b] / d y_pred[b]`` into ``out_grad``."""
    scratch = np.empty(y_pred.shape[0], y_pred.dtype) if isinstance(y_pred, np.ndarray) else \
        cupy.empty(y_pred.shape[0], y_pred.dtype)
    forward_backward(y_true, y_pred, lengths=lengths, mean_over_ranges=mean_over_ranges,
                     grad_scale=grad_loss, out_loss=scratch, out_grad=out_grad, stream=stream)
