"""TensorFlow adapters: ``tf.custom_gradient`` ops over fastseg's kernels (eager and
``tf.function``), with pure-TF composites under XLA."""

from .._extras import require as _require

_require("tensorflow", extra="tensorflow", feature="fastseg.tensorflow")  # one clear error if it is missing

from .categorical_crossentropy import categorical_crossentropy
from .multiclass_hinge import multiclass_hinge
from .range_mae import range_mae

__all__ = ["range_mae", "multiclass_hinge", "categorical_crossentropy"]
