"""``fastseg.torch.cross_entropy`` and ``CrossEntropyLoss``: drop-in for torch's, fused on the CPU."""

from __future__ import annotations

from typing import Optional

import torch

from .._dispatch import check_choice
from ..ops import cross_entropy as op
from ._adapter import register

_cross_entropy = register(op.OP)


def cross_entropy(input: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor] = None, *,
                  ignore_index: int = -100, label_smoothing: float = 0.0, reduction: str = "mean",
                  backend: str = "auto", validate: bool = False) -> torch.Tensor:
    """``torch.nn.functional.cross_entropy`` for ``(N, C)`` logits, one fused pass per row.

    Class-index or probability targets, ``weight``, ``ignore_index``, ``label_smoothing`` and the
    reductions mean exactly what they mean in torch. Differentiable in ``input`` (the logits; not
    in probability targets). CUDA tensors run the GPU kernels on the current stream without a
    synchronisation: a class index outside ``[0, C)`` gives that row NaN there, and
    ``validate=True`` raises ``IndexError`` instead (one synchronisation); on the CPU it always
    raises.

    Examples
    --------
    >>> import torch, fastseg.torch as ft
    >>> x = torch.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
    >>> loss = ft.cross_entropy(x, torch.tensor([0]))
    >>> loss.backward(); round(loss.item(), 4), [round(v, 4) for v in x.grad[0].tolist()]
    (0.1698, [-0.1562, 0.1142, 0.042])
    """
    return _cross_entropy((input, target, weight), {"ignore_index": ignore_index, "label_smoothing": label_smoothing},
                          reduction=reduction, backend=backend, validate=validate)


class CrossEntropyLoss(torch.nn.Module):
    """``nn.Module`` form of :func:`cross_entropy`, with ``torch.nn.CrossEntropyLoss``'s arguments."""

    def __init__(self, weight: Optional[torch.Tensor] = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0, backend: str = "auto"):
        super().__init__()
        check_choice("reduction", reduction, op.REDUCTIONS)
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction, self.label_smoothing, self.backend = (
            ignore_index, reduction, label_smoothing, backend)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                             label_smoothing=self.label_smoothing, reduction=self.reduction, backend=self.backend)
