"""Numba intrinsics for the few vector idioms LLVM's auto-vectoriser cannot find by itself, and the
codegen helpers of :mod:`fastseg._simd_rows`."""

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
    """Bit ``q`` set where ``arr[start + q] != value`` (NaN counts as different), ``q < LANES``;
    ``arr`` holds floats or integers (segment ids).

    The movemask idiom: one unaligned vector load, one ``fcmp une`` against a splat of
    ``value``, the ``<LANES x i1>`` result reinterpreted as an integer. ``arr`` must be a
    contiguous 1-D array and ``start + LANES <= len(arr)`` (the caller checks).
    """
    sig = types.uint64(arr, types.intp, arr.dtype)

    def codegen(context, builder, signature, args):
        arr_val, start_val, value_val = args
        ary = context.make_array(signature.args[0])(context, builder, arr_val)
        ptr = builder.gep(ary.data, [start_val], inbounds=True)
        vec_t = ir.VectorType(context.get_value_type(signature.args[0].dtype), LANES)
        vec = builder.load(builder.bitcast(ptr, vec_t.as_pointer()),
                           align=signature.args[0].dtype.bitwidth // 8)
        if isinstance(signature.args[0].dtype, types.Integer):  # segment ids
            differs = builder.icmp_unsigned("!=", vec, _splat(builder, vec_t, value_val))
        else:
            differs = builder.fcmp_unordered("!=", vec, _splat(builder, vec_t, value_val))
        return builder.zext(builder.bitcast(differs, ir.IntType(LANES)), ir.IntType(64))

    return sig, codegen


def _vector_intrinsic(builder, name, ret, args):
    """Declare ``llvm.<name>.v<LANES><f32|f64>`` (llvmlite cannot mangle vector types itself)."""
    from numba.core import cgutils

    elem = args[-1].element
    suffix = f"v{LANES}{'f64' if elem == ir.DoubleType() else 'f32'}"
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, args), f"llvm.{name}.{suffix}")


KINDS = ("mae", "mse", "huber")
"""Element losses the range kernels know, by index (``fastseg.ops.range_loss.reference.LOSSES``)."""


def _element_loss(builder, kind: str, d, delta):
    """``l(d)`` lane-wise on a double vector: ``|d|``, ``d**2`` or Huber (threshold ``delta``)."""
    dvec_t = d.type
    fabs = _vector_intrinsic(builder, "fabs", dvec_t, [dvec_t])
    if kind == "mae":
        return builder.call(fabs, [d])
    square = builder.fmul(d, d)
    if kind == "mse":
        return square
    a = builder.call(fabs, [d])
    delta_v = _splat(builder, dvec_t, delta)
    half = ir.Constant(dvec_t, [0.5] * LANES)
    linear = builder.fmul(delta_v, builder.fsub(a, builder.fmul(half, delta_v)))
    return builder.select(builder.fcmp_ordered("<=", a, delta_v), builder.fmul(half, square), linear)


@intrinsic
def float32_from_bits(typingctx, bits):
    """Reinterpret an int32 as a float32 (vectorises; used to build ``2**k``)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


# --- helpers shared with fastseg._simd_rows ------------------------------------------------------

def _lanes_below(builder, count):
    """``<LANES x i1>``: lanes ``q < count`` (``0 <= count <= LANES``), built from an integer bit
    mask (one ``kmov`` on AVX-512) rather than a vector compare."""
    i64 = ir.IntType(64)
    bits = builder.sub(builder.shl(ir.Constant(i64, 1), count), ir.Constant(i64, 1))
    return builder.bitcast(builder.trunc(bits, ir.IntType(LANES)), ir.VectorType(ir.IntType(1), LANES))


def _masked_load(context, builder, array_type, array_value, start, vec_t, lanes, passthru):
    """``llvm.masked.load`` of ``LANES`` elements from ``array[start]``: lanes off in ``lanes``
    are not read (no fault past the row's end) and take ``passthru``."""
    from numba.core import cgutils

    ary = context.make_array(array_type)(context, builder, array_value)
    ptr = builder.gep(ary.data, [start])
    elem = vec_t.element
    suffix = {ir.DoubleType(): "f64", ir.FloatType(): "f32"}.get(elem) or f"i{elem.width}"
    fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vec_t, [ptr.type, ir.IntType(32), lanes.type, vec_t]),
        f"llvm.masked.load.v{LANES}{suffix}.p0")
    return builder.call(fn, [ptr, ir.Constant(ir.IntType(32), array_type.dtype.bitwidth // 8), lanes, passthru])


def _masked_store(context, builder, array_type, array_value, start, value, lanes):
    from numba.core import cgutils

    ary = context.make_array(array_type)(context, builder, array_value)
    ptr = builder.gep(ary.data, [start])
    elem = value.type.element
    suffix = {ir.DoubleType(): "f64", ir.FloatType(): "f32"}.get(elem) or f"i{elem.width}"
    fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [value.type, ptr.type, ir.IntType(32), lanes.type]),
        f"llvm.masked.store.v{LANES}{suffix}.p0")
    builder.call(fn, [value, ptr, ir.Constant(ir.IntType(32), array_type.dtype.bitwidth // 8), lanes])


def _int_vector_intrinsic(builder, name, ret, args):
    from numba.core import cgutils

    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, args),
                                          f"llvm.{name}.v{LANES}i{args[0].element.width}")


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
        delta_v = _splat(builder, vec_t, builder.fptrunc(delta_val, vec_t.element)
                         if vec_t.element != ir.DoubleType() else delta_val)
        d = builder.select(builder.fcmp_ordered(">", d, delta_v), delta_v, d)
        d = builder.select(builder.fcmp_ordered("<", d, builder.fneg(delta_v)), builder.fneg(delta_v), d)
    else:  # mse: 2 d
        d = builder.fadd(d, d)
    return builder.fmul(d, builder.fneg(w_vec))


def _array_item_ptr(context, builder, array_type, array_value, index):
    ary = context.make_array(array_type)(context, builder, array_value)
    return builder.gep(ary.data, [index], inbounds=True)


def _vector_ptr(context, builder, array_type, array_value, start, vec_t):
    return builder.bitcast(_array_item_ptr(context, builder, array_type, array_value, start), vec_t.as_pointer())
