"""A C-contiguous GPU buffer by address: how the framework adapters hand their tensors to the CUDA
backends. A plain record costs far less to make than a ``__cuda_array_interface__`` dict plus a CuPy
view per argument per call, and the native backend passes its address to the kernel as it is.

Nothing here imports CuPy, Numba or torch.
"""

from __future__ import annotations

import numpy as np


class DeviceBuffer:
    """``ptr`` (device address), ``shape``, ``dtype`` (NumPy), ``device`` (CUDA ordinal) of a
    C-contiguous array; ``owner`` keeps its memory alive.

    Anything that takes device arrays takes it too: it exposes ``__cuda_array_interface__``
    (version 2, C-contiguous, no stream).
    """

    __slots__ = ("ptr", "shape", "dtype", "device", "owner")

    def __init__(self, ptr: int, shape: tuple[int, ...], dtype, device: int, owner=None):
        self.ptr = int(ptr)
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.device = int(device)
        self.owner = owner

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def __cuda_array_interface__(self) -> dict:
        return {"shape": self.shape, "typestr": self.dtype.str, "strides": None,
                "data": (self.ptr if self.size else 0, False), "version": 2}

    def __repr__(self) -> str:
        return f"DeviceBuffer(0x{self.ptr:x}, shape={self.shape}, dtype={self.dtype}, device={self.device})"
