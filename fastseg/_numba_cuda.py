"""Numba CUDA plumbing shared by every op's ``cuda`` backend: zero-copy device views of the
caller's buffers and launching on the caller's stream.

Importing it raises :class:`~fastseg._extras.MissingExtraError` when the Numba CUDA target
(``numba-cuda``, the ``cuda`` extra) is not installed; the first launch raises
:class:`~fastseg._extras.NoGPUError` when no CUDA driver or GPU can be used.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np

from ._extras import MissingExtraError, NoGPUError

FEATURE = "backend='cuda' (Numba CUDA kernels)"

if not hasattr(np, "row_stack"):
    # numba-cuda 0.30 registers an overload for np.row_stack, which NumPy 2.5 removed: without
    # this alias no Numba CUDA kernel compiles with that pairing (the overload is registered when
    # the first kernel compiles, after this module is imported).
    np.row_stack = np.vstack

if importlib.util.find_spec("numba_cuda") is None:
    # numba's own numba.cuda is deprecated and not the target fastseg runs on
    raise MissingExtraError(FEATURE, "numba-cuda", "cuda")

from numba import cuda  # noqa: E402


@functools.lru_cache(maxsize=None)
def _driver_problem() -> str | None:
    """None when Numba CUDA can launch kernels here (a working driver and device, or the
    simulator), else why not (one line, possibly empty). Checked once per process."""
    if cuda.is_available():
        return None
    err = cuda.cuda_error() if hasattr(cuda, "cuda_error") else None
    return " ".join(str(err or "").split()).rstrip(" :")


def require_gpu() -> None:
    """Raise :class:`~fastseg._extras.NoGPUError` unless Numba CUDA can launch kernels here."""
    problem = _driver_problem()
    if problem is not None:
        raise NoGPUError(FEATURE, problem or None)


class Launch:
    """Device views of the arguments (copies for host arrays) and the stream to launch on."""

    def __init__(self, stream):
        require_gpu()
        self.stream = cuda.external_stream(stream) if stream else cuda.default_stream()
        self.copy_back = []

    def view(self, x, out=False):
        if x is None:
            return None
        if isinstance(x, np.ndarray):
            if not out and not x.flags.c_contiguous:  # strided or stride-0 host inputs: one copy
                x = np.ascontiguousarray(x)
            dev = cuda.to_device(x, stream=self.stream)
            if out:
                self.copy_back.append((dev, x))
            return dev
        # sync=False: we launch on the caller's stream, so ordering holds without a host wait
        return cuda.as_cuda_array(x, sync=False)

    def finish(self):
        for dev, host in self.copy_back:
            dev.copy_to_host(host, stream=self.stream)
        if self.copy_back:
            self.stream.synchronize()


_CONSTANTS: dict = {}


def device_constant(name: str, host: np.ndarray):
    """A small read-only device array, uploaded once per device (e.g. the 'no lengths' stand-in)."""
    device = getattr(cuda.get_current_device(), "id", 0)  # the simulator's device has no id
    key = (device, name)
    if key not in _CONSTANTS:
        _CONSTANTS[key] = cuda.to_device(host)
    return _CONSTANTS[key]


BLOCK = 128
"""Threads per block of the block-per-row Numba CUDA kernels."""


@cuda.jit(device=True)
def block_reduce(sh, v, tid, is_max):
    """Sum (or NaN-propagating max) of ``v`` over the block in a fixed tree order; every thread
    gets the result. ``sh`` is a ``BLOCK``-long shared float64 array."""
    sh[tid] = v
    cuda.syncthreads()
    half = BLOCK // 2
    while half > 0:
        if tid < half:
            other = sh[tid + half]
            if is_max:
                if other > sh[tid] or other != other:
                    sh[tid] = other
            else:
                sh[tid] += other
        cuda.syncthreads()
        half //= 2
    out = sh[0]
    cuda.syncthreads()
    return out


def scratch_rows(launch, like):
    """An O(rows) device buffer for the per-row losses a backward kernel writes but nobody reads."""
    return cuda.device_array(like.shape[0], like.dtype, stream=launch.stream)
