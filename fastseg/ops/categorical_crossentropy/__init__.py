"""Keras 3's ``categorical_crossentropy``: validation, dispatch and the NumPy API.

Per row (class axis ``axis``), with targets ``t`` smoothed to ``t (1 - s) + s / C``::

    from_logits=True:   loss = -sum_c t_c log softmax(x)_c
    from_logits=False:  loss = -sum_c t_c log clip(p_c / sum(p), 1e-7, 1 - 1e-7)

and the gradient of exactly that function (zero through clipped entries).
"""

from __future__ import annotations

import operator

import numpy as np

from .. import _rowop
from .._rowop import Plan, RowOp, class_count, real_option, target_like_prediction

REDUCTIONS = _rowop.REDUCTIONS


def make_plan(shapes, dtypes, *, from_logits=False, label_smoothing=0.0, axis=-1) -> Plan:
    """Validate ``(y_true, y_pred)`` and the options; view both as ``(rows, C)`` with the class
    axis last, in the compute dtype."""
    work = target_like_prediction(shapes, dtypes, "C")
    p_shape, p_dtype = shapes[1], dtypes[1]
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an integer; got {axis!r}") from None
    if not -len(p_shape) <= axis < len(p_shape):
        raise ValueError(f"axis must lie in [{-len(p_shape)}, {len(p_shape)}) for y_pred of shape {p_shape}; "
                         f"got {axis}")
    if not isinstance(from_logits, (bool, np.bool_)):
        raise TypeError(f"from_logits must be True or False; got {from_logits!r}")
    label_smoothing = real_option("label_smoothing", label_smoothing, 0.0, 1.0)
    axis %= len(p_shape)
    c = p_shape[axis]
    class_count("y_pred", p_shape, axis)
    lead = p_shape[:axis] + p_shape[axis + 1:]
    n = _rowop.row_count(lead)
    return Plan(n, lead, ((n, c), (n, c)), (work, work),
                (("from_logits", bool(from_logits)), ("label_smoothing", label_smoothing)), p_dtype,
                axis=None if axis == len(p_shape) - 1 else axis)


OP = RowOp("categorical_crossentropy", ("y_true", "y_pred"), grads=((1, 1.0),),
           options=(("from_logits", bool), ("label_smoothing", float), ("axis", int)), make_plan=make_plan)


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
    The gradient of the normalised, clipped function is ``[-0.25, 1, 1]``, not ``[-1.25, 0, 0]``:

    >>> loss, grad = categorical_crossentropy_value_and_grad([[1., 0, 0]], [[0.8, 0.1, 0.1]], reduction="sum")
    >>> grad.round(4).tolist()
    [[-0.25, 1.0, 1.0]]
    """
    return _rowop.loss(OP, (y_true, y_pred), dict(from_logits=from_logits, label_smoothing=label_smoothing, axis=axis),
                       reduction=reduction, backend=backend)


def categorical_crossentropy_value_and_grad(y_true, y_pred, *, from_logits: bool = False,
                                            label_smoothing: float = 0.0, axis: int = -1,
                                            reduction: str = "mean", backend: str = "auto"):
    """:func:`categorical_crossentropy` and its gradient with respect to ``y_pred``."""
    return _rowop.value_and_grad(OP, (y_true, y_pred),
                                 dict(from_logits=from_logits, label_smoothing=label_smoothing, axis=axis),
                                 reduction=reduction, backend=backend)
