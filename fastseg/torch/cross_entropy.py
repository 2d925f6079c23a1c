"""``fastseg.torch.cross_entropy`` and ``CrossEntropyLoss``: drop-in for torch's, fused on the CPU."""

from __future__ import annotations

from typing import Optional

import torch

from .._dispatch import check_choice, load_backend, resolve_backend
from ..ops import cross_entropy as op
from ._rowloss import check_tensors, compute_dtype, define_row_loss, kernel_args, numpy_dtype


def _rows_impl(logits: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor], ignore_index: int,
               label_smoothing: float, backend: str, need_grad: bool) -> tuple[torch.Tensor, torch.Tensor]:
    out_loss = logits.new_empty((logits.shape[0],))
    out_grad = torch.empty_like(logits) if need_grad else logits.new_empty((0,))
    if logits.shape[0]:
        (x, t, w, loss, grad), stream = kernel_args(logits, target, weight, out_loss, out_grad)
        kernels = load_backend("cross_entropy", resolve_backend(backend, "numpy" if stream is None else "device"))
        extra = {} if stream is None else {"stream": stream}
        kernels.cross_entropy(x, t, weight=w, ignore_index=ignore_index, label_smoothing=label_smoothing,
                              out_loss=loss, out_grad=grad if need_grad else None, **extra)
    return out_loss, out_grad


_rows = define_row_loss("fastseg::cross_entropy_rows", _rows_impl, primary=0, grad_signs={0: 1.0})


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor] = None, *,
                  ignore_index: int = -100, label_smoothing: float = 0.0, reduction: str = "mean",
                  backend: str = "auto") -> torch.Tensor:
    """``torch.nn.functional.cross_entropy`` for ``(N, C)`` logits, one fused pass per row.

    Class-index or probability targets, ``weight``, ``ignore_index``, ``label_smoothing`` and the
    reductions mean exactly what they mean in torch. Differentiable in ``logits`` (not in
    probability targets). CUDA tensors run the GPU kernels on the current stream.

    Examples
    --------
    >>> import torch, fastseg.torch as ft
    >>> x = torch.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
    >>> loss = ft.cross_entropy(x, torch.tensor([0]))
    >>> loss.backward(); round(loss.item(), 4), [round(v, 4) for v in x.grad[0].tolist()]
    (0.1698, [-0.1562, 0.1142, 0.042])
    """
    check_choice("reduction", reduction, op.REDUCTIONS)
    check_tensors(logits=logits, target=target, weight=weight)
    op.check_logits(logits.shape, numpy_dtype(logits))
    mode = op.check_target(logits.shape, target.shape, numpy_dtype(target),
                           None if weight is None else weight.shape, label_smoothing)
    if mode == "class" and target.numel() and not torch.compiler.is_compiling():
        if target.device.type == "cpu":
            op.check_class_range(target.numpy(), logits.shape[1], ignore_index)
        elif bool(((target != ignore_index) & ((target < 0) | (target >= logits.shape[1]))).any()):
            op.check_class_range(target.cpu().numpy(), logits.shape[1], ignore_index)  # one small sync
    x = logits.to(compute_dtype(logits.dtype))
    t = target.to(torch.int64) if mode == "class" else target.to(x.dtype)
    w = None if weight is None else weight.to(torch.float64)
    need_grad = torch.is_grad_enabled() and logits.requires_grad
    rows, _ = _rows(x, t, w, int(ignore_index), float(label_smoothing), backend, need_grad)
    rows = rows.to(logits.dtype)
    if reduction == "none":
        return rows
    total = rows.sum()
    if reduction == "sum":
        return total
    if mode == "prob":
        return total / rows.shape[0]
    kept = target != ignore_index
    denom = kept.sum() if weight is None else (weight[target.clamp(min=0)] * kept).sum()
    return total / denom.to(total.dtype)


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
