"""``fastseg.torch.multiclass_hinge`` and ``MulticlassHingeLoss``."""

from __future__ import annotations

from typing import Optional

import torch

from .._dispatch import check_choice
from ..ops import multiclass_hinge as op
from ._adapter import register

_multiclass_hinge = register(op.OP)


def multiclass_hinge(scores: torch.Tensor, labels: torch.Tensor, *, margin: float = 1.0, p: int = 1,
                     weight: Optional[torch.Tensor] = None, divide_by_classes: bool = False,
                     reduction: str = "mean", backend: str = "auto", validate: bool = False) -> torch.Tensor:
    """Multiclass hinge loss of torch tensors, differentiable in ``scores``.

    Same semantics as :func:`fastseg.multiclass_hinge`; ``divide_by_classes=True`` equals
    ``torch.nn.functional.multi_margin_loss``. A label outside ``[0, C)`` raises ``IndexError``
    on the CPU; on CUDA the kernel writes a NaN row without synchronising, and ``validate=True``
    checks the labels on the host instead (one synchronisation).

    Examples
    --------
    >>> import torch, fastseg.torch as ft
    >>> scores = torch.tensor([[3.2, 5.1, -1.7]], requires_grad=True)
    >>> loss = ft.multiclass_hinge(scores, torch.tensor([0]))
    >>> loss.backward(); round(loss.item(), 4), scores.grad.tolist()
    (2.9, [[-1.0, 1.0, 0.0]])
    """
    return _multiclass_hinge((scores, labels, weight), {"margin": margin, "p": p, "divide_by_classes": divide_by_classes},
                             reduction=reduction, backend=backend, validate=validate)


class MulticlassHingeLoss(torch.nn.Module):
    """``nn.Module`` form of :func:`multiclass_hinge`: ``MulticlassHingeLoss(...)(scores, labels)``."""

    def __init__(self, margin: float = 1.0, p: int = 1, weight: Optional[torch.Tensor] = None,
                 divide_by_classes: bool = False, reduction: str = "mean", backend: str = "auto"):
        super().__init__()
        check_choice("reduction", reduction, op.REDUCTIONS)
        if p not in (1, 2):
            raise ValueError(f"p must be 1 or 2; got {p!r}")
        self.margin, self.p, self.divide_by_classes = margin, p, divide_by_classes
        self.reduction, self.backend = reduction, backend
        self.register_buffer("weight", weight)

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return multiclass_hinge(scores, labels, margin=self.margin, p=self.p, weight=self.weight,
                                divide_by_classes=self.divide_by_classes, reduction=self.reduction,
                                backend=self.backend)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, p={self.p}, divide_by_classes={self.divide_by_classes}, reduction={self.reduction!r}"
