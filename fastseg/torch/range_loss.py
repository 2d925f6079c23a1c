"""``fastseg.torch.range_loss`` (MAE, MSE, Huber; ``range_mae``, ``range_mse``, ``range_huber``) and
the ``RangeLoss`` / ``RangeMAELoss`` modules."""

from __future__ import annotations

from typing import Optional

import torch

from .._dispatch import check_choice
from ..ops import range_loss as op
from ..ops._rowop import real_option
from ..ops.range_loss.reference import LOSSES
from ._adapter import register

_range_loss = register(op.OP)


def range_loss(input: torch.Tensor, target: torch.Tensor, *, loss: str = "mae", delta: float = 1.0,
               range_reduction: str = "sum", reduction: str = "mean", lengths: Optional[torch.Tensor] = None,
               segments: Optional[torch.Tensor] = None, backend: str = "auto", validate: bool = False) -> torch.Tensor:
    """Range-wise loss of torch tensors, differentiable in ``input`` and ``target``.

    Argument order as ``torch.nn.functional.l1_loss``: the prediction first, then the target
    whose runs of equal values define the ranges (unless ``segments`` gives them). (The NumPy,
    TensorFlow and Keras APIs take ``(y_true, y_pred)``.) Same semantics and options as
    :func:`fastseg.range_loss`; runs on the device of the inputs (CPU: Numba; CUDA: the GPU
    kernels on the current stream, no synchronisation unless ``validate=True`` asks for the
    lengths check on the GPU). float16/bfloat16 are computed in float32 and the loss is cast back.

    Parameters
    ----------
    input : Tensor, shape (..., L)
        Predictions.
    target : Tensor, shape (..., L)
        Targets.
    loss : {"mae", "mse", "huber"}
        The element loss of ``target - input`` (Huber exactly as ``torch.nn.functional.huber_loss``).
    delta : float
        Huber's threshold.
    range_reduction : {"sum", "mean"}
    reduction : {"mean", "sum", "none"}
    lengths : Tensor of int, shape (...), optional
    segments : Tensor of int, shape (..., L), optional
        Ranges are runs of equal segment ids instead of equal targets.
    backend : {"auto", "cpu", "cuda", "native", "reference"}
    validate : bool
        On CUDA tensors, check ``lengths`` on the host (one synchronisation); on the CPU they are
        always checked.

    Examples
    --------
    >>> import torch, fastseg.torch as ft
    >>> y_pred = torch.tensor([[0., 1., 1., 1., 0.]], requires_grad=True)
    >>> y_true = torch.tensor([[0., 0., 1., 1., 1.]])
    >>> loss = ft.range_loss(y_pred, y_true, loss="mse")
    >>> loss.backward(); y_pred.grad
    tensor([[-0.0000,  1.0000, -0.0000, -0.0000, -0.6667]])
    """
    return _range_loss((target, input, lengths, segments),
                       {"loss": loss, "delta": delta, "range_reduction": range_reduction},
                       reduction=reduction, backend=backend, validate=validate)


def range_mae(input: torch.Tensor, target: torch.Tensor, **options) -> torch.Tensor:
    """Range-wise MAE: :func:`range_loss` with ``loss="mae"``.

    Examples
    --------
    >>> import torch, fastseg.torch as ft
    >>> y_pred = torch.tensor([[0., 1., 1., 1., 0.]], requires_grad=True)
    >>> y_true = torch.tensor([[0., 0., 1., 1., 1.]])
    >>> loss = ft.range_mae(y_pred, y_true)
    >>> loss.backward(); y_pred.grad
    tensor([[ 0.0000,  0.5000,  0.0000,  0.0000, -0.3333]])
    """
    return range_loss(input, target, loss="mae", **options)


def range_mse(input: torch.Tensor, target: torch.Tensor, **options) -> torch.Tensor:
    """Range-wise MSE: :func:`range_loss` with ``loss="mse"``."""
    return range_loss(input, target, loss="mse", **options)


def range_huber(input: torch.Tensor, target: torch.Tensor, *, delta: float = 1.0, **options) -> torch.Tensor:
    """Range-wise Huber loss: :func:`range_loss` with ``loss="huber"``."""
    return range_loss(input, target, loss="huber", delta=delta, **options)


class RangeLoss(torch.nn.Module):
    """``nn.Module`` form of :func:`range_loss`: ``RangeLoss(loss="mse")(input, target, lengths=None,
    segments=None)`` (prediction first, as torch losses)."""

    def __init__(self, loss: str = "mae", delta: float = 1.0, range_reduction: str = "sum",
                 reduction: str = "mean", backend: str = "auto"):
        super().__init__()
        check_choice("loss", loss, LOSSES)
        check_choice("range_reduction", range_reduction, op.RANGE_REDUCTIONS)
        check_choice("reduction", reduction, op.REDUCTIONS)
        self.loss, self.delta = loss, real_option("delta", delta)
        self.range_reduction, self.reduction, self.backend = range_reduction, reduction, backend

    def forward(self, input: torch.Tensor, target: torch.Tensor, lengths: Optional[torch.Tensor] = None,
                segments: Optional[torch.Tensor] = None) -> torch.Tensor:
        return range_loss(input, target, loss=self.loss, delta=self.delta, range_reduction=self.range_reduction,
                          reduction=self.reduction, lengths=lengths, segments=segments, backend=self.backend)

    def extra_repr(self) -> str:
        delta = f", delta={self.delta}" if self.loss == "huber" else ""
        return f"loss={self.loss!r}{delta}, range_reduction={self.range_reduction!r}, reduction={self.reduction!r}"


class RangeMAELoss(RangeLoss):
    """``RangeLoss(loss="mae")``: ``RangeMAELoss(range_reduction="sum", reduction="mean")(input, target)``."""

    def __init__(self, range_reduction: str = "sum", reduction: str = "mean", backend: str = "auto"):
        super().__init__("mae", 1.0, range_reduction, reduction, backend)
