// multiclass_hinge CUDA kernels: one warp per row, lanes striding over the classes (coalesced),
// warp-shuffle sums in a fixed order (deterministic). A label outside [0, C) gives a NaN row and
// no out-of-bounds read. Loaded by fastseg/ops/multiclass_hinge/native.py.
#include "multiclass_hinge_row.cuh"
#include "reduce.cuh"

namespace fastseg {

template <class T>
__device__ void hinge_row(const T* s, long long y, long long c, double margin, int p, double w,
                          double gw, T* out_loss, T* g, int lane) {
  if (y < 0 || y >= c) {
    if (g) for (long long j = lane; j < c; j += 32) g[j] = T(quiet_nan());
    if (lane == 0) *out_loss = T(quiet_nan());
    return;
  }
  double s_y = static_cast<double>(s[y]);
  double loss = 0.0, total = 0.0;
  for (long long j = lane; j < c; j += 32) {
    HingeTerm h = hinge_term(static_cast<double>(s[j]), s_y, margin, p, j == y);
    loss += h.loss;
    total += h.grad;
    if (g) g[j] = T(gw * h.grad);
  }
  loss = warp_sum(loss);
  total = warp_sum(total);
  __syncwarp();
  if (lane == 0) {
    if (g) g[y] = T(-gw * total);
    *out_loss = T(w * loss);
  }
}

}  // namespace fastseg

#define FASTSEG_HINGE_KERNELS(T, SUFFIX)                                                       \
  extern "C" __global__ void multiclass_hinge_##SUFFIX(                                        \
      const T* s, const long long* labels, const double* weight, int has_weight, double margin, \
      int p, int divide, double scale, const double* row_scale, int has_row_scale, T* out_loss, \
      T* out_grad, int want_grad, long long n, long long c) {                                  \
    long long i = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;        \
    if (i >= n) return;                                                                        \
    long long y = labels[i];                                                                   \
    bool ok = y >= 0 && y < c;                                                                 \
    double w = (has_weight && ok ? weight[y] : 1.0) / (divide ? static_cast<double>(c) : 1.0); \
    double gw = w * scale * (has_row_scale ? row_scale[i] : 1.0);                              \
    fastseg::hinge_row<T>(s + i * c, y, c, margin, p, w, gw, out_loss + i,                     \
                          want_grad ? out_grad + i * c : nullptr, threadIdx.x & 31);           \
  }

FASTSEG_HINGE_KERNELS(float, f32)
FASTSEG_HINGE_KERNELS(double, f64)
