"""NumPy reference for softmax cross-entropy (PyTorch's ``cross_entropy``): the specification
the kernels are tested against.

Both are written through per-class target weights ``q``: a row's loss is
``-sum_c q_c log softmax(x)_c`` and its gradient ``(sum_c q_c) softmax(x) - q``.
"""

from __future__ import annotations

import numpy as np

from .._rowop import write_outputs


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
    # a class with no target weight costs nothing, even at a -inf logit (0 * -inf), as torch
    rows = -np.where(q != 0, q * logp, 0.0).sum(axis=1)
    grad = None
    if need_grad:
        grad = q.sum(axis=1, keepdims=True) * np.exp(logp) - q
    return rows.astype(x.dtype), grad if grad is None else grad.astype(x.dtype), denom


def rows(logits, target, weight=None, *, ignore_index, label_smoothing, out_loss=None, out_grad=None,
         grad_scale=None, stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) over :func:`cross_entropy_rows`."""
    with np.errstate(all="ignore"):  # NaN and inf are data here (docs/design.md): no warnings
        loss, grad, _ = cross_entropy_rows(logits, target, weight, ignore_index, label_smoothing,
                                           need_grad=out_grad is not None)
        write_outputs(loss, grad, out_loss=out_loss, out_grad=out_grad, grad_scale=grad_scale)
