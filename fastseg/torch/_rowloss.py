"""One adapter for every row-loss op: a ``torch.library`` custom op whose forward returns the
per-row losses and (when needed) the gradient of each row's loss, written by the fused kernel;
backward only scales that gradient by the upstream gradient of each row.

Adding an op means writing its kernel call (``impl``) and calling :func:`define_row_loss`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .._device import DeviceBuffer

NUMPY_DTYPE = {torch.float16: np.dtype(np.float16), torch.bfloat16: np.dtype(np.float16),
               torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64),
               torch.bool: np.dtype(bool), torch.uint8: np.dtype(np.uint8),
               torch.int8: np.dtype(np.int8), torch.int16: np.dtype(np.int16),
               torch.int32: np.dtype(np.int32), torch.int64: np.dtype(np.int64)}
"""Torch dtype -> a NumPy dtype of the same kind, for the ops' shared dtype checks."""

EXACT_NUMPY_DTYPE = {k: v for k, v in NUMPY_DTYPE.items() if k != torch.bfloat16}
"""Torch dtype -> the NumPy dtype with the same memory layout."""


def numpy_dtype(tensor: torch.Tensor) -> np.dtype:
    return NUMPY_DTYPE.get(tensor.dtype, np.dtype(np.complex64))


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float16/bfloat16 are computed in float32 and cast back."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def check_tensors(**tensors) -> torch.device:
    """All given tensors are torch tensors on one device; return that device."""
    device = None
    for name, t in tensors.items():
        if t is None:
            continue
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor (fastseg.torch); got {type(t).__name__}"
                            " — use fastseg.range_mae for NumPy arrays")
        if device is None:
            device = t.device
        elif t.device != device:
            raise ValueError(f"all inputs must be on one device: {name} is on {t.device}, "
                             f"others on {device}")
    return device


def device_buffer(tensor: torch.Tensor) -> DeviceBuffer:
    """A CUDA tensor as a :class:`~fastseg._device.DeviceBuffer` (a contiguous copy if strided)."""
    t = tensor.detach()
    if not t.is_contiguous():
        t = t.contiguous()
    dtype = EXACT_NUMPY_DTYPE.get(t.dtype)
    if dtype is None:
        raise TypeError(f"the CUDA kernels take no {t.dtype} tensors")
    return DeviceBuffer(t.data_ptr(), tuple(t.shape), dtype, t.device.index, t)


def kernel_args(*tensors):
    """Zero-copy views the backends take: NumPy arrays for CPU tensors, device buffers by address
    for CUDA tensors, plus the stream to launch on (None on the CPU)."""
    first = next(t for t in tensors if t is not None)
    if first.device.type == "cpu":
        return [None if t is None else t.detach().numpy() for t in tensors], None
    return ([None if t is None else device_buffer(t) for t in tensors],
            torch.cuda.current_stream(first.device).cuda_stream)


def _input_grads(unit_grad, grad_rows, needs_input_grad, grad_signs, qualname):
    """Backward of every row-loss op: scale each row's saved gradient by its upstream gradient."""
    if unit_grad.numel() == 0 and grad_rows.numel():
        raise RuntimeError(f"{qualname} ran without need_grad but a gradient was asked for")
    g = grad_rows.reshape(-1, *([1] * (unit_grad.dim() - 1))) * unit_grad
    grads = [None] * len(needs_input_grad)
    for i, sign in grad_signs.items():
        if needs_input_grad[i]:
            grads[i] = g if sign > 0 else -g
    return tuple(grads)


class RowLossOp:
    """A row-loss op for torch: ``op(*tensors_and_options, need_grad) -> (row_losses, grad)``.

    Registered as a ``torch.library`` custom op (fake implementation and autograd included),
    which ``torch.compile`` traces without a graph break; eager calls go through an equivalent
    ``torch.autograd.Function``, which skips the custom-op dispatch layers (half the host
    overhead per step).
    """

    def __init__(self, qualname: str, impl: Callable, *, primary: int, grad_signs: dict[int, float]):
        self.qualname = qualname
        self.custom_op = torch.library.custom_op(qualname, impl, mutates_args=())

        @self.custom_op.register_fake
        def _(*args):
            x = args[primary]
            grad = torch.empty_like(x) if args[-1] else x.new_empty((0,))
            return x.new_empty((x.shape[0],)), grad

        def setup_context(ctx, inputs, output):
            ctx.mark_non_differentiable(output[1])
            ctx.save_for_backward(output[1])

        def backward(ctx, grad_rows, _grad_of_grad):
            return _input_grads(ctx.saved_tensors[0], grad_rows, ctx.needs_input_grad, grad_signs, qualname)

        self.custom_op.register_autograd(backward, setup_context=setup_context)

        class Eager(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *args):
                rows, grad = impl(*args)
                ctx.mark_non_differentiable(grad)
                ctx.save_for_backward(grad)
                return rows, grad

            @staticmethod
            def backward(ctx, grad_rows, _grad_of_grad):
                return _input_grads(ctx.saved_tensors[0], grad_rows, ctx.needs_input_grad, grad_signs, qualname)

        Eager.__name__ = Eager.__qualname__ = qualname.split("::")[-1] + "_function"
        self.eager = Eager

    def __call__(self, *args):
        if torch.compiler.is_compiling():
            return self.custom_op(*args)
        return self.eager.apply(*args)


def define_row_loss(qualname: str, impl: Callable, *, primary: int, grad_signs: dict[int, float]) -> RowLossOp:
    """Register ``impl(*tensors_and_options, need_grad) -> (row_losses, grad)`` as a row-loss op.

    ``primary`` is the index of the ``(rows, L)`` input whose gradient the kernel writes;
    ``grad_signs`` maps each differentiable input index to the sign of its gradient relative
    to that one (range_mae: ``y_pred`` +1, ``y_true`` -1). ``need_grad`` is the last argument.
    """
    return RowLossOp(qualname, impl, primary=primary, grad_signs=grad_signs)


def reduce_rows(rows: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return rows
    total = rows.sum(dtype=torch.float64 if rows.dtype == torch.float64 else torch.float32)
    return (total if reduction == "sum" else total / rows.numel()).to(rows.dtype)
