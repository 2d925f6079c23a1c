"""The classifier head and softmax cross-entropy fused: ``linear_cross_entropy`` and CS231n's
``softmax_loss``, with the ``N x V`` logits never materialised.

For inputs ``x (N, H)``, a head ``weight (V, H)`` (``torch.nn.Linear``'s layout), ``bias (V,)``
and targets as ``cross_entropy`` takes them::

    loss = cross_entropy(x @ weight.T + bias, target, ...)
    G = d loss / d logits                     (never held for more than one chunk of rows)
    dx = G @ weight     dweight = G.T @ x     dbias = sum_i G_i

Rows go in chunks of ``chunk_size``. Per chunk: the logits by BLAS into one preallocated chunk
buffer; the fused cross-entropy kernel (``cpu.py``) turns them into ``G`` *in place*, with the
reduction's scale (``1 / denominator`` for "mean", the denominator computed over all rows up
front) folded in; then ``dx[chunk] = G @ weight`` and ``dweight += G.T @ x[chunk]`` by BLAS into
the outputs (no temporaries where SciPy's BLAS is available: ``gemm`` with ``beta=1``
accumulates in place). Extra memory: the chunk buffer (``config.linear_ce_chunk_bytes``,
48 MiB by default) plus the outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ... import config
from ..._dispatch import check_choice, compute_dtype
from .._rowop import REDUCTIONS, grad_scale, real_option, reduce_rows
from ..cross_entropy import check_class_range, mean_denominator

ACCUMULATE = ("float32", "float64")


class NumpyGemm:
    """The three products of a chunk with NumPy's ``matmul(out=...)`` (NumPy's BLAS).

    ``dweight`` is accumulated as ``acc += G.T @ x_chunk`` through one reused ``V x H`` buffer (O(H V),
    allocated once per call). SciPy's ``gemm`` with ``beta=1`` would accumulate in place without
    that buffer, but measured 20% slower for the whole call here (2.79 s against 2.32 s at
    N=4096, H=512, V=32000, float32, 2 threads)."""

    def __init__(self, dtype: np.dtype):
        self.dtype = np.dtype(dtype)
        self._product = None

    def logits(self, xc: np.ndarray, weight: np.ndarray, out: np.ndarray) -> None:
        np.matmul(xc, weight.T, out=out)

    def input_grad(self, g: np.ndarray, weight: np.ndarray, out: np.ndarray) -> None:
        np.matmul(g, weight, out=out)

    def accumulate_weight_grad(self, g: np.ndarray, xc: np.ndarray, acc: np.ndarray) -> None:
        """``acc += g.T @ xc`` (``acc`` in ``g``'s dtype)."""
        if self._product is None or self._product.shape != acc.shape:
            self._product = np.empty(acc.shape, g.dtype)
        np.matmul(g.T, xc, out=self._product)
        acc += self._product


@dataclass(frozen=True)
class Prepared:
    """Validated, cast, contiguous arrays of one call."""

    x: np.ndarray
    weight: np.ndarray
    target: np.ndarray  # int64 (N,) or (N, V) as given (cast per chunk)
    bias: Optional[np.ndarray]
    class_weight: Optional[np.ndarray]  # float64
    work: np.dtype
    out_dtype: np.dtype
    dtypes: tuple  # the caller's dtypes of x, weight, bias (gradients are returned in them)
    chunk_size: int
    ignore_index: int
    label_smoothing: float
    denominator: object  # what "mean" divides by; None: the number of rows


def _float_dtype(name: str, a) -> np.dtype:
    dtype = np.dtype(a.dtype)
    if dtype.kind != "f" or dtype.itemsize not in (2, 4, 8):
        raise TypeError(f"{name} must be a float16/float32/float64 array; got {dtype}")
    return dtype


def prepare(x, weight, target, bias=None, class_weight=None, *, ignore_index=-100, label_smoothing=0.0,
            chunk_size=None) -> Prepared:
    """Validate every argument (``TypeError``/``ValueError`` naming it, ``IndexError`` for a class
    index out of range) and cast to the compute dtype (float16 computes in float32)."""
    x, weight, target = np.asarray(x), np.asarray(weight), np.asarray(target)
    dtypes = [_float_dtype("x", x), _float_dtype("weight", weight)]
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, H); got {x.shape}")
    if weight.ndim != 2 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"weight must have shape (V, H) with H = {x.shape[1]} as x; got {weight.shape}")
    n, v = x.shape[0], weight.shape[0]
    if bias is not None:
        bias = np.asarray(bias)
        dtypes.append(_float_dtype("bias", bias))
        if bias.shape != (v,):
            raise ValueError(f"bias must have shape ({v},), one per class; got {bias.shape}")
    if class_weight is not None:
        class_weight = np.asarray(class_weight)
        if class_weight.dtype.kind not in "iuf":
            raise TypeError(f"class_weight must be a real array; got {class_weight.dtype}")
        if class_weight.shape != (v,):
            raise ValueError(f"class_weight must have shape ({v},), one per class; got {class_weight.shape}")
        class_weight = np.ascontiguousarray(class_weight, np.float64)
    if isinstance(ignore_index, (bool, np.bool_)) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"ignore_index must be an integer; got {ignore_index!r}")
    if not -(1 << 63) <= int(ignore_index) < (1 << 63):
        raise ValueError(f"ignore_index must fit in int64; got {ignore_index!r}")
    label_smoothing = real_option("label_smoothing", label_smoothing, 0.0, 1.0)
    out_dtype = np.result_type(*dtypes)
    work = compute_dtype(out_dtype)
    if target.dtype.kind in "iu":
        if target.shape != (n,):
            raise ValueError(f"class-index target must have shape ({n},); got {target.shape}")
        target = np.ascontiguousarray(target, np.int64)
        check_class_range(target, v, int(ignore_index))
        denominator = mean_denominator((np.empty((0, v)), target, class_weight), {"ignore_index": int(ignore_index)})
    elif target.dtype.kind == "f":
        if target.shape != (n, v):
            raise ValueError(f"probability target must have shape (N, V) = {(n, v)}; got {target.shape}")
        denominator = None
    else:
        raise TypeError(f"target must be integer class indices or float probabilities; got {target.dtype}")
    if chunk_size is None:
        chunk_size = config.get().linear_ce_chunk_bytes // max(1, v * work.itemsize)
    elif isinstance(chunk_size, (bool, np.bool_)) or not isinstance(chunk_size, (int, np.integer)):
        raise TypeError(f"chunk_size must be a positive integer or None; got {chunk_size!r}")
    elif chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer or None; got {chunk_size!r}")
    chunk_size = int(max(1, min(int(chunk_size), n)))
    return Prepared(np.ascontiguousarray(x, work), np.ascontiguousarray(weight, work), target,
                    None if bias is None else np.ascontiguousarray(bias, work), class_weight, work,
                    np.dtype(out_dtype), tuple(dtypes), chunk_size, int(ignore_index), label_smoothing, denominator)


