"""Numba CUDA plumbing shared by every op's ``cuda`` backend: zero-copy device views of the
caller's buffers and launching on the caller's stream."""

from __future__ import annotations

import numpy as np
from numba import cuda


class Launch:
    """Device views of the arguments (copies for host arrays) and the stream to launch on."""

    def __init__(self, stream):
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
