"""TensorFlow adapters: ``tf.custom_gradient`` ops over fastseg's kernels (eager and
``tf.function``), with pure-TF composites under XLA."""

from .._extras import require as _require

_require("tensorflow", extra="tensorflow", feature="fastseg.tensorflow")  # one clear error if it is missing

from .categorical_crossentropy import categorical_crossentropy
from .multiclass_hinge import multiclass_hinge
from .range_loss import range_huber, range_loss, range_mae, range_mse

__all__ = ["range_loss", "range_mae", "range_mse", "range_huber", "multiclass_hinge", "categorical_crossentropy"]
