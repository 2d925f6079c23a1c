"""Multiclass hinge loss (Weston-Watkins, CS231n's SVM loss): validation, dispatch, NumPy/CuPy API.

For scores ``s (N, C)`` and integer labels ``y (N,)``, per row::

    loss_i = w[y_i] * sum_{j != y_i} max(0, s_ij - s_iy + margin)^p     (/ C if divide_by_classes)
    d loss_i / d s_ij = w[y_i] * p * m_ij^(p-1) * [m_ij > 0]  (j != y_i),  d loss_i / d s_iy = -sum

``divide_by_classes=True`` is exactly ``torch.nn.functional.multi_margin_loss``.
"""

from __future__ import annotations

import numpy as np

from .. import _rowop
from .._rowop import Plan, RowOp, class_count, float_input, real_option

REDUCTIONS = _rowop.REDUCTIONS


def make_plan(shapes, dtypes, *, margin=1.0, p=1, divide_by_classes=False) -> Plan:
    """Validate ``(scores, labels, weight)`` and the options; scores ``(N, C)`` in the compute
    dtype, labels int64 ``(N,)``, weight float64 ``(C,)``."""
    (s_shape, y_shape, w_shape), (s_dtype, y_dtype, w_dtype) = shapes, dtypes
    work = float_input("scores", s_dtype)
    if len(s_shape) != 2:
        raise ValueError(f"scores must have shape (N, C); got {s_shape}")
    class_count("scores", s_shape)
    if y_dtype.kind not in "iu":
        raise TypeError(f"labels must be an integer array of class indices; got {y_dtype}")
    if y_shape != s_shape[:1]:
        raise ValueError(f"labels must have shape ({s_shape[0]},), one per row of scores {s_shape}; got {y_shape}")
    if w_shape is not None:
        if w_dtype.kind not in "iuf":
            raise TypeError(f"weight must be a real array; got {w_dtype}")
        if w_shape != s_shape[1:]:
            raise ValueError(f"weight must have shape ({s_shape[1]},), one per class; got {w_shape}")
    if p not in (1, 2) or isinstance(p, bool):
        raise ValueError(f"p must be 1 or 2; got {p!r}")
    margin = real_option("margin", margin)
    n = s_shape[0]
    return Plan(n, (n,), (s_shape, (n,), w_shape), (work, np.dtype(np.int64), None if w_shape is None else
                                                     np.dtype(np.float64)),
                (("margin", margin), ("p", int(p)), ("divide_by_classes", bool(divide_by_classes))), s_dtype)


def check_labels(views, plan: Plan) -> None:
    """``IndexError`` naming the first label outside ``[0, C)``."""
    check_label_range(views[1], plan.views[0][1])


def check_label_range(labels, n_classes: int) -> None:
    bad = (labels < 0) | (labels >= n_classes)
    if bad.any():
        i = int(np.flatnonzero(np.asarray(bad.get() if hasattr(bad, "get") else bad))[0])
        raise IndexError(f"labels[{i}] = {int(labels[i])} is not a class index in [0, {n_classes})")


OP = RowOp("multiclass_hinge", ("scores", "labels", "weight"), grads=((0, 1.0),),
           options=(("margin", float), ("p", int), ("divide_by_classes", bool)), make_plan=make_plan,
           optional=frozenset({"weight"}), check_values=check_labels)


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
    return _rowop.loss(OP, (scores, labels, weight), dict(margin=margin, p=p, divide_by_classes=divide_by_classes),
                       reduction=reduction, backend=backend)


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
    return _rowop.value_and_grad(OP, (scores, labels, weight),
                                 dict(margin=margin, p=p, divide_by_classes=divide_by_classes),
                                 reduction=reduction, backend=backend)


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
