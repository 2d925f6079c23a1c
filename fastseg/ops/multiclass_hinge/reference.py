"""NumPy reference for the Weston-Watkins multiclass hinge loss (CS231n's ``svm_loss_naive``):
the specification every backend is tested against."""

from __future__ import annotations

import numpy as np

from .._rowop import write_outputs


def row_losses(scores, labels, *, margin=1.0, p=1, weight=None, divide_by_classes=False,
               need_grad=False):
    """Per-row hinge loss of ``scores (N, C)`` with integer ``labels (N,)`` and, if asked, its gradient.

    ``loss_i = w[y_i] * sum_{j != y_i} max(0, s_ij - s_iy + margin)^p`` (divided by ``C`` when
    ``divide_by_classes``, which is ``torch.nn.functional.multi_margin_loss``).
    ``d loss_i / d s_ij = w[y_i] * p * m_ij^(p-1) * [m_ij > 0]`` for ``j != y_i``, and
    ``d loss_i / d s_iy = -sum_j`` of those. Labels must lie in ``[0, C)``.
    """
    scores = np.asarray(scores)
    n, c = scores.shape
    rows = np.arange(n)
    correct = scores[rows, labels][:, None]
    m = (margin - correct) + scores  # torch's evaluation order (multi_margin_loss), to the last bit
    m[rows, labels] = 0.0
    positive = m > 0
    # max(0, m), except that a NaN score or margin gives NaN (docs/design.md, "Bad input policy")
    hinge = np.where(positive | np.isnan(m), m, 0.0)
    w = np.ones(n, scores.dtype) if weight is None else np.asarray(weight, scores.dtype)[labels]
    scale = w / c if divide_by_classes else w
    loss = (hinge ** p).sum(axis=1) * scale
    if not need_grad:
        return loss.astype(scores.dtype), None
    grad = np.where(np.isnan(m), np.nan, p * hinge ** (p - 1) * positive) * scale[:, None]
    grad[rows, labels] = 0.0
    grad[rows, labels] = -grad.sum(axis=1)
    return loss.astype(scores.dtype), grad.astype(scores.dtype)


def rows(scores, labels, weight=None, *, margin, p, divide_by_classes, out_loss=None, out_grad=None,
         grad_scale=None, stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) over :func:`row_losses`."""
    with np.errstate(all="ignore"):  # NaN and inf are data here (docs/design.md): no warnings
        loss, grad = row_losses(scores, labels, margin=margin, p=p, weight=weight,
                                divide_by_classes=divide_by_classes, need_grad=out_grad is not None)
        write_outputs(loss, grad, out_loss=out_loss, out_grad=out_grad, grad_scale=grad_scale)
