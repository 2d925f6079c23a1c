// multiclass_hinge per-element and per-row logic, for the device kernels in multiclass_hinge.cu
// and the host test.
#pragma once
#include "common.cuh"

namespace fastseg {

// The hinge of class j against the correct class y: its term of the loss and its gradient
// d term / d s_j (zero for j == y or a margin <= 0; NaN for a NaN margin, so that a NaN score or
// margin makes the row NaN, docs/design.md "Bad input policy").
struct HingeTerm {
  double loss;
  double grad;
};

FS_HD HingeTerm hinge_term(double s_j, double s_y, double margin, int p, bool is_label) {
  double m = (margin - s_y) + s_j;  // torch's evaluation order (multi_margin_loss), to the last bit
  if (is_label) return {0.0, 0.0};
  if (m != m) return {m, m};
  if (!(m > 0)) return {0.0, 0.0};
  return p == 1 ? HingeTerm{m, 1.0} : HingeTerm{m * m, 2.0 * m};
}

// The serial definition: the row's loss w * sum_j term; if g is not null, g[j] = gw * d/ds_j of
// the unweighted sum (gw = weight times upstream gradient). A label outside [0, C) gives NaN.
template <class T>
FS_HD double hinge_row_serial(const T* s, long long y, long long c, double margin, int p, double w,
                              double gw, T* g) {
  if (y < 0 || y >= c) {
    if (g) for (long long j = 0; j < c; ++j) g[j] = T(quiet_nan());
    return quiet_nan();
  }
  double loss = 0.0, total = 0.0;
  for (long long j = 0; j < c; ++j) {
    HingeTerm h = hinge_term(static_cast<double>(s[j]), static_cast<double>(s[y]), margin, p, j == y);
    loss += h.loss;
    total += h.grad;
    if (g) g[j] = T(gw * h.grad);
  }
  if (g) g[y] = T(-gw * total);
  return w * loss;
}

}  // namespace fastseg
