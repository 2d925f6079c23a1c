"""cross_entropy's CUDA C++ kernels (``kernels/cross_entropy.cu``) through CuPy: ``backend="native"``.
Loading, zero-copy views and streams are ``fastseg._native``'s."""

from __future__ import annotations

import cupy
import numpy as np

from ..._native import Call, dummy, load_module

OP = "cross_entropy"
THREADS = 128  # 4 warps, one row each
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _launch(call, name, x, args):
    n, c = x.shape
    kernel = load_module(OP).get_function(f"{OP}_{name}_{_SUFFIX[x.dtype]}")
    kernel(((n * 32 + THREADS - 1) // THREADS,), (THREADS,), (*args, np.int64(n), np.int64(c)), stream=call.stream)


def _grad(call, x, out_grad):
    if out_grad is None:
        return dummy(cupy.cuda.Device().id, x.dtype.name), np.int32(0)
    return call.out(out_grad), np.int32(1)


def cross_entropy(logits, target, *, weight, ignore_index, label_smoothing, grad_scale=1.0, out_loss,
                  out_grad=None, stream=None) -> None:
    """See ``cpu.cross_entropy``; device (or host) arrays."""
    with Call(stream) as call:
        x, t = call.inp(logits), call.inp(target)
        device = cupy.cuda.Device().id
        w, has_w = (dummy(device, "float64"), np.int32(0)) if weight is None else \
            (call.inp(weight).astype(np.float64, copy=False), np.int32(1))
        scale, row_scale, has_rs = call.scalar_or_rows(grad_scale)
        grad, want = _grad(call, x, out_grad)
        if t.ndim == 1:
            _launch(call, "class", x, (x, t.astype(np.int64, copy=False), w, has_w, np.int64(ignore_index),
                                       np.float64(label_smoothing), scale, row_scale, has_rs, call.out(out_loss),
                                       grad, want))
        else:
            _launch(call, "prob", x, (x, t.astype(x.dtype, copy=False), w, has_w, np.float64(label_smoothing),
                                      scale, row_scale, has_rs, call.out(out_loss), grad, want))


def keras_probabilities(y_true, y_pred, *, label_smoothing, grad_scale=1.0, out_loss, out_grad=None,
                        stream=None) -> None:
    """See ``cpu.keras_probabilities``; device (or host) arrays."""
    with Call(stream) as call:
        p = call.inp(y_pred)
        t = call.inp(y_true).astype(p.dtype, copy=False)
        scale, row_scale, has_rs = call.scalar_or_rows(grad_scale)
        grad, want = _grad(call, p, out_grad)
        _launch(call, "keras", p, (t, p, np.float64(label_smoothing), scale, row_scale, has_rs,
                                   call.out(out_loss), grad, want))
