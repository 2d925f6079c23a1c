"""Keras 3 losses over fastseg's ops, for ``model.compile(loss=...)``.

On the TensorFlow backend the loss calls ``fastseg.tensorflow`` (the fused kernel eagerly and
in ``tf.function``; a pure-TF composite with the same values and gradients where Keras
XLA-compiles the train step, i.e. ``jit_compile=True``). On the torch backend it calls
``fastseg.torch``. Other backends raise ``NotImplementedError``.
"""

from __future__ import annotations

import keras

from .._dispatch import check_choice
from ..ops import range_mae as _range_mae_op

__all__ = ["RangeMAE"]


@keras.saving.register_keras_serializable(package="fastseg")
class RangeMAE(keras.losses.Loss):
    """Range-wise MAE as a Keras loss: per sample, the sum (or mean) over the runs of equal
    values in ``y_true`` of each run's mean absolute error.

    ``y_true``, ``y_pred``: shape ``(batch, L)`` (or ``(batch, ..., L)``); the per-sample loss
    is reduced over the batch by Keras (``reduction``, default ``"sum_over_batch_size"``).

    Examples
    --------
    >>> import keras, fastseg.keras
    >>> model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64)])
    >>> model.compile(optimizer="adam", loss=fastseg.keras.RangeMAE(range_reduction="mean"))
    """

    def __init__(self, range_reduction: str = "sum", reduction: str = "sum_over_batch_size",
                 name: str = "range_mae", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        check_choice("range_reduction", range_reduction, _range_mae_op.RANGE_REDUCTIONS)
        self.range_reduction = range_reduction

    def call(self, y_true, y_pred):
        backend = keras.backend.backend()
        if backend == "tensorflow":
            from ..tensorflow import range_mae
        elif backend == "torch":
            from ..torch import range_mae
        else:
            raise NotImplementedError(f"fastseg.keras supports the tensorflow and torch backends, "
                                      f"not {backend!r}")
        return range_mae(y_true, y_pred, range_reduction=self.range_reduction, reduction="none")

    def get_config(self) -> dict:
        return {**super().get_config(), "range_reduction": self.range_reduction}
