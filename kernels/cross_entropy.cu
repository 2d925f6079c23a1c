// cross_entropy CUDA kernels: a warp (or, for wide rows, a block) per row, threads striding over
// the classes (coalesced), max and sums reduced in a fixed order (deterministic). Class-index
// targets (with ignore_index), probability targets, and Keras's probability cross-entropy. A label
// outside [0, C) that is not ignore_index gives a NaN row, never an out-of-bounds read.
// Loaded by fastseg/ops/cross_entropy/native.py.
#include "cross_entropy_row.cuh"
#include "reduce.cuh"

namespace fastseg {

__device__ __forceinline__ float fast_exp(float v) { return expf(v); }
__device__ __forceinline__ double fast_exp(double v) { return exp(v); }

// Row max m and l = sum exp(x - m), both in double (NaN propagates). G spreads the row over
// threads (WarpRow or BlockRow, reduce.cuh).
template <class T, class G>
__device__ void softmax_stats(const T* x, long long n_classes, const G& g, double& m, double& l) {
  m = -1.0 / 0.0;
  for (long long c = g.rank; c < n_classes; c += G::size) m = nan_max(m, static_cast<double>(x[c]));
  m = g.max(m);
  T mt = T(m);
  double s = 0.0;
  for (long long c = g.rank; c < n_classes; c += G::size) s += static_cast<double>(fast_exp(T(x[c] - mt)));
  l = g.sum(s);
}

template <class T, class G>
__device__ void class_row(const T* x, long long n_classes, long long y, const double* w, double eps,
                          long long ignore, double gs, T* out_loss, T* g, const G& grp) {
  if (y == ignore || y < 0 || y >= n_classes) {
    T fill = T(y == ignore ? 0.0 : quiet_nan());
    if (g) for (long long c = grp.rank; c < n_classes; c += G::size) g[c] = fill;
    if (grp.rank == 0) *out_loss = fill;
    return;
  }
  double m, l;
  softmax_stats(x, n_classes, grp, m, l);
  double a = (1.0 - eps) * (w ? w[y] : 1.0), b = eps / static_cast<double>(n_classes);
  double spread = 0.0, w_sum = 0.0;
  if (b != 0.0) {
    for (long long c = grp.rank; c < n_classes; c += G::size) {
      double wc = w ? w[c] : 1.0;
      spread += wc * (m - static_cast<double>(x[c]));
      w_sum += wc;
    }
    spread = grp.sum(spread);
    w_sum = grp.sum(w_sum);
  }
  double total_q = a + b * w_sum;
  if (g) {
    T mt = T(m);
    for (long long c = grp.rank; c < n_classes; c += G::size)
      g[c] = T(gs * xent_grad(total_q, static_cast<double>(fast_exp(T(x[c] - mt))), l,
                              class_target_weight(c, y, a, b, w ? w[c] : 1.0)));
  }
  double label_term = a != 0.0 ? a * (m - static_cast<double>(x[y])) : 0.0;  // absent at a == 0 (0 * inf)
  if (grp.rank == 0) *out_loss = T(total_q * log(l) + label_term + b * spread);
}

template <class T, class G>
__device__ void prob_row(const T* x, const T* t, long long n_classes, const double* w, double eps, double gs,
                         T* out_loss, T* g, const G& grp) {
  double m, l;
  softmax_stats(x, n_classes, grp, m, l);
  double smooth = eps / static_cast<double>(n_classes), total_q = 0.0, spread = 0.0;
  for (long long c = grp.rank; c < n_classes; c += G::size) {
    double q = (w ? w[c] : 1.0) * (static_cast<double>(t[c]) * (1.0 - eps) + smooth);
    total_q += q;
    spread += q * (m - static_cast<double>(x[c]));
  }
  total_q = grp.sum(total_q);
  spread = grp.sum(spread);
  if (g) {
    T mt = T(m);
    for (long long c = grp.rank; c < n_classes; c += G::size) {
      double q = (w ? w[c] : 1.0) * (static_cast<double>(t[c]) * (1.0 - eps) + smooth);
      g[c] = T(gs * xent_grad(total_q, static_cast<double>(fast_exp(T(x[c] - mt))), l, q));
    }
  }
  if (grp.rank == 0) *out_loss = T(total_q * log(l) + spread);
}

template <class T, class G>
__device__ void keras_row(const T* t, const T* p, long long n_classes, double eps, double gs, T* out_loss,
                          T* g, const G& grp) {
  const double lo = 1e-7, hi = 1.0 - 1e-7, smooth = eps / static_cast<double>(n_classes);
  double total = 0.0;
  for (long long c = grp.rank; c < n_classes; c += G::size) total += static_cast<double>(p[c]);
  total = grp.sum(total);
  if (!(total - total == 0.0) || total == 0.0) {  // nothing to normalise by: a NaN row (docs/design.md)
    if (g) for (long long c = grp.rank; c < n_classes; c += G::size) g[c] = T(quiet_nan());
    if (grp.rank == 0) *out_loss = T(quiet_nan());
    return;
  }
  double loss = 0.0, kept_t = 0.0;
  for (long long c = grp.rank; c < n_classes; c += G::size) {
    double tc = static_cast<double>(t[c]) * (1.0 - eps) + smooth;
    double q = static_cast<double>(p[c]) / total;
    if (tc != 0.0) loss -= tc * log(q < lo ? lo : (q > hi ? hi : q));
    if (q >= lo && q <= hi) kept_t += tc;
  }
  loss = grp.sum(loss);
  kept_t = grp.sum(kept_t);
  if (g)
    for (long long c = grp.rank; c < n_classes; c += G::size) {
      double tc = static_cast<double>(t[c]) * (1.0 - eps) + smooth;
      double pc = static_cast<double>(p[c]);
      double q = pc / total;
      g[c] = T(gs * ((q >= lo && q <= hi ? -tc / pc : 0.0) + kept_t / total));
    }
  if (grp.rank == 0) *out_loss = T(loss);
}

}  // namespace fastseg

