"""TensorFlow adapters: ``tf.custom_gradient`` ops over fastseg's kernels (eager and
``tf.function``), with pure-TF composites under XLA."""

from .range_mae import range_mae

__all__ = ["range_mae"]
