"""Softmax cross-entropy with PyTorch parity (``cross_entropy``) and Keras's
``categorical_crossentropy``: validation, dispatch and the NumPy API.

Per row, with target weights ``q`` (from class indices or probabilities, ``weight`` and label
smoothing exactly as ``torch.nn.functional.cross_entropy`` defines them)::

    loss_i = -sum_c q_ic log softmax(x_i)_c        d loss_i / d x_i = (sum_c q_ic) softmax(x_i) - q_i

One pass per row over memory (online max, ``exp`` into the gradient buffer, the gradient from
it while it is in L1); the caller's logits are never written.
"""

from __future__ import annotations

import numpy as np

from ..._dispatch import (check_choice, check_same_framework, compute_dtype, load_backend, reduce_rows,
                          resolve_backend)

REDUCTIONS = ("none", "mean", "sum")


def _backend(backend: str, framework: str):
    if framework == "device":
        raise TypeError("the NumPy cross-entropy API takes host arrays (backend='cuda' or 'native' runs "
                        "them on the GPU); for device tensors use fastseg.torch.cross_entropy")
    return load_backend("cross_entropy", resolve_backend(backend, framework))


def check_logits(logits_shape, logits_dtype, name="logits") -> None:
    if np.dtype(logits_dtype).kind != "f":
        raise TypeError(f"{name} must be a floating-point array (float16/32/64); got {np.dtype(logits_dtype)}")
    if len(logits_shape) != 2:
        raise ValueError(f"{name} must have shape (N, C); got {tuple(logits_shape)}")


def check_target(logits_shape, target_shape, target_dtype, weight_shape, label_smoothing) -> str:
    """``"class"`` (indices ``(N,)``) or ``"prob"`` (probabilities ``(N, C)``); errors otherwise."""
    kind = np.dtype(target_dtype).kind
    if kind in "iu":
        if tuple(target_shape) != tuple(logits_shape[:1]):
            raise ValueError(f"class-index target must have shape ({logits_shape[0]},); got {tuple(target_shape)}")
        mode = "class"
    elif kind == "f":
        if tuple(target_shape) != tuple(logits_shape):
            raise ValueError(f"probability target must have the shape of logits {tuple(logits_shape)}; "
                             f"got {tuple(target_shape)}")
        mode = "prob"
    else:
        raise TypeError(f"target must be integer class indices or float probabilities; got {np.dtype(target_dtype)}")
    if weight_shape is not None and tuple(weight_shape) != tuple(logits_shape[1:]):
        raise ValueError(f"weight must have shape ({logits_shape[1]},), one per class; got {tuple(weight_shape)}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1]; got {label_smoothing}")
    return mode


def check_class_range(target, n_classes: int, ignore_index: int) -> None:
    bad = (target != ignore_index) & ((target < 0) | (target >= n_classes))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise IndexError(f"target[{i}] = {int(target[i])} is not a class index in [0, {n_classes}) "
                         f"nor ignore_index ({ignore_index})")


def mean_denominator(target, weight, ignore_index):
    """What ``reduction="mean"`` divides by, as torch: ``sum w[y_i]`` over kept rows (their count
    without ``weight``) for class indices, ``N`` for probabilities."""
    if target.ndim == 2:
        return float(target.shape[0])
    kept = target[target != ignore_index]
    return float(kept.size if weight is None else np.asarray(weight, np.float64)[kept].sum())


def _prepare_ce(logits, target, weight, ignore_index, label_smoothing):
    framework = check_same_framework(logits=logits, target=target, weight=weight)
    if framework == "device":
        _backend("auto", framework)
    logits, target = np.asarray(logits), np.asarray(target)
    weight = None if weight is None else np.asarray(weight, np.float64)
    check_logits(logits.shape, logits.dtype)
    mode = check_target(logits.shape, target.shape, target.dtype, None if weight is None else weight.shape,
                        label_smoothing)
    dtype = logits.dtype
    x = logits.astype(compute_dtype(dtype), copy=False)
    if mode == "class":
        target = target.astype(np.int64, copy=False)
        check_class_range(target, x.shape[1], ignore_index)
    else:
        target = target.astype(x.dtype, copy=False)
    return framework, x, target, weight, dtype


def cross_entropy(logits, target, *, weight=None, ignore_index: int = -100, label_smoothing: float = 0.0,
                  reduction: str = "mean", backend: str = "auto"):
    """Softmax cross-entropy from logits, exactly ``torch.nn.functional.cross_entropy``.

    Parameters
    ----------
    logits : array_like, shape (N, C)
    target : array_like
        Class indices, int ``(N,)`` (``ignore_index`` rows count for nothing), or class
        probabilities, float ``(N, C)``.
    weight : array_like, shape (C,), optional
        Per-class weight.
    ignore_index : int
    label_smoothing : float in [0, 1]
    reduction : {"mean", "sum", "none"}
        "mean" divides by ``sum w[y_i]`` over kept rows for class indices (as torch), by ``N``
        for probabilities.

    Examples
    --------
    >>> import numpy as np, fastseg
    >>> round(float(fastseg.cross_entropy(np.array([[2.0, 0.0, -1.0]]), np.array([0]))), 4)
    0.1698
    """
    check_choice("reduction", reduction, REDUCTIONS)
    framework, x, target, weight, dtype = _prepare_ce(logits, target, weight, ignore_index, label_smoothing)
    rows = np.empty(x.shape[0], x.dtype)
    if x.shape[0]:
        _backend(backend, framework).cross_entropy(x, target, weight=weight, ignore_index=ignore_index,
                                                   label_smoothing=label_smoothing, out_loss=rows)
    return reduce_rows(rows.astype(dtype, copy=False), reduction, mean_denominator(target, weight, ignore_index))


