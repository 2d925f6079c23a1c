"""range_loss's CUDA C++ kernels (``kernels/range_loss.cu``) through CuPy: ``backend="native"``.

Loading, zero-copy views and streams are ``fastseg._native``'s: the fatbin built by
``CMakeLists.txt`` when one is found, else NVRTC from the shipped ``.cu``.
"""

from __future__ import annotations

import numpy as np

from ... import config
from ..._native import NULL, Call
from .reference import LOSSES

OP = "range_loss"
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def kernel_plan(length: int, dtype: np.dtype, pass_: str, loss_kind: int,
                cfg: config.Config) -> tuple[str, int | None]:
    """The kernel for rows of ``length`` elements: ``(name, threads per block)`` for the
    block-per-row kernels (rows up to ``cfg.range_loss_block_rows``), ``(name, None)`` for the
    warp-per-row ones (longer rows). ``pass_`` is "forward" or "fused"; ``loss_kind`` the element
    loss (0 mae, 1 mse, 2 huber: ``reference.LOSSES``)."""
    if length >= (1 << 24 if dtype == np.float32 else 1 << 31):
        raise ValueError("the native CUDA kernels take rows shorter than 2**24 elements in "
                         "float32 and 2**31 in float64")
    threads = next((t for longest, t in cfg.range_loss_block_rows if length <= longest), None)
    name = f"{pass_}_block{threads}" if threads else pass_
    return f"{OP}_{name}_{LOSSES[loss_kind]}_{_SUFFIX[np.dtype(dtype)]}", threads


def rows(y_true, y_pred, lengths=None, segments=None, *, kind: int = 0, delta: float = 1.0,
         mean_over_ranges: bool, out_loss=None, out_grad=None, out_grad_true=None, grad_scale=None,
         stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) on device (or host) arrays: the forward
    kernel without ``out_grad``, else the fused one, which writes ``y_true``'s gradient into
    ``out_grad_true`` in the same pass when given. ``segments`` (int64 ids, ``y_pred``'s shape)
    gives the ranges; without it, runs of equal ``y_true``."""
    kind = int(kind)
    if kind not in range(len(LOSSES)):
        raise ValueError(f"kind must be 0 (mae), 1 (mse) or 2 (huber), got {kind}")
    with Call(stream, y_pred, y_true) as call:
        t, p = call.inp(y_true), call.inp(y_pred)
        n, has_n = call.lengths(lengths)
        seg = NULL if segments is None else call.inp(segments, np.int64)
        n_rows, length = p.shape
        head = (t, p, n, has_n, seg, np.int32(mean_over_ranges), np.float64(delta))
        tail = (np.int64(n_rows), np.int64(length))
        if out_grad is None:
            name, threads = kernel_plan(length, p.dtype, "forward", kind, config.get())
            call.launch(OP, name, n_rows, (*head, call.out(out_loss), *tail), block_threads=threads)
            return
        scale, row_scale, has_rs = call.scalar_or_rows(grad_scale)
        true = NULL if out_grad_true is None else call.out(out_grad_true)
        name, threads = kernel_plan(length, p.dtype, "fused", kind, config.get())
        call.launch(OP, name, n_rows, (*head, scale, row_scale, has_rs, call.rows_out(out_loss, p),
                                       call.out(out_grad), true, *tail), block_threads=threads)