def run_chunks(p: Prepared, *, scale=None, need=(True, True, True), accumulate: str = "float32", gemm=None):
    """The chunk loop: per-row losses ``(N,)`` and, where ``scale`` is given (a float or ``(N,)``
    float64: each row's upstream gradient), ``dx``, ``dweight``, ``dbias`` of
    ``sum_i scale_i loss_i`` for the entries of ``need`` that are true (others None), in the
    compute dtype (``dweight`` and ``dbias`` accumulated in float64 for ``accumulate="float64"``;
    ``dbias`` always). ``gemm``: the matrix products (:class:`NumpyGemm` by default)."""
    from .cpu import rows_inplace  # Numba is imported on first use only

    check_choice("accumulate", accumulate, ACCUMULATE)
    x, weight, work = p.x, p.weight, p.work
    n, h = x.shape
    v = weight.shape[0]
    gemm = NumpyGemm(work) if gemm is None else gemm
    want_grad = scale is not None
    need_dx, need_dw, need_db = (want_grad and need[0], want_grad and need[1], want_grad and need[2] and
                                 p.bias is not None)
    per_row = want_grad and np.ndim(scale) == 1
    loss = np.empty(n, work)
    buf = np.empty((p.chunk_size, v), work)
    dx = np.empty((n, h), work) if need_dx else None
    acc_dtype = np.dtype(np.float64) if accumulate == "float64" else work
    dw = np.zeros((v, h), acc_dtype) if need_dw else None
    dw_chunk = np.empty((v, h), work) if need_dw and acc_dtype != work else None
    db = np.zeros(v, np.float64) if need_db else None
    for start in range(0, n, p.chunk_size):
        stop = min(start + p.chunk_size, n)
        xc, z = x[start:stop], buf[:stop - start]
        gemm.logits(xc, weight, z)
        if p.bias is not None:
            z += p.bias
        target = p.target[start:stop]
        if target.ndim == 2:
            target = np.ascontiguousarray(target, work)
        rows_inplace(z, target, p.class_weight, ignore_index=p.ignore_index, label_smoothing=p.label_smoothing,
                     out_loss=loss[start:stop], grad_scale=scale[start:stop] if per_row else scale,
                     want_grad=want_grad)
        if need_dx:
            gemm.input_grad(z, weight, dx[start:stop])
        if need_dw:
            if dw_chunk is None:
                gemm.accumulate_weight_grad(z, xc, dw)
            else:
                dw_chunk[...] = 0
                gemm.accumulate_weight_grad(z, xc, dw_chunk)
                dw += dw_chunk
        if need_db:
            db += z.sum(axis=0)  # the chunk in the compute dtype, the chunks in float64
    return loss, dx, dw, db


