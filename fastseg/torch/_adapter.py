"""One torch adapter for every row-loss op (``fastseg/ops/_rowop.py``'s :class:`RowOp`).

Forward runs the op's forward kernel and saves only its input tensors (the autograd memory
contract of ``docs/design.md``: nothing of size rows x L beyond the inputs themselves). Backward
runs the op's backward kernel once, with the upstream gradient of each row folded in as a
per-row scale, writing every requested input gradient in that one call (range losses: ``y_pred``'s
and ``y_true``'s). Nothing is written in place, so ``retain_graph=True`` and a loss used twice
give the same gradients every time.

Each op is registered twice from the same two functions: as ``torch.library`` custom ops
(``fastseg::<op>`` and ``fastseg::<op>_backward``, with fake implementations and autograd; what
``torch.compile(fullgraph=True)`` traces) and as a ``torch.autograd.Function`` for eager calls,
which skips the custom-op dispatch layers (less host time per step). Adding an op is one
:func:`register` call.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np
import torch

from .._device import DeviceBuffer
from .._dispatch import check_choice, resolve_backend
from ..ops._rowop import REDUCTIONS, Plan, RowOp, moved_shape

NUMPY_DTYPE = {torch.float16: np.dtype(np.float16), torch.bfloat16: np.dtype(np.float16),
               torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64),
               torch.bool: np.dtype(bool), torch.uint8: np.dtype(np.uint8), torch.uint16: np.dtype(np.uint16),
               torch.uint32: np.dtype(np.uint32), torch.uint64: np.dtype(np.uint64),
               torch.int8: np.dtype(np.int8), torch.int16: np.dtype(np.int16),
               torch.int32: np.dtype(np.int32), torch.int64: np.dtype(np.int64)}
"""Torch dtype -> a NumPy dtype of the same kind and width, for the ops' plans (bfloat16 plans as
float16: both are computed in float32)."""

TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64,
               np.dtype(np.int64): torch.int64, np.dtype(np.int32): torch.int32}
"""The compute dtypes a plan asks for, as torch dtypes."""

EXACT_NUMPY_DTYPE = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64),
                     torch.int64: np.dtype(np.int64), torch.int32: np.dtype(np.int32)}


def numpy_dtype(name: str, tensor: torch.Tensor) -> np.dtype:
    dtype = NUMPY_DTYPE.get(tensor.dtype)
    if dtype is None:
        raise TypeError(f"{name} has dtype {tensor.dtype}, which fastseg does not compute with: use a "
                        "float16/bfloat16/float32/float64 tensor (integer or bool where labels are expected)")
    return dtype


def check_tensors(op: RowOp, tensors: Sequence) -> torch.device:
    """All given inputs are tensors on one device; return that device."""
    device = None
    for name, t in zip(op.arrays, tensors):
        if t is None:
            continue
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor (fastseg.torch); got {type(t).__name__}"
                            f" — use fastseg.{op.name} for NumPy arrays")
        if device is None:
            device = t.device
        elif t.device != device:
            raise ValueError(f"all inputs must be on one device: {name} is on {t.device}, others on {device}")
    return device


def plan_for(op: RowOp, tensors: Sequence, options: dict) -> Plan:
    shapes = tuple(None if t is None else tuple(t.shape) for t in tensors)
    dtypes = tuple(None if t is None else numpy_dtype(name, t) for name, t in zip(op.arrays, tensors))
    return op.plan(shapes, dtypes, **options)


def views(plan: Plan, tensors: Sequence) -> list:
    """The tensors as the kernels see them (class axis last, compute dtype, kernel shape):
    views where possible, never a write into the caller's memory."""
    out = []
    for t, shape, dtype in zip(tensors, plan.views, plan.casts):
        if t is None:
            out.append(None)
            continue
        t = t.detach()
        if plan.axis is not None and t.dim() == len(plan.lead) + 1:
            t = t.movedim(plan.axis, -1)
        if t.dtype is not TORCH_DTYPE[dtype]:
            t = t.to(TORCH_DTYPE[dtype])
        out.append(t if t.shape == shape else t.reshape(shape))
    return out


