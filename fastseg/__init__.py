"""fastseg: fused loss kernels with exact gradients for NumPy, PyTorch and Keras/TensorFlow.

The NumPy/CuPy API lives here; framework adapters are ``fastseg.torch``, ``fastseg.tensorflow``
and ``fastseg.keras``. Importing fastseg compiles nothing and does not import Numba.
"""

from .ops.categorical_crossentropy import categorical_crossentropy, categorical_crossentropy_value_and_grad
from .ops.cross_entropy import cross_entropy, cross_entropy_value_and_grad
from .ops.linear_cross_entropy import linear_cross_entropy, linear_cross_entropy_value_and_grad, softmax_loss
from .ops.multiclass_hinge import multiclass_hinge, multiclass_hinge_value_and_grad, svm_loss
from .ops.range_loss import (range_huber, range_huber_value_and_grad, range_loss, range_loss_value_and_grad,
                             range_mae, range_mae_value_and_grad, range_mse, range_mse_value_and_grad)

__all__ = ["range_loss", "range_loss_value_and_grad", "range_mae", "range_mae_value_and_grad", "range_mse",
           "range_mse_value_and_grad", "range_huber", "range_huber_value_and_grad", "multiclass_hinge",
           "multiclass_hinge_value_and_grad", "svm_loss", "cross_entropy", "cross_entropy_value_and_grad",
           "categorical_crossentropy", "categorical_crossentropy_value_and_grad",
           "linear_cross_entropy", "linear_cross_entropy_value_and_grad", "softmax_loss"]
__version__ = "0.1.0"
