"""CuPy plumbing shared by every op's ``native`` backend: finding and loading the CUDA C++
kernels, zero-copy views of device buffers, launching on the caller's stream."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import cupy
import numpy as np


def kernel_dirs() -> list[Path]:
    """Where the ``.cu`` sources and built fatbins may be, in order of preference."""
    dirs = [Path(os.environ["FASTSEG_KERNEL_DIR"])] if os.environ.get("FASTSEG_KERNEL_DIR") else []
    repo = Path(__file__).resolve().parents[1]
    dirs += [repo / "build", repo / "kernels"]
    try:
        from importlib.resources import files

        dirs.append(Path(str(files("fastseg.kernels"))))
    except (ImportError, ModuleNotFoundError, TypeError):
        pass
    return dirs


def find(name: str) -> Path | None:
    return next((d / name for d in kernel_dirs() if (d / name).is_file()), None)


@functools.lru_cache(maxsize=None)
def load_module(op: str, from_source: bool = False) -> cupy.RawModule:
    """``kernels/<op>.cu`` as a CuPy module: the CMake-built fatbin when one is found, else NVRTC
    from the shipped source (one per process; CuPy compiles per device on first use)."""
    fatbin = None if from_source else find(f"{op}.fatbin")
    if fatbin is not None:
        return cupy.RawModule(path=str(fatbin))
    source = find(f"{op}.cu")
    if source is None:
        raise FileNotFoundError(f"{op}.cu not found in any of {[str(d) for d in kernel_dirs()]}")
    return cupy.RawModule(code=source.read_text(), options=("-std=c++17", f"-I{source.parent}"))


def wrap(x):
    """A CuPy view of a ``__cuda_array_interface__`` object (by pointer), or a device copy of a
    NumPy array."""
    if isinstance(x, cupy.ndarray):
        return x
    if isinstance(x, np.ndarray):
        return cupy.asarray(x)
    iface = x.__cuda_array_interface__
    dtype = np.dtype(iface["typestr"])
    shape = tuple(iface["shape"])
    strides = iface.get("strides")
    size = int(np.prod(shape)) * dtype.itemsize
    mem = cupy.cuda.UnownedMemory(iface["data"][0], size, x)
    return cupy.ndarray(shape, dtype, cupy.cuda.MemoryPointer(mem, 0), strides=strides)


@functools.lru_cache(maxsize=None)
def dummy(device: int, dtype: str) -> cupy.ndarray:
    with cupy.cuda.Device(device):
        return cupy.zeros(1, dtype)


class Call:
    """Device views of the arguments; outputs that live on the host are copied back at the end."""

    def __init__(self, stream):
        self.stream = cupy.cuda.ExternalStream(stream) if stream else cupy.cuda.get_current_stream()
        self.copy_back = []

    def __enter__(self):
        self.stream.__enter__()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            for dev, host in self.copy_back:
                dev.get(out=host, stream=self.stream)
            self.stream.synchronize() if self.copy_back else None
        self.stream.__exit__(*exc)

    def inp(self, x):
        return None if x is None else cupy.ascontiguousarray(wrap(x))

    def out(self, x):
        if isinstance(x, np.ndarray):
            work = cupy.empty(x.shape, x.dtype)
            self.copy_back.append((work, x))
            return work
        dev = wrap(x)
        if not dev.flags.c_contiguous:
            raise ValueError("output buffers on the device must be C-contiguous")
        return dev

    def scalar_or_rows(self, grad_scale):
        """``(scale, row_scale array, has_row_scale)`` for a scalar or ``(rows,)`` gradient scale."""
        if np.ndim(grad_scale) == 0 and not hasattr(grad_scale, "__cuda_array_interface__"):
            return np.float64(grad_scale), dummy(cupy.cuda.Device().id, "float64"), np.int32(0)
        return np.float64(1.0), self.inp(grad_scale).astype(np.float64, copy=False), np.int32(1)

    def lengths(self, lengths):
        if lengths is None:
            return dummy(cupy.cuda.Device().id, "int64"), np.int32(0)
        return self.inp(lengths).astype(np.int64, copy=False), np.int32(1)
