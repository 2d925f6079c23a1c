"""``fastseg.torch.linear_cross_entropy`` and ``LinearCrossEntropyLoss``: the classifier head and
cross-entropy fused on the CPU, with ``torch.nn.functional.linear_cross_entropy``'s arguments.

Autograd keeps no ``N x V`` tensor: it saves the inputs only. With reduction "mean" or "sum" the
forward (when a gradient is wanted) runs the fused chunk loop once and keeps ``dx``,
``dweight``, ``dbias`` (the sizes of the inputs) on the context; backward hands them over,
scaled in place by the scalar upstream gradient, and drops its references, so they are the
returned gradients without a copy (peak memory: one set of gradients). A second backward
(``retain_graph=True``) recomputes them from the saved inputs with the same scale: the same
values. Recomputing in every backward instead would cost one more ``N x V x H`` product (4
instead of 3; measured 1.3x slower fwd+bwd at 4096x512x32000). With reduction "none" the upstream gradient is per
row, so forward computes the losses only and backward recomputes chunk by chunk with it.
The products run on torch's BLAS through zero-copy ``.numpy()`` views.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from .._dispatch import check_choice
from ..ops import linear_cross_entropy as op
from ..ops._rowop import REDUCTIONS, grad_scale, reduce_rows


class TorchGemm:
    """A chunk's three products by torch's CPU BLAS on zero-copy views of the NumPy arrays."""

    def logits(self, xc: np.ndarray, weight: np.ndarray, out: np.ndarray) -> None:
        torch.matmul(torch.from_numpy(xc), torch.from_numpy(weight).T, out=torch.from_numpy(out))

    def input_grad(self, g: np.ndarray, weight: np.ndarray, out: np.ndarray) -> None:
        torch.matmul(torch.from_numpy(g), torch.from_numpy(weight), out=torch.from_numpy(out))

    def accumulate_weight_grad(self, g: np.ndarray, xc: np.ndarray, acc: np.ndarray) -> None:
        torch.from_numpy(acc).addmm_(torch.from_numpy(g).T, torch.from_numpy(xc))


_GEMM = TorchGemm()


def _host(t: Optional[torch.Tensor]) -> Optional[np.ndarray]:
    """A CPU tensor as a NumPy array, zero-copy where it is float32/float64/int64 and contiguous;
    float16/bfloat16 as float32."""
    if t is None:
        return None
    t = t.detach()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return t.contiguous().numpy()


def _prepare(input, linear_weight, target, linear_bias, weight, ignore_index, label_smoothing, chunk_size):
    return op.prepare(_host(input), _host(linear_weight), _host(target), _host(linear_bias), _host(weight),
                      ignore_index=ignore_index, label_smoothing=label_smoothing, chunk_size=chunk_size)


def _grads(p, scale, needs):
    _, dx, dw, db = op.run_chunks(p, scale=scale, need=needs, gemm=_GEMM)
    return tuple(None if g is None else torch.from_numpy(g) for g in (dx, dw, db))


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, linear_weight, linear_bias, target, weight, reduction, ignore_index, label_smoothing,
                chunk_size):
        p = _prepare(input, linear_weight, target, linear_bias, weight, ignore_index, label_smoothing, chunk_size)
        needs = tuple(ctx.needs_input_grad[:3])
        ctx.reduction, ctx.dtypes = reduction, (input.dtype, linear_weight.dtype,
                                                None if linear_bias is None else linear_bias.dtype)
        ctx.options = (ignore_index, label_smoothing, chunk_size)
        ctx.save_for_backward(input, linear_weight, linear_bias, target, weight)  # the inputs only
        ctx.grads = None
        if any(needs) and reduction != "none":
            ctx.scale = grad_scale(reduction, p.x.shape[0], p.denominator)
            rows, dx, dw, db = op.run_chunks(p, scale=ctx.scale, need=needs, gemm=_GEMM)
            ctx.grads = tuple(None if g is None else torch.from_numpy(g) for g in (dx, dw, db))
        else:
            rows, *_ = op.run_chunks(p, gemm=_GEMM)
        loss = reduce_rows(rows, reduction, p.denominator)
        return torch.from_numpy(np.asarray(loss)).to(input.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        needs = tuple(ctx.needs_input_grad[:3])
        if ctx.reduction == "none":
            p = _prepare(*_reordered(ctx.saved_tensors), *ctx.options)
            grads = _grads(p, np.ascontiguousarray(_host(grad_output.reshape(-1)), np.float64), needs)
        else:
            # The gradients forward computed, handed over (autograd may keep them as .grad without
            # a copy) and scaled in place; a second backward (retain_graph=True) recomputes them
            # from the saved inputs with the same scale, so it gets the same values.
            grads, ctx.grads = ctx.grads, None
            if grads is None:
                p = _prepare(*_reordered(ctx.saved_tensors), *ctx.options)
                grads = _grads(p, ctx.scale, needs)
            g = grad_output.float() if grad_output.dtype in (torch.float16, torch.bfloat16) else grad_output
            if not (g == 1).all():
                for s in grads:
                    if s is not None:
                        s.mul_(g.to(s.dtype))
        out = tuple(None if gr is None or not need else gr.to(dtype)
                    for gr, need, dtype in zip(grads, needs, ctx.dtypes))
        return out + (None,) * 6


def _reordered(saved):
    """Saved ``(input, linear_weight, linear_bias, target, weight)`` in ``_prepare``'s order."""
    input, linear_weight, linear_bias, target, weight = saved
    return input, linear_weight, target, linear_bias, weight