def linear_cross_entropy(x, weight, target, *, bias=None, class_weight=None, ignore_index: int = -100,
                         label_smoothing: float = 0.0, reduction: str = "mean", chunk_size: Optional[int] = None):
    """Softmax cross-entropy of a linear head, ``cross_entropy(x @ weight.T + bias, target)``,
    computed chunk by chunk of rows without the ``(N, V)`` logits.

    Parameters
    ----------
    x : array_like, shape (N, H)
        Features, float16/float32/float64 (float16 computes in float32).
    weight : array_like, shape (V, H)
        The head's weight, as ``torch.nn.Linear(H, V).weight``.
    target : array_like
        Class indices, int ``(N,)`` (``ignore_index`` rows count for nothing; others must lie in
        ``[0, V)``, else ``IndexError``), or class probabilities, float ``(N, V)``.
    bias : array_like, shape (V,), optional
    class_weight : array_like, shape (V,), optional
        Per-class weight (torch's ``weight`` of ``cross_entropy``).
    ignore_index : int
    label_smoothing : float in [0, 1]
    reduction : {"mean", "sum", "none"}
        "mean" divides by ``sum_i class_weight[y_i]`` over kept rows (their count without
        ``class_weight``; NaN when none is kept), as torch; by ``N`` for probabilities.
    chunk_size : int, optional
        Rows per chunk; default: as many as fit ``fastseg.config``'s ``linear_ce_chunk_bytes``.

    Returns
    -------
    loss : ndarray, 0-d (``(N,)`` for "none"), in the result dtype of ``x``, ``weight``, ``bias``.

    Examples
    --------
    >>> import numpy as np, fastseg
    >>> x, w = np.array([[1.0, 0.0]]), np.array([[2.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    >>> round(float(fastseg.linear_cross_entropy(x, w, np.array([0]))), 4)  # logits [2, 0, -1]
    0.1698
    """
    check_choice("reduction", reduction, REDUCTIONS)
    p = prepare(x, weight, target, bias, class_weight, ignore_index=ignore_index, label_smoothing=label_smoothing,
                chunk_size=chunk_size)
    rows, *_ = run_chunks(p)
    return reduce_rows(rows.astype(p.out_dtype, copy=False), reduction, p.denominator)


