"""PyTorch adapters: autograd-aware ops registered with ``torch.library`` (eager,
``torch.compile(fullgraph=True)``, DDP) and ``nn.Module`` losses."""

from .cross_entropy import CrossEntropyLoss, cross_entropy
from .linear_cross_entropy import LinearCrossEntropyLoss, linear_cross_entropy
from .multiclass_hinge import MulticlassHingeLoss, multiclass_hinge
from .range_mae import RangeMAELoss, range_mae

__all__ = ["range_mae", "RangeMAELoss", "multiclass_hinge", "MulticlassHingeLoss", "cross_entropy",
           "CrossEntropyLoss", "linear_cross_entropy", "LinearCrossEntropyLoss"]
