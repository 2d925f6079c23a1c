"""Multiclass hinge loss (Weston-Watkins, CS231n's SVM loss): validation, dispatch, NumPy/CuPy API.

For scores ``s (N, C)`` and integer labels ``y (N,)``, per row::

    loss_i = w[y_i] * sum_{j != y_i} max(0, s_ij - s_iy + margin)^p     (/ C if divide_by_classes)
    d loss_i / d s_ij = w[y_i] * p * m_ij^(p-1) * [m_ij > 0]  (j != y_i),  d loss_i / d s_iy = -sum

``divide_by_classes=True`` is exactly ``torch.nn.functional.multi_margin_loss``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..._dispatch import (array_module, check_choice, check_same_framework, compute_dtype,
                          grad_scale, load_backend, reduce_rows, resolve_backend)

OP = "multiclass_hinge"
REDUCTIONS = ("none", "mean", "sum")


class Prepared(NamedTuple):
    scores: object  # (N, C) in the compute dtype
    labels: object  # int64 (N,)
    weight: object  # float64 (C,) or None
    dtype: np.dtype
    framework: str


def check_inputs(scores_shape, scores_dtype, labels_shape, labels_dtype, weight_shape=None, p=1) -> None:
    """Shape, dtype and option rules shared by the NumPy API and the framework adapters."""
    if np.dtype(scores_dtype).kind != "f":
        raise TypeError(f"scores must be a floating-point array (float16/32/64); got {np.dtype(scores_dtype)}")
    if len(scores_shape) != 2:
        raise ValueError(f"scores must have shape (N, C); got {tuple(scores_shape)}")
    if np.dtype(labels_dtype).kind not in "iu":
        raise TypeError(f"labels must be an integer array of class indices; got {np.dtype(labels_dtype)}")
    if tuple(labels_shape) != tuple(scores_shape[:1]):
        raise ValueError(f"labels must have shape ({scores_shape[0]},), one per row of scores "
                         f"{tuple(scores_shape)}; got {tuple(labels_shape)}")
    if weight_shape is not None and tuple(weight_shape) != tuple(scores_shape[1:]):
        raise ValueError(f"weight must have shape ({scores_shape[1]},), one per class; got {tuple(weight_shape)}")
    if p not in (1, 2):
        raise ValueError(f"p must be 1 or 2; got {p!r}")


def check_label_range(labels, n_classes: int) -> None:
    """``IndexError`` naming the first label outside ``[0, C)``."""
    bad = (labels < 0) | (labels >= n_classes)
    if bad.any():
        i = int(np.flatnonzero(np.asarray(bad.get() if hasattr(bad, "get") else bad))[0])
        raise IndexError(f"labels[{i}] = {int(labels[i])} is not a class index in [0, {n_classes})")


def prepare(scores, labels, weight=None, p=1) -> Prepared:
    framework = check_same_framework(scores=scores, labels=labels, weight=weight)
    xp = array_module(framework)
    scores, labels = xp.asarray(scores), xp.asarray(labels)
    weight = None if weight is None else xp.asarray(weight)
    check_inputs(scores.shape, scores.dtype, labels.shape, labels.dtype,
                 None if weight is None else weight.shape, p)
    if weight is not None and weight.dtype.kind not in "iuf":
        raise TypeError(f"weight must be a real array; got {weight.dtype}")
    check_label_range(labels, scores.shape[1])
    dtype = scores.dtype
    return Prepared(scores.astype(compute_dtype(dtype), copy=False), labels.astype(np.int64, copy=False),
                    None if weight is None else weight.astype(np.float64, copy=False), dtype, framework)


def run_rows(pr: Prepared, *, margin, p, divide_by_classes, need_grad, backend, scale=1.0,
             out_loss=None, out_grad=None):
    """Per-row losses ``(N,)`` and, if ``need_grad``, ``scale * d loss_i / d scores``."""
    name = resolve_backend(backend, pr.framework)
    xp = array_module(pr.framework)
    n = pr.scores.shape[0]
    out_loss = xp.empty(n, pr.scores.dtype) if out_loss is None else out_loss
    if need_grad and out_grad is None:
        out_grad = xp.empty(pr.scores.shape, pr.scores.dtype)
    if n:
        kernels = load_backend(OP, name)
        common = dict(weight=pr.weight, margin=float(margin), p=int(p),
                      divide_by_classes=bool(divide_by_classes), out_loss=out_loss)
        if need_grad:
            kernels.forward_backward(pr.scores, pr.labels, grad_scale=scale, out_grad=out_grad, **common)
        else:
            kernels.forward(pr.scores, pr.labels, **common)
    return out_loss, out_grad


def multiclass_hinge(scores, labels, *, margin: float = 1.0, p: int = 1, weight=None,
                     divide_by_classes: bool = False, reduction: str = "mean", backend: str = "auto"):
    """Multiclass (Weston-Watkins) hinge loss of class scores.

    Parameters
    ----------
    scores : array_like, shape (N, C)
        Class scores, float16/float32/float64.
    labels : array_like of int, shape (N,)
        The correct class of each row, in ``[0, C)`` (``IndexError`` otherwise).
    margin : float
        The hinge margin (CS231n's ``delta``).
    p : {1, 2}
        2 squares each hinge.
    weight : array_like, shape (C,), optional
        Per-class weight ``w[y_i]`` of each row's loss.
    divide_by_classes : bool
        Divide each row by ``C``: then this is ``torch.nn.functional.multi_margin_loss``.
    reduction : {"mean", "sum", "none"}
    backend : {"auto", "cpu", "cuda", "native", "reference"}

    Returns
    -------
    loss : ndarray, 0-d (or ``(N,)`` for "none"), in the dtype of ``scores``.

    Examples
    --------
    >>> import numpy as np, fastseg
    >>> scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    >>> round(float(fastseg.multiclass_hinge(scores, [0, 1, 2])), 4)  # CS231n's cat/car/frog
    5.2667
    """
    check_choice("reduction", reduction, REDUCTIONS)
    pr = prepare(scores, labels, weight, p)
    rows, _ = run_rows(pr, margin=margin, p=p, divide_by_classes=divide_by_classes, need_grad=False,
                       backend=backend)
    return reduce_rows(rows.astype(pr.dtype, copy=False), reduction)


def multiclass_hinge_value_and_grad(scores, labels, *, margin: float = 1.0, p: int = 1, weight=None,
                                    divide_by_classes: bool = False, reduction: str = "mean",
                                    backend: str = "auto"):
    """The hinge loss and its gradient with respect to ``scores`` in one pass per row.

    Same arguments as :func:`multiclass_hinge`; ``reduction`` must be "mean" or "sum".

    Returns
    -------
    loss : ndarray, 0-d
    grad : ndarray, shape (N, C)
    """
    check_choice("reduction", reduction, REDUCTIONS)
    pr = prepare(scores, labels, weight, p)
    scale = grad_scale(pr.scores.shape[0], reduction)
    rows, grad = run_rows(pr, margin=margin, p=p, divide_by_classes=divide_by_classes, need_grad=True,
                          backend=backend, scale=scale)
    return reduce_rows(rows.astype(pr.dtype, copy=False), reduction), grad.astype(pr.dtype, copy=False)


def svm_loss(W, X, y, reg: float, delta: float = 1.0, *, backend: str = "auto"):
    """CS231n's linear SVM loss and gradient, vectorised and fused.

    ``scores = X @ W``; ``loss = mean_i sum_{j != y_i} max(0, s_ij - s_iy + delta) + reg * sum(W**2)``;
    ``dW = X.T @ dS + 2 * reg * W`` with ``dS`` the hinge gradient of the mean loss, written by
    the fused kernel in the same pass as the loss.

    Parameters
    ----------
    W : ndarray, shape (D, C)
    X : ndarray, shape (N, D)
    y : ndarray of int, shape (N,)
    reg : float
        L2 regularisation strength.
    delta : float
        The margin.

    Returns
    -------
    loss : float
    dW : ndarray, shape (D, C)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> W, X, y = 1e-3 * rng.standard_normal((5, 3)), rng.standard_normal((4, 5)), np.array([0, 2, 1, 0])
    >>> loss, dW = svm_loss(W, X, y, reg=0.1)
    >>> round(loss, 2), dW.shape   # about C - 1 = 2 while the weights are tiny
    (2.0, (5, 3))
    """
    W, X = np.asarray(W), np.asarray(X)
    if W.ndim != 2 or X.ndim != 2 or X.shape[1] != W.shape[0]:
        raise ValueError(f"need W (D, C) and X (N, D) with the same D; got W {W.shape} and X {X.shape}")
    scores = X @ W
    loss, d_scores = multiclass_hinge_value_and_grad(scores, y, margin=delta, reduction="mean",
                                                     backend=backend)
    loss = float(loss) + reg * float(np.vdot(W, W))
    dW = X.T @ d_scores
    dW += 2 * reg * W
    return loss, dW
