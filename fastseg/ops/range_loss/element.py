"""The element losses of the range losses, as plain Python that Numba compiles into CUDA device
functions (``numba.cuda.jit(device=True)``). The CPU kernels use the same math in 16-lane vector
form (``fastseg._simd_rows._element_loss`` and ``_grad_values``); the reference is the spec for both.

``kind`` 0 mae ``|d|``, 1 mse ``d**2``, 2 huber (``0.5 d**2`` for ``|d| <= delta``, else
``delta (|d| - 0.5 delta)``), for ``d = y_true - y_pred``.
"""

from __future__ import annotations

import math


def loss(d, kind, delta):
    """``l(d)``."""
    if kind == 0:
        return abs(d)
    if kind == 1:
        return d * d
    a = abs(d)
    return 0.5 * d * d if a <= delta else delta * (a - 0.5 * delta)


def grad(d, w, kind, delta):
    """``-w l'(d)``, the gradient with respect to ``y_pred`` of ``w l(y_true - y_pred)``
    (``sign(0) = 0``; NaN stays NaN)."""
    if kind == 0:
        return -w if d > 0 else (w if d < 0 else (0.0 * w if d == 0 else math.nan))
    if kind == 1:
        return -w * (d + d)
    c = delta if d > delta else (-delta if d < -delta else d)
    return -w * c
