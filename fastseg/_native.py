"""CuPy plumbing shared by every op's ``native`` backend: finding and loading the CUDA C++
kernels, zero-copy views of device buffers, launching on the caller's device and stream.

Importing it raises :class:`~fastseg._extras.MissingExtraError` when CuPy (the ``cuda`` extra)
is not installed; a call on host arrays raises :class:`~fastseg._extras.NoGPUError` when CuPy
finds no usable GPU.

Kernels load from the fatbin that ``make fatbins`` builds (``build/<op>.fatbin``) when it is at
least as new as ``kernels/<op>.cu`` and every header that includes; otherwise, and when the
fatbin does not load on the device (a GPU it has no code for), ``<op>.cu`` is compiled with NVRTC.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from ._device import DeviceBuffer
from ._extras import NoGPUError, require
from ._kernel_files import find, fresh_fatbin, kernel_dirs

FEATURE = "backend='native' (CUDA C++ kernels through CuPy)"
cupy = require("cupy", extra="cuda", feature=FEATURE)

@functools.lru_cache(maxsize=None)
def _gpu_problem() -> str | None:
    """None when CuPy can use a GPU here, else why not (one line, possibly empty)."""
    if cupy.is_available():
        return None
    try:
        cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as err:
        return " ".join(str(err).split())
    return ""


def require_gpu() -> None:
    """Raise :class:`~fastseg._extras.NoGPUError` unless CuPy can use a GPU here."""
    problem = _gpu_problem()
    if problem is not None:
        raise NoGPUError(FEATURE, problem or None)


@functools.lru_cache(maxsize=None)
def load_module(op: str, from_source: bool = False) -> cupy.RawModule:
    """``kernels/<op>.cu`` as a CuPy module: the CMake-built fatbin when one is found that is not
    older than its sources, else NVRTC from the shipped source (one per process; CuPy compiles
    per device on first use)."""
    if not from_source:
        fatbin, why = fresh_fatbin(op)
        if fatbin is not None:
            return cupy.RawModule(path=str(fatbin))
        if find(f"{op}.fatbin") is not None:
            warnings.warn(f"{why}: compiling {op}.cu with NVRTC instead (run `make fatbins` to rebuild it)",
                          stacklevel=2)
    source = find(f"{op}.cu")
    if source is None:
        raise FileNotFoundError(f"{op}.cu not found in any of {[str(d) for d in kernel_dirs()]}")
    return cupy.RawModule(code=source.read_text(), options=("-std=c++17", f"-I{source.parent}"))


THREADS = 128
"""Threads per block of the warp-per-row kernels: 4 warps, one row each."""

BLOCK_ROW_THREADS = 256
"""Threads per block of the hinge and cross-entropy block-per-row kernels (``BlockRow<256>``)."""

NULL = np.uint64(0)
"""The argument for an absent optional array (the kernels read it only when its flag is set)."""


@functools.lru_cache(maxsize=None)
def function(op: str, name: str, device: int):
    """Kernel ``name`` of ``kernels/<op>.cu`` on CUDA device ``device`` (looked up once). A fatbin
    that does not load on this device (no SASS or PTX it can run) falls back to NVRTC."""
    with cupy.cuda.Device(device):
        try:
            return load_module(op).get_function(name)
        except cupy.cuda.driver.CUDADriverError as err:
            fatbin, _ = fresh_fatbin(op)
            if fatbin is None:
                raise
            warnings.warn(f"{fatbin.name} does not load on CUDA device {device} ({err}): compiling "
                          f"{op}.cu with NVRTC instead", stacklevel=2)
            return load_module(op, from_source=True).get_function(name)


@functools.lru_cache(maxsize=64)
def external_stream(ptr: int, device: int):
    """A CuPy handle on the caller's stream (e.g. torch's current stream), made once per stream."""
    with cupy.cuda.Device(device):
        return cupy.cuda.ExternalStream(ptr)


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


def _device_of(x) -> int | None:
    if isinstance(x, DeviceBuffer):
        return x.device
    if isinstance(x, cupy.ndarray):
        return x.device.id
    return None


class Call:
    """One kernel call: device views of the arguments, on the device of the first device array
    (else CuPy's current one) and the caller's stream; outputs that live on the host are copied
    back at the end. :class:`~fastseg._device.DeviceBuffer` arguments of the right dtype go to
    the kernel as bare addresses: no view object is made for them."""

    def __init__(self, stream, *arrays):
        self._stream_ptr = stream
        self.device = next((d for d in map(_device_of, arrays) if d is not None), None)
        self.copy_back = []

    def __enter__(self):
        if self.device is None:  # host arrays only: a device array proves there is a GPU
            require_gpu()
            self.device = cupy.cuda.Device().id
        self._device = cupy.cuda.Device(self.device)
        self._device.__enter__()
        self.stream = (external_stream(self._stream_ptr, self.device) if self._stream_ptr
                       else cupy.cuda.get_current_stream())
        self.stream.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            if exc[0] is None:
                for dev, host in self.copy_back:
                    dev.get(out=host, stream=self.stream)
                if self.copy_back:
                    self.stream.synchronize()
            self.stream.__exit__(*exc)
        finally:
            self._device.__exit__(*exc)

    def inp(self, x, dtype=None):
        """A C-contiguous device view of input ``x`` (a copy where it is on the host, strided, or
        of another dtype than ``dtype``); None stays None."""
        if x is None:
            return None
        if isinstance(x, DeviceBuffer) and (dtype is None or x.dtype == dtype):
            return x
        dev = cupy.ascontiguousarray(wrap(x))
        return dev if dtype is None else dev.astype(dtype, copy=False)

    def out(self, x):
        """The device buffer the kernel writes for output ``x`` (a scratch one, copied back at the
        end, where ``x`` is a NumPy array)."""
        if isinstance(x, DeviceBuffer):
            return x
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
        if grad_scale is None:
            return np.float64(1.0), NULL, np.int32(0)
        if np.ndim(grad_scale) == 0 and not hasattr(grad_scale, "__cuda_array_interface__"):
            return np.float64(grad_scale), NULL, np.int32(0)
        return np.float64(1.0), self.inp(grad_scale, np.float64), np.int32(1)

    def rows_out(self, out_loss, like):
        """The per-row loss buffer: ``out_loss``, or an O(rows) device scratch when not wanted."""
        if out_loss is None:
            return cupy.empty(like.shape[0], like.dtype)
        return self.out(out_loss)

    def lengths(self, lengths):
        """``(lengths array, has_lengths)``."""
        if lengths is None:
            return NULL, np.int32(0)
        return self.inp(lengths, np.int64), np.int32(1)

    def optional(self, x, dtype):
        """``(array or NULL, flag)`` for an optional input such as class weights."""
        return (NULL, np.int32(0)) if x is None else (self.inp(x, dtype), np.int32(1))

    def launch(self, op: str, name: str, rows: int, args, *, block_threads: int | None = None) -> None:
        """Run kernel ``name`` of ``kernels/<op>.cu`` on the call's stream, with one warp per row or
        (``block_threads`` given) one block of that many threads per row."""
        grid, block = ((rows,), (block_threads,)) if block_threads else \
            (((rows * 32 + THREADS - 1) // THREADS,), (THREADS,))
        args = tuple(np.uint64(a.ptr) if isinstance(a, DeviceBuffer) else a for a in args)
        function(op, name, self.device)(grid, block, args, stream=self.stream)