def cross_entropy_value_and_grad(logits, target, *, weight=None, ignore_index: int = -100,
                                 label_smoothing: float = 0.0, reduction: str = "mean", backend: str = "auto"):
    """:func:`cross_entropy` and its gradient with respect to ``logits`` in one pass per row.

    Returns
    -------
    loss : ndarray, 0-d
    grad : ndarray, shape (N, C)
    """
    check_choice("reduction", reduction, ("mean", "sum"))
    framework, x, target, weight, dtype = _prepare_ce(logits, target, weight, ignore_index, label_smoothing)
    denom = mean_denominator(target, weight, ignore_index)
    scale = (1.0 / denom if denom else np.nan) if reduction == "mean" else 1.0
    rows, grad = np.empty(x.shape[0], x.dtype), np.empty_like(x)
    if x.shape[0]:
        _backend(backend, framework).cross_entropy(x, target, weight=weight, ignore_index=ignore_index,
                                                   label_smoothing=label_smoothing, grad_scale=scale,
                                                   out_loss=rows, out_grad=grad)
    return reduce_rows(rows.astype(dtype, copy=False), reduction, denom), grad.astype(dtype, copy=False)


def _prepare_cce(y_true, y_pred, axis, label_smoothing):
    framework = check_same_framework(y_true=y_true, y_pred=y_pred)
    if framework == "device":
        _backend("auto", framework)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_pred.ndim < 1 or np.dtype(y_pred.dtype).kind != "f":
        raise TypeError(f"y_pred must be a floating-point array; got {y_pred.dtype} with shape {y_pred.shape}")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape; got {y_true.shape} and {y_pred.shape}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1]; got {label_smoothing}")
    y_pred = np.moveaxis(y_pred, axis, -1)
    y_true = np.moveaxis(y_true, axis, -1)
    lead = y_pred.shape[:-1]
    dtype = y_pred.dtype
    work = compute_dtype(dtype)
    c = y_pred.shape[-1]
    return (framework, np.ascontiguousarray(y_true.reshape(-1, c), dtype=work),
            np.ascontiguousarray(y_pred.reshape(-1, c), dtype=work), lead, dtype, axis)


def cce_rows(framework, t, p, from_logits, label_smoothing, backend, scale=1.0, grad=None):
    """Per-row Keras categorical cross-entropy of 2-D ``(rows, C)`` arrays; fills ``grad`` with
    ``scale * d row / d p`` when given (the framework adapters call this)."""
    kernels = _backend(backend, framework)
    rows = np.empty(p.shape[0], p.dtype)
    if p.shape[0]:
        if from_logits:
            kernels.cross_entropy(p, t, weight=None, ignore_index=-100, label_smoothing=label_smoothing,
                                  grad_scale=scale, out_loss=rows, out_grad=grad)
        else:
            kernels.keras_probabilities(t, p, label_smoothing=label_smoothing, grad_scale=scale,
                                        out_loss=rows, out_grad=grad)
    return rows


def categorical_crossentropy(y_true, y_pred, *, from_logits: bool = False, label_smoothing: float = 0.0,
                             axis: int = -1, reduction: str = "mean", backend: str = "auto"):
    """Keras 3's ``categorical_crossentropy``, exactly.

    With ``from_logits=False``, ``y_pred`` is divided by its sum along ``axis`` and clipped to
    ``[1e-7, 1 - 1e-7]`` before the log, as Keras does; its gradient (from
    :func:`categorical_crossentropy_value_and_grad`) is the gradient of that function:
    ``-t_i / p_i + sum(t) / sum(p)`` where nothing is clipped, zero through clipped entries.
    Label smoothing: ``t (1 - s) + s / C``.

    Examples
    --------
    The seed's fifth thread: the gradient is ``[-0.25, 1, 1]``, not ``[-1.25, 0, 0]``:

    >>> loss, grad = categorical_crossentropy_value_and_grad([[1., 0, 0]], [[0.8, 0.1, 0.1]], reduction="sum")
    >>> grad.round(4).tolist()
    [[-0.25, 1.0, 1.0]]
    """
    check_choice("reduction", reduction, REDUCTIONS)
    framework, t, p, lead, dtype, _ = _prepare_cce(y_true, y_pred, axis, label_smoothing)
    rows = cce_rows(framework, t, p, from_logits, label_smoothing, backend)
    return reduce_rows(rows.astype(dtype, copy=False).reshape(lead), reduction)


def categorical_crossentropy_value_and_grad(y_true, y_pred, *, from_logits: bool = False,
                                            label_smoothing: float = 0.0, axis: int = -1,
                                            reduction: str = "mean", backend: str = "auto"):
    """:func:`categorical_crossentropy` and its gradient with respect to ``y_pred``."""
    check_choice("reduction", reduction, ("mean", "sum"))
    framework, t, p, lead, dtype, axis = _prepare_cce(y_true, y_pred, axis, label_smoothing)
    n = p.shape[0]
    grad = np.empty_like(p)
    scale = (1.0 / n if n else np.nan) if reduction == "mean" else 1.0
    rows = cce_rows(framework, t, p, from_logits, label_smoothing, backend, scale, grad)
    grad = np.moveaxis(grad.reshape(lead + (p.shape[1],)), -1, axis).astype(dtype, copy=False)
    return reduce_rows(rows.astype(dtype, copy=False), reduction), grad
