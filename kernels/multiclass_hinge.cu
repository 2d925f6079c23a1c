// multiclass_hinge CUDA kernels: a warp (or, for wide rows, a block) per row, threads striding over
// the classes (coalesced), sums reduced in a fixed order (deterministic). A label outside [0, C)
// gives a NaN row and no out-of-bounds read. Loaded by fastseg/ops/multiclass_hinge/native.py.
#include "multiclass_hinge_row.cuh"
#include "reduce.cuh"

namespace fastseg {

template <class T, class G>
__device__ void hinge_row(const T* s, long long y, long long c, double margin, int p, double w,
                          double gw, T* out_loss, T* g, const G& grp) {
  if (y < 0 || y >= c) {
    if (g) for (long long j = grp.rank; j < c; j += G::size) g[j] = T(quiet_nan());
    if (grp.rank == 0) *out_loss = T(quiet_nan());
    return;
  }
  double s_y = static_cast<double>(s[y]);
  double loss = 0.0, total = 0.0;
  for (long long j = grp.rank; j < c; j += G::size) {
    HingeTerm h = hinge_term(static_cast<double>(s[j]), s_y, margin, p, j == y);
    loss += h.loss;
    total += h.grad;
    if (g) g[j] = T(gw * h.grad);
  }
  loss = grp.sum(loss);
  total = grp.sum(total);
  grp.sync();  // g[y] was written in the loop, maybe by another thread
  if (grp.rank == 0) {
    if (g) g[y] = T(-gw * total);
    *out_loss = T(w * loss);
  }
}

}  // namespace fastseg

// multiclass_hinge[LAYOUT]_<f32|f64>: LAYOUT empty = a warp per row (128-thread blocks), "_block" =
// a 256-thread block per row (fastseg/ops/multiclass_hinge/native.py picks by width).
#define FASTSEG_HINGE_KERNELS(T, SUFFIX, GROUP, LAYOUT)                                         \
  extern "C" __global__ void __launch_bounds__(GROUP::threads)                                    \
      multiclass_hinge##LAYOUT##_##SUFFIX(                                                        \
      const T* s, const long long* labels, const double* weight, int has_weight, double margin, \
      int p, int divide, double scale, const double* row_scale, int has_row_scale, T* out_loss, \
      T* out_grad, int want_grad, long long n, long long c) {                                  \
    long long i = GROUP::row();                                                                \
    if (i >= n) return;                                                                        \
    long long y = labels[i];                                                                   \
    bool ok = y >= 0 && y < c;                                                                 \
    double w = (has_weight && ok ? weight[y] : 1.0) / (divide ? static_cast<double>(c) : 1.0); \
    double gw = w * scale * (has_row_scale ? row_scale[i] : 1.0);                              \
    fastseg::hinge_row<T>(s + i * c, y, c, margin, p, w, gw, out_loss + i,                     \
                          want_grad ? out_grad + i * c : nullptr, GROUP::here());              \
  }

FASTSEG_HINGE_KERNELS(float, f32, fastseg::WarpRow, )
FASTSEG_HINGE_KERNELS(double, f64, fastseg::WarpRow, )
FASTSEG_HINGE_KERNELS(float, f32, fastseg::BlockRow<256>, _block)
FASTSEG_HINGE_KERNELS(double, f64, fastseg::BlockRow<256>, _block)
