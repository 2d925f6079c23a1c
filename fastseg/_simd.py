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


@intrinsic
def splat_store(typingctx, arr, start, value):
    """``arr[start:start + LANES] = value`` as one unaligned vector store.

    ``arr`` must be a contiguous 1-D float array and ``start + LANES <= len(arr)``.
    """
    sig = types.void(arr, types.intp, arr.dtype)

    def codegen(context, builder, signature, args):
        arr_val, start_val, value_val = args
        ary = context.make_array(signature.args[0])(context, builder, arr_val)
        ptr = builder.gep(ary.data, [start_val], inbounds=True)
        vec_t = ir.VectorType(context.get_value_type(signature.args[0].dtype), LANES)
        builder.store(_splat(builder, vec_t, value_val), builder.bitcast(ptr, vec_t.as_pointer()),
                      align=signature.args[0].dtype.bitwidth // 8)
        return context.get_dummy_value()

    return sig, codegen
