"""range_mae's CUDA C++ kernels (``kernels/range_mae.cu``) through CuPy: ``backend="native"``.

Loading, zero-copy views and streams are ``fastseg._native``'s: the fatbin built by
``CMakeLists.txt`` when one is found, else NVRTC from the shipped ``.cu``.
"""

from __future__ import annotations

import cupy
import numpy as np

from ..._native import Call

OP = "range_mae"
SCHEDULE = "block"
"""Which kernels run. ``"block"``: a block of threads per row (256 threads for rows up to 1024
elements, 1024 up to 4096), each row read once; longer rows as ``"fused"``. ``"fused"``: a warp per
row, tiles loaded in batches. ``"fused_unbatched"``: a warp per row, one tile at a time (the
schedule measured in ``bench/results``). ``bench/gpu_check.py`` checks and times each."""
SCHEDULES = ("block", "fused", "fused_unbatched")
BLOCK_ROW_LIMITS = ((1024, 256), (4096, 1024))
"""(longest row, threads per block) of the block-per-row kernels."""
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _launch(call, kind, y_pred, args):
    """Launch the ``kind`` ("forward" or "fused") kernel of the current ``SCHEDULE``."""
    rows, length = y_pred.shape
    if length >= (1 << 24 if y_pred.dtype == np.float32 else 1 << 31):
        raise ValueError("the native CUDA kernels take rows shorter than 2**24 elements in "
                         "float32 and 2**31 in float64")
    if SCHEDULE not in SCHEDULES:
        raise ValueError(f"range_mae native SCHEDULE must be one of {SCHEDULES}; got {SCHEDULE!r}")
    threads = next((t for longest, t in BLOCK_ROW_LIMITS if length <= longest), None) \
        if SCHEDULE == "block" else None
    name = f"{kind}_block{threads}" if threads else \
        ("forward" if kind == "forward" else "fused_unbatched" if SCHEDULE == "fused_unbatched" else "fused")
    call.launch(OP, f"{OP}_{name}_{_SUFFIX[y_pred.dtype]}", rows, (*args, np.int64(rows), np.int64(length)),
                block_threads=threads)


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
        _launch(call, "fused", p, (t, p, n, has_n, np.int32(mean_over_ranges), scale, row_scale, has_rs,
                                        call.out(out_loss), call.out(out_grad)))


def backward(y_true, y_pred, *, lengths, mean_over_ranges: bool, grad_loss, out_grad, stream=None) -> None:
    """``grad_loss[b] * d loss[b] / d y_pred[b]`` into ``out_grad``."""
    scratch = np.empty(y_pred.shape[0], y_pred.dtype) if isinstance(y_pred, np.ndarray) else \
        cupy.empty(y_pred.shape[0], y_pred.dtype)
    forward_backward(y_true, y_pred, lengths=lengths, mean_over_ranges=mean_over_ranges,
                     grad_scale=grad_loss, out_loss=scratch, out_grad=out_grad, stream=stream)