// cross_entropy_<kind>[LAYOUT]_<f32|f64>: LAYOUT empty = a warp per row (128-thread blocks),
// "_block" = a 256-thread block per row (fastseg/ops/cross_entropy/native.py picks by width).
#define FASTSEG_XENT_KERNELS(T, SUFFIX, GROUP, LAYOUT)                                             \
  extern "C" __global__ void __launch_bounds__(GROUP::threads)                                    \
      cross_entropy_class##LAYOUT##_##SUFFIX(                                                     \
      const T* x, const long long* y, const double* w, int has_w, long long ignore, double eps,    \
      double scale, const double* row_scale, int has_rs, T* out_loss, T* out_grad, int want_grad,  \
      long long n, long long c) {                                                                  \
    long long i = GROUP::row();                                                                    \
    if (i >= n) return;                                                                            \
    fastseg::class_row<T>(x + i * c, c, y[i], has_w ? w : nullptr, eps, ignore,                    \
                          scale * (has_rs ? row_scale[i] : 1.0), out_loss + i,                     \
                          want_grad ? out_grad + i * c : nullptr, GROUP::here());                  \
  }                                                                                                \
  extern "C" __global__ void __launch_bounds__(GROUP::threads)                                    \
      cross_entropy_prob##LAYOUT##_##SUFFIX(                                                      \
      const T* x, const T* t, const double* w, int has_w, double eps, double scale,                \
      const double* row_scale, int has_rs, T* out_loss, T* out_grad, int want_grad, long long n,   \
      long long c) {                                                                               \
    long long i = GROUP::row();                                                                    \
    if (i >= n) return;                                                                            \
    fastseg::prob_row<T>(x + i * c, t + i * c, c, has_w ? w : nullptr, eps,                        \
                         scale * (has_rs ? row_scale[i] : 1.0), out_loss + i,                      \
                         want_grad ? out_grad + i * c : nullptr, GROUP::here());                   \
  }                                                                                                \
  extern "C" __global__ void __launch_bounds__(GROUP::threads)                                    \
      cross_entropy_keras##LAYOUT##_##SUFFIX(                                                     \
      const T* t, const T* p, double eps, double scale, const double* row_scale, int has_rs,       \
      T* out_loss, T* out_grad, int want_grad, long long n, long long c) {                         \
    long long i = GROUP::row();                                                                    \
    if (i >= n) return;                                                                            \
    fastseg::keras_row<T>(t + i * c, p + i * c, c, eps, scale * (has_rs ? row_scale[i] : 1.0),     \
                          out_loss + i, want_grad ? out_grad + i * c : nullptr, GROUP::here());    \
  }

FASTSEG_XENT_KERNELS(float, f32, fastseg::WarpRow, )
FASTSEG_XENT_KERNELS(double, f64, fastseg::WarpRow, )
FASTSEG_XENT_KERNELS(float, f32, fastseg::BlockRow<256>, _block)
FASTSEG_XENT_KERNELS(double, f64, fastseg::BlockRow<256>, _block)
