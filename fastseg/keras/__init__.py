"""Keras 3 losses over fastseg's ops, for ``model.compile(loss=...)``.

On the TensorFlow backend the loss calls ``fastseg.tensorflow`` (the fused kernel eagerly and
in ``tf.function``; a pure-TF composite with the same values and gradients where Keras
XLA-compiles the train step, i.e. ``jit_compile=True``). On the torch backend it calls
``fastseg.torch``. Other backends raise ``NotImplementedError``.
"""

from __future__ import annotations

from .._extras import require as _require

_require("keras", extra="tensorflow", feature="fastseg.keras")  # one clear error if it is missing

import keras

from .._dispatch import check_choice
from ..ops import range_loss as _range_mae_op
from ..ops._rowop import real_option
from ..ops.range_loss.reference import LOSSES as _LOSSES

__all__ = ["RangeLoss", "RangeMAE", "MulticlassHinge", "CategoricalCrossentropy"]


def _same_rank(y_true, y_pred):
    """Squeeze a trailing axis of 1 where the ranks differ by one, as Keras's own losses do (a
    ``(N, C, 1)`` target against ``(N, C)`` predictions)."""
    if len(y_true.shape) == len(y_pred.shape) + 1 and y_true.shape[-1] == 1:
        y_true = keras.ops.squeeze(y_true, axis=-1)
    elif len(y_pred.shape) == len(y_true.shape) + 1 and y_pred.shape[-1] == 1:
        y_pred = keras.ops.squeeze(y_pred, axis=-1)
    return y_true, y_pred


def _class_indices(y_true):
    """Keras hands class indices over as floats: back to int64, after checking they are whole
    numbers (``ValueError``/``InvalidArgumentError`` naming y_true; under XLA, where nothing can
    raise, a fractional label becomes -1, which gives that row a NaN loss)."""
    labels = keras.ops.reshape(y_true, (-1,))
    if "int" in str(labels.dtype):
        return keras.ops.cast(labels, "int64")
    whole = keras.ops.equal(keras.ops.floor(labels), labels)
    message = "MulticlassHinge: y_true must hold integer class indices; got a fractional value"
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        from ..tensorflow._adapter import in_xla
        if in_xla():
            labels = tf.where(whole, labels, -tf.ones_like(labels))
        else:
            with tf.control_dependencies([tf.debugging.Assert(tf.reduce_all(whole), [message])]):
                labels = tf.identity(labels)
    elif not bool(keras.ops.all(whole)):
        raise ValueError(message)
    return keras.ops.cast(labels, "int64")


