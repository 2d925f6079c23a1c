"""Numba CUDA kernels for the range losses (MAE, MSE, Huber; ranges from ``y_true`` or from segment
ids): one thread block per row, coalesced tiles of ``THREADS`` elements, scans in shared memory.
The element loss is chosen by ``kind``, uniform over a launch (no divergence).

Forward: one left-to-right pass; a segmented block scan of ``(sum l(t - p), count)`` restarts at
each range start, threads where a range ends add ``sum / count``, the open range is carried to
the next tile.

Fused forward+backward: pass 1 (left to right) writes each element's range start into the
gradient buffer (a max-scan); pass 2 (right to left) finds each element's range end (a
suffix-min scan), computes ``w = 1/|r|``, adds ``w l(t - p)`` and overwrites the buffer with
``-scale * w * l'(t - p)``. The row stays in L2 between the passes.

All reductions are fixed trees: results do not depend on scheduling (no atomics). The kernels
use only shared memory and barriers, so the CUDA simulator runs them on CPU-only CI. Inputs are
any objects with ``__cuda_array_interface__`` (torch, CuPy) used in place; NumPy arrays are
copied to the device and results back.
"""

from __future__ import annotations

import math

import numpy as np

from ..._numba_cuda import BLOCK, Launch, block_reduce, device_constant, scratch_rows  # first: the clear missing-extra error
from numba import cuda, float64, int32, int64

from . import element

THREADS = BLOCK


@cuda.jit(device=True, inline=True)
def _starts_range(key, row, i, n):
    return i < n and (i == 0 or key[row, i] != key[row, i - 1])


_loss = cuda.jit(device=True, inline=True)(element.loss)
_grad = cuda.jit(device=True, inline=True)(element.grad)


@cuda.jit(device=True)
def _block_scan(sh, v, tid, from_right):
    """Inclusive scan over the block: prefix max from the left, or suffix min from the right."""
    sh[tid] = v
    cuda.syncthreads()
    off = 1
    while off < THREADS:
        src = tid + off if from_right else tid - off
        other = sh[src] if 0 <= src < THREADS else v
        cuda.syncthreads()
        v = min(v, other) if from_right else max(v, other)
        sh[tid] = v
        cuda.syncthreads()
        off *= 2
    return v


@cuda.jit(device=True, inline=True)
def _finish(loss, n_ranges, mean):
    if mean and n_ranges > 0:
        loss /= n_ranges
    return loss if loss == loss and abs(loss) != math.inf else math.nan


@cuda.jit
def _forward_kernel(key, t, p, lengths, has_lengths, mean, out_loss, kind, delta):
    row = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    sh_a = cuda.shared.array(THREADS, float64)
    sh_c = cuda.shared.array(THREADS, int32)
    sh_f = cuda.shared.array(THREADS, int32)
    length = t.shape[1]
    n = lengths[row] if has_lengths else length
    if n < 0 or n > length:
        if tid == 0:
            out_loss[row] = math.nan
        return
    loss = 0.0
    n_ranges = 0
    carry_sum = 0.0
    carry_count = 0
    for base in range(0, n, THREADS):
        i = base + tid
        valid = i < n
        head = _starts_range(key, row, i, n)
        a = _loss(float64(t[row, i]) - float64(p[row, i]), kind, delta) if valid else 0.0
        c = 1 if valid else 0
        if tid == 0 and not head:
            a += carry_sum
            c += carry_count
        f = 1 if head or tid == 0 else 0
        # segmented inclusive scan of (a, c), restarting where f is set
        sh_a[tid] = a
        sh_c[tid] = c
        sh_f[tid] = f
        cuda.syncthreads()
        off = 1
        while off < THREADS:
            oa, oc, of = a, c, f
            if tid >= off:
                oa, oc, of = sh_a[tid - off], sh_c[tid - off], sh_f[tid - off]
            cuda.syncthreads()
            if tid >= off and f == 0:
                a += oa
                c += oc
                f = of
            sh_a[tid] = a
            sh_c[tid] = c
            sh_f[tid] = f
            cuda.syncthreads()
            off *= 2
        if valid and (i == n - 1 or _starts_range(key, row, i + 1, n)):
            loss += a / c
        carry_sum = sh_a[THREADS - 1]
        carry_count = sh_c[THREADS - 1]
        n_ranges += cuda.syncthreads_count(1 if head else 0)
    loss = block_reduce(sh_a, loss, tid, False)
    if tid == 0:
        out_loss[row] = _finish(loss, n_ranges, mean)


