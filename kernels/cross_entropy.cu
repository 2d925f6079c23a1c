// cross_entropy CUDA kernels: one warp per row, lanes striding over the classes (coalesced),
// warp-shuffle max and sums in a fixed order (deterministic). Class-index targets (with
// ignore_index), probability targets, and Keras's probability cross-entropy. A label outside
// [0, C) that is not ignore_index gives a NaN row, never an out-of-bounds read.
// Loaded by fastseg/ops/cross_entropy/native.py.
#include "cross_entropy_row.cuh"

namespace fastseg {

constexpr unsigned kXentFull = 0xffffffffu;

__device__ __forceinline__ double xent_sum(double v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kXentFull, v, off);
  return v;
}

__device__ __forceinline__ double xent_max(double v) {
  for (int off = 16; off > 0; off >>= 1) {
    double o = __shfl_xor_sync(kXentFull, v, off);
    if (o > v || o != o) v = o;
  }
  return v;
}

__device__ __forceinline__ float fast_exp(float v) { return expf(v); }
__device__ __forceinline__ double fast_exp(double v) { return exp(v); }

// Row max m and l = sum exp(x - m), both in double (NaN propagates).
template <class T>
__device__ void softmax_stats(const T* x, long long n_classes, int lane, double& m, double& l) {
  m = -1.0 / 0.0;
  for (long long c = lane; c < n_classes; c += 32) {
    double v = static_cast<double>(x[c]);
    if (v > m || v != v) m = v;
  }
  m = xent_max(m);
  T mt = T(m);
  double s = 0.0;
  for (long long c = lane; c < n_classes; c += 32) s += static_cast<double>(fast_exp(T(x[c] - mt)));
  l = xent_sum(s);
}

template <class T>
__device__ void class_row(const T* x, long long n_classes, long long y, const double* w, double eps,
                          long long ignore, double gs, T* out_loss, T* g, int lane) {
  if (y == ignore || y < 0 || y >= n_classes) {
    T fill = T(y == ignore ? 0.0 : quiet_nan());
    if (g) for (long long c = lane; c < n_classes; c += 32) g[c] = fill;
    if (lane == 0) *out_loss = fill;
    return;
  }
  double m, l;
  softmax_stats(x, n_classes, lane, m, l);
  double a = (1.0 - eps) * (w ? w[y] : 1.0), b = eps / static_cast<double>(n_classes);
  double spread = 0.0, w_sum = 0.0;
  if (b != 0.0) {
    for (long long c = lane; c < n_classes; c += 32) {
      double wc = w ? w[c] : 1.0;
      spread += wc * (m - static_cast<double>(x[c]));
      w_sum += wc;
    }
    spread = xent_sum(spread);
    w_sum = xent_sum(w_sum);
  }
  double total_q = a + b * w_sum;
  if (g) {
    T mt = T(m);
    for (long long c = lane; c < n_classes; c += 32)
      g[c] = T(gs * xent_grad(total_q, static_cast<double>(fast_exp(T(x[c] - mt))), l,
                              class_target_weight(c, y, a, b, w ? w[c] : 1.0)));
  }
  if (lane == 0) *out_loss = T(total_q * log(l) + a * (m - static_cast<double>(x[y])) + b * spread);
}

template <class T>
__device__ void prob_row(const T* x, const T* t, long long n_classes, const double* w, double eps, double gs,
                         T* out_loss, T* g, int lane) {
  double m, l;
  softmax_stats(x, n_classes, lane, m, l);
  double smooth = eps / static_cast<double>(n_classes), total_q = 0.0, spread = 0.0;
  for (long long c = lane; c < n_classes; c += 32) {
    double q = (w ? w[c] : 1.0) * (static_cast<double>(t[c]) * (1.0 - eps) + smooth);
    total_q += q;
    spread += q * (m - static_cast<double>(x[c]));
  }
  total_q = xent_sum(total_q);
  spread = xent_sum(spread);
  if (g) {
    T mt = T(m);
    for (long long c = lane; c < n_classes; c += 32) {
      double q = (w ? w[c] : 1.0) * (static_cast<double>(t[c]) * (1.0 - eps) + smooth);
      g[c] = T(gs * xent_grad(total_q, static_cast<double>(fast_exp(T(x[c] - mt))), l, q));
    }
  }
  if (lane == 0) *out_loss = T(total_q * log(l) + spread);
}

