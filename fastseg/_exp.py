"""A vectorisable ``exp`` for Numba kernels.

LLVM cannot vectorise a call to libm's ``expf``, and Numba only uses Intel's SVML when it is
installed. ``exp(x)`` for float32 is computed here from arithmetic alone (Cody-Waite range
reduction, Cephes' degree-6 polynomial, ``2**k`` by building the exponent bits), which LLVM
turns into AVX-512/AVX2 code: about 1 ulp. float64 keeps ``math.exp`` (exact to 1 ulp, scalar).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from ._numba import FASTMATH, cache_enabled
from ._simd import float32_from_bits

_CACHE = cache_enabled(__file__)

_LOW = np.float32(-87.33654)  # exp(_LOW) is the smallest normal float32
_LOG2E = np.float32(1.44269504088896341)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_P = tuple(np.float32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                   4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))


@njit(cache=_CACHE, fastmath=FASTMATH, inline="always")
def exp_f32(x):
    """``exp(x)`` for float32 ``x <= 88``; NaN stays NaN, ``x < -87.34`` gives the smallest normal."""
    x = x if not (x < _LOW) else _LOW
    k = np.floor(x * _LOG2E + np.float32(0.5))
    f = x - k * _LN2_HI - k * _LN2_LO
    p = _P[0]
    p = p * f + _P[1]
    p = p * f + _P[2]
    p = p * f + _P[3]
    p = p * f + _P[4]
    p = p * f + _P[5]
    y = p * f * f + f + np.float32(1)
    return y * float32_from_bits((np.int32(k) + np.int32(127)) << np.int32(23))


def fast_exp(x):
    """``exp`` that vectorises for float32 (:func:`exp_f32`) and is ``math.exp`` for float64."""
    raise NotImplementedError("fast_exp is for Numba-compiled code")


@overload(fast_exp)
def _fast_exp(x):
    if x == types.float32:
        return lambda x: exp_f32(x)
    return lambda x: math.exp(x)
