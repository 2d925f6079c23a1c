// Host test of range_mae's per-row logic (kernels/range_mae_row.cuh), the same code the CUDA
// kernels call: hand tables with hand-computed losses and gradients, lengths, NaN rows.
#include <cmath>
#include <cstdio>
#include <vector>

#include "range_mae_row.cuh"
#include "tests/expect.h"

template <class T>
static void check_row(const char* name, std::vector<T> t, std::vector<T> p, long long n, bool mean,
                      double want_loss, std::vector<double> want_grad) {
  std::vector<T> g(t.size(), T(-99));
  double loss = fastseg::row_loss_grad_serial(t.data(), p.data(), g.data(), n,
                                              static_cast<long long>(t.size()), mean, 1.0);
  expect_near(loss, want_loss, name);
  for (size_t i = 0; i < g.size(); ++i) expect_near(g[i], want_grad[i], name);
  double loss_only = fastseg::row_loss_grad_serial<T>(t.data(), p.data(), nullptr, n,
                                                      static_cast<long long>(t.size()), mean, 1.0);
  expect_near(loss_only, want_loss, name);
}

int main() {
  const double nan = std::nan("");
  check_row<double>("one range", {2, 2, 2, 2}, {1, 2, 3, 2}, 4, false, 0.5, {-0.25, 0, 0.25, 0});
  check_row<double>("each element a range", {0, 1, 2, 3}, {1, 1, 1, 1}, 4, false, 4, {1, 0, -1, -1});
  check_row<double>("length-1 ranges at both ends", {5, 1, 1, 1, 7}, {4, 1, 2, 0, 7}, 5, false,
                    1 + 2.0 / 3, {-1, 0, 1.0 / 3, -1.0 / 3, 0});
  check_row<double>("mean over ranges", {5, 1, 1, 1, 7}, {4, 1, 2, 0, 7}, 5, true,
                    (1 + 2.0 / 3) / 3, {-1.0 / 3, 0, 1.0 / 9, -1.0 / 9, 0});
  check_row<double>("lengths cut a range", {1, 1, 2, 2}, {0, 1, 0, 9}, 3, false, 2.5, {-0.5, 0, -1, 0});
  check_row<double>("length 0", {1, 2}, {0, 0}, 0, false, 0, {0, 0});
  check_row<double>("length past the row", {1, 2}, {0, 0}, 3, false, nan, {nan, nan});
  check_row<double>("NaN prediction", {1, 1, 2}, {0, nan, 2}, 3, false, nan, {-0.5, nan, 0});
  check_row<double>("inf target", {1, INFINITY, 2}, {0, 0, 2}, 3, false, nan, {-1, -1, 0});
  check_row<float>("float32 seed picture", {0.2f, 0.2f, 0.2f, 0.7f, 0.7f, 0.4f},
                   {0.3f, 0.2f, 0.1f, 0.7f, 0.5f, 0.4f}, 6, false,
                   (double(std::fabs(0.2f - 0.3f)) + double(std::fabs(0.2f - 0.1f))) / 3.0 +
                       double(std::fabs(0.7f - 0.5f)) / 2.0,
                   {1.0f / 3, 0, -1.0f / 3, 0, -0.5f, 0});
  return finish("range_mae host tests");
}