template <class T>
__device__ void keras_row(const T* t, const T* p, long long n_classes, double eps, double gs, T* out_loss,
                          T* g, int lane) {
  const double lo = 1e-7, hi = 1.0 - 1e-7, smooth = eps / static_cast<double>(n_classes);
  double total = 0.0;
  for (long long c = lane; c < n_classes; c += 32) total += static_cast<double>(p[c]);
  total = xent_sum(total);
  double loss = 0.0, kept_t = 0.0;
  for (long long c = lane; c < n_classes; c += 32) {
    double tc = static_cast<double>(t[c]) * (1.0 - eps) + smooth;
    double q = static_cast<double>(p[c]) / total;
    if (tc != 0.0) loss -= tc * log(q < lo ? lo : (q > hi ? hi : q));
    if (q >= lo && q <= hi) kept_t += tc;
  }
  loss = xent_sum(loss);
  kept_t = xent_sum(kept_t);
  if (g)
    for (long long c = lane; c < n_classes; c += 32) {
      double tc = static_cast<double>(t[c]) * (1.0 - eps) + smooth;
      double pc = static_cast<double>(p[c]);
      double q = pc / total;
      g[c] = T(gs * ((q >= lo && q <= hi ? -tc / pc : 0.0) + kept_t / total));
    }
  if (lane == 0) *out_loss = T(loss);
}

}  // namespace fastseg

#define FASTSEG_XENT_KERNELS(T, SUFFIX)                                                            \
  extern "C" __global__ void cross_entropy_class_##SUFFIX(                                         \
      const T* x, const long long* y, const double* w, int has_w, long long ignore, double eps,    \
      double scale, const double* row_scale, int has_rs, T* out_loss, T* out_grad, int want_grad,  \
      long long n, long long c) {                                                                  \
    long long i = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;            \
    if (i >= n) return;                                                                            \
    fastseg::class_row<T>(x + i * c, c, y[i], has_w ? w : nullptr, eps, ignore,                    \
                          scale * (has_rs ? row_scale[i] : 1.0), out_loss + i,                     \
                          want_grad ? out_grad + i * c : nullptr, threadIdx.x & 31);               \
  }                                                                                                \
  extern "C" __global__ void cross_entropy_prob_##SUFFIX(                                          \
      const T* x, const T* t, const double* w, int has_w, double eps, double scale,                \
      const double* row_scale, int has_rs, T* out_loss, T* out_grad, int want_grad, long long n,   \
      long long c) {                                                                               \
    long long i = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;            \
    if (i >= n) return;                                                                            \
    fastseg::prob_row<T>(x + i * c, t + i * c, c, has_w ? w : nullptr, eps,                        \
                         scale * (has_rs ? row_scale[i] : 1.0), out_loss + i,                      \
                         want_grad ? out_grad + i * c : nullptr, threadIdx.x & 31);                \
  }                                                                                                \
  extern "C" __global__ void cross_entropy_keras_##SUFFIX(                                         \
      const T* t, const T* p, double eps, double scale, const double* row_scale, int has_rs,       \
      T* out_loss, T* out_grad, int want_grad, long long n, long long c) {                         \
    long long i = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;            \
    if (i >= n) return;                                                                            \
    fastseg::keras_row<T>(t + i * c, p + i * c, c, eps, scale * (has_rs ? row_scale[i] : 1.0),     \
                          out_loss + i, want_grad ? out_grad + i * c : nullptr, threadIdx.x & 31); \
  }

FASTSEG_XENT_KERNELS(float, f32)
FASTSEG_XENT_KERNELS(double, f64)
