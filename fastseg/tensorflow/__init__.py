"""TensorFlow adapters: ``tf.custom_gradient`` ops over fastseg's kernels (eager and
``tf.function``), with pure-TF composites under XLA."""

from .multiclass_hinge import multiclass_hinge
from .range_mae import range_mae

__all__ = ["range_mae", "multiclass_hinge"]
