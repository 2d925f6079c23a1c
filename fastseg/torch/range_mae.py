"""``fastseg.torch.range_mae`` and ``RangeMAELoss``."""

from __future__ import annotations

from typing import Optional

import torch

from .._dispatch import check_choice, load_backend, resolve_backend
from ..ops import range_mae as op
from ._rowloss import (check_tensors, compute_dtype, define_row_loss, kernel_args, numpy_dtype,
                       reduce_rows)


def _rows_impl(y_true: torch.Tensor, y_pred: torch.Tensor, lengths: Optional[torch.Tensor],
               mean_over_ranges: bool, backend: str, need_grad: bool) -> tuple[torch.Tensor, torch.Tensor]:
    out_loss = y_pred.new_empty((y_pred.shape[0],))
    out_grad = torch.empty_like(y_pred) if need_grad else y_pred.new_empty((0,))
    if y_pred.shape[0]:
        (t, p, n, loss, grad), stream = kernel_args(y_true, y_pred, lengths, out_loss, out_grad)
        name = resolve_backend(backend, "numpy" if stream is None else "device")
        kernels = load_backend(op.OP, name)
        extra = {} if stream is None else {"stream": stream}
        if need_grad:
            kernels.forward_backward(t, p, lengths=n, mean_over_ranges=mean_over_ranges,
                                     grad_scale=1.0, out_loss=loss, out_grad=grad, **extra)
        else:
            kernels.forward(t, p, lengths=n, mean_over_ranges=mean_over_ranges, out_loss=loss, **extra)
    return out_loss, out_grad


_rows = define_row_loss("fastseg::range_mae_rows", _rows_impl, primary=1, grad_signs={0: -1.0, 1: 1.0})


def range_mae(y_true: torch.Tensor, y_pred: torch.Tensor, *, range_reduction: str = "sum",
              reduction: str = "mean", lengths: Optional[torch.Tensor] = None,
              backend: str = "auto") -> torch.Tensor:
    """Range-wise MAE of torch tensors, differentiable in ``y_pred`` and ``y_true``.

    Same semantics and arguments as :func:`fastseg.range_mae`; runs on the device of the
    inputs (CPU: Numba; CUDA: the GPU kernels on the current stream, no synchronisation).
    float16/bfloat16 are computed in float32 and the loss is cast back.

    Examples
    --------
    >>> import torch, fastseg.torch as ft
    >>> y_true = torch.tensor([[0., 0., 1., 1., 1.]])
    >>> y_pred = torch.tensor([[0., 1., 1., 1., 0.]], requires_grad=True)
    >>> loss = ft.range_mae(y_true, y_pred)
    >>> loss.backward(); y_pred.grad
    tensor([[ 0.0000,  0.5000,  0.0000,  0.0000, -0.3333]])
    """
    check_choice("reduction", reduction, op.REDUCTIONS)
    check_choice("range_reduction", range_reduction, op.RANGE_REDUCTIONS)
    check_tensors(y_true=y_true, y_pred=y_pred, lengths=lengths)
    op.check_inputs(y_true.shape, y_pred.shape, numpy_dtype(y_true), numpy_dtype(y_pred),
                    None if lengths is None else lengths.shape,
                    None if lengths is None else numpy_dtype(lengths))
    lead, length = y_pred.shape[:-1], y_pred.shape[-1]
    work = compute_dtype(y_pred.dtype)
    p = y_pred.to(work).reshape(-1, length)
    t = y_true.to(work).reshape(-1, length)
    if lengths is not None:
        lengths = lengths.to(torch.int64).reshape(-1)
        if lengths.device.type == "cpu" and lengths.numel() and not torch.compiler.is_compiling():
            op.check_lengths_range(lengths, length)
    need_grad = torch.is_grad_enabled() and (y_pred.requires_grad or y_true.requires_grad)
    rows, _ = _rows(t, p, lengths, range_reduction == "mean", backend, need_grad)
    return reduce_rows(rows.to(y_pred.dtype).reshape(lead), reduction)


class RangeMAELoss(torch.nn.Module):
    """``nn.Module`` form of :func:`range_mae`: ``RangeMAELoss(range_reduction="sum",
    reduction="mean")(y_pred, y_true, lengths=None)`` (prediction first, as torch losses)."""

    def __init__(self, range_reduction: str = "sum", reduction: str = "mean", backend: str = "auto"):
        super().__init__()
        check_choice("range_reduction", range_reduction, op.RANGE_REDUCTIONS)
        check_choice("reduction", reduction, op.REDUCTIONS)
        self.range_reduction, self.reduction, self.backend = range_reduction, reduction, backend

    def forward(self, input: torch.Tensor, target: torch.Tensor,
                lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        return range_mae(target, input, range_reduction=self.range_reduction,
                         reduction=self.reduction, lengths=lengths, backend=self.backend)

    def extra_repr(self) -> str:
        return f"range_reduction={self.range_reduction!r}, reduction={self.reduction!r}"