def kernel_array(t: Optional[torch.Tensor]):
    """A zero-copy view a backend takes: a NumPy array for a CPU tensor, a
    :class:`~fastseg._device.DeviceBuffer` (by address; a contiguous copy if strided) for a CUDA one."""
    if t is None:
        return None
    if t.device.type == "cpu":
        return t.numpy()
    if not t.is_contiguous():
        t = t.contiguous()
    return DeviceBuffer(t.data_ptr(), tuple(t.shape), EXACT_NUMPY_DTYPE[t.dtype], t.device.index, t)


def _stream(device: torch.device):
    return None if device.type == "cpu" else torch.cuda.current_stream(device).cuda_stream


def _framework(device: torch.device) -> str:
    return "numpy" if device.type in ("cpu", "meta") else "device"


@dataclasses.dataclass(frozen=True)
class Call:
    """One call's op, options and backend: the forward and backward every registration runs."""

    op: RowOp
    options: tuple  # (name, value) pairs as the user gave them (the plan's input)
    backend: str
    validate: bool = False
    known_plan: Plan | None = None  # the plan of these inputs, when the caller already made it
    reduction: str = "none"  # "mean"/"sum": forward returns the reduced loss, backward takes its scalar

    def plan(self, tensors) -> Plan:
        return self.known_plan or plan_for(self.op, tensors, dict(self.options))

    def _setup(self, tensors):
        """The plan, the device, the backend module and the kernels' views of ``tensors``."""
        plan = self.plan(tensors)
        device = tensors[self.op.primary].device
        kernels = self.op.backend(resolve_backend(self.backend, _framework(device)))
        return plan, device, kernels, views(plan, tensors)

    def forward(self, tensors) -> torch.Tensor:
        """Per-row losses, shape ``plan.lead``, in the compute dtype."""
        return self.forward_with_scale(tensors)[0]

    def forward_with_scale(self, tensors):
        """``(loss, d loss / d row loss)``: per-row losses and None for ``reduction="none"``; the
        reduced loss (summed in float64) and the reduction's per-row gradient scale otherwise (a
        float on the CPU, a 0-d device tensor on CUDA: no synchronisation)."""
        plan, device, kernels, v = self._setup(tensors)
        if self.op.check_values is not None and plan.rows and (device.type == "cpu" or self.validate):
            self.op.check_values([None if t is None else t.cpu().numpy() for t in v], plan)
        out = v[self.op.primary].new_empty((plan.rows,))
        if device.type == "meta":  # shapes only: what the kernel would return, no kernel
            return (out.reshape(plan.lead), None) if self.reduction == "none" else (out.sum(), 1.0)
        if plan.rows:
            kernels.rows(*map(kernel_array, v), out_loss=kernel_array(out), stream=_stream(device),
                         **plan.kernel_options)
        if self.reduction == "none":
            return out.reshape(plan.lead), None
        total = out.sum(dtype=torch.float64)
        if self.reduction == "sum":
            return total.to(out.dtype), 1.0
        denominator = plan.rows
        if self.op.denominator is not None:  # on the CPU from the NumPy views: a few µs less per step
            denominator = self.op.denominator(v if device.type != "cpu" else [None if t is None else t.numpy()
                                                                               for t in v], dict(self.options))
            if device.type == "cpu" and denominator is not None:
                denominator = float(denominator)
        if denominator is None:
            denominator = plan.rows
        # nothing counted (every row ignored): the loss is NaN (0/0) and the gradient 0, as torch
        if isinstance(denominator, (int, float)):
            inv = 1.0 / denominator if denominator else 0.0
            return (total / denominator if denominator else total * float("nan")).to(out.dtype), inv
        denominator = denominator.to(torch.float64)
        inv = torch.where(denominator == 0, 0.0, 1.0 / denominator)
        return (total / denominator).to(out.dtype), inv

    def backward(self, tensors, grad_rows: torch.Tensor, needs: Sequence[bool], inv=None) -> list:
        """The gradient of every input whose ``needs`` flag is set (None elsewhere), from one
        backward-kernel pass with ``grad_rows`` as the per-row scale (``reduction="none"``), or
        ``grad_rows * inv`` for every row (the gradient of a reduced loss)."""
        plan, device, kernels, v = self._setup(tensors)
        primary = v[self.op.primary]
        grad = torch.empty_like(primary, memory_format=torch.contiguous_format)
        if device.type == "meta":
            plan = plan._replace(rows=0)
        extra = {}
        other = [(i, sign) for i, sign in self.op.grads[1:] if needs[i]]
        if other:  # range losses: y_true's gradient (the negation), written in the same pass
            extra["out_grad_true"] = torch.empty_like(v[other[0][0]], memory_format=torch.contiguous_format)
        if plan.rows:
            if self.reduction == "none":
                scale = kernel_array(grad_rows.detach().reshape(-1).to(torch.float64))
            elif device.type == "cpu":
                scale = float(grad_rows) * inv
            else:
                scale = kernel_array((grad_rows.detach().to(torch.float64) * inv).expand(plan.rows).contiguous())
            if device.type != "cpu":  # the backward kernel's loss scratch from torch's allocator (CUDA graphs)
                extra["out_loss"] = primary.new_empty((plan.rows,))
            kernels.rows(*map(kernel_array, v), out_grad=kernel_array(grad), grad_scale=scale,
                         stream=_stream(device), **{k: kernel_array(t) for k, t in extra.items()},
                         **plan.kernel_options)
        else:
            grad.zero_()
            for t in extra.values():
                t.zero_()
        out = [None] * len(tensors)
        if needs[self.op.primary]:
            out[self.op.primary] = _like_input(grad, tensors[self.op.primary], plan)
        if other:
            out[other[0][0]] = _like_input(extra["out_grad_true"], tensors[other[0][0]], plan)
        return out


