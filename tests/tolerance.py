"""The tolerance rule of docs/design.md (Testing), shared by every test that compares a backend with the reference."""

import numpy as np


def assert_close(got, ref64, ref_same_dtype=None):
    """float64: within 1e-12 relative. float32: error at most 2x the float32 reference's error
    against the float64 reference (plus 4 ulps, so an exact reference does not demand exactness).
    NaN must match NaN."""
    got = np.asarray(got)
    ref64 = np.asarray(ref64, dtype=np.float64)
    assert got.shape == ref64.shape, (got.shape, ref64.shape)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref64))
    finite = ~np.isnan(ref64)
    g, r = got[finite].astype(np.float64), ref64[finite]
    if got.dtype == np.float64:
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-300)
        return
    ref32 = np.asarray(ref_same_dtype, dtype=np.float64)[finite]
    eps = np.finfo(got.dtype).eps
    allowed = 2 * np.abs(ref32 - r) + 4 * eps * np.abs(r) + np.finfo(got.dtype).tiny
    bad = np.abs(g - r) > allowed
    assert not bad.any(), f"{bad.sum()} values off: got {g[bad][:5]}, want {r[bad][:5]}"