def linear_cross_entropy(input: torch.Tensor, linear_weight: torch.Tensor, target: torch.Tensor, *,
                         linear_bias: Optional[torch.Tensor] = None, weight: Optional[torch.Tensor] = None,
                         reduction: str = "mean", ignore_index: int = -100, label_smoothing: float = 0.0,
                         chunk_size: Optional[int] = None) -> torch.Tensor:
    """``torch.nn.functional.linear_cross_entropy`` for ``(N, H)`` inputs, fused and chunked.

    ``cross_entropy(input @ linear_weight.T + linear_bias, target, weight, ...)`` with torch's
    meaning of every argument (``ignore_index`` defaults to -100 as in ``cross_entropy``).
    Differentiable in ``input``, ``linear_weight`` and ``linear_bias``; the ``(N, V)`` logits
    exist one chunk of rows at a time (``chunk_size`` rows; default from
    ``fastseg.config.linear_ce_chunk_bytes``) and autograd saves nothing of that size.
    float16/bfloat16 compute in float32. CPU tensors run fastseg's kernel; tensors on another
    device are passed to torch's own ``linear_cross_entropy``.

    Parameters
    ----------
    input : Tensor, shape (N, H)
    linear_weight : Tensor, shape (V, H)
    target : Tensor
        int64 ``(N,)`` class indices or float ``(N, V)`` probabilities.
    linear_bias : Tensor, shape (V,), optional
    weight : Tensor, shape (V,), optional
        Per-class weight.
    reduction : {"mean", "sum", "none"}

    Examples
    --------
    >>> import torch, fastseg.torch as ft
    >>> x = torch.tensor([[1.0, 0.0]], requires_grad=True)
    >>> w = torch.tensor([[2.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    >>> loss = ft.linear_cross_entropy(x, w, torch.tensor([0]))   # logits [2, 0, -1]
    >>> loss.backward(); round(loss.item(), 4), [round(v, 4) for v in x.grad[0].tolist()]
    (0.1698, [-0.3544, 0.1142])
    """
    check_choice("reduction", reduction, REDUCTIONS)
    tensors = {"input": input, "linear_weight": linear_weight, "target": target, "linear_bias": linear_bias,
               "weight": weight}
    for name, t in tensors.items():
        if t is not None and not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(t).__name__}")
    if any(t is not None and t.device.type != "cpu" for t in tensors.values()):
        return torch.nn.functional.linear_cross_entropy(
            input, linear_weight, target, linear_bias=linear_bias, weight=weight, reduction=reduction,
            ignore_index=None if target.is_floating_point() else ignore_index, label_smoothing=label_smoothing)
    return _LinearCrossEntropy.apply(input, linear_weight, linear_bias, target, weight, reduction, ignore_index,
                                     label_smoothing, chunk_size)


class LinearCrossEntropyLoss(torch.nn.Module):
    """``nn.Module`` form of :func:`linear_cross_entropy`: ``loss(input, linear_weight, target,
    linear_bias=None)`` with the class ``weight``, ``ignore_index``, ``reduction`` and
    ``label_smoothing`` fixed at construction, as ``torch.nn.CrossEntropyLoss``."""

    def __init__(self, weight: Optional[torch.Tensor] = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0, chunk_size: Optional[int] = None):
        super().__init__()
        check_choice("reduction", reduction, REDUCTIONS)
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction, self.label_smoothing, self.chunk_size = (
            ignore_index, reduction, label_smoothing, chunk_size)

    def forward(self, input: torch.Tensor, linear_weight: torch.Tensor, target: torch.Tensor,
                linear_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        return linear_cross_entropy(input, linear_weight, target, linear_bias=linear_bias, weight=self.weight,
                                    reduction=self.reduction, ignore_index=self.ignore_index,
                                    label_smoothing=self.label_smoothing, chunk_size=self.chunk_size)
