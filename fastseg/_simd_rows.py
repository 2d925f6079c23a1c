"""Row passes of the range kernels whose cost does not depend on how many ranges a row has.

A row's loss is ``sum_i l(d_i) / |r(i)|`` and its gradient ``-l'(d_i) / |r(i)|``: each element
needs only the length of its range. Two passes over 16-lane blocks, each one LLVM loop with no
per-range branch:

1. :func:`range_row_starts` (forward): per block, the bitmask of the lanes where a range starts
   (one vector compare of the keys with the keys shifted by one), the start of the range holding
   the block's first lane (a running maximum), and the number of ranges; it also prefetches the
   row of ``y_pred`` the second pass reads.
2. ``range_row_<loss>[_grad]`` (backward, carrying the end of the range holding each block's last
   lane): per lane, the start of its range is the highest boundary bit at or below it and the
   end the lowest above it (``ctlz`` on the bitmask ANDed with per-lane constants, the block's
   carries where there is none), so ``l(d) / len`` goes into a float64 vector accumulator and
   ``-scale / len * l'(d)`` into the gradient.

Error: for float32 rows, ``d = t - p`` and ``1/len`` are rounded to float32 (``u = 2**-24`` each)
and the element loss is taken in float64 from the rounded ``d`` (mse: ``d**2`` doubles ``d``'s
error; Huber's linear branch at most doubles it); the product ``l(d) * (1/len)`` and the sum are
float64. Every term is non-negative, so no cancellation: the row loss is within about ``3u`` of
the exact value before its final rounding to float32, ``4u = 2**-22`` after it, inside the 4-ulp
floor (``4 * 2**-23``) of the tolerance rule (``tests/tolerance.py``) on its own. The gradient
``-scale * (1/len) * l'(d)`` takes up to five roundings (``d``, ``scale``, ``1/len``, two products):
within about ``5u``, inside the same floor. float64 rows compute everything in float64.

Full blocks use plain vector loads and stores; the row's first and last blocks masked ones, so
nothing is read or written outside ``[0, n)``. Lanes hold positions as int32: rows may have at
most ``2**31 - 64`` elements (the caller checks).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._simd import (LANES, splat, declare, item_ptr, lanes_below, masked_load, masked_store, vector_intrinsic,
                    vector_load, vector_store)

MAX_ROW = 2**31 - 64
"""Longest row the int32 lane positions allow."""

_I64 = ir.IntType(64)
_CACHE_LINE = 64


def _scalar_bit_intrinsic(builder, name):
    """``llvm.ctlz.i64`` or ``llvm.cttz.i64``."""
    return declare(builder, f"llvm.{name}.i64", _I64, [_I64, ir.IntType(1)])


def _const(value):
    return ir.Constant(_I64, value)


KINDS = ("mae", "mse", "huber")
"""Element losses the range kernels know, by index (``fastseg.ops.range_loss.reference.LOSSES``)."""


def _element_loss(builder, kind: str, d, delta):
    """``l(d)`` lane-wise on a double vector: ``|d|``, ``d**2`` or Huber (threshold ``delta``)."""
    dvec_t = d.type
    fabs = vector_intrinsic(builder, "fabs", dvec_t, [dvec_t])
    if kind == "mae":
        return builder.call(fabs, [d])
    square = builder.fmul(d, d)
    if kind == "mse":
        return square
    a = builder.call(fabs, [d])
    delta_v = splat(builder, dvec_t, delta)
    half = ir.Constant(dvec_t, [0.5] * LANES)
    linear = builder.fmul(delta_v, builder.fsub(a, builder.fmul(half, delta_v)))
    return builder.select(builder.fcmp_ordered("<=", a, delta_v), builder.fmul(half, square), linear)


def _grad_values(builder, kind, d, w_vec, delta_val):
    """``-w * l'(d)`` lane-wise in ``d``'s float type (``l'`` as torch: 0 at ``d == 0`` for
    mae; NaN stays NaN)."""
    vec_t = d.type
    zero = ir.Constant(vec_t, [0.0] * LANES)
    if kind == "mae":
        value = builder.select(builder.fcmp_ordered("==", d, zero), zero, d)
        value = builder.select(builder.fcmp_ordered("<", d, zero), w_vec, value)
        return builder.select(builder.fcmp_ordered(">", d, zero), builder.fneg(w_vec), value)
    if kind == "huber":  # clip(d, -delta, delta), NaN kept
        delta_v = splat(builder, vec_t, builder.fptrunc(delta_val, vec_t.element)
                         if vec_t.element != ir.DoubleType() else delta_val)
        d = builder.select(builder.fcmp_ordered(">", d, delta_v), delta_v, d)
        d = builder.select(builder.fcmp_ordered("<", d, builder.fneg(delta_v)), builder.fneg(delta_v), d)
    else:  # mse: 2 d
        d = builder.fadd(d, d)
    return builder.fmul(d, builder.fneg(w_vec))


@intrinsic
def range_row_starts(typingctx, key, other, masks, firsts, n):
    """First pass over one row's ``key[:n]`` (``y_true`` or segment ids): ``masks[b]`` gets bit
    ``q`` where a range starts at ``16 b + q`` (``key`` differs from the element before it, NaN
    differing from everything; bit 0 of block 0 always), ``firsts[b]`` the start of the range
    holding ``16 b``; returns the number of ranges. Prefetches ``other``'s row (same positions).
    ``key`` and ``other`` contiguous 1-D; ``masks`` uint64 and ``firsts`` intp, ``ceil(n/16)`` long."""
    sig = types.intp(key, other, masks, firsts, types.intp)

    def codegen(context, builder, signature, args):
        key_ty, other_ty, masks_ty, firsts_ty = signature.args[:4]
        key_val, other_val, masks_val, firsts_val, n_val = args
        vec_t = ir.VectorType(context.get_value_type(key_ty.dtype), LANES)
        integer = isinstance(key_ty.dtype, types.Integer)
        carry_ptr = cgutils.alloca_once_value(builder, _const(0))
        count_ptr = cgutils.alloca_once_value(builder, _const(0))
        ctlz = _scalar_bit_intrinsic(builder, "ctlz")
        ctpop = declare(builder, "llvm.ctpop.i64", _I64, [_I64])
        prefetch = declare(builder, "llvm.prefetch.p0", ir.VoidType(),
                           [ir.IntType(8).as_pointer()] + [ir.IntType(32)] * 3)
        other_lines = max(1, other_ty.dtype.bitwidth // 8 * LANES // _CACHE_LINE)

        def differs(cur, prev):
            return builder.icmp_unsigned("!=", cur, prev) if integer else builder.fcmp_unordered("!=", cur, prev)

        def block(blk, lanes):
            start = builder.mul(blk, _const(LANES))
            if lanes is None:  # an inner block: plain loads, the element before it exists
                cur = vector_load(context, builder, key_ty, key_val, start, vec_t)
                prev = vector_load(context, builder, key_ty, key_val, builder.sub(start, _const(1)), vec_t)
                bits = differs(cur, prev)
            else:  # the first or the last block: masked loads, lane 0 of block 0 compares with itself
                cur = masked_load(context, builder, key_ty, key_val, start, vec_t, lanes, ir.Constant(vec_t, None))
                at_zero = builder.icmp_signed("==", start, _const(0))
                not_first = builder.bitcast(builder.not_(builder.zext(at_zero, ir.IntType(LANES))), lanes.type)
                prev = masked_load(context, builder, key_ty, key_val, builder.sub(start, _const(1)), vec_t,
                                    builder.and_(lanes, not_first), cur)
                bits = builder.and_(differs(cur, prev), lanes)
            mask = builder.zext(builder.bitcast(bits, ir.IntType(LANES)), _I64)
            if lanes is not None:
                mask = builder.or_(mask, builder.zext(builder.icmp_signed("==", start, _const(0)), _I64))
            builder.store(mask, item_ptr(context, builder, masks_ty, masks_val, blk))
            carry = builder.load(carry_ptr)
            builder.store(carry, item_ptr(context, builder, firsts_ty, firsts_val, blk))
            top = builder.sub(builder.add(start, _const(63)), builder.call(ctlz, [mask, ir.Constant(ir.IntType(1), 0)]))
            builder.store(builder.select(builder.icmp_unsigned("!=", mask, _const(0)), top, carry), carry_ptr)
            builder.store(builder.add(builder.load(count_ptr), builder.call(ctpop, [mask])), count_ptr)
            for line in range(other_lines):
                at = builder.add(start, _const(line * _CACHE_LINE * 8 // other_ty.dtype.bitwidth))
                ptr = builder.bitcast(item_ptr(context, builder, other_ty, other_val, at, inbounds=False),
                                      ir.IntType(8).as_pointer())
                builder.call(prefetch, [ptr, ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), 3),
                                        ir.Constant(ir.IntType(32), 1)])

        full = builder.lshr(n_val, _const(4))
        rem = builder.sub(n_val, builder.mul(full, _const(LANES)))
        with builder.if_then(builder.icmp_signed(">", n_val, _const(0))):
            block(_const(0), lanes_below(builder, builder.select(builder.icmp_signed(">", full, _const(0)),
                                                                  _const(LANES), rem)))
        with cgutils.for_range(builder, full, start=_const(1)) as loop:
            block(loop.index, None)
        with builder.if_then(builder.and_(builder.icmp_signed(">", rem, _const(0)),
                                          builder.icmp_signed(">", full, _const(0)))):
            block(full, lanes_below(builder, rem))
        return builder.load(count_ptr)

    return sig, codegen


def _range_lengths(builder, start, mask, first, last):
    """``<LANES x i32>``: the length of the range holding each lane of the block at ``start``,
    from the block's boundary bitmask, the start ``first`` of the range holding lane 0 and the
    end ``last`` of the range holding lane 15.

    With ``lz`` the leading zeros (of 32) of the mask's bits at or below a lane, the range starts
    at ``start + 31 - lz``; with ``lz'`` those of the lowest bit above it, it ends at
    ``start + 31 - lz'``; so its length is ``lz - lz'``, and where a lane has no such bit the
    carries stand in as ``31 - (first - start)`` and ``31 - (last - start)``."""
    i32 = ir.IntType(32)
    v_t = ir.VectorType(i32, LANES)
    at_or_below = ir.Constant(v_t, [(2 << q) - 1 for q in range(LANES)])
    above = ir.Constant(v_t, [0xFFFF & ~((2 << q) - 1) for q in range(LANES)])
    zero = ir.Constant(v_t, [0] * LANES)
    ctlz = vector_intrinsic(builder, "ctlz", v_t, [v_t, ir.IntType(1)])
    m = splat(builder, v_t, builder.trunc(mask, i32))

    def leading_zeros(bits, carry):
        none = builder.trunc(builder.sub(builder.add(start, _const(31)), carry), i32)
        return builder.select(builder.icmp_unsigned("!=", bits, zero),
                              builder.call(ctlz, [bits, ir.Constant(ir.IntType(1), 0)]), splat(builder, v_t, none))

    later = builder.and_(m, above)
    return builder.sub(leading_zeros(builder.and_(m, at_or_below), first),
                       leading_zeros(builder.and_(later, builder.sub(zero, later)), last))


def _row_pass(kind, with_grad):
    def codegen(context, builder, signature, args):
        if with_grad:
            t_val, p_val, g_val, masks_val, firsts_val, n_val, scale_val, delta_val = args
            t_ty, p_ty, g_ty, masks_ty, firsts_ty = signature.args[:5]
        else:
            t_val, p_val, masks_val, firsts_val, n_val, delta_val = args
            t_ty, p_ty, masks_ty, firsts_ty = signature.args[:4]
        vec_t = ir.VectorType(context.get_value_type(t_ty.dtype), LANES)
        dvec_t = ir.VectorType(ir.DoubleType(), LANES)
        wide = vec_t.element != ir.DoubleType()
        fzero = ir.Constant(vec_t, [0.0] * LANES)
        if with_grad:
            scale_vec = splat(builder, vec_t, builder.fptrunc(scale_val, vec_t.element) if wide else scale_val)
        last_ptr = cgutils.alloca_once_value(builder, n_val)
        acc_ptr = cgutils.alloca_once_value(builder, ir.Constant(dvec_t, [0.0] * LANES))
        cttz = _scalar_bit_intrinsic(builder, "cttz")

        def block(blk, lanes):
            start = builder.mul(blk, _const(LANES))
            mask = builder.load(item_ptr(context, builder, masks_ty, masks_val, blk))
            last = builder.load(last_ptr)
            length = _range_lengths(builder, start, mask,
                                    builder.load(item_ptr(context, builder, firsts_ty, firsts_val, blk)), last)
            inv = builder.fdiv(ir.Constant(vec_t, [1.0] * LANES), builder.sitofp(length, vec_t))
            if lanes is None:
                t = vector_load(context, builder, t_ty, t_val, start, vec_t)
                p = vector_load(context, builder, p_ty, p_val, start, vec_t)
            else:
                t = masked_load(context, builder, t_ty, t_val, start, vec_t, lanes, fzero)
                p = masked_load(context, builder, p_ty, p_val, start, vec_t, lanes, fzero)
            d = builder.fsub(t, p)
            # in float64, where a product of two float32 values is exact: no product for LLVM to
            # contract differently in the forward and the fused kernel (their losses are bitwise equal)
            widen = (lambda v: builder.fpext(v, dvec_t)) if wide else (lambda v: v)
            if kind == "mae":  # |d| is exact in the input dtype: widen after it
                term = builder.fmul(widen(_element_loss(builder, kind, d, delta_val)), widen(inv))
            else:
                term = builder.fmul(_element_loss(builder, kind, widen(d), delta_val), widen(inv))
            if lanes is not None:
                term = builder.select(lanes, term, ir.Constant(dvec_t, [0.0] * LANES))
            builder.store(builder.fadd(builder.load(acc_ptr), term), acc_ptr)
            if with_grad:
                value = _grad_values(builder, kind, d, builder.fmul(scale_vec, inv), delta_val)
                if lanes is None:
                    vector_store(context, builder, g_ty, g_val, start, value)
                else:
                    masked_store(context, builder, g_ty, g_val, start, value, lanes)
            lowest = builder.add(start, builder.call(cttz, [mask, ir.Constant(ir.IntType(1), 0)]))
            builder.store(builder.select(builder.icmp_unsigned("!=", mask, _const(0)), lowest, last), last_ptr)

        full = builder.lshr(n_val, _const(4))
        rem = builder.sub(n_val, builder.mul(full, _const(LANES)))
        with builder.if_then(builder.icmp_signed(">", rem, _const(0))):
            block(full, lanes_below(builder, rem))
        with cgutils.for_range(builder, full) as loop:
            block(builder.sub(builder.sub(full, _const(1)), loop.index), None)
        reduce = vector_intrinsic(builder, "vector.reduce.fadd", ir.DoubleType(), [ir.DoubleType(), dvec_t])
        return builder.call(reduce, [ir.Constant(ir.DoubleType(), 0.0), builder.load(acc_ptr)], fastmath=("reassoc",))
    return codegen


def _make_row_passes(kind):
    @intrinsic
    def range_row_loss(typingctx, t, p, masks, firsts, n, delta):
        sig = types.float64(t, p, masks, firsts, types.intp, types.float64)
        return sig, _row_pass(kind, False)

    @intrinsic
    def range_row_loss_grad(typingctx, t, p, g, masks, firsts, n, scale, delta):
        sig = types.float64(t, p, g, masks, firsts, types.intp, types.float64, types.float64)
        return sig, _row_pass(kind, True)

    range_row_loss.__doc__ = f"""Second pass over one row: ``sum_i l(t_i - p_i) / len_i`` over ``i < n``
    in float64, ``l`` = {kind} (Huber threshold ``delta``), from the first pass's ``masks`` and
    ``firsts`` (:func:`range_row_starts`). ``t``, ``p`` contiguous 1-D of one float dtype."""
    range_row_loss_grad.__doc__ = f"""The same, and ``g[i] = -scale / len_i * l'(t_i - p_i)`` for
    ``i < n`` (``l`` = {kind}; nothing at or past ``n`` is written). ``g`` contiguous, ``t``'s dtype."""
    return range_row_loss, range_row_loss_grad


ROW_PASSES = tuple(_make_row_passes(k) for k in KINDS)
"""``(loss, loss_grad)`` row passes per element loss, indexed as ``KINDS``."""
(range_row_mae, range_row_mae_grad), (range_row_mse, range_row_mse_grad), \
    (range_row_huber, range_row_huber_grad) = ROW_PASSES
