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
                  segment_ids: Optional[torch.Tensor] = None, backend: str = "auto",
                  validate: bool = False) -> torch.Tensor:
    """``torch.nn.functional.cross_entropy`` for ``(N, C)`` logits, one fused pass per row.

    Class-index or probability targets, ``weight``, ``ignore_index``, ``label_smoothing`` and the
    reductions mean exactly what they mean in torch. Differentiable in ``input`` (the logits; not
    in probability targets). CUDA tensors run the GPU kernels on the current stream without a
    synchronisation: a class index outside ``[0, C)`` gives that row NaN there, and
    ``validate=True`` raises ``IndexError`` instead (one synchronisation); on the CPU it always
    raises.

    ``reduction="segment_mean"`` with ``segment_ids`` (one id per row; consecutive equal ids form a
    sequence) is the packed-sequence mean: the mean over sequences of each sequence's mean token
    loss, ``ignore_index`` rows counted in neither (see :func:`fastseg.cross_entropy`). Its
    gradient reaches the kernel as a per-row scale: no extra pass over the logits.

    Examples
    --------
    >>> import torch, fastseg.torch as ft
    >>> x = torch.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
    >>> loss = ft.cross_entropy(x, torch.tensor([0]))
    >>> loss.backward(); round(loss.item(), 4), [round(v, 4) for v in x.grad[0].tolist()]
    (0.1698, [-0.1562, 0.1142, 0.042])
    """
    options = {"ignore_index": ignore_index, "label_smoothing": label_smoothing}
    if reduction != "segment_mean" and segment_ids is None:
        return _cross_entropy((input, target, weight), options, reduction=reduction, backend=backend,
                              validate=validate)
    if segment_ids is not None and not isinstance(segment_ids, torch.Tensor):
        raise TypeError(f"segment_ids must be a torch.Tensor; got {type(segment_ids).__name__}")
    op.check_segment_ids(None if segment_ids is None else tuple(segment_ids.shape),
                         None if segment_ids is None else "f" if segment_ids.is_floating_point() else "i",
                         input.shape[0] if input.dim() == 2 else -1, reduction)
    rows = _cross_entropy((input, target, weight), options, reduction="none", backend=backend, validate=validate)
    weights = segment_mean_weights(segment_ids, target, weight, int(ignore_index), input.shape[-1])
    return (rows.to(torch.float64) * weights).sum().to(rows.dtype)


def segment_mean_weights(segment_ids: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor],
                         ignore_index: int, n_classes: int) -> torch.Tensor:
    """Per-row weights of ``reduction="segment_mean"`` (``fastseg.ops.cross_entropy.segment_mean_weights``)
    in torch ops on the rows' device: prefix sums and ``searchsorted`` (deterministic, no host
    synchronisation)."""
    n = segment_ids.shape[0]
    with torch.no_grad():
        keep = torch.ones(n, dtype=torch.bool, device=target.device) if target.dim() == 2 else target != ignore_index
        w = keep.to(torch.float64)
        if weight is not None and target.dim() == 1:
            w = torch.where(keep, weight.to(torch.float64)[(target * keep).clamp(0, max(n_classes - 1, 0)).long()], 0.0)
        ids = segment_ids.to(w.device)
        new = torch.ones(n, dtype=torch.bool, device=w.device)
        new[1:] = ids[1:] != ids[:-1]
        seq = new.cumsum(0) - 1
        prefix = w.cumsum(0)
        last = torch.searchsorted(seq, seq, right=True) - 1
        first = torch.searchsorted(seq, seq)
        total = prefix[last] - prefix[first] + w[first]
        counted = (new & (total > 0)).sum()
        return torch.where(w > 0, 1.0 / (counted * total), 0.0)


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
