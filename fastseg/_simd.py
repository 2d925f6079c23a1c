"""Numba intrinsics for the few vector idioms LLVM's auto-vectoriser cannot find by itself, and the
LLVM IR helpers they and :mod:`fastseg._simd_rows` are built from."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 16
"""Elements per vector step (:func:`ne_mask`, the row passes of :mod:`fastseg._simd_rows`): one
AVX-512 register of float32; LLVM splits it into the registers the target has."""


def splat(builder, vec_t, value):
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
        vec_t = ir.VectorType(context.get_value_type(signature.args[0].dtype), LANES)
        vec = builder.load(_vector_ptr(context, builder, signature.args[0], arr_val, start_val, vec_t),
                           align=signature.args[0].dtype.bitwidth // 8)
        if isinstance(signature.args[0].dtype, types.Integer):  # segment ids
            differs = builder.icmp_unsigned("!=", vec, splat(builder, vec_t, value_val))
        else:
            differs = builder.fcmp_unordered("!=", vec, splat(builder, vec_t, value_val))
        return builder.zext(builder.bitcast(differs, ir.IntType(LANES)), ir.IntType(64))

    return sig, codegen


@intrinsic
def float32_from_bits(typingctx, bits):
    """Reinterpret an int32 as a float32 (vectorises; used to build ``2**k``)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


# --- LLVM IR helpers -----------------------------------------------------------------------------

def declare(builder, name: str, ret, args):
    """The LLVM function (an intrinsic) ``name`` with that signature, declared once per module."""
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, args), name)


def _suffix(vec_t) -> str:
    """The overload suffix of a vector type: ``v16f32``, ``v16f64``, ``v16i32``..."""
    elem = vec_t.element
    kind = {ir.DoubleType(): "f64", ir.FloatType(): "f32"}.get(elem) or f"i{elem.width}"
    return f"v{vec_t.count}{kind}"


def vector_intrinsic(builder, name: str, ret, args):
    """``llvm.<name>.<suffix>`` overloaded on its first vector argument (llvmlite cannot mangle
    vector types itself)."""
    vec_t = next(a for a in args if isinstance(a, ir.VectorType))
    return declare(builder, f"llvm.{name}.{_suffix(vec_t)}", ret, args)


def lanes_below(builder, count):
    """``<LANES x i1>``: lanes ``q < count`` (``0 <= count <= LANES``), built from an integer bit
    mask (one ``kmov`` on AVX-512) rather than a vector compare."""
    i64 = ir.IntType(64)
    bits = builder.sub(builder.shl(ir.Constant(i64, 1), count), ir.Constant(i64, 1))
    return builder.bitcast(builder.trunc(bits, ir.IntType(LANES)), ir.VectorType(ir.IntType(1), LANES))


def item_ptr(context, builder, array_type, array_value, index, inbounds: bool = True):
    """Pointer to ``array[index]`` of a 1-D array (``inbounds=False`` for an address that may lie
    before the data, e.g. a masked load's)."""
    ary = context.make_array(array_type)(context, builder, array_value)
    return builder.gep(ary.data, [index], inbounds=inbounds)


def _vector_ptr(context, builder, array_type, array_value, start, vec_t, inbounds: bool = True):
    return builder.bitcast(item_ptr(context, builder, array_type, array_value, start, inbounds), vec_t.as_pointer())


def vector_load(context, builder, array_type, array_value, start, vec_t):
    """``LANES`` elements from ``array[start]`` (all within the array)."""
    return builder.load(_vector_ptr(context, builder, array_type, array_value, start, vec_t),
                        align=array_type.dtype.bitwidth // 8)


def vector_store(context, builder, array_type, array_value, start, value) -> None:
    builder.store(value, _vector_ptr(context, builder, array_type, array_value, start, value.type),
                  align=array_type.dtype.bitwidth // 8)


def masked_load(context, builder, array_type, array_value, start, vec_t, lanes, passthru):
    """``llvm.masked.load`` of ``LANES`` elements from ``array[start]``: lanes off in ``lanes``
    are not read (no fault past the row's end or before its start) and take ``passthru``."""
    ptr = _vector_ptr(context, builder, array_type, array_value, start, vec_t, inbounds=False)
    fn = declare(builder, f"llvm.masked.load.{_suffix(vec_t)}.p0", vec_t, [ptr.type, ir.IntType(32), lanes.type, vec_t])
    return builder.call(fn, [ptr, ir.Constant(ir.IntType(32), array_type.dtype.bitwidth // 8), lanes, passthru])


def masked_store(context, builder, array_type, array_value, start, value, lanes) -> None:
    """``llvm.masked.store``: only the lanes on in ``lanes`` are written."""
    ptr = _vector_ptr(context, builder, array_type, array_value, start, value.type, inbounds=False)
    fn = declare(builder, f"llvm.masked.store.{_suffix(value.type)}.p0", ir.VoidType(),
                 [value.type, ptr.type, ir.IntType(32), lanes.type])
    builder.call(fn, [value, ptr, ir.Constant(ir.IntType(32), array_type.dtype.bitwidth // 8), lanes])
