// range_loss per-row logic, for the device kernels in range_loss.cu and the host tests: the element
// losses (compile-time choices) and the serial row definition every parallel schedule reproduces.
#pragma once
#include "common.cuh"

namespace fastseg {

// Element losses, in the kernels' `kind` order (fastseg/ops/range_loss/reference.py: LOSSES).
constexpr int kMae = 0, kMse = 1, kHuber = 2;

// l(d) for d = t - p, in double: |d|, d * d, or Huber (torch's huber_loss: 0.5 d^2 for |d| <= delta,
// else delta (|d| - 0.5 delta)). NaN stays NaN.
template <int kKind>
FS_HD double element_loss(double d, double delta) {
  static_assert(kKind == kMae || kKind == kMse || kKind == kHuber, "kind is 0 (mae), 1 (mse) or 2 (huber)");
  if (kKind == kMae) return abs_value(d);
  if (kKind == kMse) return d * d;
  double a = abs_value(d);
  return a <= delta ? 0.5 * d * d : delta * (a - 0.5 * delta);
}

// d l(t - p) / d p times the weight w: -w l'(d). mae: -w sign(d), 0 where t == p; mse: -2 d w;
// huber: -w clip(d, -delta, delta). NaN stays NaN.
template <int kKind, class T>
FS_HD T element_grad(T d, T w, double delta) {
  if (kKind == kMae) return d > 0 ? -w : (d < 0 ? w : (d == 0 ? T(0) : d));
  if (kKind == kMse) return T(-2) * d * w;
  const T c = T(delta);
  return -(d > c ? c : (d < -c ? -c : d)) * w;
}

// Does position i of a row of valid length n start a range? `key` is y_true or the segment ids
// (NaN never equals anything: a NaN y_true is a range of its own).
template <class K>
FS_HD bool starts_range(const K* key, long long i, long long n) {
  return i < n && (i == 0 || key[i] != key[i - 1]);
}

// The serial definition every parallel schedule must reproduce: the row's loss, the sum (mean
// when `mean`) over ranges (maximal runs of equal consecutive keys: key = t, or the segment ids)
// of the range's mean l(t - p); if g is not null, g[i] = scale * d loss / d p[i] (zeros past n).
// A length outside [0, L] gives NaN (and a NaN gradient row).
template <int kKind, class T, class K>
FS_HD double row_loss_grad_serial(const K* key, const T* t, const T* p, T* g, long long n, long long L,
                                  bool mean, double scale, double delta) {
  if (n < 0 || n > L) {
    if (g) for (long long i = 0; i < L; ++i) g[i] = T(quiet_nan());
    return quiet_nan();
  }
  long long n_ranges = 0;
  for (long long i = 0; i < n; ++i) n_ranges += starts_range(key, i, n);
  double s = (mean && n_ranges > 0) ? scale / static_cast<double>(n_ranges) : scale;
  double loss = 0.0;
  long long j = 0;
  while (j < n) {
    long long k = j + 1;
    while (k < n && !starts_range(key, k, n)) ++k;
    double sum = 0.0;
    double w = 1.0 / static_cast<double>(k - j);
    for (long long i = j; i < k; ++i) {
      T d = t[i] - p[i];
      sum += element_loss<kKind>(static_cast<double>(d), delta);
      if (g) g[i] = element_grad<kKind>(d, T(s * w), delta);
    }
    loss += sum * w;
    j = k;
  }
  if (g) for (long long i = n; i < L; ++i) g[i] = T(0);
  return finish_loss(loss, n_ranges, mean);
}

}  // namespace fastseg