def _adapter(name: str):
    """The op ``name`` of the framework Keras runs on."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from .. import tensorflow as frontend
    elif backend == "torch":
        from .. import torch as frontend
    else:
        raise NotImplementedError(f"fastseg.keras supports the tensorflow and torch backends, not {backend!r}")
    return getattr(frontend, name)


@keras.saving.register_keras_serializable(package="fastseg")
class RangeLoss(keras.losses.Loss):
    """A range loss (MAE, MSE or Huber) as a Keras loss: per sample, the sum (or mean) over the runs
    of equal values in ``y_true`` of each run's mean element loss.

    ``y_true``, ``y_pred``: shape ``(batch, L)`` (or ``(batch, ..., L)``); the per-sample loss
    is reduced over the batch by Keras (``reduction``, default ``"sum_over_batch_size"``). Ranges
    given by segment ids, rather than by ``y_true``, need ``fastseg.tensorflow.range_loss(...,
    segments=...)`` or ``fastseg.torch.range_loss``: a Keras loss only sees ``(y_true, y_pred)``.

    Examples
    --------
    >>> import keras, fastseg.keras
    >>> model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64)])
    >>> model.compile(optimizer="adam", loss=fastseg.keras.RangeLoss(loss="huber", delta=0.5))
    """

    def __init__(self, loss: str = "mae", delta: float = 1.0, range_reduction: str = "sum",
                 reduction: str = "sum_over_batch_size", name: str = "range_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        check_choice("loss", loss, _LOSSES)
        check_choice("range_reduction", range_reduction, _range_mae_op.RANGE_REDUCTIONS)
        self.loss, self.delta, self.range_reduction = loss, real_option("delta", delta), range_reduction

    def call(self, y_true, y_pred):
        y_true, y_pred = _same_rank(y_true, y_pred)
        options = dict(loss=self.loss, delta=self.delta, range_reduction=self.range_reduction, reduction="none")
        if keras.backend.backend() == "torch":  # fastseg.torch takes (input, target), as torch
            return _adapter("range_loss")(y_pred, y_true, **options)
        return _adapter("range_loss")(y_true, y_pred, **options)

    def get_config(self) -> dict:
        return {**super().get_config(), "loss": self.loss, "delta": self.delta,
                "range_reduction": self.range_reduction}


@keras.saving.register_keras_serializable(package="fastseg")
class RangeMAE(RangeLoss):
    """Range-wise MAE as a Keras loss: ``RangeLoss(loss="mae")``.

    Examples
    --------
    >>> import keras, fastseg.keras
    >>> model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64)])
    >>> model.compile(optimizer="adam", loss=fastseg.keras.RangeMAE(range_reduction="mean"))
    """

    def __init__(self, range_reduction: str = "sum", reduction: str = "sum_over_batch_size",
                 name: str = "range_mae", dtype=None):
        super().__init__("mae", 1.0, range_reduction, reduction, name, dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["loss"], config["delta"]
        return config


@keras.saving.register_keras_serializable(package="fastseg")
class MulticlassHinge(keras.losses.Loss):
    """Multiclass (Weston-Watkins) hinge loss on class scores with integer labels.

    ``y_true``: class indices, shape ``(batch,)`` or ``(batch, 1)`` (Keras may hand them over as
    floats; they are cast back). ``y_pred``: scores, shape ``(batch, C)`` (no softmax).

    Examples
    --------
    >>> import keras, fastseg.keras
    >>> model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    >>> model.compile(optimizer="sgd", loss=fastseg.keras.MulticlassHinge(margin=1.0))
    """

    def __init__(self, margin: float = 1.0, p: int = 1, divide_by_classes: bool = False,
                 reduction: str = "sum_over_batch_size", name: str = "multiclass_hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if p not in (1, 2):
            raise ValueError(f"p must be 1 or 2; got {p!r}")
        self.margin, self.p, self.divide_by_classes = real_option("margin", margin), p, divide_by_classes

    def call(self, y_true, y_pred):
        labels = _class_indices(y_true)
        return _adapter("multiclass_hinge")(y_pred, labels, margin=self.margin, p=self.p,
                                            divide_by_classes=self.divide_by_classes, reduction="none")

    def get_config(self) -> dict:
        return {**super().get_config(), "margin": self.margin, "p": self.p,
                "divide_by_classes": self.divide_by_classes}


@keras.saving.register_keras_serializable(package="fastseg")
class CategoricalCrossentropy(keras.losses.Loss):
    """Keras's ``CategoricalCrossentropy`` (same arguments, same values and gradients), fused.

    On the TensorFlow backend it runs ``fastseg.tensorflow.categorical_crossentropy``; on the
    torch backend ``fastseg.categorical_crossentropy``'s kernel through the torch adapter is not
    wired yet, so it computes Keras's formula with ``keras.ops``.
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str = "sum_over_batch_size", name: str = "categorical_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not isinstance(from_logits, bool):
            raise TypeError(f"from_logits must be True or False; got {from_logits!r}")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"axis must be an integer; got {axis!r}")
        self.from_logits, self.axis = from_logits, axis
        self.label_smoothing = real_option("label_smoothing", label_smoothing, 0.0, 1.0)

    def call(self, y_true, y_pred):
        y_true, y_pred = _same_rank(y_true, y_pred)
        if keras.backend.backend() == "tensorflow":
            from ..tensorflow import categorical_crossentropy

            return categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits,
                                            label_smoothing=self.label_smoothing, axis=self.axis, reduction="none")
        return keras.losses.categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits,
                                                     label_smoothing=self.label_smoothing, axis=self.axis)

    def get_config(self) -> dict:
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}
