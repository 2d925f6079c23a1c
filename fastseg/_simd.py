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


def _loss_sum(kind):
    def codegen(context, builder, signature, args):
        """``sum l(t - p)`` over lanes ``q < count`` of one step, in float64."""
        t_ty, p_ty = signature.args[0], signature.args[1]
        t_val, p_val, start_val, count_val, delta_val = args
        vec_t = ir.VectorType(context.get_value_type(t_ty.dtype), LANES)
        dvec_t = ir.VectorType(ir.DoubleType(), LANES)
        diff = builder.fsub(_vector_load(context, builder, t_ty, t_val, start_val, vec_t),
                            _vector_load(context, builder, p_ty, p_val, start_val, vec_t))
        if kind == "mae":  # |d| is exact in the input dtype: widen after it (half the vector work)
            err = _element_loss(builder, kind, diff, delta_val)
            if vec_t.element != ir.DoubleType():
                err = builder.fpext(err, dvec_t)
        else:
            if vec_t.element != ir.DoubleType():
                diff = builder.fpext(diff, dvec_t)
            err = _element_loss(builder, kind, diff, delta_val)
        masked = builder.select(_lane_mask(builder, None, count_val), err, ir.Constant(dvec_t, [0.0] * LANES))
        reduce = _vector_intrinsic(builder, "vector.reduce.fadd", ir.DoubleType(), [ir.DoubleType(), dvec_t])
        return builder.call(reduce, [ir.Constant(ir.DoubleType(), 0.0), masked], fastmath=("reassoc",))
    return codegen


def _make_loss_sum(kind):
    @intrinsic
    def masked_loss_sum(typingctx, t, p, start, count, delta):
        sig = types.float64(t, p, types.intp, types.intp, types.float64)
        return sig, _loss_sum(kind)

    masked_loss_sum.__doc__ = f"""``sum(l(t[start+q] - p[start+q]))`` over lanes ``q < count`` (``count <= LANES``),
    ``l`` = {kind}, in float64: one vector load of each array, widening to double, the element loss,
    a lane mask, and a reassociating ``llvm.vector.reduce.fadd`` (a fixed tree: deterministic). Both
    arrays are contiguous 1-D float arrays of one dtype with ``start + LANES`` within bounds."""
    return masked_loss_sum


masked_mae_sum, masked_mse_sum, masked_huber_sum = (_make_loss_sum(k) for k in KINDS)


def _range_grad(kind, context, builder, signature, args, lo, hi):
    """Codegen of ``g[start+q] = -w * l'(t - p)`` for one step; with ``hi`` given, only lanes
    ``lo <= q < hi`` change (a vector load, a blend, a store)."""
    t_ty, p_ty, g_ty = signature.args[:3]
    t_val, p_val, g_val, start_val, w_val, delta_val = args[:6]
    vec_t = ir.VectorType(context.get_value_type(g_ty.dtype), LANES)
    d = builder.fsub(_vector_load(context, builder, t_ty, t_val, start_val, vec_t),
                     _vector_load(context, builder, p_ty, p_val, start_val, vec_t))
    zero = ir.Constant(vec_t, [0.0] * LANES)
    w_vec = _splat(builder, vec_t, w_val)
    if kind == "mae":  # -w sign(d): 0 at d == 0, NaN where d is NaN
        value = builder.select(builder.fcmp_ordered("==", d, zero), zero, d)
        value = builder.select(builder.fcmp_ordered("<", d, zero), w_vec, value)
        value = builder.select(builder.fcmp_ordered(">", d, zero), builder.fneg(w_vec), value)
    else:
        if kind == "huber":  # clip(d, -delta, delta), NaN kept
            delta_v = _splat(builder, vec_t, builder.fptrunc(delta_val, vec_t.element)
                             if vec_t.element != ir.DoubleType() else delta_val)
            d = builder.select(builder.fcmp_ordered(">", d, delta_v), delta_v, d)
            d = builder.select(builder.fcmp_ordered("<", d, builder.fneg(delta_v)), builder.fneg(delta_v), d)
        else:  # mse: 2 d
            d = builder.fadd(d, d)
        value = builder.fmul(d, builder.fneg(w_vec))
    if hi is not None:
        old = _vector_load(context, builder, g_ty, g_val, start_val, vec_t)
        value = builder.select(_lane_mask(builder, lo, hi), value, old)
    ary = context.make_array(g_ty)(context, builder, g_val)
    ptr = builder.gep(ary.data, [start_val], inbounds=True)
    builder.store(value, builder.bitcast(ptr, vec_t.as_pointer()), align=g_ty.dtype.bitwidth // 8)
    return context.get_dummy_value()


def _make_grad_stores(kind):
    @intrinsic
    def store_range_grad(typingctx, t, p, g, start, w, delta):
        sig = types.void(t, p, g, types.intp, g.dtype, types.float64)
        return sig, lambda context, builder, signature, args: _range_grad(kind, context, builder, signature, args,
                                                                          None, None)

    @intrinsic
    def store_range_grad_lanes(typingctx, t, p, g, start, w, delta, lo, hi):
        sig = types.void(t, p, g, types.intp, g.dtype, types.float64, types.intp, types.intp)
        return sig, lambda context, builder, signature, args: _range_grad(kind, context, builder, signature, args,
                                                                          args[6], args[7])

    store_range_grad.__doc__ = f"""``g[start+q] = -w * l'(t - p)`` for all ``LANES`` lanes, ``l`` = {kind}
    (``l'`` as torch: 0 at ``d == 0`` for mae; NaN stays NaN). ``w`` has ``g``'s dtype; all arrays
    contiguous, ``start + LANES`` in bounds."""
    store_range_grad_lanes.__doc__ = """The same for lanes ``lo <= q < hi`` only; the other lanes keep
    their values (a row's last step)."""
    return store_range_grad, store_range_grad_lanes


(store_mae_grad, store_mae_grad_lanes), (store_mse_grad, store_mse_grad_lanes), \
    (store_huber_grad, store_huber_grad_lanes) = (_make_grad_stores(k) for k in KINDS)


@intrinsic
def float32_from_bits(typingctx, bits):
    """Reinterpret an int32 as a float32 (vectorises; used to build ``2**k``)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen
