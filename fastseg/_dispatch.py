"""Backend choice and array-library detection shared by every op.

Nothing here imports Numba, CuPy or torch at import time: ``import fastseg`` stays fast.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import numpy as np

BACKENDS = ("reference", "cpu", "cuda", "native")
GPU_DEFAULT = "native"
"""Backend for device arrays under ``backend="auto"``: the faster one in ``bench/gpu_check.py``."""


def is_device_array(x) -> bool:
    return hasattr(x, "__cuda_array_interface__") and not isinstance(x, np.ndarray)


def _framework(x) -> str:
    module = type(x).__module__.split(".")[0]
    if module == "torch":
        return "torch"
    if module.startswith("tensorflow") or module == "keras":
        return "tensorflow"
    return "device" if is_device_array(x) else "numpy"


def check_same_framework(**arrays) -> str:
    """Return ``"numpy"`` or ``"device"``; raise ``TypeError`` for framework tensors or a mix."""
    kinds = {name: _framework(a) for name, a in arrays.items() if a is not None}
    for name, kind in kinds.items():
        if kind == "torch":
            raise TypeError(f"{name} is a torch.Tensor: use fastseg.torch for torch tensors")
        if kind == "tensorflow":
            raise TypeError(f"{name} is a TensorFlow tensor: use fastseg.tensorflow for TF tensors")
    if len(set(kinds.values())) > 1:
        where = ", ".join(f"{n} is {'a device array' if k == 'device' else 'on the host'}"
                          for n, k in kinds.items())
        raise TypeError(f"inputs must all be host (NumPy) arrays or all device arrays: {where}")
    return next(iter(kinds.values()), "numpy")


def resolve_backend(backend: str, framework: str) -> str:
    """The backend to run: ``backend`` if given, else ``$FASTSEG_BACKEND``, else by data location."""
    if backend not in ("auto", *BACKENDS):
        raise ValueError(f"backend must be one of 'auto', {', '.join(map(repr, BACKENDS))}; got {backend!r}")
    if backend == "auto":
        backend = os.environ.get("FASTSEG_BACKEND", "auto")
        if backend not in ("auto", *BACKENDS):
            raise ValueError(f"$FASTSEG_BACKEND must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "auto":
        backend = GPU_DEFAULT if framework == "device" else "cpu"
    if framework == "device" and backend in ("cpu", "reference"):
        raise ValueError(f"backend={backend!r} runs on the host but the inputs are device arrays")
    return backend


def load_backend(op: str, backend: str) -> ModuleType:
    return importlib.import_module(f"fastseg.ops.{op}.{backend}")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """float32/float64 run natively; float16 runs in float32 and the results are cast back."""
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def array_module(framework: str):
    """NumPy for host arrays, CuPy for device arrays (imported only then)."""
    if framework == "device":
        import cupy

        return cupy
    return np


def reduce_rows(rows, reduction: str, denominator=None):
    """Reduce per-row losses (any array library) over all rows: "none", "mean" or "sum".

    "mean" divides by ``denominator`` when given (cross-entropy's weighted count, as torch),
    else by the number of rows; a zero denominator gives NaN, as torch."""
    if reduction == "none":
        return rows
    total = rows.sum(dtype=np.float64) if rows.size else np.float64(0)
    if reduction == "sum":
        return total.astype(rows.dtype)
    denominator = rows.size if denominator is None else denominator
    return (total / denominator if denominator else total * np.nan).astype(rows.dtype)


def grad_scale(n_rows: int, reduction: str) -> float:
    """d reduced loss / d row loss."""
    if reduction == "none":
        raise ValueError("value_and_grad needs a scalar loss: use reduction='mean' or 'sum'")
    return 1.0 / n_rows if reduction == "mean" and n_rows else 1.0
