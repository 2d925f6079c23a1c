"""``fastseg.torch.range_mae`` and ``RangeMAELoss``."""

from __future__ import annotations

from typing import Optional

import torch

from .._dispatch import check_choice
from ..ops import range_mae as op
from ._adapter import register

_range_mae = register(op.OP)


def range_mae(input: torch.Tensor, target: torch.Tensor, *, range_reduction: str = "sum",
              reduction: str = "mean", lengths: Optional[torch.Tensor] = None, backend: str = "auto",
              validate: bool = False) -> torch.Tensor:
    """Range-wise MAE of torch tensors, differentiable in ``input`` and ``target``.

    Argument order as ``torch.nn.functional.l1_loss``: the prediction first, then the target
    whose runs of equal values define the ranges. (The NumPy, TensorFlow and Keras APIs take
    ``(y_true, y_pred)``.) Same semantics and options as :func:`fastseg.range_mae`; runs on the
    device of the inputs (CPU: Numba; CUDA: the GPU kernels on the current stream, no
    synchronisation unless ``validate=True`` asks for the lengths check on the GPU).
    float16/bfloat16 are computed in float32 and the loss is cast back.

    Parameters
    ----------
    input : Tensor, shape (..., L)
        Predictions.
    target : Tensor, shape (..., L)
        Targets; ranges are maximal runs of equal consecutive values along the last axis.
    range_reduction : {"sum", "mean"}
    reduction : {"mean", "sum", "none"}
    lengths : Tensor of int, shape (...), optional
    backend : {"auto", "cpu", "cuda", "native", "reference"}
    validate : bool
        On CUDA tensors, check ``lengths`` on the host (one synchronisation); on the CPU they are
        always checked.

    Examples
    --------
    >>> import torch, fastseg.torch as ft
    >>> y_pred = torch.tensor([[0., 1., 1., 1., 0.]], requires_grad=True)
    >>> y_true = torch.tensor([[0., 0., 1., 1., 1.]])
    >>> loss = ft.range_mae(y_pred, y_true)
    >>> loss.backward(); y_pred.grad
    tensor([[ 0.0000,  0.5000,  0.0000,  0.0000, -0.3333]])
    """
    return _range_mae((target, input, lengths), {"range_reduction": range_reduction}, reduction=reduction,
                      backend=backend, validate=validate)


class RangeMAELoss(torch.nn.Module):
    """``nn.Module`` form of :func:`range_mae`: ``RangeMAELoss(range_reduction="sum",
    reduction="mean")(input, target, lengths=None)`` (prediction first, as torch losses)."""

    def __init__(self, range_reduction: str = "sum", reduction: str = "mean", backend: str = "auto"):
        super().__init__()
        check_choice("range_reduction", range_reduction, op.RANGE_REDUCTIONS)
        check_choice("reduction", reduction, op.REDUCTIONS)
        self.range_reduction, self.reduction, self.backend = range_reduction, reduction, backend

    def forward(self, input: torch.Tensor, target: torch.Tensor,
                lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        return range_mae(input, target, range_reduction=self.range_reduction, reduction=self.reduction,
                         lengths=lengths, backend=self.backend)

    def extra_repr(self) -> str:
        return f"range_reduction={self.range_reduction!r}, reduction={self.reduction!r}"
