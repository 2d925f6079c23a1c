"""NumPy reference for ``linear_cross_entropy``: the unfused composition, the specification.

``logits = x @ weight.T + bias`` materialised in full, then ``cross_entropy``'s reference rows
and gradient (``fastseg/ops/cross_entropy/reference.py``), then the chain rule::

    G = grad_scale * d loss / d logits   (N, V)
    dx = G @ weight    dweight = G.T @ x    dbias = G.sum(0)
"""

from __future__ import annotations

import numpy as np

from ..cross_entropy.reference import cross_entropy_rows


def linear_cross_entropy_reference(x, weight, target, bias=None, class_weight=None, ignore_index=-100,
                                   label_smoothing=0.0, reduction="mean"):
    """``(loss, dx, dweight, dbias)`` of ``cross_entropy(x @ weight.T + bias, target, ...)``, all in
    the dtype of ``x`` (computed in it: float64 for the tests). ``reduction`` "mean" or "sum";
    "none" returns the per-row losses and the gradients of their sum."""
    x, weight = np.asarray(x), np.asarray(weight)
    logits = x @ weight.T
    if bias is not None:
        logits = logits + np.asarray(bias, logits.dtype)
    rows, grad, denom = cross_entropy_rows(logits, target, class_weight, ignore_index, label_smoothing,
                                           need_grad=True)
    if reduction == "mean":
        # no kept row (denominator 0): NaN loss as torch; every row's gradient is already 0
        loss = rows.sum(dtype=np.float64) / denom if denom else np.float64(np.nan)
        if denom:
            grad = grad / grad.dtype.type(denom)
    elif reduction == "sum":
        loss = rows.sum(dtype=np.float64)
    else:
        loss = rows
    dx = grad @ weight
    dweight = grad.T @ x
    dbias = None if bias is None else grad.sum(axis=0)
    return np.asarray(loss, x.dtype), dx, dweight, dbias
