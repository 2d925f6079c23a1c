"""Backend choice and array-library detection shared by every op.

Nothing here imports Numba, CuPy or torch at import time: ``import fastseg`` stays fast.
"""

from __future__ import annotations

import os

import numpy as np

from . import config

BACKENDS = ("reference", "cpu", "cuda", "native")
_CHOICES = ("auto", *BACKENDS)


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
    """The backend to run: ``backend`` if given, else ``$FASTSEG_BACKEND``, else by data location
    (host arrays: "cpu"; device arrays: ``fastseg.config``'s ``gpu_backend``)."""
    if backend not in _CHOICES:
        raise ValueError(f"backend must be one of {', '.join(map(repr, _CHOICES))}; got {backend!r}")
    if backend == "auto":
        backend = os.environ.get("FASTSEG_BACKEND") or "auto"
        if backend not in _CHOICES:
            raise ValueError(f"$FASTSEG_BACKEND must be one of {', '.join(_CHOICES)}; got {backend!r}")
    if backend == "auto":
        backend = config.get().gpu_backend if framework == "device" else "cpu"
    if framework == "device" and backend in ("cpu", "reference"):
        raise ValueError(f"backend={backend!r} runs on the host but the inputs are device arrays")
    return backend


def check_choice(name: str, value, choices) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """float32/float64 run natively; float16 runs in float32 and the results are cast back."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype.itemsize < 4 else dtype.newbyteorder("=")
