// cross_entropy per-row logic, for the device kernels in cross_entropy.cu and the host test.
// A row's loss is -sum_c q_c log softmax(x)_c for target weights q (torch's definitions), written
// as Q log(l) + sum_c q_c (m - x_c) with m the row max, l = sum exp(x - m), Q = sum q.
#pragma once
#include "common.cuh"
#if !defined(__CUDACC_RTC__)
#include <cmath>
#endif

namespace fastseg {

// q_c for a class-index target y: (1 - eps) w_y [c == y] + eps / C * w_c.
FS_HD double class_target_weight(long long c, long long y, double a, double b, double w_c) {
  return b * w_c + (c == y ? a : 0.0);
}

// d loss / d x_c = Q softmax_c - q_c, from e = exp(x_c - m) and l = sum exp(x - m).
FS_HD double xent_grad(double total_q, double e, double l, double q) { return total_q * e / l - q; }

// The serial definition for class-index targets: the row's loss, and g[c] = gs * d loss / d x_c
// if g is not null. ignore_index gives 0 (and zero gradient); another label outside [0, C), NaN.
template <class T>
inline double class_row_serial(const T* x, long long n_classes, long long y, const double* w,
                               double eps, long long ignore, double gs, T* g) {
  if (y == ignore || y < 0 || y >= n_classes) {
    double fill = y == ignore ? 0.0 : quiet_nan();
    if (g) for (long long c = 0; c < n_classes; ++c) g[c] = T(fill);
    return fill;
  }
  double m = static_cast<double>(x[0]);
  for (long long c = 1; c < n_classes; ++c) m = static_cast<double>(x[c]) > m ? static_cast<double>(x[c]) : m;
  double l = 0.0, spread = 0.0, w_sum = 0.0;
  double a = (1.0 - eps) * (w ? w[y] : 1.0), b = eps / static_cast<double>(n_classes);
  for (long long c = 0; c < n_classes; ++c) {
    double wc = w ? w[c] : 1.0;
    l += std::exp(static_cast<double>(x[c]) - m);
    spread += wc * (m - static_cast<double>(x[c]));
    w_sum += wc;
  }
  double total_q = a + b * w_sum;
  if (g)
    for (long long c = 0; c < n_classes; ++c)
      g[c] = T(gs * xent_grad(total_q, std::exp(static_cast<double>(x[c]) - m), l,
                              class_target_weight(c, y, a, b, w ? w[c] : 1.0)));
  double label_term = a != 0.0 ? a * (m - static_cast<double>(x[y])) : 0.0;  // absent at a == 0 (0 * inf)
  return total_q * std::log(l) + label_term + b * spread;
}

// Row max and l = sum exp(x - m) in double, serially.
template <class T>
inline void softmax_stats_serial(const T* x, long long n_classes, double& m, double& l) {
  m = static_cast<double>(x[0]);
  for (long long c = 1; c < n_classes; ++c) m = static_cast<double>(x[c]) > m ? static_cast<double>(x[c]) : m;
  l = 0.0;
  for (long long c = 0; c < n_classes; ++c) l += std::exp(static_cast<double>(x[c]) - m);
}

// The serial definition for probability targets t: q_c = w_c (t_c (1 - eps) + eps / C).
template <class T>
inline double prob_row_serial(const T* x, const T* t, long long n_classes, const double* w, double eps,
                              double gs, T* g) {
  double m, l, total_q = 0.0, spread = 0.0;
  softmax_stats_serial(x, n_classes, m, l);
  auto q = [&](long long c) {
    return (w ? w[c] : 1.0) * (static_cast<double>(t[c]) * (1.0 - eps) + eps / static_cast<double>(n_classes));
  };
  for (long long c = 0; c < n_classes; ++c) {
    total_q += q(c);
    spread += q(c) * (m - static_cast<double>(x[c]));
  }
  if (g)
    for (long long c = 0; c < n_classes; ++c)
      g[c] = T(gs * xent_grad(total_q, std::exp(static_cast<double>(x[c]) - m), l, q(c)));
  return total_q * std::log(l) + spread;
}

// The serial definition of Keras's probability cross-entropy: q = p / sum(p) clipped to
// [1e-7, 1 - 1e-7], loss -sum t_c log q_c (t smoothed), and the gradient of exactly that:
// -t_c / p_c where q_c is not clipped, plus sum(t over unclipped) / sum(p) everywhere.
template <class T>
inline double keras_row_serial(const T* t, const T* p, long long n_classes, double eps, double gs, T* g) {
  const double lo = 1e-7, hi = 1.0 - 1e-7, smooth = eps / static_cast<double>(n_classes);
  double total = 0.0, loss = 0.0, kept_t = 0.0;
  for (long long c = 0; c < n_classes; ++c) total += static_cast<double>(p[c]);
  if (!(total - total == 0.0) || total == 0.0) {  // nothing to normalise by: a NaN row (docs/design.md)
    if (g) for (long long c = 0; c < n_classes; ++c) g[c] = T(quiet_nan());
    return quiet_nan();
  }
  for (long long c = 0; c < n_classes; ++c) {
    double tc = static_cast<double>(t[c]) * (1.0 - eps) + smooth, q = static_cast<double>(p[c]) / total;
    if (tc != 0.0) loss -= tc * std::log(q < lo ? lo : (q > hi ? hi : q));
    if (q >= lo && q <= hi) kept_t += tc;
  }
  if (g)
    for (long long c = 0; c < n_classes; ++c) {
      double tc = static_cast<double>(t[c]) * (1.0 - eps) + smooth, pc = static_cast<double>(p[c]);
      double q = pc / total;
      g[c] = T(gs * ((q >= lo && q <= hi ? -tc / pc : 0.0) + kept_t / total));
    }
  return loss;
}

}  // namespace fastseg
