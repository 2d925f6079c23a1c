"""Numba intrinsics for the few vector idioms LLVM's auto-vectoriser cannot find by itself."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

LANES = 16
"""Elements compared by one :func:`ne_mask` call (one AVX-512 register of float32; LLVM splits
it into the registers the target has)."""


def _splat(builder, vec_t, value):
    one = builder.insert_element(ir.Constant(vec_t, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, ir.Constant(vec_t, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES))


@intrinsic
def ne_mask(typingctx, arr, start, value):
    """Bit ``q`` set where ``arr[start + q] != value`` (NaN counts as different), ``q < LANES``.

    The movemask idiom: one unaligned vector load, one ``fcmp une`` against a splat of
    ``value``, the ``<LANES x i1>`` result reinterpreted as an integer. ``arr`` must be a
    contiguous 1-D float array and ``start + LANES <= len(arr)`` (the caller checks).
    """
    sig = types.uint64(arr, types.intp, arr.dtype)

    def codegen(context, builder, signature, args):
        arr_val, start_val, value_val = args
        ary = context.make_array(signature.args[0])(context, builder, arr_val)
        ptr = builder.gep(ary.data, [start_val], inbounds=True)
        vec_t = ir.VectorType(context.get_value_type(signature.args[0].dtype), LANES)
        vec = builder.load(builder.bitcast(ptr, vec_t.as_pointer()),
                           align=signature.args[0].dtype.bitwidth // 8)
        differs = builder.fcmp_unordered("!=", vec, _splat(builder, vec_t, value_val))
        return builder.zext(builder.bitcast(differs, ir.IntType(LANES)), ir.IntType(64))

    return sig, codegen


def _vector_intrinsic(builder, name, ret, args):
    """Declare ``llvm.<name>.v<LANES><f32|f64>`` (llvmlite cannot mangle vector types itself)."""
    from numba.core import cgutils

    elem = args[-1].element
    suffix = f"v{LANES}{'f64' if elem == ir.DoubleType() else 'f32'}"
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, args), f"llvm.{name}.{suffix}")


def _vector_load(context, builder, array_type, array_value, start, vec_t):
    ary = context.make_array(array_type)(context, builder, array_value)
    ptr = builder.gep(ary.data, [start], inbounds=True)
    return builder.load(builder.bitcast(ptr, vec_t.as_pointer()), align=array_type.dtype.bitwidth // 8)


def _lane_mask(builder, lo, hi):
    """``<LANES x i1>``: lanes ``q`` with ``lo <= q < hi`` (``lo`` None: from lane 0)."""
    i64vec = ir.VectorType(ir.IntType(64), LANES)
    lanes = ir.Constant(i64vec, list(range(LANES)))
    below = builder.icmp_signed("<", lanes, _splat(builder, i64vec, hi))
    return below if lo is None else builder.and_(builder.icmp_signed(">=", lanes, _splat(builder, i64vec, lo)), below)


def _abs_sum(context, builder, signature, args):
    """Codegen of ``sum |t - p|`` over lanes ``q < count`` of one step, in float64."""
    t_ty, p_ty = signature.args[0], signature.args[1]
    t_val, p_val, start_val = args[:3]
    vec_t = ir.VectorType(context.get_value_type(t_ty.dtype), LANES)
    dvec_t = ir.VectorType(ir.DoubleType(), LANES)
    diff = builder.fsub(_vector_load(context, builder, t_ty, t_val, start_val, vec_t),
                        _vector_load(context, builder, p_ty, p_val, start_val, vec_t))
    fabs = _vector_intrinsic(builder, "fabs", vec_t, [vec_t])
    absd = builder.call(fabs, [diff])
    if vec_t.element != ir.DoubleType():
        absd = builder.fpext(absd, dvec_t)
    masked = builder.select(_lane_mask(builder, None, args[3]), absd, ir.Constant(dvec_t, [0.0] * LANES))
    reduce = _vector_intrinsic(builder, "vector.reduce.fadd", ir.DoubleType(), [ir.DoubleType(), dvec_t])
    return builder.call(reduce, [ir.Constant(ir.DoubleType(), 0.0), masked], fastmath=("reassoc",))


@intrinsic
def masked_abs_sum(typingctx, t, p, start, count):
    """``sum(|t[start+q] - p[start+q]|)`` over lanes ``q < count`` (``count <= LANES``), in float64.

    One vector load of each array, ``fabs``, widening to double, a lane mask, and a
    reassociating ``llvm.vector.reduce.fadd`` (a fixed tree: deterministic). Both arrays are
    contiguous 1-D float arrays of one dtype with ``start + LANES`` within bounds.
    """
    sig = types.float64(t, p, types.intp, types.intp)
    return sig, _abs_sum


def _range_grad(context, builder, signature, args, lo, hi):
    """Codegen of ``g[start+q] = -w * sign(t - p)`` for one step; with ``hi`` given, only lanes
    ``lo <= q < hi`` change (a vector load, a blend, a store)."""
    t_ty, p_ty, g_ty = signature.args[:3]
    t_val, p_val, g_val, start_val, w_val = args[:5]
    vec_t = ir.VectorType(context.get_value_type(g_ty.dtype), LANES)
    d = builder.fsub(_vector_load(context, builder, t_ty, t_val, start_val, vec_t),
                     _vector_load(context, builder, p_ty, p_val, start_val, vec_t))
    zero = ir.Constant(vec_t, [0.0] * LANES)
    w_vec = _splat(builder, vec_t, w_val)
    value = builder.select(builder.fcmp_ordered("==", d, zero), zero, d)
    value = builder.select(builder.fcmp_ordered("<", d, zero), w_vec, value)
    value = builder.select(builder.fcmp_ordered(">", d, zero), builder.fneg(w_vec), value)
    if hi is not None:
        old = _vector_load(context, builder, g_ty, g_val, start_val, vec_t)
        value = builder.select(_lane_mask(builder, lo, hi), value, old)
    ary = context.make_array(g_ty)(context, builder, g_val)
    ptr = builder.gep(ary.data, [start_val], inbounds=True)
    builder.store(value, builder.bitcast(ptr, vec_t.as_pointer()), align=g_ty.dtype.bitwidth // 8)
    return context.get_dummy_value()


@intrinsic
def store_range_grad(typingctx, t, p, g, start, w):
    """``g[start+q] = -w * sign(t - p)`` for all ``LANES`` lanes: 0 where ``t == p``, NaN where
    ``t - p`` is NaN. ``w`` has ``g``'s dtype; all arrays contiguous, ``start + LANES`` in bounds."""
    sig = types.void(t, p, g, types.intp, g.dtype)
    return sig, lambda context, builder, signature, args: _range_grad(context, builder, signature, args, None, None)


@intrinsic
def store_range_grad_lanes(typingctx, t, p, g, start, w, lo, hi):
    """:func:`store_range_grad` for lanes ``lo <= q < hi`` only; the other lanes keep their values
    (a row's last step)."""
    sig = types.void(t, p, g, types.intp, g.dtype, types.intp, types.intp)
    return sig, lambda context, builder, signature, args: _range_grad(context, builder, signature, args,
                                                                      args[5], args[6])


@intrinsic
def float32_from_bits(typingctx, bits):
    """Reinterpret an int32 as a float32 (vectorises; used to build ``2**k``)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen
