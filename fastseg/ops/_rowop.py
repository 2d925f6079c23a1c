"""The one seam between every front end (NumPy API, ``fastseg.torch``, ``fastseg.tensorflow``)
and every backend (reference, cpu, cuda, native) of every row-loss op.

An op is a :class:`RowOp`: its array arguments, its kernel options, which arrays get a
gradient, and a pure ``plan`` function that validates shapes, dtypes and options and says how
the arrays are viewed by the kernels (a :class:`Plan`). Every backend module of an op exposes one
function with one protocol (``docs/design.md``, "Backend protocol")::

    rows(*arrays, out_loss=None, out_grad=None, grad_scale=None, stream=None, **options) -> None

- ``arrays``: the op's arrays in order, as the plan views them (2-D ``(rows, L)`` for the
  primary input, absent optional ones ``None``);
- ``out_loss``: ``(rows,)``, receives each row's loss (``None``: not wanted);
- ``out_grad``: shape of the primary input, receives ``grad_scale[b] * d loss[b] / d x[b]``
  (``None``: not wanted); ``grad_scale`` is a float or a ``(rows,)`` array (the upstream
  gradient of each row), folded into the kernel;
- ``out_grad_true`` (range losses): receives ``y_true``'s gradient, the negation;
- ``stream``: the CUDA stream to launch on (device backends; ignored on the host).

With only ``out_loss`` a backend runs its forward kernel, with only ``out_grad`` its backward
kernel, with both its fused one-pass forward+backward kernel.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
import sys
from types import ModuleType
from typing import Callable, NamedTuple

import numpy as np

from .._dispatch import check_choice, check_same_framework, compute_dtype, resolve_backend

REDUCTIONS = ("none", "mean", "sum")


class Plan(NamedTuple):
    """How the kernels see one call: validated shapes, dtypes and options."""

    rows: int
    lead: tuple[int, ...]  # shape of the per-row losses (reduction="none")
    views: tuple  # per array: the shape the kernel sees, or None where the array is absent
    casts: tuple  # per array: the dtype the kernel sees, or None where the array is absent
    options: tuple[tuple[str, object], ...]  # normalised kernel options
    out_dtype: np.dtype  # the dtype results are returned in (the caller's)
    axis: int | None = None  # class axis moved last before the views (categorical_crossentropy)

    @property
    def kernel_options(self) -> dict:
        return dict(self.options)


@dataclasses.dataclass(frozen=True)
class RowOp:
    """One row-loss op as every front end sees it.

    ``arrays`` names the kernel's array arguments in order; ``optional`` those that may be None.
    ``grads`` maps the index of each differentiable array to the sign of its gradient relative
    to ``out_grad`` (whose array is the first entry). ``options`` names the op's options (what
    ``make_plan`` takes, not the kernel options it derives) with their Python types, for schemas
    such as ``torch.library``'s. ``make_plan(shapes, dtypes, **options)``
    validates everything that needs no data and returns a :class:`Plan`. ``check_values(views,
    plan)`` checks data on the host (labels, lengths): ``IndexError``/``ValueError``.
    ``denominator(arrays, options)`` is what ``reduction="mean"`` divides by when that is not the
    number of rows (cross-entropy's weighted count), from the arrays (integer ones as int64,
    other non-primary ones as float64) and the options; it uses only operators and ``.sum()``, so
    it runs on NumPy, CuPy and torch arrays alike.
    """

    name: str
    arrays: tuple[str, ...]
    grads: tuple[tuple[int, float], ...]
    options: tuple[tuple[str, type], ...]
    make_plan: Callable[..., Plan]
    optional: frozenset = frozenset()
    check_values: Callable | None = None
    denominator: Callable | None = None

    @property
    def primary(self) -> int:
        return self.grads[0][0]

    def plan(self, shapes: tuple, dtypes: tuple, **options) -> Plan:
        """:attr:`make_plan`, cached for hashable arguments (the per-call checks cost a dict
        lookup after the first call with the same shapes, dtypes and options)."""
        try:
            return _cached_plan(self, shapes, dtypes, tuple(options.items()))
        except TypeError as err:
            if "unhashable" not in str(err):
                raise
        return self.make_plan(shapes, dtypes, **options)

    def backend(self, name: str) -> ModuleType:
        """The module of backend ``name`` ("reference", "cpu", "cuda", "native")."""
        return load_backend(self.name, name)


@functools.lru_cache(maxsize=1024)
def _cached_plan(op: RowOp, shapes, dtypes, options) -> Plan:
    return op.make_plan(shapes, dtypes, **dict(options))


def load_backend(op: str, backend: str) -> ModuleType:
    """``fastseg.ops.<op>.<backend>``: from ``sys.modules`` once imported (a dict lookup per call;
    no cache of our own, so a module re-imported against another CuPy or numba-cuda is the one used)."""
    name = f"fastseg.ops.{op}.{backend}"
    module = sys.modules.get(name)
    return module if module is not None else importlib.import_module(name)


def grad_scale(reduction: str, n_rows, denominator=None) -> float:
    """d reduced loss / d row loss, the per-row gradient scale of ``*_value_and_grad``."""
    if reduction == "none":
        raise ValueError("value_and_grad needs a scalar loss: use reduction='mean' or 'sum'")
    if reduction == "sum":
        return 1.0
    denominator = n_rows if denominator is None else float(denominator)
    # nothing counted (every row ignored): the loss is NaN (0/0) and the gradient 0, as torch
    return 1.0 / denominator if denominator else 0.0


def reduce_rows(rows, reduction: str, denominator=None):
    """Reduce per-row losses (NumPy or CuPy) over all rows: "none", "mean" or "sum".

    Summed in float64; "mean" divides by ``denominator`` when given, else by the number of rows;
    a zero denominator gives NaN, as torch."""
    if reduction == "none":
        return rows
    total = rows.sum(dtype=np.float64) if rows.size else np.float64(0)
    if reduction == "sum":
        return total.astype(rows.dtype)
    denominator = rows.size if denominator is None else denominator
    return (total / denominator if denominator else total * np.nan).astype(rows.dtype)


def moved_shape(shape: tuple, axis: int | None) -> tuple:
    """``shape`` with the class ``axis`` moved last (as the kernels see it), or as it is."""
    if axis is None:
        return tuple(shape)
    shape = list(shape)
    shape.append(shape.pop(axis))
    return tuple(shape)


def write_outputs(loss, grad, *, out_loss, out_grad, grad_scale, out_grad_true=None) -> None:
    """The reference backends' protocol outputs from full per-row losses and gradients: the
    losses, the gradient scaled by ``grad_scale`` (a float or per row), and its negation."""
    if out_loss is not None:
        out_loss[...] = loss
    if out_grad is not None:
        out_grad[...] = grad * np.reshape(np.asarray(grad_scale, np.float64), (-1, 1)).astype(grad.dtype)
        if out_grad_true is not None:
            out_grad_true[...] = -out_grad


def weighted_total(rows, weights, out_dtype):
    """``sum_i w_i rows_i`` in float64, as ``out_dtype`` (the ``row_weights`` reductions)."""
    return np.asarray((rows.astype(np.float64) * weights).sum()).astype(out_dtype)


def host_views(op: RowOp, plan: Plan, arrays, xp=np):
    """The arrays as the kernels see them: class axis moved last, cast, reshaped (views where
    possible, never a write to the caller's memory)."""
    out = []
    for name, x, shape, dtype in zip(op.arrays, arrays, plan.views, plan.casts):
        if x is None:
            out.append(None)
            continue
        if plan.axis is not None and x.ndim == len(plan.lead) + 1:
            x = xp.moveaxis(x, plan.axis, -1)
        if x.dtype.kind == "u" and dtype.kind == "i" and x.dtype.itemsize >= dtype.itemsize and x.size \
                and int(x.max()) > np.iinfo(dtype).max:
            raise ValueError(f"{name} holds {int(x.max())}, which does not fit in {dtype}")
        out.append(x.astype(dtype, copy=False).reshape(shape))
    return out


def prepare(op: RowOp, arrays, options: dict):
    """NumPy/CuPy inputs -> (framework, plan, kernel views)."""
    names = {n: a for n, a in zip(op.arrays, arrays)}
    framework = check_same_framework(**names)
    xp = np
    if framework == "device":
        import cupy as xp  # noqa: N813  (device arrays: CuPy; imported only then)
    arrays = [None if a is None else xp.asarray(a) for a in arrays]
    plan = op.plan(tuple(None if a is None else tuple(a.shape) for a in arrays),
                   tuple(None if a is None else np.dtype(a.dtype) for a in arrays), **options)
    views = host_views(op, plan, arrays, xp)
    if op.check_values is not None and plan.rows:
        op.check_values(views, plan)
    return framework, xp, plan, arrays, views


def loss(op: RowOp, arrays, options: dict, *, reduction: str, backend: str, row_weights=None,
         reductions=REDUCTIONS):
    """The NumPy/CuPy API's loss: validate, run the forward kernel, reduce. ``row_weights(views)``,
    when given, replaces the reduction: the loss is ``sum_i w_i rows_i`` (packed-sequence means)."""
    check_choice("reduction", reduction, reductions)
    resolve_backend(backend, "numpy")  # the option itself, before any work
    framework, xp, plan, _, views = prepare(op, arrays, options)
    kernels = op.backend(resolve_backend(backend, framework))
    rows = xp.empty(plan.rows, plan.casts[op.primary])
    if plan.rows:
        kernels.rows(*views, out_loss=rows, **plan.kernel_options)
    if row_weights is not None:
        return weighted_total(rows, row_weights(views), plan.out_dtype)
    denominator = op.denominator(views, options) if op.denominator is not None else None
    # reduced in the compute dtype (float32 for float16 inputs), only the result is cast back
    return reduce_rows(rows.reshape(plan.lead), reduction, denominator).astype(plan.out_dtype)


def value_and_grad(op: RowOp, arrays, options: dict, *, reduction: str, backend: str, row_weights=None,
                   reductions=REDUCTIONS):
    """The NumPy/CuPy API's ``*_value_and_grad``: the fused kernel with the reduction's gradient
    scale folded in (``row_weights(views)``, when given: per row). Returns the loss and the
    gradient with respect to the primary array."""
    check_choice("reduction", reduction, reductions)
    resolve_backend(backend, "numpy")  # the option itself, before any work
    framework, xp, plan, arrays, views = prepare(op, arrays, options)
    kernels = op.backend(resolve_backend(backend, framework))
    weights = None if row_weights is None else row_weights(views)
    denominator = op.denominator(views, options) if op.denominator is not None and weights is None else None
    scale = grad_scale(reduction, plan.rows, denominator) if weights is None else weights
    primary = views[op.primary]
    rows = xp.empty(plan.rows, primary.dtype)
    grad = xp.empty(primary.shape, primary.dtype)
    if plan.rows:
        kernels.rows(*views, out_loss=rows, out_grad=grad, grad_scale=scale, **plan.kernel_options)
    value = reduce_rows(rows, reduction, denominator).astype(plan.out_dtype) if weights is None else \
        weighted_total(rows, weights, plan.out_dtype)
    source_shape = arrays[op.primary].shape
    grad = grad.astype(plan.out_dtype, copy=False).reshape(moved_shape(source_shape, plan.axis))
    return value, grad if plan.axis is None else xp.moveaxis(grad, -1, plan.axis)


def float_input(name: str, dtype: np.dtype) -> np.dtype:
    """The compute dtype of a floating-point input: float32/float64 as they are (native byte
    order), float16 (and bfloat16) in float32. ``TypeError`` naming the dtype otherwise."""
    if dtype.kind != "f" or dtype.itemsize > 8:
        extra = " (long double: convert to float64 first)" if dtype.kind == "f" else ""
        raise TypeError(f"{name} must be a float16/float32/float64 array; got {dtype}{extra}")
    return compute_dtype(dtype)


def target_like_prediction(shapes, dtypes, axis_name: str) -> np.dtype:
    """Validate a ``y_true`` that must match ``y_pred`` (real numbers or bools, the same shape,
    at least one dimension ``(..., axis_name)``); returns ``y_pred``'s compute dtype."""
    (true_shape, pred_shape), (true_dtype, pred_dtype) = shapes, dtypes
    work = float_input("y_pred", pred_dtype)
    if true_dtype.kind not in "biuf":
        raise TypeError(f"y_true must be a real numeric or bool array; got {true_dtype}")
    if len(pred_shape) < 1:
        raise ValueError(f"y_pred must have at least one dimension (..., {axis_name}); got a scalar")
    if true_shape != pred_shape:
        raise ValueError(f"y_true and y_pred must have the same shape (no broadcasting); got "
                         f"y_true {true_shape} and y_pred {pred_shape}")
    return work


def class_count(name: str, shape: tuple, axis: int = -1) -> None:
    """``ValueError`` for rows with no classes (nothing to normalise over)."""
    if shape[axis] == 0:
        raise ValueError(f"{name} must have at least one class (axis {axis}); got shape {shape}")


def real_option(name: str, value, low: float = -np.inf, high: float = np.inf) -> float:
    """A real-valued option as a float: ``TypeError`` for strings, None and other non-numbers,
    ``ValueError`` outside ``[low, high]`` (NaN included, where bounds are given)."""
    if isinstance(value, (str, bytes, bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if (low > -np.inf or high < np.inf) and not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low:g}, {high:g}]; got {value!r}")
    return value


def row_count(lead: tuple) -> int:
    return math.prod(lead)
