"""range_mae's CUDA C++ kernels (``kernels/range_mae.cu``) through CuPy: ``backend="native"``.

The module is the fatbin built by ``CMakeLists.txt`` when one is found (``$FASTSEG_KERNEL_DIR``,
then ``build/`` of a source checkout), else it is compiled by NVRTC from the ``.cu`` shipped as
package data. Device buffers (torch tensors, CuPy arrays) are wrapped by pointer — no copy, no
stream synchronisation — and kernels launch on the caller's stream. Host (NumPy) arrays are
copied to the device and results back.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import cupy
import numpy as np

OP = "range_mae"
THREADS = 128  # 4 warps, one row each
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def kernel_dirs() -> list[Path]:
    """Where the ``.cu`` sources and built fatbins may be, in order of preference."""
    dirs = [Path(os.environ["FASTSEG_KERNEL_DIR"])] if os.environ.get("FASTSEG_KERNEL_DIR") else []
    repo = Path(__file__).resolve().parents[3]
    dirs += [repo / "build", repo / "kernels"]
    try:
        from importlib.resources import files

        dirs.append(Path(str(files("fastseg.kernels"))))
    except (ImportError, ModuleNotFoundError, TypeError):
        pass
    return dirs


def _find(name: str) -> Path | None:
    return next((d / name for d in kernel_dirs() if (d / name).is_file()), None)


@functools.lru_cache(maxsize=None)
def load_module(from_source: bool = False) -> cupy.RawModule:
    """The kernels as a CuPy module (one per process; CuPy compiles per device on first use)."""
    fatbin = None if from_source else _find(f"{OP}.fatbin")
    if fatbin is not None:
        return cupy.RawModule(path=str(fatbin))
    source = _find(f"{OP}.cu")
    if source is None:
        raise FileNotFoundError(f"{OP}.cu not found in any of {[str(d) for d in kernel_dirs()]}")
    return cupy.RawModule(code=source.read_text(), options=("-std=c++17", f"-I{source.parent}"))


def _wrap(x):
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
def _dummy(device: int, dtype: str) -> cupy.ndarray:
    with cupy.cuda.Device(device):
        return cupy.zeros(1, dtype)


def _launch(name, y_pred, args, stream):
    rows, length = y_pred.shape
    if length >= (1 << 24 if y_pred.dtype == np.float32 else 1 << 31):
        raise ValueError("the native CUDA kernels take rows shorter than 2**24 elements in "
                         "float32 and 2**31 in float64")
    kernel = load_module().get_function(f"{OP}_{name}_{_SUFFIX[y_pred.dtype]}")
    blocks = (rows * 32 + THREADS - 1) // THREADS
    kernel((blocks,), (THREADS,), (*args, np.int64(rows), np.int64(length)), stream=stream)


class _Call:
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
        return None if x is None else cupy.ascontiguousarray(_wrap(x))

    def out(self, x):
        dev = _wrap(x)
        if isinstance(x, np.ndarray) or not dev.flags.c_contiguous:
            work = cupy.empty(dev.shape, dev.dtype)
            self.copy_back.append((work, x if isinstance(x, np.ndarray) else dev))
            return work
        return dev

    def lengths(self, lengths):
        if lengths is None:
            return _dummy(cupy.cuda.Device().id, "int64"), np.int32(0)
        return self.inp(lengths).astype(np.int64, copy=False), np.int32(1)


def forward(y_true, y_pred, *, lengths, mean_over_ranges: bool, out_loss, stream=None) -> None:
    """Per-row loss of ``(rows, L)`` arrays into ``out_loss`` (see ``cpu.forward``)."""
    with _Call(stream) as call:
        t, p = call.inp(y_true), call.inp(y_pred)
        n, has_n = call.lengths(lengths)
        _launch("forward", p, (t, p, n, has_n, np.int32(mean_over_ranges), call.out(out_loss)),
                call.stream)


def forward_backward(y_true, y_pred, *, lengths, mean_over_ranges: bool, grad_scale, out_loss,
                     out_grad, stream=None) -> None:
    """Per-row loss and ``grad_scale[b] * d loss[b] / d y_pred[b]`` (see ``cpu.forward_backward``)."""
    with _Call(stream) as call:
        t, p = call.inp(y_true), call.inp(y_pred)
        n, has_n = call.lengths(lengths)
        if np.ndim(grad_scale) == 0 and not hasattr(grad_scale, "__cuda_array_interface__"):
            scale, row_scale, has_rs = float(grad_scale), _dummy(cupy.cuda.Device().id, "float64"), 0
        else:
            scale, row_scale, has_rs = 1.0, call.inp(grad_scale).astype(np.float64, copy=False), 1
        _launch("fused", p, (t, p, n, has_n, np.int32(mean_over_ranges), np.float64(scale), row_scale,
                             np.int32(has_rs), call.out(out_loss), call.out(out_grad)), call.stream)


def backward(y_true, y_pred, *, lengths, mean_over_ranges: bool, grad_loss, out_grad, stream=None) -> None:
    """``grad_loss[b] * d loss[b] / d y_pred[b]`` into ``out_grad``."""
    scratch = np.empty(y_pred.shape[0], y_pred.dtype) if isinstance(y_pred, np.ndarray) else \
        cupy.empty(y_pred.shape[0], y_pred.dtype)
    forward_backward(y_true, y_pred, lengths=lengths, mean_over_ranges=mean_over_ranges,
                     grad_scale=grad_loss, out_loss=scratch, out_grad=out_grad, stream=stream)
