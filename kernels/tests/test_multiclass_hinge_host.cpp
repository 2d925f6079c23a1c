// Host test of multiclass_hinge's per-row logic (kernels/multiclass_hinge_row.cuh): CS231n's
// worked example, the squared hinge, a zero margin (no gradient), a bad label.
#include <cmath>
#include <cstdio>
#include <vector>

#include "multiclass_hinge_row.cuh"
#include "tests/expect.h"

static void check(const char* name, std::vector<double> s, long long y, int p, double w,
                  double want_loss, std::vector<double> want_grad) {
  std::vector<double> g(s.size(), -99);
  double loss = fastseg::hinge_row_serial(s.data(), y, static_cast<long long>(s.size()), 1.0, p, w, w, g.data());
  expect_near(loss, want_loss, name);
  for (size_t j = 0; j < g.size(); ++j) expect_near(g[j], want_grad[j], name);
}

int main() {
  const double nan = std::nan("");
  // CS231n notes: cat scores (3.2, 5.1, -1.7), label cat: max(0, 5.1 - 3.2 + 1) = 2.9
  check("cs231n cat", {3.2, 5.1, -1.7}, 0, 1, 1.0, 2.9, {-1, 1, 0});
  check("cs231n frog", {2.2, 2.5, -3.1}, 2, 1, 1.0, 12.9, {1, 1, -2});
  check("squared, weighted", {3.2, 5.1, -1.7}, 0, 2, 2.0, 2.0 * 2.9 * 2.9, {-2.0 * 5.8, 2.0 * 5.8, 0});
  check("margin exactly zero: no gradient", {1.0, 0.0, -5.0}, 0, 1, 1.0, 0.0, {0, 0, 0});
  check("label out of range", {1.0, 2.0}, 2, 1, 1.0, nan, {nan, nan});
  check("negative label", {1.0, 2.0}, -1, 1, 1.0, nan, {nan, nan});
  return finish("multiclass_hinge host tests");
}
