"""``linear_cross_entropy``'s CPU kernel: a chunk's logits become their gradient in place, by
cross-entropy's own kernel (``fastseg.ops.cross_entropy.cpu``, whose ``out_grad`` may be its
``logits``): one buffer of ``rows x V`` per chunk, never two."""

from __future__ import annotations

import numpy as np

from ..cross_entropy import cpu as ce_cpu


def rows_inplace(z: np.ndarray, target: np.ndarray, weight: np.ndarray | None, *, ignore_index: int,
                 label_smoothing: float, out_loss: np.ndarray, grad_scale, want_grad: bool) -> None:
    """Per-row cross-entropy of the logits ``z (n, V)`` into ``out_loss (n,)``; with ``want_grad``
    ``z`` is overwritten by ``grad_scale[i] * d loss_i / d z_i`` (``grad_scale`` a float or
    ``(n,)``). ``target``: int64 ``(n,)`` class indices or ``(n, V)`` probabilities in ``z``'s
    dtype; ``weight``: float64 ``(V,)`` or None."""
    ce_cpu.rows(z, target, weight, ignore_index=ignore_index, label_smoothing=label_smoothing, out_loss=out_loss,
                out_grad=z if want_grad else None, grad_scale=grad_scale if want_grad else None)
