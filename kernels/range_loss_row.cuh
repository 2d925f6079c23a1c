// range_mae per-row logic, for the device kernels in range_mae.cu and the host test.
#pragma once
#include "common.cuh"

namespace fastseg {

// Does position i of a row of valid length n start a range? (NaN never equals anything.)
template <class T>
FS_HD bool starts_range(const T* t, long long i, long long n) {
  return i < n && (i == 0 || t[i] != t[i - 1]);
}

// d loss / d p for one element: -w * sign(t - p); 0 where t == p; NaN where t - p is NaN.
template <class T>
FS_HD T grad_value(T d, T w) {
  return d > 0 ? -w : (d < 0 ? w : (d == 0 ? T(0) : d));
}

// The serial definition every parallel schedule must reproduce: the row's loss; if g is not
// null, g[i] = scale * d loss / d p[i] (zeros past n). A length outside [0, L] gives NaN.
template <class T>
FS_HD double row_loss_grad_serial(const T* t, const T* p, T* g, long long n, long long L,
                                  bool mean, double scale) {
  if (n < 0 || n > L) {
    if (g) for (long long i = 0; i < L; ++i) g[i] = T(quiet_nan());
    return quiet_nan();
  }
  long long n_ranges = 0;
  for (long long i = 0; i < n; ++i) n_ranges += starts_range(t, i, n);
  double s = (mean && n_ranges > 0) ? scale / static_cast<double>(n_ranges) : scale;
  double loss = 0.0;
  long long j = 0;
  while (j < n) {
    long long k = j + 1;
    while (k < n && !starts_range(t, k, n)) ++k;
    double sum = 0.0;
    double w = 1.0 / static_cast<double>(k - j);
    for (long long i = j; i < k; ++i) {
      T d = t[i] - p[i];
      sum += abs_value(static_cast<double>(d));
      if (g) g[i] = grad_value(d, T(s * w));
    }
    loss += sum * w;
    j = k;
  }
  if (g) for (long long i = n; i < L; ++i) g[i] = T(0);
  return finish_loss(loss, n_ranges, mean);
}

}  // namespace fastseg
