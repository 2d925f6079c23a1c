"""NumPy reference for Keras 3's ``categorical_crossentropy``: the specification the kernels are
tested against."""

from __future__ import annotations

import numpy as np

from .._rowop import write_outputs

from ..cross_entropy.reference import log_softmax

KERAS_EPSILON = 1e-7


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
    # predictions summing to zero, NaN or inf cannot be normalised: a NaN row (docs/design.md)
    bad = ~np.isfinite(total[:, 0]) | (total[:, 0] == 0)
    rows = np.where(bad, np.nan, rows)
    grad = None
    if need_grad:
        grad = np.where(kept, -t / np.where(kept, p, 1), 0) + (t * kept).sum(axis=1, keepdims=True) / total
        grad = np.where(bad[:, None], np.nan, grad)
    return rows.astype(p.dtype), grad if grad is None else grad.astype(p.dtype)


def rows(y_true, y_pred, *, from_logits, label_smoothing, out_loss=None, out_grad=None, grad_scale=None,
         stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) over :func:`categorical_crossentropy_rows`."""
    with np.errstate(all="ignore"):  # NaN and inf are data here (docs/design.md): no warnings
        loss, grad = categorical_crossentropy_rows(y_true, y_pred, from_logits, label_smoothing,
                                                   need_grad=out_grad is not None)
        write_outputs(loss, grad, out_loss=out_loss, out_grad=out_grad, grad_scale=grad_scale)