def linear_cross_entropy_value_and_grad(x, weight, target, *, bias=None, class_weight=None,
                                        ignore_index: int = -100, label_smoothing: float = 0.0,
                                        reduction: str = "mean", chunk_size: Optional[int] = None,
                                        accumulate: str = "float32"):
    """:func:`linear_cross_entropy` and its gradients in one chunked pass.

    Same arguments (``reduction`` "mean" or "sum"), plus ``accumulate``: "float64" sums
    ``dweight`` over chunks in float64 (a ``V x H`` float64 accumulator and a per-chunk product;
    for float32 heads over many chunks).

    Returns
    -------
    loss : ndarray, 0-d
    dx : ndarray, shape (N, H), dtype of ``x``
    dweight : ndarray, shape (V, H), dtype of ``weight``
    dbias : ndarray, shape (V,), dtype of ``bias``; None when ``bias`` is None

    Examples
    --------
    >>> import numpy as np, fastseg
    >>> x, w = np.array([[1.0, 0.0]]), np.array([[2.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    >>> loss, dx, dw, db = fastseg.linear_cross_entropy_value_and_grad(x, w, np.array([0]))
    >>> dx.shape, dw.shape, db
    ((1, 2), (3, 2), None)
    """
    check_choice("reduction", reduction, REDUCTIONS)
    p = prepare(x, weight, target, bias, class_weight, ignore_index=ignore_index, label_smoothing=label_smoothing,
                chunk_size=chunk_size)
    rows, dx, dw, db = run_chunks(p, scale=grad_scale(reduction, p.x.shape[0], p.denominator),
                                  accumulate=accumulate)
    loss = reduce_rows(rows.astype(p.out_dtype, copy=False), reduction, p.denominator)
    dbias = None if db is None else db.astype(p.dtypes[2], copy=False)
    return loss, dx.astype(p.dtypes[0], copy=False), dw.astype(p.dtypes[1], copy=False), dbias


def softmax_loss(W, X, y, reg: float, *, chunk_size: Optional[int] = None):
    """CS231n's softmax classifier loss and gradient, fused and chunked (the sibling of ``svm_loss``).

    ``scores = X @ W``; ``loss = mean_i -log softmax(scores_i)[y_i] + reg * sum(W**2)``;
    ``dW = X.T @ dS + 2 * reg * W``, with ``dS`` the softmax gradient of the mean loss, which
    exists one chunk of rows at a time (:func:`linear_cross_entropy_value_and_grad` with
    ``weight = W.T``; the input gradient is not computed).

    Parameters
    ----------
    W : ndarray, shape (D, C)
    X : ndarray, shape (N, D)
    y : ndarray of int, shape (N,), in ``[0, C)``
    reg : float
        L2 regularisation strength.

    Returns
    -------
    loss : float
    dW : ndarray, shape (D, C)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> W, X, y = 1e-4 * rng.standard_normal((5, 3)), rng.standard_normal((4, 5)), np.array([0, 2, 1, 0])
    >>> loss, dW = softmax_loss(W, X, y, reg=0.1)
    >>> round(loss, 3), dW.shape   # about log(C) = log 3 while the weights are tiny
    (1.099, (5, 3))
    """
    W, X = np.asarray(W), np.asarray(X)
    if W.ndim != 2 or X.ndim != 2 or X.shape[1] != W.shape[0]:
        raise ValueError(f"need W (D, C) and X (N, D) with the same D; got W {W.shape} and X {X.shape}")
    reg = real_option("reg", reg)
    p = prepare(X, W.T, y, chunk_size=chunk_size)
    rows, _, dweight, _ = run_chunks(p, scale=grad_scale("mean", p.x.shape[0], p.denominator),
                                     need=(False, True, False))
    loss = float(reduce_rows(rows, "mean", p.denominator)) + reg * float(np.vdot(W, W))
    dW = dweight.T.astype(W.dtype, copy=False) + 2 * reg * W
    return loss, dW
