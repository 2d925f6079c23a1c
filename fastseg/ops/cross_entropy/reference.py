"""NumPy references for softmax cross-entropy (PyTorch's ``cross_entropy``) and Keras's
``categorical_crossentropy``: the specifications the kernels are tested against.

Both are written through per-class target weights ``q``: a row's loss is
``-sum_c q_c log softmax(x)_c`` and its gradient ``(sum_c q_c) softmax(x) - q``.
"""

from __future__ import annotations

import numpy as np

KERAS_EPSILON = 1e-7


def log_softmax(x):
    m = np.max(x, axis=1, keepdims=True)
    shifted = x - m
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def target_weights(n_classes, target, weight=None, ignore_index=-100, label_smoothing=0.0, dtype=np.float64):
    """``q (N, C)`` for class indices ``(N,)`` or probabilities ``(N, C)`` as torch defines them,
    and the mean-reduction denominator (``sum w[y_i]`` over kept rows, or ``N`` for probabilities)."""
    w = np.ones(n_classes, dtype) if weight is None else np.asarray(weight, dtype)
    eps = label_smoothing
    target = np.asarray(target)
    if target.ndim == 2:
        q = (target.astype(dtype) * (1 - eps) + eps / n_classes) * w
        return q, float(target.shape[0])
    keep = target != ignore_index
    y = np.where(keep, target, 0)
    q = np.zeros((target.shape[0], n_classes), dtype)
    q[np.arange(target.shape[0]), y] = (1 - eps) * w[y]
    q += eps / n_classes * w
    q[~keep] = 0
    return q, float(w[y][keep].sum())


def cross_entropy_rows(logits, target, weight=None, ignore_index=-100, label_smoothing=0.0, need_grad=False):
    """Per-row losses (and, if asked, ``d row_loss / d logits``) of ``torch.nn.functional.cross_entropy``,
    plus the denominator of its ``reduction="mean"``."""
    x = np.asarray(logits)
    q, denom = target_weights(x.shape[1], target, weight, ignore_index, label_smoothing, x.dtype)
    logp = log_softmax(x)
    rows = -(q * logp).sum(axis=1)
    grad = None
    if need_grad:
        grad = q.sum(axis=1, keepdims=True) * np.exp(logp) - q
    return rows.astype(x.dtype), grad if grad is None else grad.astype(x.dtype), denom


def categorical_crossentropy_rows(y_true, y_pred, from_logits=False, label_smoothing=0.0, need_grad=False):
    """Per-row losses (and, if asked, ``d row_loss / d y_pred``) of Keras 3's
    ``categorical_crossentropy``: with ``from_logits=False``, ``y_pred`` is divided by its row sum
    and clipped to ``[eps, 1 - eps]`` before the log, and the gradient is that function's
    (zero through clipped entries): ``-t_j / p_j [kept_j] + sum_{i kept} t_i / sum(p)``."""
    p = np.asarray(y_pred)
    n_classes = p.shape[1]
    t = np.asarray(y_true, p.dtype) * (1 - label_smoothing) + label_smoothing / n_classes
    if from_logits:
        logp = log_softmax(p)
        rows = -(t * logp).sum(axis=1)
        grad = t.sum(axis=1, keepdims=True) * np.exp(logp) - t if need_grad else None
        return rows.astype(p.dtype), grad
    total = p.sum(axis=1, keepdims=True)
    q = p / total
    kept = (q >= KERAS_EPSILON) & (q <= 1 - KERAS_EPSILON)
    rows = -(t * np.log(np.clip(q, KERAS_EPSILON, 1 - KERAS_EPSILON))).sum(axis=1)
    grad = None
    if need_grad:
        grad = np.where(kept, -t / np.where(kept, p, 1), 0) + (t * kept).sum(axis=1, keepdims=True) / total
    return rows.astype(p.dtype), grad if grad is None else grad.astype(p.dtype)


def cross_entropy(logits, target, *, weight, ignore_index, label_smoothing, grad_scale=1.0,
                  out_loss, out_grad=None) -> None:
    """Backend interface (see ``cpu.cross_entropy``) over :func:`cross_entropy_rows`."""
    rows, grad, _ = cross_entropy_rows(logits, target, weight, ignore_index, label_smoothing,
                                       need_grad=out_grad is not None)
    out_loss[...] = rows
    if out_grad is not None:
        out_grad[...] = grad * np.reshape(np.asarray(grad_scale, grad.dtype), (-1, 1))


def keras_probabilities(y_true, y_pred, *, label_smoothing, grad_scale=1.0, out_loss, out_grad=None) -> None:
    """Backend interface (see ``cpu.keras_probabilities``) over :func:`categorical_crossentropy_rows`."""
    rows, grad = categorical_crossentropy_rows(y_true, y_pred, False, label_smoothing,
                                               need_grad=out_grad is not None)
    out_loss[...] = rows
    if out_grad is not None:
        out_grad[...] = grad * np.reshape(np.asarray(grad_scale, grad.dtype), (-1, 1))