def _like_input(grad: torch.Tensor, x: torch.Tensor, plan: Plan) -> torch.Tensor:
    """A kernel-shaped gradient in the shape, axis order and dtype of input ``x``."""
    grad = grad.reshape(moved_shape(tuple(x.shape), plan.axis))
    return (grad if plan.axis is None else grad.movedim(-1, plan.axis)).to(x.dtype)


def _schema_type(tp: type) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str"}[tp]


class RowLoss:
    """An op registered for torch: call it with the op's arrays (in the op's order), options,
    ``reduction``, ``backend`` and ``validate``."""

    def __init__(self, op: RowOp):
        self.op = op
        n = len(op.arrays)
        tensor_args = ", ".join(f"Tensor{'?' if name in op.optional else ''} {name}" for name in op.arrays)
        option_names = [name for name, _ in op.options]
        option_args = ", ".join(f"{_schema_type(tp)} {name}" for name, tp in op.options)
        self._option_names = option_names

        def call_of(opts, backend, validate):
            return Call(op, tuple(zip(option_names, opts)), backend, validate)

        def forward_impl(*args):
            tensors, opts, (backend, validate) = args[:n], args[n:-2], args[-2:]
            return call_of(opts, backend, validate).forward(tensors)

        def backward_impl(*args):
            tensors, grad_rows, needs = args[:n], args[n], args[n + 1]
            opts, (backend, validate) = args[n + 2:-2], args[-2:]
            grads = call_of(opts, backend, validate).backward(tensors, grad_rows, needs)
            return [g if g is not None else tensors[op.primary].new_empty((0,)) for g in grads]

        self.forward_op = torch.library.custom_op(
            f"fastseg::{op.name}", forward_impl, mutates_args=(),
            schema=f"({tensor_args}, {option_args}, str backend, bool validate) -> Tensor")
        self.backward_op = torch.library.custom_op(
            f"fastseg::{op.name}_backward", backward_impl, mutates_args=(),
            schema=f"({tensor_args}, Tensor grad_rows, bool[] needs, {option_args}, str backend, "
                   f"bool validate) -> Tensor[]")

        @self.forward_op.register_fake
        def _(*args):
            tensors, opts = args[:n], args[n:-2]
            plan = plan_for(op, tensors, dict(zip(option_names, opts)))
            primary = tensors[op.primary]
            return primary.new_empty(plan.lead, dtype=TORCH_DTYPE[plan.casts[op.primary]])

        @self.backward_op.register_fake
        def _(*args):
            tensors, needs = args[:n], args[n + 1]
            return [torch.empty_like(t) if t is not None and need else tensors[op.primary].new_empty((0,))
                    for t, need in zip(tensors, needs)]

        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs[:n])
            ctx.rest = inputs[n:]

        def backward(ctx, grad_rows):
            tensors = ctx.saved_tensors
            needs = [bool(ctx.needs_input_grad[i]) for i in range(n)]
            grads = self.backward_op(*tensors, grad_rows, needs, *ctx.rest)
            return (*[g if need else None for g, need in zip(grads, needs)], *([None] * len(ctx.rest)))

        self.forward_op.register_autograd(backward, setup_context=setup_context)

        def eager_forward(ctx, call, *tensors):
            ctx.call = call
            ctx.save_for_backward(*tensors)
            loss, ctx.inv = call.forward_with_scale(tensors)
            return loss

        def eager_backward(ctx, grad_loss):
            needs = ctx.needs_input_grad[1:]
            return (None, *ctx.call.backward(ctx.saved_tensors, grad_loss, needs, ctx.inv))

        # named after the op, so that grad_fn reads e.g. <RangeMaeBackward>
        name = "".join(part.title() for part in op.name.split("_"))
        self.eager = type(name, (torch.autograd.Function,),
                          {"forward": staticmethod(eager_forward), "backward": staticmethod(eager_backward)})

    def __call__(self, tensors, options: dict, *, reduction: str, backend: str = "auto",
                 validate: bool = False) -> torch.Tensor:
        """The loss, differentiable in the op's grads. Eagerly one autograd node does the kernel
        and the reduction; under ``torch.compile`` the custom op gives per-row losses and torch
        reduces them."""
        check_choice("reduction", reduction, REDUCTIONS)
        check_tensors(self.op, tensors)
        out_dtype = tensors[self.op.primary].dtype
        if not torch.compiler.is_compiling():
            plan = plan_for(self.op, tensors, options)  # every check that needs no data, before any work
            call = Call(self.op, tuple(options.items()), backend, validate, plan, reduction)
            return self.eager.apply(call, *tensors).to(out_dtype)
        # the fake implementation makes the plan's checks
        rows = self.forward_op(*tensors, *[options[name] for name in self._option_names], backend, validate)
        denominator = None
        if self.op.denominator is not None and reduction == "mean":
            arrays = [t if i == self.op.primary or t is None else
                      t.to(torch.float64 if t.is_floating_point() else torch.int64) for i, t in enumerate(tensors)]
            denominator = self.op.denominator(arrays, options)
        return reduce_rows(rows, reduction, denominator).to(out_dtype)


def reduce_rows(rows: torch.Tensor, reduction: str, denominator=None) -> torch.Tensor:
    """Reduce per-row losses (in the compute dtype: float32 at least) over all rows."""
    if reduction == "none":
        return rows
    if reduction == "sum":
        return rows.sum()
    if denominator is None:
        return rows.mean()
    return rows.sum() / denominator.to(rows.dtype)


def register(op: RowOp) -> RowLoss:
    """Register ``op`` for torch (custom ops for ``torch.compile`` and an eager autograd Function)."""
    return RowLoss(op)