@cuda.jit
def _forward_backward_kernel(key, t, p, lengths, has_lengths, mean, scale, row_scale, has_row_scale,
                             out_loss, out_grad, out_true, want_true, kind, delta):
    row = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    sh_i = cuda.shared.array(THREADS, int64)
    sh_a = cuda.shared.array(THREADS, float64)
    length = t.shape[1]
    n = lengths[row] if has_lengths else length
    if n < 0 or n > length:
        for i in range(tid, length, THREADS):
            out_grad[row, i] = math.nan
            if want_true:
                out_true[row, i] = math.nan
        if tid == 0:
            out_loss[row] = math.nan
        return
    for i in range(n + tid, length, THREADS):
        out_grad[row, i] = 0
        if want_true:
            out_true[row, i] = 0

    # pass 1: range start of every element, kept in the gradient buffer (exact below 2**24)
    carry_start = 0
    n_ranges = 0
    for base in range(0, n, THREADS):
        i = base + tid
        head = _starts_range(key, row, i, n)
        start = max(_block_scan(sh_i, i if head else -1, tid, False), carry_start)
        if i < n:
            out_grad[row, i] = start
        carry_start = max(carry_start, sh_i[THREADS - 1])
        n_ranges += cuda.syncthreads_count(1 if head else 0)

    # pass 2, right to left: the end of i's range is the suffix min over k >= i of
    # (k + 1 if k + 1 starts a range else n); then loss and gradient
    s = scale * (row_scale[row] if has_row_scale else 1.0)
    if mean and n_ranges > 0:
        s /= n_ranges
    loss = 0.0
    carry_end = n
    for tile in range((n + THREADS - 1) // THREADS - 1, -1, -1):
        i = tile * THREADS + tid
        after = i + 1 if _starts_range(key, row, i + 1, n) else n
        end = min(_block_scan(sh_i, after, tid, True), carry_end)
        carry_end = min(carry_end, sh_i[0])
        if i < n:
            w = 1.0 / (end - int64(out_grad[row, i]))
            d = t[row, i] - p[row, i]
            loss += _loss(float64(d), kind, delta) * w
            g = s * w
            gi = _grad(float64(d), g, kind, delta)
            out_grad[row, i] = gi
            if want_true:
                out_true[row, i] = -gi
        cuda.syncthreads()
    loss = block_reduce(sh_a, loss, tid, False)
    if tid == 0:
        out_loss[row] = _finish(loss, n_ranges, mean)


def _grid(rows):
    return rows, THREADS


def _check_length(y_pred):
    if y_pred.dtype == np.float32 and y_pred.shape[1] >= 1 << 24:
        raise ValueError("the CUDA kernels take rows shorter than 2**24 elements in float32")


def _lengths_arg(launch, lengths):
    """The kernels always take an int64 array; without ``lengths`` a cached 1-element one."""
    if lengths is None:
        return device_constant("no lengths", np.zeros(1, np.int64)), False
    return launch.view(lengths), True


def rows(y_true, y_pred, lengths=None, segments=None, *, kind: int = 0, delta: float = 1.0,
         mean_over_ranges: bool, out_loss=None, out_grad=None, out_grad_true=None, grad_scale=None,
         stream=None) -> None:
    """The backend protocol (``fastseg/ops/_rowop.py``) on ``(rows, L)`` device (or host) arrays:
    the forward kernel without ``out_grad``, else the fused one (``out_loss`` an O(rows) scratch
    when not wanted)."""
    _check_length(y_pred)
    launch = Launch(stream)
    n, has_n = _lengths_arg(launch, lengths)
    blocks, threads = _grid(y_pred.shape[0])
    if out_grad is None:
        t = launch.view(y_true)
        _forward_kernel[blocks, threads, launch.stream](
            t if segments is None else launch.view(segments), t, launch.view(y_pred), n, has_n, mean_over_ranges,
            launch.view(out_loss, out=True), int(kind), float(delta))
        launch.finish()
        return
    if grad_scale is None or (np.ndim(grad_scale) == 0 and not hasattr(grad_scale, "__cuda_array_interface__")):
        scale, row_scale, has_row_scale = 1.0 if grad_scale is None else float(grad_scale), n, False
    else:
        scale, row_scale, has_row_scale = 1.0, launch.view(grad_scale), True
    loss = scratch_rows(launch, y_pred) if out_loss is None else launch.view(out_loss, out=True)
    grad = launch.view(out_grad, out=True)
    want_true = out_grad_true is not None
    true = launch.view(out_grad_true, out=True) if want_true else grad
    t = launch.view(y_true)
    _forward_backward_kernel[blocks, threads, launch.stream](
        t if segments is None else launch.view(segments), t, launch.view(y_pred), n, has_n, mean_over_ranges,
        scale, row_scale, has_row_scale, loss, grad, true, want_true, int(kind), float(delta))
    launch.finish()
