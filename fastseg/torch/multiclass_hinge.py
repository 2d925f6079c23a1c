"""``fastseg.torch.multiclass_hinge`` and ``MulticlassHingeLoss``."""

from __future__ import annotations

from typing import Optional

import torch

from .._dispatch import check_choice, load_backend, resolve_backend
from ..ops import multiclass_hinge as op
from ._rowloss import check_tensors, compute_dtype, define_row_loss, kernel_args, numpy_dtype, reduce_rows


def _rows_impl(scores: torch.Tensor, labels: torch.Tensor, weight: Optional[torch.Tensor], margin: float,
               p: int, divide_by_classes: bool, backend: str, need_grad: bool) -> tuple[torch.Tensor, torch.Tensor]:
    out_loss = scores.new_empty((scores.shape[0],))
    out_grad = torch.empty_like(scores) if need_grad else scores.new_empty((0,))
    if scores.shape[0]:
        (s, y, w, loss, grad), stream = kernel_args(scores, labels, weight, out_loss, out_grad)
        kernels = load_backend(op.OP, resolve_backend(backend, "numpy" if stream is None else "device"))
        extra = {} if stream is None else {"stream": stream}
        common = dict(weight=w, margin=margin, p=p, divide_by_classes=divide_by_classes, out_loss=loss, **extra)
        if need_grad:
            kernels.forward_backward(s, y, grad_scale=1.0, out_grad=grad, **common)
        else:
            kernels.forward(s, y, **common)
    return out_loss, out_grad


_rows = define_row_loss("fastseg::multiclass_hinge_rows", _rows_impl, primary=0, grad_signs={0: 1.0})


def multiclass_hinge(scores: torch.Tensor, labels: torch.Tensor, *, margin: float = 1.0, p: int = 1,
                     weight: Optional[torch.Tensor] = None, divide_by_classes: bool = False,
                     reduction: str = "mean", backend: str = "auto", validate: bool = True) -> torch.Tensor:
    """Multiclass hinge loss of torch tensors, differentiable in ``scores``.

    Same semantics as :func:`fastseg.multiclass_hinge`; ``divide_by_classes=True`` equals
    ``torch.nn.functional.multi_margin_loss``. A label outside ``[0, C)`` raises ``IndexError``
    (on CUDA the kernel writes a NaN row and ``validate=True`` checks the labels with one small
    synchronisation; under ``torch.compile`` the NaN row is the signal).

    Examples
    --------
    >>> import torch, fastseg.torch as ft
    >>> scores = torch.tensor([[3.2, 5.1, -1.7]], requires_grad=True)
    >>> loss = ft.multiclass_hinge(scores, torch.tensor([0]))
    >>> loss.backward(); round(loss.item(), 4), scores.grad.tolist()
    (2.9, [[-1.0, 1.0, 0.0]])
    """
    check_choice("reduction", reduction, op.REDUCTIONS)
    check_tensors(scores=scores, labels=labels, weight=weight)
    op.check_inputs(scores.shape, numpy_dtype(scores), labels.shape, numpy_dtype(labels),
                    None if weight is None else weight.shape, p)
    if validate and labels.numel() and not torch.compiler.is_compiling():
        if labels.device.type == "cpu":
            op.check_label_range(labels.numpy(), scores.shape[1])
        elif bool(((labels < 0) | (labels >= scores.shape[1])).any()):  # one small sync
            op.check_label_range(labels.cpu().numpy(), scores.shape[1])
    s = scores.to(compute_dtype(scores.dtype))
    w = None if weight is None else weight.to(torch.float64)
    need_grad = torch.is_grad_enabled() and scores.requires_grad
    rows, _ = _rows(s, labels.to(torch.int64), w, float(margin), int(p), bool(divide_by_classes), backend, need_grad)
    return reduce_rows(rows.to(scores.dtype), reduction)


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
