"""PyTorch adapters: autograd-aware ops registered with ``torch.library`` (eager,
``torch.compile(fullgraph=True)``, DDP) and ``nn.Module`` losses."""

from .._extras import require as _require

_require("torch", extra="torch", feature="fastseg.torch")  # one clear error if it is missing

from .cross_entropy import CrossEntropyLoss, cross_entropy
from .linear_cross_entropy import LinearCrossEntropyLoss, linear_cross_entropy
from .multiclass_hinge import MulticlassHingeLoss, multiclass_hinge
from .range_loss import RangeLoss, RangeMAELoss, range_huber, range_loss, range_mae, range_mse

__all__ = ["range_loss", "range_mae", "range_mse", "range_huber", "RangeLoss", "RangeMAELoss", "multiclass_hinge",
           "MulticlassHingeLoss", "cross_entropy", "CrossEntropyLoss", "linear_cross_entropy", "LinearCrossEntropyLoss"]
